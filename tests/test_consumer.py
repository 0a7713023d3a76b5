"""The WebSocket run protocol through channels' communicator: runs stream, every bad frame is answered."""
import json
import time

import pytest
from channels.layers import get_channel_layer

import simulations
from config.asgi import application
from runs.fanout import group_name
from runs.models import Run
from tests.communicator import Communicator

pytestmark = [pytest.mark.django_db(transaction=True)]
ORIGIN = [(b"origin", b"http://127.0.0.1")]


async def connect():
    comm = Communicator(application, "/ws/run/", headers=ORIGIN)
    connected, _ = await comm.connect()
    assert connected
    return comm


async def receive_until(comm, predicate, limit=5000):
    """Collect messages until one satisfies ``predicate``; return them all."""
    got = []
    for _ in range(limit):
        msg = await comm.receive_json_from(timeout=5)
        got.append(msg)
        if predicate(msg):
            return got
    raise AssertionError("never arrived")


def events_of(messages):
    return [e for m in messages if m["type"] == "events" for e in m["events"]]


async def start(comm, scenario="bully-election", params=None, seed=0, faults=None):
    msg = {"type": "start", "scenario": scenario, "params": params or {}, "seed": seed}
    if faults is not None:
        msg["faults"] = faults
    await comm.send_json_to(msg)
    got = await receive_until(comm, lambda m: m["type"] == "status")
    assert got[0]["type"] == "started"
    return got[0], events_of(got)


async def test_start_answers_with_the_run_and_its_permalink_then_the_init_event():
    comm = await connect()
    started, events = await start(comm, params={"n": 4})
    assert started["url"] == f"/runs/{started['run']}/"
    assert events[0]["kind"] == "init" and [n["id"] for n in events[0]["nodes"]] == ["P1", "P2", "P3", "P4"]
    await comm.disconnect()


async def test_step_sends_exactly_count_events_and_a_paused_status():
    comm = await connect()
    await start(comm)
    await comm.send_json_to({"type": "step", "count": 5})
    got = await receive_until(comm, lambda m: m["type"] == "status")
    assert [e["seq"] for e in events_of(got)] == [1, 2, 3, 4, 5]
    assert got[-1] == {"type": "status", "state": "paused", "seq": 5}
    await comm.disconnect()


async def test_play_streams_to_the_end_and_the_saved_run_equals_the_streamed_trace():
    comm = await connect()
    started, events = await start(comm, params={"n": 6}, seed=4)
    await comm.send_json_to({"type": "play", "speed": 10000})
    got = await receive_until(comm, lambda m: m.get("state") == "ended")
    events += events_of(got)
    assert [e["seq"] for e in events] == list(range(len(events)))
    assert events == simulations.get("bully-election").run({"n": 6}, 4)
    run = await Run.objects.aget(pk=started["run"])
    assert run.status == "ended" and run.event_count == len(events)
    assert run.summary == events[-1]["summary"]
    from asgiref.sync import sync_to_async
    assert await sync_to_async(run.trace)() == events
    await comm.disconnect()


async def test_a_process_running_late_sends_what_is_due_in_one_frame_so_the_run_keeps_its_speed():
    comm = await connect()
    await start(comm, scenario="gossip", params={"n": 64, "mode": "epidemic"})
    await comm.send_json_to({"type": "play", "speed": 16})  # 64 events a second, 3 to a frame
    await receive_until(comm, lambda m: m["type"] == "events")
    await receive_until(comm, lambda m: m["type"] == "events")
    time.sleep(0.5)  # the event loop is held up, as on a process with too much to do
    [frame] = await receive_until(comm, lambda m: m["type"] == "events")
    assert len(frame["events"]) >= 0.4 * 64  # the half second's events at once, not 3 of them
    await comm.disconnect()


async def test_pause_stops_the_stream():
    comm = await connect()
    await start(comm, params={"n": 16})
    await comm.send_json_to({"type": "play", "speed": 1})
    await receive_until(comm, lambda m: m.get("state") == "playing")
    await comm.send_json_to({"type": "pause"})
    got = await receive_until(comm, lambda m: m.get("state") == "paused")
    assert got[-1]["seq"] < 10
    late = []
    while not await comm.receive_nothing(timeout=0.6):
        late.append(await comm.receive_json_from())
    assert late == []
    await comm.disconnect()


async def test_an_injected_crash_is_applied_now_recorded_and_replays_exactly():
    comm = await connect()
    started, events = await start(comm, params={"n": 5})
    await comm.send_json_to({"type": "step", "count": 10})
    events += events_of(await receive_until(comm, lambda m: m["type"] == "status"))
    await comm.send_json_to({"type": "inject", "fault": {"action": "crash", "node": "P4"}})
    injected = events_of(await receive_until(comm, lambda m: m["type"] == "events"))
    assert injected[0]["kind"] == "fault" and injected[0]["fault"]["node"] == "P4"
    assert any(e["kind"] == "crash" and e["node"] == "P4" for e in injected)
    events += injected
    await comm.send_json_to({"type": "play", "speed": 10000})
    events += events_of(await receive_until(comm, lambda m: m.get("state") == "ended"))
    assert events[-1]["summary"]["elected"] == "P3"
    run = await Run.objects.aget(pk=started["run"])
    assert run.interventions[0]["action"] == "crash" and "seq" in run.interventions[0]
    again = simulations.get("bully-election").run(run.params, run.seed, run.all_faults)
    assert again == events
    await comm.disconnect()


async def test_drop_the_next_message_on_a_link():
    comm = await connect()
    await start(comm, params={"n": 4})
    await comm.send_json_to({"type": "inject", "fault": {"action": "drop", "match": {"src": "P1", "dst": "P2"}}})
    await comm.send_json_to({"type": "play", "speed": 10000})
    events = events_of(await receive_until(comm, lambda m: m.get("state") == "ended"))
    drops = [e for e in events if e["kind"] == "drop" and e["reason"] == "manual"]
    assert [(d["src"], d["dst"]) for d in drops] == [("P1", "P2")]
    await comm.disconnect()


BAD_FRAMES = [
    ("not json", "bad_json"),
    ("[1, 2]", "bad_message"),
    ('{"type": "dance"}', "unknown_type"),
    ('{"type": "start", "scenario": "nope"}', "unknown_scenario"),
    ('{"type": "start", "scenario": "bully-election", "params": {"n": 99}}', "bad_params"),
    ('{"type": "start", "scenario": "bully-election", "params": {"n": "five"}}', "bad_params"),
    ('{"type": "start", "scenario": "bully-election", "params": []}', "bad_params"),
    ('{"type": "start", "scenario": "bully-election", "seed": -1}', "out_of_bounds"),
    ('{"type": "start", "scenario": "bully-election", "faults": [{"action": "crash", "node": "Z"}]}', "bad_params"),
    ('{"type": "play", "speed": "fast"}', "bad_field"),
    ('{"type": "play", "speed": 1e9}', "out_of_bounds"),
    ('{"type": "step", "count": 0}', "out_of_bounds"),
    ('{"type": "step", "count": 2.5}', "bad_field"),
    ('{"type": "pause", "now": true}', "bad_field"),
    ('{"type": "inject", "fault": "crash"}', "bad_fault"),
    ("x" * 70000, "too_large"),
]


@pytest.mark.parametrize("frame, code", BAD_FRAMES)
async def test_bad_frames_get_an_error_and_the_connection_stays_usable(frame, code):
    comm = await connect()
    await comm.send_to(text_data=frame)
    error = await comm.receive_json_from(timeout=5)
    assert error["type"] == "error" and error["code"] == code and error["message"]
    started, events = await start(comm, params={"n": 3})
    assert events[0]["kind"] == "init"
    await comm.disconnect()


async def test_out_of_bound_params_name_the_field():
    comm = await connect()
    await comm.send_json_to({"type": "start", "scenario": "bully-election", "params": {"n": 99}})
    error = await comm.receive_json_from()
    assert error["errors"] == {"n": "must be at most 16"}
    await comm.disconnect()


async def test_binary_frames_are_refused_politely():
    comm = await connect()
    await comm.send_to(bytes_data=b"\x00\x01")
    assert (await comm.receive_json_from())["code"] == "binary"
    await comm.disconnect()


async def test_controls_before_start_say_to_start_first():
    comm = await connect()
    for msg in ({"type": "play"}, {"type": "step"}, {"type": "pause"},
                {"type": "inject", "fault": {"action": "crash", "node": "P1"}}):
        await comm.send_json_to(msg)
        assert (await comm.receive_json_from())["code"] == "no_run"
    await comm.disconnect()


async def test_bad_injections_are_refused_and_the_run_goes_on():
    comm = await connect()
    await start(comm, params={"n": 4})
    for fault in ({"action": "crash", "node": "P9"}, {"action": "crash", "node": "P1", "at": 3},
                  {"action": "drop", "match": {"msg": 999}}):
        await comm.send_json_to({"type": "inject", "fault": fault})
        assert (await comm.receive_json_from())["code"] == "bad_fault"
    await comm.send_json_to({"type": "step", "count": 2})
    got = await receive_until(comm, lambda m: m["type"] == "status")
    assert got[-1]["seq"] == 2
    await comm.disconnect()


async def test_a_watcher_sees_the_same_events_without_gaps_or_duplicates():
    owner, watcher = await connect(), await connect()
    started, events = await start(owner, params={"n": 5})
    await owner.send_json_to({"type": "step", "count": 4})
    events += events_of(await receive_until(owner, lambda m: m["type"] == "status"))
    await watcher.send_json_to({"type": "watch", "run": started["run"]})
    seen = events_of([await watcher.receive_json_from()])
    await owner.send_json_to({"type": "inject", "fault": {"action": "crash", "node": "P4"}})  # undoes saved-ahead
    await owner.send_json_to({"type": "play", "speed": 10000})
    events += events_of(await receive_until(owner, lambda m: m.get("state") == "ended"))
    while seen[-1]["kind"] != "end":
        msg = await watcher.receive_json_from()
        del seen[msg.get("from", len(seen)):]
        seen += msg["events"]
    assert seen == events
    await owner.disconnect()
    await watcher.disconnect()


async def run_group_size(run):
    layer = get_channel_layer()
    if hasattr(layer, "groups"):
        return len(layer.groups.get(group_name(run), {}))
    return await layer.group_size(group_name(run))


async def test_watchers_in_one_process_get_each_batch_through_one_channel_of_the_runs_group():
    owner, watchers = await connect(), [await connect() for _ in range(3)]
    started, events = await start(owner, params={"n": 5})
    seen = []
    for watcher in watchers:
        await watcher.send_json_to({"type": "watch", "run": started["run"]})
        seen.append(events_of([await watcher.receive_json_from()]))
    assert await run_group_size(started["run"]) == 1  # the process, not each watcher: one message per batch
    await owner.send_json_to({"type": "play", "speed": 10000})
    events += events_of(await receive_until(owner, lambda m: m.get("state") == "ended"))
    for watcher, got in zip(watchers, seen):
        while got[-1]["kind"] != "end":
            frame = await watcher.receive_json_from()
            del got[frame["from"]:]
            got += frame["events"]
        assert got == events
    for watcher in watchers[:2]:
        await watcher.disconnect()
    assert await run_group_size(started["run"]) == 1
    await watchers[2].disconnect()
    assert await run_group_size(started["run"]) == 0  # the last watcher here gone, the process leaves the group
    await owner.disconnect()


async def test_messages_are_compact_json():
    comm = await connect()
    await comm.send_json_to({"type": "start", "scenario": "two-generals"})
    raw = await comm.receive_from()
    assert json.loads(raw)["type"] == "started" and ": " not in raw
    await comm.disconnect()


async def test_branching_from_a_saved_run_shares_its_past_and_links_back():
    comm = await connect()
    started, events = await start(comm, params={"n": 5})
    await comm.send_json_to({"type": "play", "speed": 10000})
    events += events_of(await receive_until(comm, lambda m: m.get("state") == "ended"))
    await comm.send_json_to({"type": "branch", "run": started["run"], "seq": 12,
                             "fault": {"action": "crash", "node": "P4"}})
    got = await receive_until(comm, lambda m: m["type"] == "status")
    assert got[0]["type"] == "started" and got[0]["parent"] == started["run"]
    await comm.send_json_to({"type": "play", "speed": 10000})
    branch = events_of(got) + events_of(await receive_until(comm, lambda m: m.get("state") == "ended"))
    k = next(i for i, e in enumerate(branch) if e["kind"] == "fault")
    assert k >= 12 and branch[:k] == events[:k]  # the fault lands at the first step boundary from 12 on
    assert branch[k]["fault"]["node"] == "P4" and branch[k + 1] == {**branch[k + 1], "kind": "crash"}
    assert branch[-1]["summary"]["elected"] == "P3"
    child = await Run.objects.aget(pk=got[0]["run"])
    assert child.parent_id == started["run"] and child.branch_seq == 12
    again = simulations.get("bully-election").run(child.params, child.seed, child.all_faults)
    assert again == branch
    await comm.send_json_to({"type": "branch", "run": "nope", "seq": 3, "fault": {"action": "crash", "node": "P1"}})
    assert (await comm.receive_json_from())["code"] == "unknown_run"
    await comm.disconnect()


async def test_network_mode_waits_for_the_learner_to_pick_each_message():
    comm = await connect()
    await start(comm, params={"n": 3}, faults=[{"action": "hold"}])
    await comm.send_json_to({"type": "play", "speed": 10000})
    got = await receive_until(comm, lambda m: m.get("state") == "waiting")
    sends = [e for e in events_of(got) if e["kind"] == "send"]
    assert sends and not any(e["kind"] == "deliver" for e in events_of(got))
    await comm.send_json_to({"type": "inject", "fault": {"action": "deliver", "msg": sends[-1]["msg"]}})
    got = await receive_until(comm, lambda m: m["type"] == "status")
    assert any(e["kind"] == "deliver" and e["msg"] == sends[-1]["msg"] for e in events_of(got))
    await comm.disconnect()


async def test_a_reconnecting_browser_resumes_from_its_last_event_without_gap_or_duplicate():
    comm = await connect()
    started, events = await start(comm, params={"n": 6}, seed=2)
    await comm.send_json_to({"type": "step", "count": 20})
    events += events_of(await receive_until(comm, lambda m: m["type"] == "status"))
    await comm.send_json_to({"type": "inject", "fault": {"action": "crash", "node": "P5"}})
    events += events_of(await receive_until(comm, lambda m: m["type"] == "events"))
    await comm.send_json_to({"type": "step", "count": 7})
    events += events_of(await receive_until(comm, lambda m: m["type"] == "status"))
    await comm.disconnect()
    assert (await Run.objects.aget(pk=started["run"])).status == "interrupted"
    have = events[:15]  # the browser had processed only part of what arrived before the drop

    again = await connect()
    await again.send_json_to({"type": "resume", "run": started["run"], "token": "wrong-token-value", "from": 15})
    assert (await again.receive_json_from())["code"] == "forbidden"
    await again.send_json_to({"type": "resume", "run": started["run"], "token": started["token"], "from": 15})
    got = await receive_until(again, lambda m: m["type"] == "status")
    assert got[0]["type"] == "resumed"
    have += events_of(got)
    assert have[:len(events)] == events  # what it missed, then whatever was saved beyond it
    assert [e["seq"] for e in have] == list(range(len(have)))
    await again.send_json_to({"type": "play", "speed": 10000})
    have += events_of(await receive_until(again, lambda m: m.get("state") == "ended"))
    assert [e["seq"] for e in have] == list(range(len(have)))
    run = await Run.objects.aget(pk=started["run"])
    assert run.status == "ended"
    assert simulations.get("bully-election").run(run.params, run.seed, run.all_faults) == have
    await again.disconnect()


async def test_an_intervention_while_playing_lands_where_the_browser_is_even_with_saving_ahead():
    comm = await connect()
    started, events = await start(comm, params={"n": 16})
    await comm.send_json_to({"type": "play", "speed": 16})  # 64 events/s: the engine saves ~128 ahead
    while len(events) < 20:
        events += events_of([await comm.receive_json_from(timeout=5)])
    await comm.send_json_to({"type": "inject", "fault": {"action": "crash", "node": "P15"}})
    got = await receive_until(comm, lambda m: m["type"] == "events" and any(e["kind"] == "fault" for e in m["events"]))
    events += events_of(got)
    fault = next(e for e in events if e["kind"] == "fault")
    assert fault["seq"] <= 40  # right where the browser was, not where the engine had run ahead to
    await comm.send_json_to({"type": "play", "speed": 10000})
    events += events_of(await receive_until(comm, lambda m: m.get("state") == "ended"))
    assert [e["seq"] for e in events] == list(range(len(events)))
    run = await Run.objects.aget(pk=started["run"])
    from asgiref.sync import sync_to_async
    assert await sync_to_async(run.trace)() == events
    assert simulations.get("bully-election").run(run.params, run.seed, run.all_faults) == events
    assert events[-1]["summary"]["elected"] == "P14"
    await comm.disconnect()


async def run_in_small_steps(comm):
    """A run stepped three events at a time, then played to its end: saved in many small writes."""
    started, _ = await start(comm, params={"n": 16})
    for _ in range(30):
        await comm.send_json_to({"type": "step", "count": 3})
        await receive_until(comm, lambda m: m["type"] == "status")
    await comm.send_json_to({"type": "play", "speed": 10000})
    await receive_until(comm, lambda m: m.get("state") == "ended")
    return started["run"]


async def test_a_finished_run_is_stored_in_few_compact_chunks():
    comm = await connect()
    run = await Run.objects.aget(pk=await run_in_small_steps(comm))
    chunks = [c async for c in run.chunks.all()]
    assert len(chunks) == 1
    assert len(bytes(chunks[0].data)) / run.event_count < 30
    await comm.disconnect()


async def test_messages_do_not_queue_for_the_database_thread(monkeypatch):
    """channels hops to the database thread to close old connections before every message; acks from five
    hundred browsers then waited behind every write. This consumer's messages take no such hop."""
    import channels.consumer

    hops = []

    async def hop():
        hops.append(1)

    monkeypatch.setattr(channels.consumer, "aclose_old_connections", hop)
    comm = await connect()
    await start(comm)
    for _ in range(10):
        await comm.send_json_to({"type": "ack", "seq": 0})
    await comm.send_json_to({"type": "pause"})
    await receive_until(comm, lambda m: m["type"] == "status")
    assert hops == []
    await comm.disconnect()


def test_a_process_playing_many_runs_sends_each_fewer_larger_batches_at_the_same_speed(monkeypatch):
    from runs import consumers

    assert consumers.tick() == 0.1 and consumers.batch_size(64) == 6 and consumers.batch_size(4) == 1
    monkeypatch.setattr(consumers, "_playing", set(range(500)))  # five hundred runs playing here
    assert consumers.tick() == 0.2 and consumers.batch_size(64) == 13  # speed 16: five frames a second
    assert consumers.batch_size(400_000) == consumers.MAX_BATCH


async def test_a_closed_connection_is_freed_at_once_not_at_the_next_full_garbage_collection():
    """Nothing of a closed connection points back at it: five hundred closed connections otherwise waited,
    30 MB of them, for a full collection that a busy process seldom makes."""
    import asyncio
    import gc
    import weakref

    from runs import heartbeat

    gc.collect()
    gc.disable()
    try:
        others = set(heartbeat._holders)
        comm = await connect()
        consumer = weakref.ref(next(c for c in heartbeat._holders if c not in others))  # this connection's
        del others
        await start(comm, params={"n": 8})
        await comm.send_json_to({"type": "play", "speed": 100})
        await receive_until(comm, lambda m: m["type"] == "events")
        await comm.disconnect()
        del comm
        await asyncio.sleep(0.2)
        assert consumer() is None
    finally:
        gc.enable()


async def test_a_slow_run_s_first_batch_reaches_its_first_arrow_and_a_fast_one_asks_nothing_extra(monkeypatch):
    """At speed 1 the first batch holds the events up to the first arrow (no wait for it); a fast run's first
    batch is larger than that anyway, so the engine is not asked where the first arrow is."""
    from runs.live import LiveRun

    asked, real = [], LiveRun.until_first_arrow

    async def until_first_arrow(self, limit):
        asked.append(limit)
        return await real(self, limit)

    monkeypatch.setattr(LiveRun, "until_first_arrow", until_first_arrow)
    comm = await connect()
    await start(comm, params={"n": 6})
    await comm.send_json_to({"type": "play", "speed": 1000})
    await receive_until(comm, lambda m: m.get("state") == "ended")
    assert asked == []
    await start(comm, params={"n": 6})
    await comm.send_json_to({"type": "play", "speed": 1})
    got = await receive_until(comm, lambda m: m["type"] == "events")
    assert asked and any(e["kind"] == "send" for e in got[-1]["events"])
    await comm.disconnect()
