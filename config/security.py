"""A strict Content-Security-Policy on every HTML page (and a stricter one on SVG), per-client rate limits kept in
Django's cache, forwarded headers believed only from TRUSTED_PROXIES, and WebSocket origins checked in full."""
import functools
import ipaddress
import logging
import time
from urllib.parse import urlsplit

from django.conf import settings
from django.core.cache import cache
from django.http import HttpResponse
from django.http.request import split_domain_port, validate_host

EMBED_SUFFIX = "/embed"
# An exported diagram is a document of its own: its embedded <style> may apply, nothing else may load or run.
SVG_POLICY = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'self'"
DEFAULT_PORTS = {"http": 80, "https": 443}
logger = logging.getLogger(__name__)


def allow(key, limit, per_seconds=60):
    """True if ``key`` may act once more: at most ``limit`` times in each window of ``per_seconds``.

    A limit of 0 (or None) means no limit. Fixed windows in the default cache: Redis when REDIS_URL is set,
    so the count is shared by every daphne process; else LocMemCache, per process. If the cache does not
    answer (Redis down), the request is allowed: a limit must not take the site down with it.
    """
    if not limit:
        return True
    window = int(time.time() // per_seconds)
    name = f"rate:{key}:{window}"
    try:
        if cache.add(name, 1, per_seconds + 1):
            return True
        try:
            return cache.incr(name) <= limit
        except ValueError:  # the window expired between add and incr
            cache.set(name, 1, per_seconds + 1)
            return True
    except Exception as e:  # noqa: BLE001  (redis-py raises its own ConnectionError, TimeoutError)
        logger.warning("Rate limit not checked, the cache does not answer: %s", e)
        return True


def client_ip(request=None, scope=None):
    """The client address of an HTTP request or an ASGI scope, as TrustedProxyMiddleware / TrustedProxyASGI
    left it: the proxy's client when the peer is one of TRUSTED_PROXIES, the peer itself otherwise."""
    if scope is not None:
        return (scope.get("client") or ("unknown",))[0]
    return request.META.get("REMOTE_ADDR") or "unknown"


# -- proxies -------------------------------------------------------------------------------------------------
@functools.lru_cache(maxsize=16)
def _networks(proxies):
    return tuple(ipaddress.ip_network(p, strict=False) for p in proxies)


def is_trusted_proxy(address):
    """True if ``address`` (an IP) is one of TRUSTED_PROXIES (addresses or networks; none by default)."""
    proxies = tuple(getattr(settings, "TRUSTED_PROXIES", ()) or ())
    if not proxies or not address:
        return False
    try:
        ip = ipaddress.ip_address(address.strip().strip("[]"))
    except ValueError:
        return False
    return any(ip in net for net in _networks(proxies))


def forwarded_client(peer, forwarded_for):
    """The client address for a connection from ``peer`` carrying X-Forwarded-For ``forwarded_for``.

    Only a trusted proxy is believed. Its header is read from the right (each proxy appends the address it
    saw), skipping further trusted proxies: the first address that is not one is the client. What lies left
    of it was written by the client and is ignored."""
    if not is_trusted_proxy(peer):
        return peer
    client = peer
    for hop in reversed([h.strip() for h in (forwarded_for or "").split(",") if h.strip()]):
        try:
            ipaddress.ip_address(hop.strip("[]"))
        except ValueError:
            break  # not an address: stop at the last one that was
        client = hop.strip("[]")
        if not is_trusted_proxy(client):
            break
    return client


class TrustedProxyMiddleware:
    """First in MIDDLEWARE. From a trusted proxy, REMOTE_ADDR becomes the client it forwards for, and its
    X-Forwarded-Proto stays for SECURE_PROXY_SSL_HEADER (so HTTPS=true does not redirect an https request in a
    loop); from anyone else, X-Forwarded-* headers are dropped, so they can neither spoof an address nor https.
    """

    FORWARDED = ("HTTP_X_FORWARDED_FOR", "HTTP_X_FORWARDED_PROTO", "HTTP_X_FORWARDED_HOST", "HTTP_X_FORWARDED_PORT")

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        peer = request.META.get("REMOTE_ADDR", "")
        if is_trusted_proxy(peer):
            request.META["REMOTE_ADDR"] = forwarded_client(peer, request.META.get("HTTP_X_FORWARDED_FOR"))
        else:
            for name in self.FORWARDED:
                request.META.pop(name, None)
        return self.get_response(request)


def _header(scope, name):
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return value.decode("latin1")
    return None


class TrustedProxyASGI:
    """The same for WebSockets (config.asgi): from a trusted proxy, the scope's client and scheme are the ones
    it forwards (X-Forwarded-For, X-Forwarded-Proto); the rate limit and the origin check read them."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        client = scope.get("client")
        if scope["type"] == "websocket" and client and is_trusted_proxy(client[0]):
            scope = dict(scope)
            scope["client"] = [forwarded_client(client[0], _header(scope, b"x-forwarded-for")), 0]
            proto = (_header(scope, b"x-forwarded-proto") or "").split(",")[0].strip().lower()
            if proto in ("http", "https"):
                scope["scheme"] = "wss" if proto == "https" else "ws"
        return await self.app(scope, receive, send)


# -- WebSocket origins -----------------------------------------------------------------------------------------
def websocket_origin_allowed(scope):
    """The Origin of a WebSocket handshake must be this site exactly: scheme, host and port.

    Its host is one of ALLOWED_HOSTS and the same as the Host header's, its port the Host header's (default ports
    filled in), and its scheme https when the socket is secure (wss, a trusted proxy's X-Forwarded-Proto, or
    HTTPS=true) and http otherwise. Without a Host header (only an in-process test client omits it), the port
    must be the scheme's default. No Origin, or "null", is refused."""
    origin = _header(scope, b"origin")
    if not origin:
        return False
    try:
        parts = urlsplit(origin)
        scheme = parts.scheme.lower()
        if scheme not in DEFAULT_PORTS or not parts.netloc or parts.path not in ("", "/"):
            return False
        origin_host, origin_port = split_domain_port(parts.netloc)
        origin_port = int(origin_port) if origin_port else DEFAULT_PORTS[scheme]
    except ValueError:
        return False
    allowed = settings.ALLOWED_HOSTS or (["localhost", "127.0.0.1", "[::1]"] if settings.DEBUG else [])
    if not origin_host or not validate_host(origin_host, allowed):
        return False
    secure = scope.get("scheme") in ("wss", "https") or getattr(settings, "SECURE_SSL_REDIRECT", False)
    if scheme != ("https" if secure else "http"):
        return False
    host = _header(scope, b"host")
    if host is None:
        return origin_port == DEFAULT_PORTS[scheme]
    host_name, host_port = split_domain_port(host)
    try:
        host_port = int(host_port) if host_port else DEFAULT_PORTS[scheme]
    except ValueError:
        return False
    return host_name == origin_host and host_port == origin_port


class SameOriginValidator:
    """In place of channels' AllowedHostsOriginValidator, which compares the Origin's host only."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] == "websocket" and not websocket_origin_allowed(scope):
            from channels.security.websocket import WebsocketDenier

            return await WebsocketDenier()(scope, receive, send)
        return await self.app(scope, receive, send)


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
        kind = response.get("Content-Type", "")
        if "Content-Security-Policy" not in response:
            if kind.startswith("text/html"):
                response["Content-Security-Policy"] = content_security_policy(request, embed)
            elif kind.startswith("image/svg+xml"):  # opened directly, an SVG is a page that could run script
                response["Content-Security-Policy"] = SVG_POLICY
                response["X-Content-Type-Options"] = "nosniff"
        return response
