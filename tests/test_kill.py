"""A server killed mid-run loses nothing a learner saw: every event is saved before it is sent, so a restarted
server replays the run up to where it stopped, says it was interrupted, and lets the browser resume it.
Also: a client that stops reading is let go before it costs the server more than its window."""
import json
import os
import shutil
import signal
import subprocess
import time
import urllib.request

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

import simulations
from tests import servers
from tests.wire import events_of



def ws_url(proc):
    return f"ws://127.0.0.1:{proc.port}/ws/run/"


def get(proc, path):
    with urllib.request.urlopen(proc.url + path, timeout=10) as resp:
        return resp.status, resp.read().decode()


def test_sigkill_mid_stream_keeps_every_event_the_client_received(server_db):
    received = []
    with servers.daphne(server_db) as proc:
        with connect(ws_url(proc), additional_headers=servers.origin(proc)) as ws:
            ws.send(json.dumps({"type": "start", "scenario": "bully-election", "params": {"n": 16}, "seed": 3}))
            run_id = json.loads(ws.recv(timeout=10))["run"]
            ws.send(json.dumps({"type": "play", "speed": 50}))
            deadline = time.monotonic() + 1.0  # about 200 of the run's 543 events
            while time.monotonic() < deadline:
                events_of([json.loads(ws.recv(timeout=10))], received)
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(10)
            try:
                while True:  # whatever was already on the wire still counts as received
                    events_of([json.loads(ws.recv(timeout=5))], received)
            except (ConnectionClosed, TimeoutError):
                pass
    full = simulations.get("bully-election").run({"n": 16}, 3)
    assert 20 < len(received) < len(full), "the kill must land mid-run"
    assert [e["seq"] for e in received] == list(range(len(received)))

    with servers.daphne(server_db) as again:
        status, body = get(again, f"/runs/{run_id}/trace.json")
        saved = json.loads(body)
        assert status == 200
        assert saved[:len(received)] == received  # every received event, saved with the same content
        assert saved == full[:len(saved)]  # and nothing but the deterministic run, without gaps
        status, page = get(again, f"/runs/{run_id}/")
        assert status == 200 and "interrupted" in page
        assert f"/runs/{run_id}/trace.json" in page

        with connect(ws_url(again), additional_headers=servers.origin(again)) as ws:  # the restarted server streams afresh
            ws.send(json.dumps({"type": "start", "scenario": "bully-election", "params": {"n": 4}}))
            assert json.loads(ws.recv(timeout=10))["type"] == "started"


def play_until_killed(proc, seconds, **start):
    """Start a run, play it at speed 50, SIGKILL the server after ``seconds``; (started message, events seen)."""
    received = []
    with connect(ws_url(proc), additional_headers=servers.origin(proc)) as ws:
        ws.send(json.dumps({"type": "start", **start}))
        started = json.loads(ws.recv(timeout=10))
        ws.send(json.dumps({"type": "play", "speed": 50}))
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            msg = json.loads(ws.recv(timeout=10))
            events_of([msg], received)
            if received:
                ws.send(json.dumps({"type": "ack", "seq": received[-1]["seq"]}))
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        try:
            while True:
                events_of([json.loads(ws.recv(timeout=5))], received)
        except (ConnectionClosed, TimeoutError):
            pass
    return started, received


def test_a_browser_resumes_on_a_restarted_server_without_a_gap_or_a_duplicate(server_db):
    start = {"scenario": "bully-election", "params": {"n": 16}, "seed": 5}
    with servers.daphne(server_db) as proc:
        started, received = play_until_killed(proc, 1.0, **start)
    full = simulations.get("bully-election").run(start["params"], start["seed"])
    assert 0 < len(received) < len(full)
    with servers.daphne(server_db) as again, connect(ws_url(again), additional_headers=servers.origin(again)) as ws:
        ws.send(json.dumps({"type": "resume", "run": started["run"], "token": started["token"],
                            "from": received[-1]["seq"] + 1}))
        assert json.loads(ws.recv(timeout=10))["type"] == "resumed"
        while (msg := json.loads(ws.recv(timeout=10)))["type"] != "status":
            events_of([msg], received)
        ws.send(json.dumps({"type": "play", "speed": 10000}))
        while (msg := json.loads(ws.recv(timeout=10))).get("state") != "ended":
            events_of([msg], received)
    assert received == full  # the whole run, each event once, in order
    with servers.daphne(server_db) as third:
        assert json.loads(get(third, f"/runs/{started['run']}/trace.json")[1]) == full


def test_a_client_that_stops_reading_is_let_go_within_its_window(server_db):
    """The server holds at most WS_WINDOW_BYTES of unacknowledged events for a connection, then closes it."""
    window = 4 * 1024
    with servers.daphne(server_db, WS_WINDOW_BYTES=str(window), WS_SLOW_SECONDS="2") as proc, \
            connect(ws_url(proc), additional_headers=servers.origin(proc), max_size=None) as ws:
        ws.send(json.dumps({"type": "start", "scenario": "bully-election", "params": {"n": 16}}))
        ws.send(json.dumps({"type": "play", "speed": 50}))  # batches of 10 events, about 1.5 kB
        got, error = 0, None
        try:
            while True:  # read everything, acknowledge nothing
                raw = ws.recv(timeout=15)
                msg = json.loads(raw)
                if msg["type"] == "events":
                    got += len(raw)
                elif msg["type"] == "error":
                    error = msg
        except ConnectionClosed as closed:
            code = closed.rcvd.code if closed.rcvd else None
        assert error and error["code"] == "slow_client" and code == 4008
        full = sum(len(json.dumps(e, separators=(",", ":"))) for e in
                   simulations.get("bully-election").run({"n": 16}, 0))
        assert got <= window + 4096 < full  # the window, plus at most one batch past it


@pytest.mark.redis
@pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs REDIS_URL (the second CI pass)")
def test_a_connection_left_idle_keeps_working_on_redis(server_db):
    """channels-redis blocks 5 s per read; a client timeout of 5 s would drop every paused learner."""
    with servers.daphne(server_db) as proc, connect(ws_url(proc), additional_headers=servers.origin(proc)) as ws:
        ws.send(json.dumps({"type": "start", "scenario": "two-generals"}))
        while json.loads(ws.recv(timeout=10))["type"] != "status":
            pass
        time.sleep(12)
        ws.send(json.dumps({"type": "step", "count": 1}))
        assert json.loads(ws.recv(timeout=10))["type"] == "events"


class PrivateRedis:
    """A redis-server of this test's own, to stop and start again on the same port."""

    def __init__(self, port):
        self.port, self.proc = port, None

    def start(self):
        self.proc = subprocess.Popen(["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save",
                                      "", "--appendonly", "no"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        servers.wait_for_port(self.port)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def until_status(ws):
    """Messages up to the next status: (events, the other messages)."""
    events, other = [], []
    while (msg := json.loads(ws.recv(timeout=10)))["type"] != "status":
        (events.extend(msg["events"]) if msg["type"] == "events" else other.append(msg))
    return events, other


def step(ws, count):
    ws.send(json.dumps({"type": "step", "count": count}))
    return until_status(ws)


def owner_through_a_redis_restart(server_db, then):
    """Stream a run while its server's Redis stops; once it is back, ``then(proc, owner, run_id, seen)``
    comes first, and the run streams on to check it is saved whole."""
    redis = PrivateRedis(servers.free_port())
    start = {"type": "start", "scenario": "bully-election", "params": {"n": 6}, "seed": 2}
    full = simulations.get("bully-election").run(start["params"], start["seed"])
    redis.start()
    try:
        with servers.daphne(server_db, REDIS_URL=f"redis://127.0.0.1:{redis.port}/0") as proc, \
                connect(ws_url(proc), additional_headers=servers.origin(proc)) as owner:
            owner.send(json.dumps(start))
            run_id = json.loads(owner.recv(timeout=10))["run"]
            seen = until_status(owner)[0] + step(owner, 5)[0]
            redis.stop()  # Redis goes away mid-run: the run goes on, and says what is paused
            events, other = step(owner, 5)
            assert len(events) == 5 and [m["type"] for m in other] == ["degraded"], other
            seen += events + step(owner, 5)[0]
            redis.start()  # and comes back
            then(proc, owner, run_id, seen)
            seen += step(owner, 5)[0] + step(owner, 5)[0]
            assert seen == full[:len(seen)]
            status, body = get(proc, f"/runs/{run_id}/trace.json")
            assert json.loads(body) == seen
    finally:
        redis.stop()


def watch(proc, owner, run_id, seen):
    """A new watcher of the run gets what was saved, then what the owner streams next."""
    with connect(ws_url(proc), additional_headers=servers.origin(proc)) as watcher:
        watcher.send(json.dumps({"type": "watch", "run": run_id}))
        first = json.loads(watcher.recv(timeout=10))
        assert first["type"] == "events", first
        watched = events_of([first])
        seen += step(owner, 5)[0]
        while watched[-1]["seq"] < seen[-1]["seq"]:
            events_of([json.loads(watcher.recv(timeout=10))], watched)
        assert watched[:len(seen)] == seen  # the saved events may run a step ahead of the owner


REDIS_SERVER = pytest.mark.skipif(not shutil.which("redis-server"), reason="needs redis-server to stop and start")


@REDIS_SERVER
def test_a_run_goes_on_while_redis_is_down_and_is_saved_whole(server_db):
    owner_through_a_redis_restart(server_db, lambda *args: None)


@REDIS_SERVER
def test_watching_works_at_once_after_redis_comes_back(server_db):
    owner_through_a_redis_restart(server_db, watch)
