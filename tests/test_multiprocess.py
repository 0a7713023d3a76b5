"""Several daphne processes sharing PostgreSQL/SQLite and Redis: a run streamed by one reaches a watcher on another."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from websockets.sync.client import connect

from tests import servers
from tests.wire import events_of, receive_until

pytestmark = [pytest.mark.redis,
              pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs REDIS_URL (the second CI pass)")]






def ws_url(proc):
    return f"ws://127.0.0.1:{proc.port}/ws/run/"


def test_a_run_streamed_by_one_process_reaches_a_watcher_on_another_through_redis(server_db):
    with servers.daphne(server_db) as one, servers.daphne(server_db) as two:
        with connect(ws_url(one), additional_headers=servers.origin(one)) as owner, \
                connect(ws_url(two), additional_headers=servers.origin(two)) as watcher:
            owner.send(json.dumps({"type": "start", "scenario": "bully-election", "params": {"n": 6}}))
            got = receive_until(owner, lambda m: m["type"] == "status")
            run_id = got[0]["run"]
            streamed = events_of(got)
            watcher.send(json.dumps({"type": "watch", "run": run_id}))
            seen = events_of([json.loads(watcher.recv(timeout=10))])
            assert seen[:len(streamed)] == streamed  # what was saved so far, from the shared database
            owner.send(json.dumps({"type": "play", "speed": 2000}))
            streamed += events_of(receive_until(owner, lambda m: m.get("state") == "ended"))
            while seen[-1]["kind"] != "end":
                events_of([json.loads(watcher.recv(timeout=10))], seen)
            assert seen == streamed
            assert seen[-1]["summary"]["elected"] == "P5"


def daphne_children(pid, program="daphne"):
    """The daphne processes (or others, by a word of their command line) ``pid`` started."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[1]) == pid and program in (stat.parent / "cmdline").read_text():
                found.append(int(stat.parent.name))
        except (OSError, IndexError):
            pass
    return found


def test_make_serve_runs_several_daphne_processes_on_one_port_that_follow_each_others_runs(server_db):
    port = servers.free_port()
    serve = subprocess.Popen([sys.executable, "scripts/serve.py", "--workers", "2", "--port", str(port)],
                             cwd=servers.ROOT, env=servers.server_env(server_db), stdout=subprocess.DEVNULL)
    try:
        servers.wait_for_port(port)
        assert len(daphne_children(serve.pid)) == 2
        assert len(daphne_children(serve.pid, "searchworker")) == 1  # the searches they queue in Redis get done
        url, origin = f"ws://127.0.0.1:{port}/ws/run/", {"origin": f"http://127.0.0.1:{port}"}
        with connect(url, additional_headers=origin) as owner, connect(url, additional_headers=origin) as watcher:
            owner.send(json.dumps({"type": "start", "scenario": "bully-election", "params": {"n": 5}}))
            got = receive_until(owner, lambda m: m["type"] == "status")
            watcher.send(json.dumps({"type": "watch", "run": got[0]["run"]}))
            owner.send(json.dumps({"type": "play", "speed": 2000}))
            streamed = events_of(got + receive_until(owner, lambda m: m.get("state") == "ended"))
            seen = []
            while not seen or seen[-1]["kind"] != "end":
                events_of([json.loads(watcher.recv(timeout=10))], seen)
            assert seen == streamed
    finally:
        serve.terminate()
        serve.wait(15)
    assert serve.returncode == 0 and not daphne_children(serve.pid) and not daphne_children(serve.pid, "searchworker")
