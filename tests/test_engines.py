"""Live runs simulated in an engine process (runs.engines): the same protocol and the same traces, a web
process that holds only what it has not sent, and an engine process that dies without taking the
connection with it."""
import asyncio
import os
import signal

import pytest
from asgiref.sync import sync_to_async

import simulations
from runs import engines, store
from runs import live as live_module
from runs.models import Run
from tests import test_consumer, test_store
from tests.test_consumer import connect, events_of, receive_until, start

pytestmark = [pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def engine_process(settings):
    settings.ENGINE_WORKERS = 1


# The protocol's own tests, each again with the simulation in an engine process.
test_a_run_plays_to_its_end = test_consumer.test_play_streams_to_the_end_and_the_saved_run_equals_the_streamed_trace
test_an_intervention = test_consumer.test_an_injected_crash_is_applied_now_recorded_and_replays_exactly
test_a_branch = test_consumer.test_branching_from_a_saved_run_shares_its_past_and_links_back
test_the_network_mode = test_consumer.test_network_mode_waits_for_the_learner_to_pick_each_message
test_a_resume = test_consumer.test_a_reconnecting_browser_resumes_from_its_last_event_without_gap_or_duplicate
test_a_take_over = test_store.test_a_second_connection_resuming_a_run_takes_it_over


async def test_the_web_process_holds_only_what_is_ahead_of_the_browser():
    comm = await connect()
    started, events = await start(comm, scenario="gossip", params={"n": 64, "mode": "epidemic"})
    await comm.send_json_to({"type": "step", "count": 1500})
    events += events_of(await receive_until(comm, lambda m: m["type"] == "status"))
    live = live_module._drivers[started["run"]]
    assert isinstance(live.engine, engines.WorkerEngine)
    assert len(events) == 1501 and live.sent == 1501 and len(live.buffer) < 100
    gossip = simulations.get("gossip")
    params, faults = gossip.parse({"n": 64, "mode": "epidemic"}, [])
    expected = gossip.simulate(params, 0, faults)
    expected.advance(1500)
    assert events == expected.trace[:1501]
    await comm.disconnect()


async def test_an_engine_process_that_dies_is_said_as_internal_and_the_next_run_gets_a_new_one():
    comm = await connect()
    started, _ = await start(comm, params={"n": 16})
    live = live_module._drivers[started["run"]]
    os.kill(live.engine.worker.process.pid, signal.SIGKILL)
    live.engine.worker.process.join(5)
    await comm.send_json_to({"type": "step", "count": 5})
    got = await receive_until(comm, lambda m: m["type"] == "error")
    assert got[-1]["code"] == "internal"
    assert (await Run.objects.aget(pk=started["run"])).event_count == 1  # nothing was made up meanwhile

    started, events = await start(comm, params={"n": 4})
    await comm.send_json_to({"type": "play", "speed": 10000})
    events += events_of(await receive_until(comm, lambda m: m.get("state") == "ended"))
    assert events == simulations.get("bully-election").run({"n": 4}, 0)
    await comm.disconnect()


def test_an_engine_process_frees_a_simulation_it_lets_go_of_without_a_full_collection():
    """The engine process makes no full garbage collection (with 500 live runs each stopped it for a second):
    a simulation that ends, is closed or is re-created is freed at once, by reference counting."""
    import gc
    import weakref

    from runs.engine_worker import Host

    host = Host()
    gossip, _ = simulations.get("gossip").parse({"n": 16, "mode": "epidemic"}, [])
    bully, _ = simulations.get("bully-election").parse({"n": 4}, [])
    gc.collect()
    gc.disable()
    try:
        host.new(1, "gossip", gossip, 0, [], 200, 0)
        replaced = weakref.ref(host.sims[1])
        host.new(1, "gossip", gossip, 0, [], 200, 0)  # a rewind
        closed = weakref.ref(host.sims[1])
        host.close(1)
        host.new(2, "bully-election", bully, 0, [], 10, 0)
        ended = weakref.ref(host.sims[2])
        state, events = host.advance(2, 10_000)
        assert state["ended"] and events[-1][1] == "end" and 2 not in host.sims
        assert replaced() is None and closed() is None and ended() is None
    finally:
        gc.enable()


async def test_a_fast_run_is_computed_and_saved_in_stretches(monkeypatch):
    """Far ahead, the engine computes STRETCH events at a time and each is saved while it computes the next:
    no write waits for the whole run to be computed first."""
    writes, real = [], store.append_many

    def append_many(batches):
        writes.extend(len(b.events) for b in batches)
        return real(batches)

    monkeypatch.setattr(store, "aappend_many", sync_to_async(append_many))
    comm = await connect()
    started, events = await start(comm, "gossip", {"n": 64, "mode": "epidemic"})
    await comm.send_json_to({"type": "play", "speed": 100000})
    events += events_of(await receive_until(comm, lambda m: m.get("state") == "ended"))
    assert events == simulations.get("gossip").run({"n": 64, "mode": "epidemic"})
    # the first write is the first stretch (and what the start brought), begun before the rest was computed;
    # a write that takes longer than a stretch takes what came meanwhile with the next
    assert len(events) > 3 * live_module.STRETCH and len(writes) >= 2
    assert writes[0] < 2 * live_module.STRETCH and sum(writes) == len(events) - 1
    run = await Run.objects.aget(pk=started["run"])
    assert await sync_to_async(run.trace)() == events
    await comm.disconnect()


async def test_a_batch_goes_once_its_own_events_are_saved_not_the_later_ones(monkeypatch):
    """A write still under way for events after the batch does not hold the batch back."""
    from runs import groupcommit

    later, real = asyncio.Event(), groupcommit.append

    async def append(run_id, events, *args):
        if events[0][0] > 1:
            await later.wait()  # the second stretch's write hangs until the end of the test
        else:
            await asyncio.sleep(0.3)  # the first lands after the second stretch is computed and queued
        return await real(run_id, events, *args)

    monkeypatch.setattr(groupcommit, "append", append)
    live = await live_module.LiveRun.start("gossip", {"n": 64, "mode": "epidemic"}, 0, [])
    live.ahead = 2 * live_module.STRETCH
    batch = await asyncio.wait_for(live.take(100), live_module.SAVE_WAIT / 2)
    assert [seq for seq, _, _ in batch] == list(range(100)) and not live.lagging
    later.set()
    await live.settled()
    live.close()

