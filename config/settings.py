"""Settings from the environment: SQLite and the in-memory channel layer unless told otherwise."""
import ipaddress
import os
import tempfile
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name, default):
    return os.environ.get(name, str(default)).strip().lower() in ("1", "true", "yes", "on")


DEBUG = env_bool("DEBUG", False)
SECRET_KEY = os.environ.get("SECRET_KEY") or ("insecure-dev-key-only-for-debug" if DEBUG else None)
if not SECRET_KEY:
    raise ImproperlyConfigured("Set SECRET_KEY (or DEBUG=true for local development).")
ALLOWED_HOSTS = [h.strip() for h in os.environ.get("ALLOWED_HOSTS", "127.0.0.1,localhost").split(",") if h.strip()]
# The reverse proxies (addresses or networks, comma-separated) whose X-Forwarded-For and X-Forwarded-Proto are
# believed; from any other peer those headers are dropped (config.security). None by default.
TRUSTED_PROXIES = [p.strip() for p in os.environ.get("TRUSTED_PROXIES", "").split(",") if p.strip()]
for _proxy in TRUSTED_PROXIES:
    try:
        ipaddress.ip_network(_proxy, strict=False)
    except ValueError:
        raise ImproperlyConfigured(f"TRUSTED_PROXIES: {_proxy!r} is not an IP address or network") from None

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "django_htmx",
    "scenarios",
    "runs",
    "classroom",
    "challenges",
    "searches",
]

MIDDLEWARE = [
    "config.security.TrustedProxyMiddleware",  # first: what follows sees the client's address and scheme
    "django.middleware.security.SecurityMiddleware",
    "config.security.RateLimitMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "config.security.ContentSecurityPolicyMiddleware",
    "config.errors.ErrorPageMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "config.urls"
CSRF_FAILURE_VIEW = "config.errors.csrf_failure"
ASGI_APPLICATION = "config.asgi.application"
WSGI_APPLICATION = None

TEMPLATES = [{
    "BACKEND": "django.template.backends.django.DjangoTemplates",
    "DIRS": [BASE_DIR / "templates"],
    "APP_DIRS": True,
    "OPTIONS": {"context_processors": [
        "django.template.context_processors.request",
        "django.contrib.auth.context_processors.auth",
        "django.contrib.messages.context_processors.messages",
    ]},
}]

DATABASES = {"default": dj_database_url.parse(
    os.environ.get("DATABASE_URL") or f"sqlite:///{BASE_DIR / 'db.sqlite3'}", conn_max_age=60)}
if DATABASES["default"]["ENGINE"].endswith("postgresql"):
    # Django runs each request's database work in a thread of its own: without a pool, a burst of requests
    # opens one connection each and meets PostgreSQL's connection limit. Requests wait for the pool instead.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {"pool": {"min_size": 1, "max_size": int(os.environ.get("DB_POOL_SIZE", 20)),
                                                "timeout": 10}}
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    DATABASES["default"]["CONN_MAX_AGE"] = 600  # one connection per thread: connecting costs more than a write
    # WAL with synchronous=NORMAL: a commit is durable once in the log, which survives the process being
    # killed; only a power cut may lose the last commits, never the file's consistency. FULL would add a
    # disk flush to every streamed batch.
    DATABASES["default"]["OPTIONS"] = {"timeout": 20, "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
                                       "transaction_mode": "IMMEDIATE"}
    # The tests' database is a file too (in memory where /dev/shm is), not Django's shared-cache in-memory one:
    # that answers a second thread's write (a search, a save) with "table is locked" at once instead of waiting.
    _shm = "/dev/shm" if os.path.isdir("/dev/shm") else tempfile.gettempdir()
    DATABASES["default"]["TEST"] = {"NAME": os.path.join(_shm, f"lifelines-test-{os.getpid()}.sqlite3")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = os.environ.get("REDIS_URL")
# channels-redis waits 5 s in BZPOPMIN for a consumer's next message; redis-py's default read timeout is
# also 5 s, which would kill every consumer idle that long. Reads get 15 s; query args in REDIS_URL win.
CHANNEL_LAYERS = {"default": {
    "BACKEND": "runs.layers.ResilientRedisChannelLayer",
    "CONFIG": {"hosts": [{"address": REDIS_URL, "socket_timeout": 15, "socket_connect_timeout": 2}]}}
} if REDIS_URL else {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "staticfiles"
SERVE_STATIC = env_bool("SERVE_STATIC", True)

SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False
X_FRAME_OPTIONS = "SAMEORIGIN"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
# Safe only because TrustedProxyMiddleware (first in MIDDLEWARE) drops X-Forwarded-Proto unless it comes from
# one of TRUSTED_PROXIES: then an https request forwarded as http is secure, and HTTPS=true does not loop.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
if not DEBUG and env_bool("HTTPS", False):
    SECURE_SSL_REDIRECT = True
    SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = 31536000
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("HSTS_INCLUDE_SUBDOMAINS", False)
    SECURE_HSTS_PRELOAD = env_bool("HSTS_PRELOAD", False)
SILENCED_SYSTEM_CHECKS = [
    # HSTS for subdomains and the preload list commit every host under the domain to HTTPS for a year:
    # the operator's decision (HSTS_INCLUDE_SUBDOMAINS=true, HSTS_PRELOAD=true), not the app's.
    "security.W005",
    "security.W021",
    # SAMEORIGIN, not DENY: the app frames its own pages, and config.security exempts /embed pages,
    # whose Content-Security-Policy frame-ancestors * lets any site embed a run.
    "security.W019",
]

# The rate limits' counters: in Redis when there is one, shared by every daphne process; else per process.
CACHES = {"default": {
    "BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL, "KEY_PREFIX": "lifelines",
    "OPTIONS": {"socket_timeout": 1, "socket_connect_timeout": 1}}
} if REDIS_URL else {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "lifelines"}}
# Per client address and per minute (0 turns a limit off): pages here, run starts in the consumer, searches in
# searches/views.py.
RATE_LIMIT_PAGES = int(os.environ.get("RATE_LIMIT_PAGES", 600))
RATE_LIMIT_RUNS = int(os.environ.get("RATE_LIMIT_RUNS", 120))
RATE_LIMIT_SEARCHES = int(os.environ.get("RATE_LIMIT_SEARCHES", 20))
# What one WebSocket connection may cost (README "Reliability and security"): bytes of events sent and not yet
# acknowledged; how long a full window may go without an ack before the connection is closed (4008); the size
# of catch-up frames (watch, resume), well under daphne's 1 MiB message limit.
# Engine processes beside each daphne process for live runs' simulations (runs.engines): one when there is a
# second core for it; 0 runs them in the web process.
ENGINE_WORKERS = int(os.environ.get("ENGINE_WORKERS", 1 if (os.cpu_count() or 1) > 1 else 0))
WS_WINDOW_BYTES = int(os.environ.get("WS_WINDOW_BYTES", 4 * 2**20))
WS_SLOW_SECONDS = float(os.environ.get("WS_SLOW_SECONDS", 30))
WS_FRAME_BYTES = int(os.environ.get("WS_FRAME_BYTES", 256 * 1024))
# Per connection (0 turns a limit off): classroom answers a second; unknown room codes tried a minute (twice
# that per session cookie, twenty times that per address: a class behind one NAT still gets in).
RATE_LIMIT_ANSWERS = int(os.environ.get("RATE_LIMIT_ANSWERS", 3))
RATE_LIMIT_ROOM_CODES = int(os.environ.get("RATE_LIMIT_ROOM_CODES", 5))

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "WARNING")},
}
