"""What a run survives on a real daphne process: a locked database, a dropped connection."""
import json
import threading
import time
import urllib.request
from urllib.parse import urlparse

import pytest
from websockets.sync.client import connect

from tests import servers
from tests.wire import drain, events_of, raw_websocket, receive_until







class DatabaseLock:
    """Hold the chunk table (PostgreSQL) or the whole file (SQLite) locked from outside the server."""

    def __init__(self, url):
        self.url = url

    def __enter__(self):
        if self.url.startswith("sqlite"):
            import sqlite3

            self.conn = sqlite3.connect(urlparse(self.url).path, isolation_level=None, check_same_thread=False)
            self.conn.execute("BEGIN EXCLUSIVE")
        else:
            import psycopg

            self.conn = psycopg.connect(self.url)
            self.conn.execute("LOCK TABLE runs_chunk IN ACCESS EXCLUSIVE MODE")
        return self

    def release(self):
        self.conn.rollback() if not self.url.startswith("sqlite") else self.conn.execute("ROLLBACK")
        self.conn.close()

    def __exit__(self, *exc):
        pass


def test_a_locked_database_does_not_stop_the_stream_and_every_event_is_saved_later(server_db):
    with servers.daphne(server_db) as server, connect(f"ws://127.0.0.1:{server.port}/ws/run/",
                                                      additional_headers=servers.origin(server)) as ws:
        ws.send(json.dumps({"type": "start", "scenario": "bully-election", "params": {"n": 16}}))
        got = receive_until(ws, lambda m: m["type"] == "status")
        run = got[0]["run"]
        streamed = events_of(got)
        lock = DatabaseLock(server_db).__enter__()
        timer = threading.Timer(4, lock.release)
        timer.start()
        started = time.monotonic()
        ws.send(json.dumps({"type": "play", "speed": 400}))
        streamed += events_of(receive_until(ws, lambda m: m.get("state") == "ended"))
        elapsed = time.monotonic() - started
        timer.join()
        assert streamed[-1]["kind"] == "end" and elapsed < 3.5  # the lock was held for 4 s
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            saved = json.load(urllib.request.urlopen(f"{server.url}/runs/{run}/trace.json"))
            if len(saved) == len(streamed):
                break
            time.sleep(0.5)
        assert saved == streamed


@pytest.fixture
def private_redis():
    """A Redis of the test's own, so that it can be killed and brought back."""
    import shutil
    import subprocess

    if not shutil.which("redis-server"):
        pytest.skip("redis-server is not installed")
    port = servers.free_port()
    args = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]

    class Redis:
        url = f"redis://127.0.0.1:{port}/0"

        def start(self):
            self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            servers.wait_for_port(port)

        def kill(self):
            self.proc.kill()
            self.proc.wait()

    redis = Redis()
    redis.start()
    yield redis
    if redis.proc.poll() is None:
        redis.kill()


def test_redis_going_away_degrades_the_classroom_but_not_the_run(server_db, private_redis):
    code, key = servers.create_room(server_db)
    with servers.daphne(server_db, REDIS_URL=private_redis.url) as server, \
            connect(f"ws://127.0.0.1:{server.port}/ws/run/", additional_headers=servers.origin(server)) as ws:
        ws.send(json.dumps({"type": "room.host", "room": code, "key": key}))
        assert receive_until(ws, lambda m: m["type"] == "room.joined")
        ws.send(json.dumps({"type": "start", "scenario": "bully-election", "params": {"n": 12}}))
        got = receive_until(ws, lambda m: m["type"] == "status")
        run, streamed = got[0]["run"], events_of(got)

        private_redis.kill()
        ws.send(json.dumps({"type": "play", "speed": 2000}))
        got = receive_until(ws, lambda m: m.get("state") == "ended")
        streamed += events_of(got)
        assert [e["seq"] for e in streamed] == list(range(len(streamed)))  # the run streamed to its browser
        assert any(m["type"] == "degraded" for m in got)
        assert urllib.request.urlopen(f"{server.url}/").status == 200
        assert urllib.request.urlopen(f"{server.url}/runs/{run}/").status == 200
        ws.send(json.dumps({"type": "room.ask", "question": "Next?", "options": ["a", "b"]}))
        assert receive_until(ws, lambda m: m["type"] == "error")[-1]["code"] == "degraded"

        private_redis.start()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            ws.send(json.dumps({"type": "room.host", "room": code, "key": key}))
            reply = receive_until(ws, lambda m: m["type"] in ("room.joined", "error"))[-1]
            if reply["type"] == "room.joined":
                break
            time.sleep(1)
        assert reply["type"] == "room.joined"
        with connect(f"ws://127.0.0.1:{server.port}/ws/run/", additional_headers=servers.origin(server)) as learner:
            learner.send(json.dumps({"type": "room.join", "room": code}))
            state = receive_until(learner, lambda m: m["type"] == "room.state")[-1]
            assert state["run"] == run


def test_a_client_that_stops_reading_is_let_go_and_others_keep_streaming(server_db):
    with servers.daphne(server_db, WS_WINDOW_BYTES="200000", WS_SLOW_SECONDS="2") as server:
        sock, send = raw_websocket(server.port)
        send({"type": "start", "scenario": "gossip", "params": {"n": 64, "mode": "epidemic"}})
        send({"type": "play", "speed": 100000})
        with connect(f"ws://127.0.0.1:{server.port}/ws/run/", additional_headers=servers.origin(server)) as ws:
            ws.send(json.dumps({"type": "start", "scenario": "bully-election", "params": {"n": 10}}))
            receive_until(ws, lambda m: m["type"] == "status")
            ws.send(json.dumps({"type": "play", "speed": 5000}))
            events = events_of(receive_until(ws, lambda m: m.get("state") == "ended"))
            assert events[-1]["kind"] == "end"
        received, closed = drain(sock, 15)
        assert closed
        assert len(received) < 400_000  # the server stopped near its 200 kB window; the whole run is 535 kB
        sock.close()
