from django.urls import path

from . import views

urlpatterns = [
    path("runs/<str:run_id>/", views.run_page, name="run"),
    path("runs/<str:run_id>/embed", views.run_embed, name="run-embed"),
    path("runs/<str:run_id>/trace.json", views.trace_json, name="run-trace"),
    path("runs/<str:run_id>/export.svg", views.export, {"fmt": "svg"}, name="run-svg"),
    path("runs/<str:run_id>/export.mmd", views.export, {"fmt": "mmd"}, name="run-mermaid"),
    path("runs/<str:run_id>/transcript.txt", views.export, {"fmt": "txt"}, name="run-transcript"),
    path("compare/", views.compare, name="compare"),
]
