from django.urls import path

from . import views

urlpatterns = [
    path("challenges/", views.challenge_list, name="challenges"),
    path("challenges/<slug:slug>/", views.challenge_page, name="challenge"),
    path("challenges/<slug:slug>/judge", views.judge_run, name="challenge-judge"),
]
