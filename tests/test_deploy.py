"""Deployment as documented (issue #12 item 7): forwarded headers only from TRUSTED_PROXIES, WebSocket origins
checked in full, escaped 400 pages, a policy on exported SVG, runs of a killed process marked interrupted, static
paths that leave static/ answered 404, and rate limits in Redis when there is one."""
import os
import platform
import subprocess
import sys
from datetime import timedelta

import pytest
from channels.testing import HttpCommunicator
from django.test import override_settings
from django.utils import timezone

from config import security
from config.asgi import application
from runs import heartbeat
from runs.models import Chunk, Run
from tests.communicator import Communicator
from tests.servers import ROOT

PROXY = "10.0.0.5"


# -- proxies -----------------------------------------------------------------------------------------------------
@pytest.mark.django_db
@override_settings(TRUSTED_PROXIES=["10.0.0.0/24"])
def test_https_forwarded_by_a_trusted_proxy_is_secure_and_from_anyone_else_it_is_not(rf):
    seen = []
    middleware = security.TrustedProxyMiddleware(lambda r: seen.append((r.is_secure(), r.META["REMOTE_ADDR"])))
    middleware(rf.get("/", REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_PROTO="https",
                      HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.9"))
    middleware(rf.get("/", REMOTE_ADDR="198.51.100.1", HTTP_X_FORWARDED_PROTO="https",
                      HTTP_X_FORWARDED_FOR="203.0.113.9"))
    # from the proxy: the address it appended (the left one was written by the client and is ignored)
    assert seen == [(True, "203.0.113.9"), (False, "198.51.100.1")]


@pytest.mark.django_db
@override_settings(TRUSTED_PROXIES=[PROXY], SECURE_SSL_REDIRECT=True)
def test_https_true_does_not_redirect_in_a_loop_behind_a_tls_proxy(client):
    assert client.get("/", REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_PROTO="https").status_code == 200
    spoofed = client.get("/", REMOTE_ADDR="198.51.100.1", HTTP_X_FORWARDED_PROTO="https")
    assert spoofed.status_code == 301 and spoofed["Location"].startswith("https://")


@pytest.mark.django_db
@override_settings(TRUSTED_PROXIES=[PROXY], RATE_LIMIT_PAGES=2)
def test_each_client_behind_the_proxy_has_a_rate_limit_of_its_own(client):
    from django.core.cache import cache

    cache.clear()
    for _ in range(2):
        assert client.get("/", REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR="203.0.113.1").status_code == 200
    assert client.get("/", REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR="203.0.113.1").status_code == 429
    assert client.get("/", REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR="203.0.113.2").status_code == 200
    cache.clear()


def test_forwarded_headers_are_ignored_without_trusted_proxies(rf):
    assert security.forwarded_client("10.0.0.5", "203.0.113.1") == "10.0.0.5"
    with override_settings(TRUSTED_PROXIES=["10.0.0.0/8"]):
        assert security.forwarded_client("10.0.0.5", "1.2.3.4, 203.0.113.1, 10.0.0.9") == "203.0.113.1"
        assert security.forwarded_client("10.0.0.5", "garbage") == "10.0.0.5"


@pytest.mark.django_db(transaction=True)
@override_settings(TRUSTED_PROXIES=[PROXY])
async def test_a_websocket_through_a_trusted_proxy_gets_the_clients_address_and_scheme():
    seen = {}

    async def app(scope, receive, send):
        seen.update(client=scope["client"], scheme=scope["scheme"])

    headers = [(b"x-forwarded-for", b"203.0.113.7"), (b"x-forwarded-proto", b"https")]
    await security.TrustedProxyASGI(app)({"type": "websocket", "client": [PROXY, 1], "scheme": "ws",
                                          "headers": headers}, None, None)
    assert seen == {"client": ["203.0.113.7", 0], "scheme": "wss"}
    await security.TrustedProxyASGI(app)({"type": "websocket", "client": ["198.51.100.1", 1], "scheme": "ws",
                                          "headers": headers}, None, None)
    assert seen == {"client": ["198.51.100.1", 1], "scheme": "ws"}


def settings_in_subprocess(code, **env):
    clean = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "TRUSTED_PROXIES", "DJANGO_SETTINGS_MODULE")}
    return subprocess.run([sys.executable, "-c", f"import config.settings as s; {code}"], cwd=ROOT, text=True,
                          capture_output=True, timeout=60, env={**clean, "SECRET_KEY": "x", **env})


def test_trusted_proxies_come_from_the_environment_and_a_typo_stops_the_server():
    proc = settings_in_subprocess("print(s.TRUSTED_PROXIES)", TRUSTED_PROXIES="10.0.0.5, 10.1.0.0/16")
    assert proc.returncode == 0 and proc.stdout.strip() == "['10.0.0.5', '10.1.0.0/16']", proc.stderr
    assert settings_in_subprocess("print(s.TRUSTED_PROXIES)").stdout.strip() == "[]"
    bad = settings_in_subprocess("", TRUSTED_PROXIES="proxy.internal")
    assert bad.returncode != 0 and "TRUSTED_PROXIES" in bad.stderr


def test_the_readme_documents_trusted_proxies_for_a_deployment():
    readme = (ROOT / "README.md").read_text()
    assert "| `TRUSTED_PROXIES` |" in readme and "export TRUSTED_PROXIES=" in readme


# -- WebSocket origins -------------------------------------------------------------------------------------------
async def ws_accepted(headers, scheme="ws"):
    comm = Communicator(application, "/ws/run/", headers=headers)
    comm.scope["scheme"] = scheme
    connected, _ = await comm.connect()
    if connected:
        await comm.disconnect()
    return connected


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("origin,host,scheme,ok", [
    (b"http://127.0.0.1:8000", b"127.0.0.1:8000", "ws", True),
    (b"http://127.0.0.1:9999", b"127.0.0.1:8000", "ws", False),  # same host, another port
    (b"https://127.0.0.1:8000", b"127.0.0.1:8000", "ws", False),  # another scheme
    (b"http://localhost:8000", b"127.0.0.1:8000", "ws", False),  # another allowed host than the socket's
    (b"http://127.0.0.1", b"127.0.0.1:8000", "ws", False),
    (b"https://localhost", b"localhost", "wss", True),
    (b"http://localhost", b"localhost", "wss", False),  # a plain-http page on a TLS site
    (b"http://evil.example:8000", b"evil.example:8000", "ws", False),
])
async def test_a_websocket_origin_must_match_scheme_host_and_port(origin, host, scheme, ok):
    assert await ws_accepted([(b"origin", origin), (b"host", host)], scheme) == ok


# -- the compare 400, exported SVG ---------------------------------------------------------------------------------
@pytest.mark.django_db
@pytest.mark.parametrize("debug", [False, True])
def test_the_compare_400_page_escapes_what_it_reflects(client, debug):
    script = "<script>alert(1)</script>"
    with override_settings(DEBUG=debug):
        for url, query in [("/s/two-generals/compare", {"with": script}),
                           ("/s/two-generals/compare", {"with": f"n={script}"}),
                           ("/compare/", {"a": script, "b": script})]:
            resp = client.get(url, query)
            assert resp.status_code == 400, (url, query)
            body = resp.content.decode()
            assert "<script>alert" not in body and "&lt;script&gt;alert(1)" in body, (url, query)


@pytest.mark.django_db
def test_an_exported_svg_carries_a_strict_policy_of_its_own(client):
    run = Run.objects.create(scenario="two-generals", params={}, seed=0, status="ended")
    import simulations

    trace = simulations.get("two-generals").run({}, 0)
    Chunk.objects.create(run=run, start=0, count=len(trace), data=Chunk.pack(trace))
    resp = client.get(f"/runs/{run.id}/export.svg")
    assert resp.status_code == 200 and resp["Content-Type"] == "image/svg+xml"
    policy = {p.split()[0]: p.split()[1:] for p in resp["Content-Security-Policy"].split(";") if p.strip()}
    assert policy["default-src"] == ["'none'"] and policy["style-src"] == ["'unsafe-inline'"]
    assert "script-src" not in policy and resp["X-Content-Type-Options"] == "nosniff"


# -- a run whose process was killed ------------------------------------------------------------------------------
@pytest.mark.django_db
def test_a_run_left_running_by_a_dead_process_is_shown_and_saved_as_interrupted(client):
    old = Run.objects.create(scenario="two-generals", params={}, seed=0)
    Run.objects.filter(pk=old.pk).update(updated=timezone.now() - timedelta(seconds=heartbeat.STALE + 60))
    fresh = Run.objects.create(scenario="two-generals", params={}, seed=0)
    page = client.get(f"/runs/{old.id}/").content.decode()
    assert "This run was interrupted" in page
    assert Run.objects.get(pk=old.pk).status == "interrupted"
    client.get(f"/runs/{fresh.id}/")
    assert Run.objects.get(pk=fresh.pk).status == "running"  # its owner may be streaming it right now


@pytest.mark.django_db(transaction=True)
async def test_a_live_connection_keeps_its_run_alive(monkeypatch):
    monkeypatch.setattr(heartbeat, "HEARTBEAT", 0.05)
    comm = Communicator(application, "/ws/run/", headers=[(b"origin", b"http://127.0.0.1")])
    assert (await comm.connect())[0]
    await comm.send_json_to({"type": "start", "scenario": "two-generals"})
    run_id = (await comm.receive_json_from(timeout=5))["run"]
    long_ago = timezone.now() - timedelta(seconds=heartbeat.STALE + 60)
    await Run.objects.filter(pk=run_id).aupdate(updated=long_ago)
    import asyncio

    for _ in range(100):
        await asyncio.sleep(0.05)
        if (await Run.objects.aget(pk=run_id)).updated > long_ago:
            break
    run = await Run.objects.aget(pk=run_id)
    assert run.updated > long_ago and run.status == "running"
    await comm.disconnect(timeout=10)


# -- static files ------------------------------------------------------------------------------------------------
@pytest.mark.django_db
@pytest.mark.parametrize("debug", [False, True])
@pytest.mark.parametrize("path", ["/static/../../etc/passwd", "/static/../config/settings.py",
                                  "/static/css/../../config/settings.py", "/static/..\\..\\etc\\passwd",
                                  "/static/\x00", "/static/no-such-file.css"])
async def test_a_static_path_that_leaves_static_is_a_404_never_a_500(path, debug):
    with override_settings(DEBUG=debug):
        comm = HttpCommunicator(application, "GET", path)
        comm.scope["path"] = path  # daphne hands the application the decoded path
        resp = await comm.get_response(timeout=10)
    assert resp["status"] == 404
    assert b"Traceback" not in resp["body"] and b"settings.py\n" not in resp["body"]


# -- rate limits in Redis ----------------------------------------------------------------------------------------
def test_the_rate_limits_count_in_redis_when_redis_url_is_set():
    with_redis = settings_in_subprocess("print(s.CACHES['default']['BACKEND'], s.CACHES['default']['LOCATION'])",
                                        REDIS_URL="redis://127.0.0.1:6379/0")
    assert with_redis.stdout.split() == ["django.core.cache.backends.redis.RedisCache", "redis://127.0.0.1:6379/0"]
    without = settings_in_subprocess("print(s.CACHES['default']['BACKEND'])")
    assert without.stdout.strip() == "django.core.cache.backends.locmem.LocMemCache"


def test_a_rate_limit_lets_requests_through_when_its_cache_is_down(monkeypatch):
    class Down:
        def add(self, *a, **k):
            raise ConnectionError("redis is down")

    monkeypatch.setattr(security, "cache", Down())
    assert security.allow("pages:1.2.3.4", 5)


# -- the process ---------------------------------------------------------------------------------------------------
ARENAS = """
import ctypes, sys, threading
{tune}
barrier = threading.Barrier(8)
def work():
    blocks = [bytearray(20_000) for _ in range(50)]  # past pymalloc: each thread's own glibc arena, if it may
    barrier.wait()
threads = [threading.Thread(target=work) for _ in range(8)]
for t in threads: t.start()
for t in threads: t.join()
libc = ctypes.CDLL(None)
libc.open_memstream.restype = ctypes.c_void_p
buf, size = ctypes.c_char_p(), ctypes.c_size_t()
report = libc.open_memstream(ctypes.byref(buf), ctypes.byref(size))
libc.malloc_info(0, ctypes.c_void_p(report))
libc.fclose(ctypes.c_void_p(report))
print(ctypes.string_at(buf, size.value).count(b"<heap nr="))
"""


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc's allocator")
def test_a_daphne_process_keeps_its_threads_to_two_allocator_arenas():
    import config.asgi

    def arenas(tune):
        script = ARENAS.format(tune="from config.allocator import tune; assert tune()" if tune else "")
        return int(subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True,
                                  check=True, timeout=60).stdout)

    assert config.asgi.ALLOCATOR_TUNED  # what serves the app sets it before its threads start
    assert arenas(tune=False) > 2 and arenas(tune=True) <= 2  # eight threads: an arena each, or two for all
