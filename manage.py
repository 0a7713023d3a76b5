#!/usr/bin/env python
"""Django's command line. On a checkout that names no deployment it runs like `make run`: see local_defaults."""
import os
import sys

# Any of these in the environment means a deployment (or a test) is being configured: no local defaults then.
DEPLOYMENT_VARIABLES = ("DEBUG", "SECRET_KEY", "DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE")


def local_defaults(environ):
    """DEBUG=true (so settings use their local development key) when the environment says nothing of a deployment.

    Only manage.py does this, so `.venv/bin/python manage.py simulate ...` and `createsuperuser` work on a fresh
    clone against the local db.sqlite3, as `make run` serves it. daphne (config.asgi) never comes here: a server
    started with neither SECRET_KEY nor DEBUG still refuses to start, and so does any command once SECRET_KEY,
    DEBUG, DATABASE_URL or REDIS_URL is set without a key.
    """
    if not any(name in environ for name in DEPLOYMENT_VARIABLES):
        environ["DEBUG"] = "true"


if __name__ == "__main__":
    local_defaults(os.environ)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
