"""A strict Content-Security-Policy on every HTML page, and per-client rate limits kept in Django's cache."""
import time

from django.conf import settings
from django.core.cache import cache
from django.http import HttpResponse

EMBED_SUFFIX = "/embed"


def allow(key, limit, per_seconds=60):
    """True if ``key`` may act once more: at most ``limit`` times in each window of ``per_seconds``.

    A limit of 0 (or None) means no limit. Fixed windows in the default cache: with LocMemCache the
    count is per server process, so several daphne processes each allow ``limit``.
    """
    if not limit:
        return True
    window = int(time.time() // per_seconds)
    name = f"rate:{key}:{window}"
    if cache.add(name, 1, per_seconds + 1):
        return True
    try:
        return cache.incr(name) <= limit
    except ValueError:  # the window expired between add and incr
        cache.set(name, 1, per_seconds + 1)
        return True


def client_ip(request=None, scope=None):
    """The client address of an HTTP request or an ASGI scope (daphne --proxy-headers fills it from the proxy)."""
    if scope is not None:
        return (scope.get("client") or ("unknown",))[0]
    return request.META.get("REMOTE_ADDR") or "unknown"


def too_many(what, limit):
    response = HttpResponse(f"Too many {what} from your address: at most {limit} a minute. "
                            "Wait a minute, then reload the page.\n",
                            status=429, content_type="text/plain; charset=utf-8")
    response["Retry-After"] = "60"
    return response


class RateLimitMiddleware:
    """Refuse a client that loads more than RATE_LIMIT_PAGES pages a minute, with a 429 that says why."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        limit = getattr(settings, "RATE_LIMIT_PAGES", 0)
        if not allow(f"pages:{client_ip(request)}", limit, 60):
            return too_many("page loads", limit)
        return self.get_response(request)


def content_security_policy(request, embed=False):
    """Same-origin everything, no inline script or style, and framing by this site only (any site for embeds)."""
    connect = ["'self'"]
    try:
        host = request.get_host()
    except Exception:  # a refused Host: the 400 page needs no WebSocket
        host = None
    if host:
        connect += [f"ws://{host}", f"wss://{host}"]
    ancestors = "*" if embed else "'self'"
    return "; ".join([
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        f"connect-src {' '.join(connect)}",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        f"frame-ancestors {ancestors}",
    ])


class ContentSecurityPolicyMiddleware:
    """Put the policy on every HTML response; embed pages (paths ending in /embed) may be framed anywhere.

    Listed after XFrameOptionsMiddleware so that it can exempt embed pages from X-Frame-Options.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        embed = request.path.rstrip("/").endswith(EMBED_SUFFIX)
        if embed:
            response.xframe_options_exempt = True
        if response.get("Content-Type", "").startswith("text/html") and "Content-Security-Policy" not in response:
            response["Content-Security-Policy"] = content_security_policy(request, embed)
        return response
