from django.urls import path

from . import views

urlpatterns = [
    path("room/", views.join, name="room-join"),
    path("room/open/<slug:slug>/", views.open_room, name="room-open"),
    path("room/<str:code>/", views.room_page, name="room"),
]
