"""The test settings: production settings with a throwaway key."""
import os

os.environ.setdefault("SECRET_KEY", "test-only-secret-key")

from .settings import *  # noqa: E402,F403

DATABASES["default"]["CONN_MAX_AGE"] = 0  # noqa: F405  (no connection may outlive a test)
RATE_LIMIT_PAGES = RATE_LIMIT_RUNS = RATE_LIMIT_SEARCHES = 0  # the suite is one client; the limits have tests of their own
# cache.clear() in the tests would FLUSHDB the Redis the channel layer shares: the tests count in memory
# (tests/test_deploy.py checks that the production settings pick Redis when REDIS_URL is set).
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "lifelines-test"}}
