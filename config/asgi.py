"""HTTP through Django, /ws/ through channels; static files served in-process unless SERVE_STATIC is off.

WebSockets: forwarded headers believed only from TRUSTED_PROXIES, then the Origin checked in full (scheme, host,
port) against the site itself (config.security).

Garbage collection: what is loaded by now lives as long as the process, so it is frozen out of the
collector's scans, and young collections come every GC_YOUNG_THRESHOLD allocations rather than 700. A
classroom's batch is a burst of 500 socket writes; with the defaults the objects alive during bursts were
promoted until a full collection of every connection's objects (100-250 ms on the loaded 2-core machine)
stopped the process three or four times in 50 batches (bench/fanout.py: p99 150-165 ms, 60-65 ms after).

Memory: the C allocator is set before any thread starts (config.allocator), so that the process stays flat.
"""
import gc
import os

from config import allocator

ALLOCATOR_TUNED = allocator.tune()
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

from django.conf import settings  # noqa: E402
from django.core.asgi import get_asgi_application  # noqa: E402

django_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler  # noqa: E402
from django.core.exceptions import SuspiciousOperation  # noqa: E402
from django.http import Http404  # noqa: E402

from config.errors import error_page  # noqa: E402
from config.security import SameOriginValidator, TrustedProxyASGI, content_security_policy  # noqa: E402
from runs.routing import websocket_urlpatterns  # noqa: E402


class StaticFiles(ASGIStaticFilesHandler):
    """Django's handler answers a path that leaves static/ (/static/../config/settings.py) with a 500 and a
    traceback (SuspiciousFileOperation): here it is the styled 404, like any file that is not there."""

    async def get_response_async(self, request):
        try:
            return await super().get_response_async(request)
        except (SuspiciousOperation, ValueError, Http404):
            return self.not_found(request)

    def serve(self, request):
        try:
            return super().serve(request)
        except (SuspiciousOperation, ValueError):  # ValueError: a NUL byte in the path
            raise Http404("not a static file")

    @staticmethod
    def not_found(request):
        response = error_page(request, 404)
        response["Content-Security-Policy"] = content_security_policy(request)
        return response


application = ProtocolTypeRouter({
    "http": StaticFiles(django_app) if settings.SERVE_STATIC else django_app,
    "websocket": TrustedProxyASGI(SameOriginValidator(URLRouter(websocket_urlpatterns))),
})

GC_YOUNG_THRESHOLD = 10_000
gc.freeze()
gc.set_threshold(GC_YOUNG_THRESHOLD, *gc.get_threshold()[1:])
