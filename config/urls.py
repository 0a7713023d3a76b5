from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("", include("runs.urls")),
    path("", include("classroom.urls")),
    path("", include("scenarios.urls")),
]
