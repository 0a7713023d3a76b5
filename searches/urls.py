from django.urls import path

from . import views

urlpatterns = [
    path("s/<slug:slug>/search", views.start, name="search-start"),
    path("searches/<str:job_id>/", views.poll, name="search-poll"),
    path("searches/<str:job_id>/cancel", views.cancel, name="search-cancel"),
]
