"""Real processes for the figures: a migrated database, daphne servers, a static file server, headless Chromium.

Every process started here is stopped by the context manager that started it; daphne's log goes to
bench/results/logs/ so that a chatty server can never block on a full pipe.
"""
import functools
import http.server
import os
import subprocess
import sys
import tempfile
import threading
from contextlib import contextmanager
from pathlib import Path

from tests.servers import free_port, fresh_postgres, wait_for_port

from .common import RESULTS, ROOT

BENCH_DB_PREFIX = "lifelines_bench_"


def is_postgres(url):
    return url.startswith(("postgres://", "postgresql://"))


def server_env(database_url, **extra):
    env = {**os.environ, "DATABASE_URL": database_url, "SECRET_KEY": "bench-secret", "DEBUG": "false",
           "ALLOWED_HOSTS": "127.0.0.1,localhost", "RATE_LIMIT_RUNS": "0", "RATE_LIMIT_PAGES": "0",
           "DJANGO_SETTINGS_MODULE": ("config.settings" if os.environ.get("BENCH_APP_SETTINGS") == "1"
                                      else "bench.server_settings")}
    if os.environ.get("REDIS_URL"):
        env["REDIS_URL"] = os.environ["REDIS_URL"]
    env.update({k: v for k, v in extra.items() if v is not None})
    for k, v in extra.items():
        if v is None:
            env.pop(k, None)
    return env


def python(args, env, timeout=600):
    """Run ``python args`` in the repository; its stdout, or RuntimeError with the last line it wrote on stderr."""
    done = subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
    if done.returncode:
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        raise RuntimeError(f"python {' '.join(args[:2])} failed: {lines[-1] if lines else done.returncode}")
    return done.stdout


def migrate(database_url):
    python(["manage.py", "migrate", "-v0"], server_env(database_url))


def drop_stale_databases(url):
    """Drop bench databases left behind by a run that was killed (only ours: they carry our prefix)."""
    if not is_postgres(url):
        return
    import psycopg

    with psycopg.connect(url, autocommit=True) as admin:
        names = [r[0] for r in admin.execute("SELECT datname FROM pg_database WHERE datname LIKE %s",
                                             (BENCH_DB_PREFIX + "%",))]
        for name in names:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def bench_database(base_url):
    """A migrated database for the server processes of one bench run: a fresh PostgreSQL database when
    ``base_url`` is PostgreSQL (dropped afterwards), else a SQLite file in a temporary folder."""
    if is_postgres(base_url):
        drop_stale_databases(base_url)
        with fresh_postgres(base_url, BENCH_DB_PREFIX) as url:
            migrate(url)
            yield url
    else:
        with tempfile.TemporaryDirectory(prefix="lifelines-bench-") as tmp:
            url = f"sqlite:///{Path(tmp) / 'bench.sqlite3'}"
            migrate(url)
            yield url


@contextmanager
def daphne(database_url, name="daphne", **env):
    """A daphne process on 127.0.0.1 serving the app; yields the Popen with ``url``, ``ws`` and ``port``."""
    port = free_port()
    logs = RESULTS / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    log = open(logs / f"{name}.log", "ab")
    proc = subprocess.Popen([sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "-v", "0",
                             "config.asgi:application"], cwd=ROOT, env=server_env(database_url, **env),
                            stdout=log, stderr=log)
    proc.log_path = logs / f"{name}.log"
    try:
        wait_for_port(port)
        proc.port = port
        proc.url = f"http://127.0.0.1:{port}"
        proc.ws = f"ws://127.0.0.1:{port}/ws/run/"
        yield proc
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        log.close()


def server_error(since):
    """The last exception a server process logged since ``since`` (a time.time()), or ''."""
    found, newest = "", 0
    for path in (RESULTS / "logs").glob("*.log"):
        if path.stat().st_mtime < since:
            continue
        for line in path.read_text(errors="replace").splitlines():
            head = line.split(":", 1)[0]
            if ":" in line and not line.startswith(" ") and head.replace(".", "").isidentifier() and \
                    head.endswith(("Error", "Exception", "Exit", "Timeout")):
                if path.stat().st_mtime >= newest:
                    found, newest = f"{path.stem}: {line.strip()}", path.stat().st_mtime
    return found


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def end_headers(self):
        self.send_header("Cache-Control", "no-store")
        super().end_headers()


@contextmanager
def static_server(mounts):
    """Serve ``{url prefix: folder}`` over HTTP on 127.0.0.1 (symlinks in a temporary root); yields the base URL."""
    with tempfile.TemporaryDirectory(prefix="lifelines-bench-www-") as tmp:
        for prefix, folder in mounts.items():
            link = Path(tmp) / prefix
            link.parent.mkdir(parents=True, exist_ok=True)
            link.symlink_to(Path(folder).resolve(), target_is_directory=True)
        handler = functools.partial(_Quiet, directory=tmp)
        httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        thread = threading.Thread(target=httpd.serve_forever, daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{httpd.server_address[1]}"
        finally:
            httpd.shutdown()
            httpd.server_close()


CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic", "--disable-extensions",
                 "--disable-background-timer-throttling", "--disable-renderer-backgrounding",
                 "--disable-backgrounding-occluded-windows"]


@contextmanager
def chromium():
    """Debian's headless Chromium through Playwright (never a downloaded browser); yields the Browser."""
    from playwright.sync_api import sync_playwright

    path = os.environ.get("CHROMIUM", "/usr/bin/chromium")
    if not os.path.exists(path):
        raise RuntimeError(f"no Chromium at {path} (apt-get install chromium, or set CHROMIUM)")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def new_page(browser, width=1280, height=800):
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    page.errors = []
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    return page
