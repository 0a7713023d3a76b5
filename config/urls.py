from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("", include("runs.urls")),
    path("", include("classroom.urls")),
    path("", include("challenges.urls")),
    path("", include("searches.urls")),
    path("", include("scenarios.urls")),
]

# The site's own styled error pages (config.errors), in development too.
handler400 = "config.errors.bad_request"
handler403 = "config.errors.permission_denied"
handler404 = "config.errors.page_not_found"
handler500 = "config.errors.server_error"
