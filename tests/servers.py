"""Real daphne processes for the tests that must cross a real socket: browsers and several servers."""
import os
import socket
import subprocess
import sys
import time
import uuid
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlparse, urlunparse

ROOT = Path(__file__).resolve().parent.parent


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listens on port {port}")


@contextmanager
def fresh_postgres(url, prefix):
    """A new, empty PostgreSQL database on ``url``'s server, dropped afterwards; yields its URL."""
    import psycopg

    name = f"{prefix}{uuid.uuid4().hex[:8]}"
    admin = psycopg.connect(url, autocommit=True)
    admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield urlunparse(urlparse(url)._replace(path=f"/{name}"))
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


@contextmanager
def server_database(tmp_path):
    """A database of its own for server processes: a SQLite file, or a fresh PostgreSQL database when
    DATABASE_URL points at PostgreSQL. Migrated, and dropped afterwards."""
    url = os.environ.get("DATABASE_URL", "")
    if url.startswith(("postgres://", "postgresql://")):
        with fresh_postgres(url, "lifelines_e2e_") as server_url:
            migrate(server_url)
            yield server_url
    else:
        server_url = f"sqlite:///{tmp_path / 'server.sqlite3'}"
        migrate(server_url)
        yield server_url


def server_env(database_url, **extra):
    env = {**os.environ, "DATABASE_URL": database_url, "SECRET_KEY": "e2e-secret", "DEBUG": "false",
           "ALLOWED_HOSTS": "127.0.0.1,localhost", "DJANGO_SETTINGS_MODULE": "config.settings",
           # with REDIS_URL the limits count across processes: the whole suite is one client at 127.0.0.1
           "RATE_LIMIT_PAGES": "0", "RATE_LIMIT_RUNS": "0", "ENGINE_WORKERS": "1"}
    env.update(extra)
    return env


def origin(proc):
    """The Origin header of a page served by ``proc``: WebSocket origins are checked in full (scheme, host, port)."""
    return {"origin": proc.url}


def migrate(database_url):
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=server_env(database_url), check=True)


@contextmanager
def daphne(database_url, port=None, **env):
    """Start daphne on 127.0.0.1 and yield its base URL; stopped (or already killed) afterwards."""
    port = port or free_port()
    proc = subprocess.Popen([sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port),
                             "config.asgi:application"], cwd=ROOT, env=server_env(database_url, **env),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_for_port(port)
        proc.url = f"http://127.0.0.1:{port}"
        proc.port = port
        yield proc
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()


def create_room(database_url, scenario="bully-election"):
    """A classroom in a server database; returns (code, key)."""
    out = subprocess.run([sys.executable, "manage.py", "shell", "-v0", "-c",
                          "from classroom.models import Room; r = Room.objects.create(scenario=%r); "
                          "print(r.code, r.key)" % scenario], cwd=ROOT, env=server_env(database_url),
                         check=True, capture_output=True, text=True).stdout.split()
    return out[-2], out[-1]


def save_run(database_url, scenario, trace):
    """Store a finished trace as a Run in a server database; returns its id."""
    code = ("import json, sys; from runs.models import Run, Chunk; t = json.load(sys.stdin); "
            "r = Run.objects.create(scenario=%r, params=t[0]['params'], seed=t[0]['seed'], status='ended', "
            "event_count=len(t), summary=t[-1]['summary']); "
            "[Chunk.objects.create(run=r, start=i, count=len(t[i:i + 2000]), data=Chunk.pack(t[i:i + 2000])) "
            "for i in range(0, len(t), 2000)]; print(r.id)" % scenario)
    import json

    out = subprocess.run([sys.executable, "manage.py", "shell", "-v0", "-c", code], cwd=ROOT,
                         env=server_env(database_url), input=json.dumps(trace), check=True, capture_output=True,
                         text=True).stdout.split()
    return out[-1]
