"""Writing runs as they stream, and reading them back."""
import functools
import operator
import secrets
from typing import NamedTuple

from channels.db import database_sync_to_async
from django.db import connection, transaction
from django.db.models import F, Q

from .errors import TakenOver, heavy_slot
from .events import encoded
from .events import size as event_size
from .models import Chunk, Run

CHUNK = 2000  # events in one stored chunk
SMALL_CHUNK = 200  # a run stored in chunks this small on average is compacted (zlib's window holds more)


def create_run(scenario, params, seed, faults, parent=None, branch_seq=None, events=()):
    """A new run with its first ``events`` (the init event, so that the lifelines appear at once): one
    transaction, one round trip before a run starts."""
    with transaction.atomic():
        run = Run.objects.create(scenario=scenario, params=params, seed=seed, faults=faults, parent_id=parent,
                                 branch_seq=branch_seq, lease=new_lease(), event_count=len(events))
        if events:
            Chunk.objects.create(run=run, start=0, count=len(events), data=Chunk.pack(events))
    return run


def new_lease():
    return secrets.token_urlsafe(18)


class Append(NamedTuple):
    """One run's batch to save: its events (encoded, runs.events; from any seq), its interventions so far, its
    summary once it ended."""
    run_id: str
    events: list
    interventions: list
    summary: dict | None = None
    lease: str | None = None


def append(run_id, events, interventions, summary=None, lease=None):
    """Save a batch before it is sent, so a browser never holds an event the database lacks (append_many)."""
    taken = append_many([Append(run_id, encoded(events), interventions, summary, lease)])[0]
    if taken:
        raise taken


def append_many(batches):
    """Save several runs' batches (one each): the group commit of runs.groupcommit. Returns, in order, None for
    a batch written (or whose run is gone) and a TakenOver for one whose lease another connection took.

    Each batch lands whole or not at all (its run row and its chunks), and is idempotent: it replaces whatever
    was saved of its run from its first seq on, so writing it twice, or after a rewind, leaves one consistent
    trace. With a lease, only the connection holding the run's lease may write. On PostgreSQL the batches that
    go on where their run's saved trace ends (nearly all of them) are written in one statement (``_append_at_end``);
    the others, and every batch on SQLite, in one transaction (``_append_locked``)."""
    chunks = {b.run_id: _chunks(b) for b in batches}  # packed once, whichever way a batch is written
    written = (_append_at_end([b for b in batches if b.events], chunks) if connection.vendor == "postgresql"
               else set())
    rest = [b for b in batches if b.run_id not in written]
    outcomes = dict(zip([b.run_id for b in rest], _append_locked(rest, chunks))) if rest else {}
    return [outcomes.get(b.run_id) for b in batches]


def _chunks(batch):
    """A batch's (run id, start, count, packed data) rows for the chunk table."""
    events = batch.events
    return [(batch.run_id, events[i][0], len(events[i:i + CHUNK]), Chunk.pack(events[i:i + CHUNK]))
            for i in range(0, len(events), CHUNK)]


def _json(name, value):
    """``value`` as the run's JSON field ``name`` is written."""
    return Run._meta.get_field(name).get_db_prep_save(value, connection)


def _append_at_end(batches, chunks):
    """The ids of the runs among ``batches`` written in one statement, a round trip instead of five: a batch
    whose first seq is where its run's saved trace ends, under the run's lease. Their rows are locked in id
    order, as ``_lock_runs`` does."""
    if not batches:
        return set()
    params = [value for b in batches for value in (
        b.run_id, b.lease, b.events[0][0], b.events[-1][0] + 1, _json("interventions", b.interventions),
        _json("summary", b.summary))]
    rows = [row for b in batches for row in chunks[b.run_id]]
    runs = ", ".join(["(%s, %s, %s::integer, %s::integer, %s::jsonb, %s::jsonb)"] * len(batches))
    values = ", ".join(["(%s, %s::integer, %s::integer, %s::bytea)"] * len(rows))
    quote = connection.ops.quote_name
    run, chunk = quote(Run._meta.db_table), quote(Chunk._meta.db_table)
    sql = (f"WITH batch (id, lease, first, upto, interventions, summary) AS (VALUES {runs}), "
           f"locked AS MATERIALIZED (SELECT id FROM {run} WHERE id IN (SELECT id FROM batch) ORDER BY id FOR UPDATE), "
           f"written AS (UPDATE {run} r SET interventions = b.interventions, event_count = b.upto, "
           f"status = CASE WHEN b.summary IS NULL THEN r.status ELSE %s END, summary = COALESCE(b.summary, r.summary) "
           f"FROM batch b WHERE r.id = b.id AND r.id IN (SELECT id FROM locked) AND r.event_count = b.first "
           f"AND (b.lease IS NULL OR r.lease = b.lease) RETURNING r.id) "
           f"INSERT INTO {chunk} (run_id, start, count, data) SELECT c.run_id, c.start, c.count, c.data "
           f"FROM (VALUES {values}) c (run_id, start, count, data) "
           f"WHERE c.run_id IN (SELECT id FROM written) RETURNING run_id")
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, Run.Status.ENDED.value, *(value for row in rows for value in row)])
        return {row[0] for row in cursor.fetchall()}


def _append_locked(batches, chunks):
    """``append_many`` in one transaction that locks the run rows first (in one order, so that two writers never
    wait on each other), then updates them, cuts what a rewrite replaces and inserts the chunks."""
    with transaction.atomic():
        saved = _lock_runs({b.run_id for b in batches})
        results, writes = [], []
        for b in batches:
            taken = b.run_id in saved and b.lease is not None and saved[b.run_id][0] != b.lease
            results.append(TakenOver("another connection resumed this run and drives it now") if taken else None)
            if b.run_id in saved and not taken:
                writes.append(b)
        _update_runs(writes)
        # Chunks cover exactly seqs 0 to event_count - 1: only a batch that starts before the end rewrites any.
        if cuts := {b.run_id: b.events[0][0] for b in writes if b.events and b.events[0][0] < saved[b.run_id][1]}:
            _cut(cuts)
        _insert_chunks([row for b in writes for row in chunks[b.run_id]])
        return results


# append_many's statements are written out: for a hundred runs, the ORM's building of them (a CASE per row,
# an IN of a hundred ids) cost more than the database's running them.

def _lock_runs(ids):
    """{run id: (lease, event_count)} of the runs among ``ids``, locked for this transaction in id order."""
    quote = connection.ops.quote_name
    sql = (f"SELECT {quote('id')}, {quote('lease')}, {quote('event_count')} FROM {quote(Run._meta.db_table)} "
           f"WHERE {quote('id')} IN ({', '.join(['%s'] * len(ids))}) ORDER BY {quote('id')}")
    if connection.features.has_select_for_update:
        sql += " FOR UPDATE"
    with connection.cursor() as cursor:
        cursor.execute(sql, sorted(ids))
        return {pk: (lease, count) for pk, lease, count in cursor.fetchall()}


def _insert_chunks(rows):
    """(run id, start, count, packed data) rows into the chunk table."""
    if rows:
        quote = connection.ops.quote_name
        with connection.cursor() as cursor:
            cursor.executemany(f"INSERT INTO {quote(Chunk._meta.db_table)} ({quote('run_id')}, {quote('start')}, "
                               f"{quote('count')}, {quote('data')}) VALUES (%s, %s, %s, %s)", rows)


def _update_runs(writes):
    """Each written run's row, in one statement a kind."""
    field, quote = Run._meta.get_field, connection.ops.quote_name
    going, ending = [], []
    for b in writes:
        if not b.events:  # nothing new to save but the interventions (and the end)
            ends = {"status": Run.Status.ENDED, "summary": b.summary} if b.summary is not None else {}
            Run.objects.filter(pk=b.run_id).update(interventions=b.interventions, **ends)
        elif b.summary is None:
            going.append((_json("interventions", b.interventions), b.events[-1][0] + 1, b.run_id))
        else:
            ending.append((_json("interventions", b.interventions), b.events[-1][0] + 1, Run.Status.ENDED,
                           _json("summary", b.summary), b.run_id))
    table, columns = quote(Run._meta.db_table), [quote(field(name).column) for name in
                                                  ("interventions", "event_count", "status", "summary", "id")]
    with connection.cursor() as cursor:
        if going:
            cursor.executemany(f"UPDATE {table} SET {columns[0]} = %s, {columns[1]} = %s WHERE {columns[4]} = %s",
                               going)
        if ending:
            cursor.executemany(f"UPDATE {table} SET {columns[0]} = %s, {columns[1]} = %s, {columns[2]} = %s, "
                               f"{columns[3]} = %s WHERE {columns[4]} = %s", ending)


def compact(run_id, size=CHUNK):
    """Rewrite a finished run's many small chunks (it streamed slowly, in small writes) as a few large ones:
    compression works across events. A run already in few chunks is left as it is: recompressing costs more
    CPU than its streaming did (zlib level 9 about 12 us an event, level 6 about 2.4, for 14-16 bytes an event
    instead of about 27 at level 1). One transaction of its own: a failure leaves the run whole, in more chunks."""
    counts = list(Chunk.objects.filter(run_id=run_id).values_list("count", flat=True))
    if not in_small_chunks(len(counts), sum(counts)):
        return
    events = [e for chunk in Chunk.objects.filter(run_id=run_id).order_by("start") for e in chunk.encoded()]
    packed = [Chunk(run_id=run_id, start=i, count=len(events[i:i + size]), data=Chunk.pack(events[i:i + size], 6))
              for i in range(0, len(events), size)]  # outside the transaction: other runs' writes go on meanwhile
    with transaction.atomic():
        Chunk.objects.filter(run_id=run_id).delete()
        Chunk.objects.bulk_create(packed)


def in_small_chunks(chunks, events):
    """Whether a run of ``events`` stored in ``chunks`` would be smaller compacted (they average so few events
    that zlib's window could hold more)."""
    return chunks > 2 and events < SMALL_CHUNK * chunks


def save_trace(scenario, params, seed, faults):
    """Run a set-up to the end on the spot and save it whole (for comparisons); at most HEAVY_JOBS at once
    per process, else Busy."""
    with heavy_slot():
        trace = scenario.simulate(params, seed, faults).run()
    run = Run.objects.create(scenario=scenario.slug, params=params, seed=seed, faults=faults,
                             status=Run.Status.ENDED, event_count=len(trace), summary=trace[-1]["summary"])
    Chunk.objects.bulk_create(Chunk(run=run, start=i, count=len(trace[i:i + CHUNK]),
                                    data=Chunk.pack(trace[i:i + CHUNK], 6)) for i in range(0, len(trace), CHUNK))
    return run


def truncate(run_id, keep, lease=None):
    """Forget saved events from seq ``keep`` on (saved ahead, then undone by an intervention)."""
    with transaction.atomic():
        runs = Run.objects.filter(pk=run_id)
        if lease is not None:
            runs = runs.filter(lease=lease)
        if runs.update(event_count=keep):
            _cut({run_id: keep})


def _cut(keeps):
    """Forget the saved events of each run from seq ``keeps[run]`` on: one statement for all the runs, and the
    one chunk (at most) of each that holds the cut is rewritten; the chunks before it are not read."""
    after = functools.reduce(operator.or_, (Q(run_id=r, start__gte=k) for r, k in keeps.items()))
    within = functools.reduce(operator.or_, (Q(run_id=r, start__lt=k, end__gt=k) for r, k in keeps.items()))
    Chunk.objects.filter(after).delete()
    for chunk in Chunk.objects.alias(end=F("start") + F("count")).filter(within):
        events = chunk.encoded()[:keeps[chunk.run_id] - chunk.start]
        chunk.count, chunk.data = len(events), Chunk.pack(events)
        chunk.save()


def take_over(run_id):
    """A new connection drives the run from now on: a fresh lease fences off the older one's writes."""
    lease = new_lease()
    with transaction.atomic():
        Run.objects.filter(pk=run_id).update(lease=lease)
        set_status(run_id, Run.Status.RUNNING)
        return Run.objects.filter(pk=run_id).first(), lease


def get_run(run_id):
    return Run.objects.filter(pk=run_id).first()


def set_status(run_id, status):
    Run.objects.filter(pk=run_id, status__in=[Run.Status.RUNNING, Run.Status.INTERRUPTED]).update(status=status)


def events_from(run_id, start, budget=None):
    """The saved events from seq ``start`` on (encoded, runs.events) and whether more follow: whole chunks
    until they hold ``budget`` bytes, so that a catch-up reads only what it can send next."""
    events, size = [], 0
    chunks = Chunk.objects.filter(run_id=run_id).alias(end=F("start") + F("count")).filter(end__gt=start)
    for chunk in chunks.order_by("start").iterator(chunk_size=16):
        if budget is not None and size >= budget:
            return events, True
        got = [e for e in chunk.encoded() if e[0] >= start]
        events += got
        size += sum(map(event_size, got)) if budget is not None else 0
    return events, False


acreate_run = database_sync_to_async(create_run)
aappend_many = database_sync_to_async(append_many)
aevents_from = database_sync_to_async(events_from)
aget_run = database_sync_to_async(get_run)
atruncate = database_sync_to_async(truncate)
aset_status = database_sync_to_async(set_status)
atake_over = database_sync_to_async(take_over)
acompact = database_sync_to_async(compact)  # rare (runs in many small chunks) and cheap: with the other writes
