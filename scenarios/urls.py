from django.urls import path

from . import lesson_views, views

urlpatterns = [
    path("", views.catalog, name="catalog"),
    path("s/<slug:slug>/", views.scenario_page, name="scenario"),
    path("s/<slug:slug>/form", views.scenario_form, name="scenario-form"),
    path("s/<slug:slug>/embed", views.scenario_embed, name="scenario-embed"),
    path("s/<slug:slug>/compare", views.scenario_compare, name="scenario-compare"),
    path("api/scenarios/", views.api_scenarios, name="api-scenarios"),
    path("lessons/", lesson_views.lessons, name="lessons"),
    path("lessons/<slug:scenario>/<slug:slug>/", lesson_views.lesson_start, name="lesson"),
    path("lessons/<slug:scenario>/<slug:slug>/answer", lesson_views.answer, name="lesson-answer"),
    path("lessons/<slug:scenario>/<slug:slug>/finish", lesson_views.finish, name="lesson-finish"),
]
