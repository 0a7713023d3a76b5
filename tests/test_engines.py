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


@pytest.mark.parametrize("slug", sorted(simulations.SCENARIOS))
def test_an_engine_process_frees_a_simulation_it_lets_go_of_without_collecting_its_old_objects(slug):
    """The engine process collects only its young objects (with 500 live runs an older collection stopped it
    for 0.4 to 1 s): a simulation of any scenario that ends, is closed or is re-created is freed by reference
    counting as soon as the answer is sent."""
    import gc
    import weakref

    from runs.engine_worker import Host

    host = Host()
    params, _ = simulations.get(slug).parse({}, [])
    gc.collect()
    gc.disable()
    try:
        host.new(1, slug, params, 0, [], 10, 0)
        replaced = weakref.ref(host.sims[1])
        host.new(1, slug, params, 0, [], 10, 0)  # a rewind
        closed = weakref.ref(host.sims[1])
        host.close(1)
        host.new(2, slug, params, 0, [], 10, 0)
        ended = weakref.ref(host.sims[2])
        state, events = host.advance(2, 1_000_000)
        assert state["ended"] and events[-1][1] == "end" and 2 not in host.sims
        assert ended() is not None  # freed once its answer has gone (serve): not in the way of its last events
        host.sweep()
        assert replaced() is None and closed() is None and ended() is None
    finally:
        gc.enable()


def test_an_engine_process_frees_an_ended_run_after_its_last_answer_has_gone(monkeypatch):
    """Freeing a run's trace takes about a tenth of computing it: the engine process does it once the answer
    with the run's last events is on its way, and then at once, before the next request."""
    import gc
    import threading
    from multiprocessing import Pipe

    from runs import engine_worker

    freed, real, thresholds = [], engine_worker.dispose, gc.get_threshold()
    monkeypatch.setattr(engine_worker, "dispose", lambda sim: (freed.append(len(sim.trace)), real(sim)))
    params, _ = simulations.get("gossip").parse({"n": 16, "mode": "epidemic"}, [])
    ours, theirs = Pipe()
    server = threading.Thread(target=engine_worker.serve, args=(theirs,))
    server.start()
    try:
        ours.send((0, "new", 1, "gossip", params, 0, [], 1, 0))
        assert ours.recv()[1] and not freed
        ours.send((1, "advance", 1, 1_000_000))
        _, ok, (state, events) = ours.recv()
        assert ok and state["ended"]
        ours.send((2, "advance", 1, 1))  # answered from what was kept of it
        assert ours.recv()[2] == (state, []) and freed == [state["length"]]
    finally:
        ours.close()
        server.join(10)
        gc.set_threshold(*thresholds)
        gc.unfreeze()


def test_an_engine_process_never_collects_its_older_generations_while_it_holds_a_run():
    """Only young collections while simulations live there, however many objects they make; a full one once
    it holds none (then it is cheap)."""
    import gc
    import threading
    from multiprocessing import Pipe

    from runs import engine_worker

    params, _ = simulations.get("raft").parse({"n": 9, "heartbeat": 5}, [])
    crash = [{"action": "crash", "node": "S9", "at": 40_000}]  # runs on to the scenario's 60,000-event cap
    collected, thresholds = [], gc.get_threshold()
    ours, theirs = Pipe()
    record = lambda phase, info: phase == "stop" and collected.append(info["generation"])  # noqa: E731
    server = threading.Thread(target=engine_worker.serve, args=(theirs,))
    server.start()
    gc.callbacks.append(record)
    try:
        ours.send((0, "new", 1, "raft", params, 0, crash, 1, 0))
        assert ours.recv()[1]
        for i in range(1, 7):
            ours.send((i, "new", 1 + i % 2, "raft", params, i, crash, 50_000, 49_999))
            assert ours.recv()[1]
        young = len(collected)
        assert young > 40 and set(collected) == {0}, collected  # millions of objects made and kept meanwhile
        ours.send((7, "close", 1))
        ours.send((8, "close", 2))
        ours.send((9, "advance", 1, 1))  # answered once what follows the answer to the last close is done
        ours.recv(), ours.recv(), ours.recv()
        assert collected[young:] == [2]  # nothing lives there now: everything else is collected
    finally:
        ours.close()
        server.join(10)
        gc.callbacks.remove(record)
        gc.set_threshold(*thresholds)
        gc.unfreeze()


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



def gate_the_engine(live):
    """From now on the engine of ``live`` answers once the returned event is set; what it was asked for
    meanwhile is in the returned list."""
    gate, asked, advance = asyncio.Event(), [], live.engine.advance

    async def slow_advance(count):
        asked.append(count)
        await gate.wait()
        return await advance(count)

    live.engine.advance = slow_advance
    return gate, asked


async def test_the_batch_that_starts_computing_ahead_does_not_wait_for_it():
    """Computing ahead happens between batches: the batch that sets it off goes at once with what was saved
    ahead (beside 500 live runs the engine answered in up to 140 ms, a batch every 200 ms), and what the
    engine computes meanwhile follows in order."""
    params = {"n": 64, "mode": "epidemic"}
    live = await live_module.LiveRun.start("gossip", params, 0, [])
    live.ahead = 100
    got = await live.take(10)  # nothing ahead yet: computed (to 100) for this batch
    gate, asked = gate_the_engine(live)
    while live.refilling is None and live.sent < 100:
        got += await asyncio.wait_for(live.take(10), 2)  # not held by the engine, which has not answered
    assert live.refilling is not None and 70 <= live.sent < 100  # set off three quarters of the way
    await asyncio.sleep(0.01)
    assert asked and not live.refilling.done()  # the engine is asked, and has not answered yet
    gate.set()
    while len(got) < 300:
        got += await live.take(10)
    expected = simulations.get("gossip").run(params)
    assert [seq for seq, _, _ in got] == list(range(300))
    assert [kind for _, kind, _ in got] == [e["kind"] for e in expected[:300]]
    await live.settled()
    live.close()


async def test_what_fails_while_computing_ahead_reaches_the_next_batch():
    live = await live_module.LiveRun.start("gossip", {"n": 64, "mode": "epidemic"}, 0, [])
    live.ahead = 100
    await live.take(80)

    async def broken(count):
        raise engines.EngineFailed("ZeroDivisionError: a scenario's bug")

    live.engine.advance = broken
    await live.take(10)  # from what was saved ahead; computing more begins, and fails
    await asyncio.wait([live.refilling])
    with pytest.raises(engines.EngineFailed, match="a scenario's bug"):
        await live.take(5)
    live.close()


async def test_a_new_play_asks_the_engine_only_after_computing_ahead_from_the_last_one_is_done():
    live = await live_module.LiveRun.start("gossip", {"n": 64, "mode": "epidemic"}, 0, [])
    live.ahead = 100
    await live.take(10)
    gate, asked = gate_the_engine(live)
    while live.refilling is None:
        await live.take(10)  # the last of these sets off computing ahead
    live.arrow_shown = False  # as if no arrow had been shown: the next play looks for the first one
    first_arrow = asyncio.ensure_future(live.until_first_arrow(64))
    for _ in range(5):
        await asyncio.sleep(0)
    assert len(asked) == 1  # one computation at a time
    gate.set()
    assert await first_arrow >= 1 and len(asked) >= 1
    await live.settled()
    live.close()
