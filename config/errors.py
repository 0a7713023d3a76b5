"""The site's own error pages (400, 403, CSRF failure, 404, 500), styled like every other page, in production
and in development alike.

Django's debug pages and its bare error bodies style themselves inline, which the Content-Security-Policy
(config.security) forbids, so a developer would see them unstyled. Three things stand in for them:

- ``handler400``/``handler403``/``handler404``/``handler500`` (config.urls) and ``CSRF_FAILURE_VIEW`` render the
  templates ``400.html``, ``403.html``, ``403_csrf.html``, ``404.html``, ``500.html`` (all extend ``base.html``);
- ``ErrorPageMiddleware`` replaces Django's debug page (DEBUG) with the styled page for its status, saying in a
  hint what Django would have said, and wraps a bare HTML error body a view returns (``HttpResponseBadRequest
  ("...")``) in the styled page, its text kept as the message;
- a page that already carries the site's stylesheet, a non-HTML answer (trace.json, exports, the 429), and an
  htmx partial request are left as they are.
"""
import logging

from django.conf import settings
from django.http import Http404, HttpResponse
from django.template import loader
from django.urls import Resolver404
from django.utils.html import strip_tags

logger = logging.getLogger(__name__)

TEMPLATES = {400: "400.html", 403: "403.html", 404: "404.html", 500: "500.html"}
STYLESHEET = "css/lifelines.css"  # what base.html links: a response holding it is one of the site's pages
DEBUG_PAGE = 'content="NONE,NOARCHIVE"'  # the robots meta tag of Django's technical 404 and 500 pages
FALLBACK = ("<!doctype html><title>Server error · Lifelines</title>"
            "<h1>Something went wrong on our side</h1><p><a href=\"/\">Back to the catalog</a></p>")


def error_page(request, status, detail="", template=None):
    """The styled page for ``status``; ``detail`` is shown as a hint (escaped)."""
    context = {"path": request.path if request is not None else "", "detail": detail, "debug": settings.DEBUG,
               "status": status}
    try:
        body = loader.render_to_string(template or TEMPLATES[status], context, request)
    except Exception:  # an error page must not fail: say it plainly
        if status != 500:
            raise
        logger.exception("The 500 page could not be rendered")
        body = FALLBACK
    return HttpResponse(body, status=status)


def _debug_detail(exception):
    """What Django's debug page would have said about ``exception``, for the hint in development."""
    if exception is None or not settings.DEBUG:
        return ""
    if isinstance(exception, Resolver404):
        return "No URL pattern matches this path (they are listed in config/urls.py and each app's urls.py)."
    if isinstance(exception, Http404):
        return str(exception)
    return f"{type(exception).__name__}: {exception}"


def bad_request(request, exception=None):
    return error_page(request, 400, _debug_detail(exception))


def permission_denied(request, exception=None):
    return error_page(request, 403, _debug_detail(exception))


def page_not_found(request, exception=None):
    return error_page(request, 404, _debug_detail(exception))


def server_error(request):
    return error_page(request, 500)


def csrf_failure(request, reason=""):
    """CSRF_FAILURE_VIEW: a form sent without its token (an expired page, cookies off)."""
    return error_page(request, 403, reason if settings.DEBUG else "", template="403_csrf.html")


class ErrorPageMiddleware:
    """Put the styled page in place of Django's debug page or a bare HTML error body (see the module docstring).

    Listed after ContentSecurityPolicyMiddleware, so that the page it makes gets the policy too.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if (response.status_code not in TEMPLATES or response.streaming
                or not response.get("Content-Type", "").startswith("text/html")
                or request.headers.get("HX-Request")):
            return response
        body = response.content.decode(response.charset or "utf-8", "replace")
        if STYLESHEET in body:
            return response
        if DEBUG_PAGE in body:
            exception = getattr(request, "_lifelines_exception", None)
            if exception is None and response.status_code == 404:
                exception = Resolver404()
            detail = _debug_detail(exception)
            if response.status_code == 500 and detail:
                detail += " (the traceback is in the server's console)"
            return error_page(request, response.status_code, detail)
        if body.lstrip()[:15].lower().startswith(("<!doctype", "<html")):
            return response  # a whole page of someone else's (the admin's): not ours to restyle
        return error_page(request, response.status_code, " ".join(strip_tags(body).split()))

    def process_exception(self, request, exception):
        """Remember what a view raised: Django's answer to it is made further out, and the hint needs it."""
        request._lifelines_exception = exception
        return None

