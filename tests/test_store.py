"""The store: one transaction per write, idempotent chunks, bounded retries, and one owner per run."""
import asyncio
import os

import orjson
import pytest
from asgiref.sync import sync_to_async
from django.db import IntegrityError, OperationalError, connection
from django.test.utils import CaptureQueriesContext

import simulations
from runs import live as live_module
from runs import store
from runs.events import array, encoded
from runs.models import Chunk, Run
from tests.test_consumer import connect, events_of, receive_until, run_in_small_steps, start

pytestmark = [pytest.mark.django_db(transaction=True)]


def trace(n=6, seed=1):
    return simulations.get("bully-election").run({"n": n}, seed)


def test_an_append_is_one_transaction(monkeypatch):
    run = store.create_run("bully-election", {"n": 6}, 1, [])
    events = trace()
    store.append(run.id, events[:10], [])

    def broken(rows):
        raise OperationalError("disk full")

    monkeypatch.setattr(store, "_insert_chunks", broken)  # after the run row's update and the cut
    with pytest.raises(OperationalError):  # a rewrite from seq 5: a transaction on every database
        store.append(run.id, events[5:], [], summary=events[-1]["summary"])
    run.refresh_from_db()
    assert run.event_count == 10 and run.status == "running"  # neither the cut, the chunk nor the run update landed
    assert Chunk.objects.filter(run=run).count() == 1 and run.trace() == events[:10]


def test_writing_a_chunk_twice_or_over_a_later_one_is_consistent():
    run = store.create_run("bully-election", {"n": 6}, 1, [])
    events = trace()
    store.append(run.id, events[:10], [])
    store.append(run.id, events[10:30], [])
    store.append(run.id, events[10:30], [])  # the same batch again: no IntegrityError, no duplicate
    assert run.trace() == events[:30]
    store.append(run.id, events[5:12], [])  # a rewrite from an earlier seq replaces what followed it
    run.refresh_from_db()
    assert run.trace() == events[:12] and run.event_count == 12


def test_an_older_lease_may_not_write():
    run = store.create_run("bully-election", {"n": 6}, 1, [])
    events = trace()
    store.append(run.id, events[:10], [], lease=run.lease)
    _, lease = store.take_over(run.id)
    with pytest.raises(live_module.TakenOver):
        store.append(run.id, events[10:20], [], lease=run.lease)
    store.append(run.id, events[10:20], [], lease=lease)
    assert run.trace() == events[:20]


async def save_with(monkeypatch, error, tries):
    calls = []

    def failing(*args, **kwargs):
        calls.append(1)
        raise error

    comm = await connect()
    await start(comm)
    monkeypatch.setattr(store, "aappend_many", sync_to_async(failing))
    monkeypatch.setattr(live_module, "SAVE_DELAY", 0.01)
    await comm.send_json_to({"type": "step", "count": 5})
    got = await receive_until(comm, lambda m: m["type"] == "error")
    assert got[-1]["code"] == "save_failed"
    assert len(calls) == tries
    await comm.disconnect()


async def test_a_locked_database_is_retried_a_bounded_number_of_times_then_the_client_is_told(monkeypatch):
    await save_with(monkeypatch, OperationalError("database is locked"), live_module.SAVE_RETRIES)


async def test_an_integrity_error_is_never_retried(monkeypatch):
    await save_with(monkeypatch, IntegrityError("duplicate chunk"), 1)


async def test_a_second_connection_resuming_a_run_takes_it_over():
    first = await connect()
    started, events = await start(first, params={"n": 8}, seed=2)
    await first.send_json_to({"type": "step", "count": 10})
    events += events_of(await receive_until(first, lambda m: m["type"] == "status"))
    await first.send_json_to({"type": "play", "speed": 20})

    second = await connect()
    await second.send_json_to({"type": "resume", "run": started["run"], "token": started["token"], "from": 11})
    got = await receive_until(second, lambda m: m["type"] == "status")
    assert got[0]["type"] == "resumed"
    told = await receive_until(first, lambda m: m["type"] == "error")
    assert told[-1]["code"] == "taken_over"
    await asyncio.sleep(0.5)
    assert await first.receive_nothing(0.3)  # it stopped streaming
    await first.send_json_to({"type": "step", "count": 1})
    assert (await first.receive_json_from())["code"] == "no_run"  # the connection is kept, the run is not its

    await second.send_json_to({"type": "play", "speed": 10000})
    await receive_until(second, lambda m: m.get("state") == "ended")
    run = await Run.objects.aget(pk=started["run"])
    saved = await sync_to_async(run.trace)()
    assert run.status == "ended" and saved == simulations.get("bully-election").run(run.params, run.seed, run.all_faults)
    await first.disconnect()
    await second.disconnect()


def test_several_runs_are_saved_in_one_transaction_and_a_fenced_off_one_is_told():
    events = trace()
    runs = [store.create_run("bully-election", {"n": 6}, 1, [], events=events[:1]) for _ in range(3)]
    stale = store.new_lease()
    outcomes = store.append_many([store.Append(runs[0].id, encoded(events[1:10]), [], None, runs[0].lease),
                                  store.Append(runs[1].id, encoded(events[1:]), [], events[-1]["summary"], runs[1].lease),
                                  store.Append(runs[2].id, encoded(events[1:10]), [], None, stale)])
    assert [type(o).__name__ for o in outcomes] == ["NoneType", "NoneType", "TakenOver"]
    first, second, third = (Run.objects.get(pk=r.id) for r in runs)
    assert first.trace() == events[:10] and first.event_count == 10 and first.status == "running"
    assert second.trace() == events and second.status == "ended" and second.summary == events[-1]["summary"]
    assert third.trace() == events[:1] and third.event_count == 1  # its lease was not the run's: nothing written


@pytest.mark.skipif(not os.environ.get("DATABASE_URL", "").startswith("postgres"),
                    reason="the one-statement write is PostgreSQL's (the second CI pass)")
def test_on_postgresql_batches_that_go_on_where_their_runs_end_are_one_statement_and_the_others_are_not_lost():
    events = trace()
    runs = [store.create_run("bully-election", {"n": 6}, 1, [], events=events[:1]) for _ in range(4)]
    store.append(runs[3].id, events[1:20], [], lease=runs[3].lease)
    batches = [store.Append(runs[0].id, encoded(events[1:10]), [], None, runs[0].lease),
               store.Append(runs[1].id, encoded(events[1:]), [{"action": "crash", "node": "P2", "seq": 3}],
                            events[-1]["summary"], runs[1].lease)]
    with CaptureQueriesContext(connection) as queries:
        assert store.append_many(batches) == [None, None]
    assert len(queries) == 1  # not BEGIN, the lock, an update for each kind, the insert and COMMIT
    later = [store.Append(runs[0].id, encoded(events[10:]), [], events[-1]["summary"], runs[0].lease),
             store.Append(runs[2].id, encoded(events[1:5]), [], None, store.new_lease()),  # fenced off
             store.Append(runs[3].id, encoded(events[5:12]), [], None, runs[3].lease)]  # a rewrite from seq 5
    outcomes = store.append_many(later)
    assert [type(o).__name__ for o in outcomes] == ["NoneType", "TakenOver", "NoneType"]
    first, second, third, fourth = (Run.objects.get(pk=r.id) for r in runs)
    assert first.trace() == events and first.status == "ended" and first.summary == events[-1]["summary"]
    assert second.trace() == events and second.status == "ended"
    assert second.interventions == [{"action": "crash", "node": "P2", "seq": 3}]
    assert third.trace() == events[:1] and third.event_count == 1
    assert fourth.trace() == events[:12] and fourth.event_count == 12 and fourth.status == "running"


def test_a_run_is_created_with_its_first_events_in_one_write():
    events = trace()
    run = store.create_run("bully-election", {"n": 6}, 1, [], events=events[:1])
    assert Run.objects.get(pk=run.id).event_count == 1 and run.trace() == events[:1]


def test_a_run_saved_in_few_large_chunks_is_not_recompressed_and_one_in_many_small_ones_is():
    events = trace(n=16)
    few = store.create_run("bully-election", {"n": 16}, 1, [], events=events[:1])
    store.append(few.id, events[1:], [], events[-1]["summary"])
    before = list(Chunk.objects.filter(run=few).values_list("start", "data"))
    store.compact(few.id)
    assert list(Chunk.objects.filter(run=few).values_list("start", "data")) == before

    many = store.create_run("bully-election", {"n": 16}, 1, [], events=events[:1])
    for i in range(1, len(events), 3):
        store.append(many.id, events[i:i + 3], [])
    store.compact(many.id)
    assert Chunk.objects.filter(run=many).count() == 1 and many.trace() == events


async def test_runs_saving_at_once_share_transactions_and_one_bad_batch_fails_alone(monkeypatch):
    """Group commit (runs.groupcommit): twenty runs saving at once take fewer transactions than twenty, and a
    group the database refuses is written again one run at a time, so that only the bad run hears of it."""
    from runs import groupcommit

    events = trace()
    runs = [await sync_to_async(store.create_run)("bully-election", {"n": 6}, 1, [], events=events[:1])
            for _ in range(20)]
    bad, groups, real = runs[7].id, [], store.append_many

    def append_many(batches):
        groups.append(len(batches))
        if any(b.run_id == bad for b in batches):
            raise IntegrityError("a bad batch")
        return real(batches)

    monkeypatch.setattr(store, "aappend_many", sync_to_async(append_many))
    batch = encoded(events[1:20])
    outcomes = await asyncio.gather(*(groupcommit.append(r.id, batch, [], None, r.lease) for r in runs),
                                    return_exceptions=True)
    assert [type(o).__name__ for o in outcomes] == ["NoneType"] * 7 + ["IntegrityError"] + ["NoneType"] * 12
    assert groups == [20] + [1] * 20  # one transaction for all twenty; refused, then each alone
    for r in runs:
        saved = await sync_to_async(lambda: Run.objects.get(pk=r.id).trace())()
        assert saved == (events[:1] if r.id == bad else events[:20])


async def test_a_run_saved_in_large_writes_is_not_asked_to_compact(monkeypatch):
    """Whether a finished run needs compacting is known from its writes: no database question when not."""
    asked = []
    monkeypatch.setattr(store, "acompact", sync_to_async(lambda run_id: asked.append(run_id)))
    comm = await connect()
    await start(comm, "gossip", {"n": 64, "mode": "epidemic"})
    await comm.send_json_to({"type": "play", "speed": 100000})
    await receive_until(comm, lambda m: m.get("state") == "ended")
    assert asked == []
    assert asked == [await run_in_small_steps(comm)]
    await comm.disconnect()


def test_saved_events_are_read_back_encoded_a_budget_of_whole_chunks_at_a_time():
    events = trace(n=16)
    run = store.create_run("bully-election", {"n": 16}, 1, [], events=events[:1])
    for i in range(1, len(events), 10):
        store.append(run.id, events[i:i + 10], [])
    everything, more = store.events_from(run.id, 5)
    assert not more and orjson.loads(array(everything)) == events[5:]
    assert [seq for seq, _, _ in everything] == list(range(5, len(events)))
    some, more = store.events_from(run.id, 5, budget=1)  # one chunk, whatever the budget
    assert more and [seq for seq, _, _ in some] == list(range(5, 11))
    assert array(Chunk.objects.get(run=run, start=1).encoded()) == orjson.dumps(events[1:11])
