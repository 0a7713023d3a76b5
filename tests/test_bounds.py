"""What one connection may cost (issue #12): every byte sent counts against its unread window, catch-up comes in
frames well under daphne's 1 MiB limit paced by acks, and one learner cannot flood the room or guess its code."""
import asyncio
import json
import time
import urllib.request

import pytest
from channels.layers import get_channel_layer
from django.core.cache import cache
from websockets.sync.client import connect as ws_connect

import simulations
from classroom.models import Room
from config.asgi import application
from runs.consumers import group_name
from runs.models import Run
from tests import servers
from tests.communicator import Communicator
from tests.wire import drain, raw_websocket
from tests.wire import events_of as replace_events

ORIGIN = [(b"origin", b"http://127.0.0.1")]
GOSSIP = {"n": 64, "mode": "epidemic"}  # 2,228 events, 539 kB
BIG_CRASH = ("gossip", {"n": 64, "mode": "epidemic", "max_rounds": 40}, [{"action": "crash", "node": "P3"}])


@pytest.fixture(autouse=True)
def fresh_limits():
    cache.clear()
    yield
    cache.clear()


async def connect(headers=ORIGIN):
    comm = Communicator(application, "/ws/run/", headers=headers)
    connected, _ = await comm.connect()
    assert connected
    return comm


async def outputs(comm, quiet=0.5, limit=10_000):
    """Everything the server sends until it goes quiet for ``quiet`` seconds or closes: (messages, raw sizes,
    close code or None)."""
    got, sizes = [], []
    for _ in range(limit):
        if await comm.receive_nothing(timeout=quiet):  # (a receive that times out would cancel the app)
            return got, sizes, None
        out = await comm.receive_output()
        if out["type"] == "websocket.close":
            return got, sizes, out.get("code")
        got.append(json.loads(out["text"]))
        sizes.append(len(out["text"]))
    raise AssertionError("never went quiet")


async def until(comm, predicate, ack=False, timeout=5):
    """Messages up to the first that satisfies ``predicate``; with ``ack``, every events frame is acknowledged."""
    got = []
    while True:
        msg = await comm.receive_json_from(timeout=timeout)
        got.append(msg)
        if ack and msg["type"] == "events" and msg["events"]:
            await comm.send_json_to({"type": "ack", "seq": msg["events"][-1]["seq"]})
        if predicate(msg):
            return got


async def run_to_end(scenario="gossip", params=GOSSIP, faults=()):
    """A finished, saved run streamed by a browser that acknowledges; returns (run id, its events)."""
    owner = await connect()
    await owner.send_json_to({"type": "start", "scenario": scenario, "params": params, "faults": list(faults)})
    got = await until(owner, lambda m: m["type"] == "status", ack=True)
    await owner.send_json_to({"type": "play", "speed": 100000})
    got += await until(owner, lambda m: m.get("state") == "ended", ack=True)
    await owner.disconnect()
    run, events = got[0]["run"], replace_events(got)
    for _ in range(100):  # saving may finish just after the last batch left
        if (await Run.objects.aget(pk=run)).event_count == len(events):
            break
        await asyncio.sleep(0.05)
    return run, events


# -- the unread window --------------------------------------------------------
@pytest.mark.django_db(transaction=True)
async def test_an_ack_beyond_what_was_sent_is_refused_and_does_not_open_the_window(settings):
    settings.WS_WINDOW_BYTES, settings.WS_SLOW_SECONDS = 8192, 1
    comm = await connect()
    await comm.send_json_to({"type": "start", "scenario": "gossip", "params": GOSSIP})
    await until(comm, lambda m: m["type"] == "status")
    await comm.send_json_to({"type": "play", "speed": 200})  # batches of 40 events, about 10 kB
    first = await until(comm, lambda m: m["type"] == "events")
    await comm.send_json_to({"type": "ack", "seq": 1_000_000_000})
    got, sizes, code = await outputs(comm, quiet=4)
    errors = [m["code"] for m in got if m["type"] == "error"]
    assert errors == ["bad_ack", "slow_client"] and code == 4008  # answered, then let go for not reading
    streamed = len(json.dumps(first[-1], separators=(",", ":"))) + sum(
        s for m, s in zip(got, sizes) if m["type"] == "events")
    assert streamed < 8192 + 16384  # the window and at most a batch past it; the run is 539 kB


@pytest.mark.django_db(transaction=True)
async def test_a_valid_ack_still_opens_the_window_and_the_run_streams_to_its_end(settings):
    settings.WS_WINDOW_BYTES = 16384
    run, events = await run_to_end()
    assert [e["seq"] for e in events] == list(range(len(events))) and events[-1]["kind"] == "end"


@pytest.mark.django_db(transaction=True)
async def test_a_watchers_catch_up_counts_against_its_window_comes_in_frames_and_goes_on_with_acks(settings):
    settings.WS_WINDOW_BYTES, settings.WS_FRAME_BYTES, settings.WS_SLOW_SECONDS = 64 * 1024, 16 * 1024, 5
    run, events = await run_to_end()
    watcher = await connect()
    await watcher.send_json_to({"type": "watch", "run": run})
    got, sizes, code = await outputs(watcher, quiet=0.3)
    assert code is None and len(got) > 1
    assert sum(sizes) < 64 * 1024 + 16 * 1024 < 539_000  # held at the window until acknowledged
    assert max(sizes) <= 16 * 1024
    seen = replace_events(got)
    await watcher.send_json_to({"type": "ack", "seq": seen[-1]["seq"]})
    seen = replace_events(await until(watcher, lambda m: m["type"] == "events" and m["events"][-1]["kind"] == "end",
                                      ack=True), seen)
    assert seen == events
    await watcher.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_a_watchers_catch_up_reads_the_store_a_window_at_a_time(settings, monkeypatch):
    """A late watcher of a long run is sent a window at a time, and the store is read a window at a time too:
    never the whole rest of the run for each window."""
    from asgiref.sync import sync_to_async

    from runs import store

    settings.WS_WINDOW_BYTES, settings.WS_FRAME_BYTES = 64 * 1024, 16 * 1024
    events = simulations.get("gossip").run(GOSSIP)
    run = await sync_to_async(store.create_run)("gossip", GOSSIP, 0, [], events=events[:1])
    for i in range(1, len(events), 100):  # saved as it streams slowly: a chunk a write
        await sync_to_async(store.append)(run.id, events[i:i + 100], [], events[-1]["summary"]
                                          if i + 100 >= len(events) else None)
    read, real = [], store.events_from

    def events_from(run_id, start, budget=None):
        got, more = real(run_id, start, budget)
        read.append(len(got))
        return got, more

    monkeypatch.setattr(store, "aevents_from", sync_to_async(events_from))
    watcher = await connect()
    await watcher.send_json_to({"type": "watch", "run": run.id})
    seen = replace_events(await until(watcher, lambda m: m["type"] == "events" and m["events"][-1]["kind"] == "end",
                                      ack=True))
    assert seen == events
    assert len(read) > 4 and max(read) < len(events) // 2 and sum(read) < 2 * len(events)
    await watcher.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_a_watcher_that_never_acknowledges_is_let_go_within_its_window(settings):
    settings.WS_WINDOW_BYTES, settings.WS_FRAME_BYTES, settings.WS_SLOW_SECONDS = 32 * 1024, 8 * 1024, 1
    run, _ = await run_to_end()
    watcher = await connect()
    started = time.monotonic()
    await watcher.send_json_to({"type": "watch", "run": run})
    got, sizes, code = await outputs(watcher, quiet=4)
    assert code == 4008 and got[-1]["code"] == "slow_client" and time.monotonic() - started < 8  # let go, not left open
    assert sum(s for m, s in zip(got, sizes) if m["type"] == "events") < 32 * 1024 + 8 * 1024


# -- late joiners on a real daphne --------------------------------------------
def test_a_late_watcher_of_a_10k_event_crash_run_gets_it_whole_in_frames_under_1_mib(server_db):
    scenario, params, faults = BIG_CRASH
    full = simulations.get(scenario).run(params, 0, faults)
    assert len(full) > 10_000 and len(json.dumps(full)) > 3 * 2**20
    with servers.daphne(server_db) as server:
        url, origin = f"ws://127.0.0.1:{server.port}/ws/run/", {"origin": server.url}
        with ws_connect(url, additional_headers=origin, max_size=None) as owner:
            owner.send(json.dumps({"type": "start", "scenario": scenario, "params": params, "faults": faults}))
            got = []
            while (msg := json.loads(owner.recv(timeout=10)))["type"] != "status":
                got.append(msg)
            run = got[0]["run"]
            owner.send(json.dumps({"type": "play", "speed": 100000}))
            while (msg := json.loads(owner.recv(timeout=10))).get("state") != "ended":
                if msg["type"] == "events":
                    owner.send(json.dumps({"type": "ack", "seq": msg["events"][-1]["seq"]}))
        deadline = time.monotonic() + 10
        while len(json.load(urllib.request.urlopen(f"{server.url}/runs/{run}/trace.json"))) < len(full):
            assert time.monotonic() < deadline
            time.sleep(0.2)
        with ws_connect(url, additional_headers=origin, max_size=2**20) as late:
            late.send(json.dumps({"type": "watch", "run": run}))
            seen, frames = [], []
            while not seen or seen[-1]["kind"] != "end":
                raw = late.recv(timeout=10)
                msg = json.loads(raw)
                assert msg["type"] == "events", msg
                frames.append(len(raw))
                replace_events([msg], seen)
                late.send(json.dumps({"type": "ack", "seq": msg["events"][-1]["seq"]}))
    assert seen == full  # whole, in order, once
    assert len(frames) > 4 and max(frames) < 2**20 // 2


def test_a_socket_that_never_reads_a_watched_run_is_let_go_in_bounded_time(server_db):
    trace = simulations.get("gossip").run(GOSSIP, 0)
    run = servers.save_run(server_db, "gossip", trace)
    with servers.daphne(server_db, WS_WINDOW_BYTES="100000", WS_SLOW_SECONDS="1") as server:
        sock, send = raw_websocket(server.port)
        send({"type": "watch", "run": run})
        time.sleep(2)
        received, closed = drain(sock, 6)
        sock.close()
    assert closed  # let go, well before anyone's patience runs out
    assert len(received) < 250_000 < len(json.dumps(trace))  # its window and a frame, not the 539 kB run


# -- the classroom ------------------------------------------------------------
async def room_with_a_run():
    room = await Room.objects.acreate(scenario="bully-election")
    host = await connect()
    await host.send_json_to({"type": "room.host", "room": room.code, "key": room.key})
    await until(host, lambda m: m["type"] == "room.joined")
    await host.send_json_to({"type": "start", "scenario": "bully-election", "params": {"n": 16}})
    got = await until(host, lambda m: m["type"] == "status", ack=True)
    await host.send_json_to({"type": "room.ask", "question": "Who wins?", "options": ["P15", "P16"]})
    return room, host, got[0]["run"], replace_events(got)


@pytest.mark.django_db(transaction=True)
async def test_an_answer_flood_is_refused_and_the_runs_batches_still_reach_a_watcher():
    room, host, run, events = await room_with_a_run()
    flooder, watcher = await connect(), await connect()
    for learner in (flooder, watcher):
        await learner.send_json_to({"type": "room.join", "room": room.code})
        await until(learner, lambda m: m["type"] == "room.joined")
    await watcher.send_json_to({"type": "watch", "run": run})
    seen = replace_events(await until(watcher, lambda m: m["type"] == "events", ack=True))
    for i in range(200):
        await flooder.send_json_to({"type": "room.answer", "choice": i % 2})
    got, _, code = await outputs(flooder, quiet=0.5)
    limited = [m for m in got if m["type"] == "error" and m["code"] == "rate_limited"]
    assert code is None and len(limited) >= 190  # a few answers a second; the connection stays
    await flooder.send_json_to({"type": "room.cursor", "seq": 1})
    assert (await until(flooder, lambda m: m["type"] == "error"))[-1]["code"] == "forbidden"  # still answered
    await host.send_json_to({"type": "play", "speed": 2000})
    events += replace_events(await until(host, lambda m: m.get("state") == "ended", ack=True))
    seen = replace_events(await until(watcher, lambda m: m["type"] == "events" and m["events"][-1]["kind"] == "end",
                                      ack=True), seen)
    assert seen == events
    for comm in (host, flooder, watcher):
        await comm.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_guessing_room_codes_is_slowed_per_connection_and_per_session_but_a_class_gets_in():
    room = await Room.objects.acreate(scenario="bully-election")
    guesser = await connect()
    codes = []
    for i in range(7):
        await guesser.send_json_to({"type": "room.join", "room": f"NOPE{i:02d}"})
        codes.append((await guesser.receive_json_from())["code"])
    assert codes == ["unknown_room"] * 5 + ["rate_limited"] * 2
    await guesser.send_json_to({"type": "room.join", "room": room.code})
    assert (await guesser.receive_json_from())["code"] == "rate_limited"  # this connection waits a minute
    for _ in range(30):  # a class behind one address: each learner has its own connection
        learner = await connect()
        await learner.send_json_to({"type": "room.join", "room": room.code})
        assert (await learner.receive_json_from())["type"] == "room.joined"
        await learner.disconnect()
    cookie = ORIGIN + [(b"cookie", b"sessionid=guesser-session")]
    answers = []
    for _ in range(3):  # new connections, same session
        comm = await connect(cookie)
        for i in range(5):
            await comm.send_json_to({"type": "room.join", "room": f"ZZZZ{i:02d}"})
            answers.append((await comm.receive_json_from())["code"])
        await comm.disconnect()
    assert answers == ["unknown_room"] * 10 + ["rate_limited"] * 5
    await guesser.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_a_watcher_that_missed_batches_catches_up_from_the_store_instead_of_freezing():
    layer = get_channel_layer()
    if not hasattr(layer, "groups"):
        pytest.skip("finds the watcher's channel in the in-memory layer")
    owner, watcher = await connect(), await connect()
    await owner.send_json_to({"type": "start", "scenario": "bully-election", "params": {"n": 6}})
    got = await until(owner, lambda m: m["type"] == "status", ack=True)
    run, events = got[0]["run"], replace_events(got)
    await watcher.send_json_to({"type": "watch", "run": run})
    seen = replace_events(await until(watcher, lambda m: m["type"] == "events", ack=True))
    [channel] = list(layer.groups[group_name(run)])
    await layer.group_discard(group_name(run), channel)  # as if a full channel dropped the next batch
    await owner.send_json_to({"type": "step", "count": 4})
    events = replace_events(await until(owner, lambda m: m["type"] == "status", ack=True), events)
    await layer.group_add(group_name(run), channel)
    await owner.send_json_to({"type": "step", "count": 3})
    events = replace_events(await until(owner, lambda m: m["type"] == "status", ack=True), events)
    while len(seen) < len(events):
        seen = replace_events(await until(watcher, lambda m: m["type"] == "events", ack=True), seen)
    assert seen[:len(events)] == events  # (what is saved may run ahead of the owner's browser)
    assert [e["seq"] for e in seen] == list(range(len(seen)))
    await owner.disconnect()
    await watcher.disconnect()
