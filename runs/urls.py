from django.urls import path

from . import views

urlpatterns = [
    path("<str:run_id>/", views.run_page, name="run"),
    path("<str:run_id>/trace.json", views.trace_json, name="run-trace"),
]
