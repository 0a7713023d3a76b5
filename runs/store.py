"""Writing runs as they stream, and reading them back."""
import secrets

from channels.db import database_sync_to_async
from django.db import transaction

from .errors import TakenOver, heavy_slot
from .models import Chunk, Run

CHUNK = 2000  # events in one stored chunk


def create_run(scenario, params, seed, faults, parent=None, branch_seq=None):
    return Run.objects.create(scenario=scenario, params=params, seed=seed, faults=faults,
                              parent_id=parent, branch_seq=branch_seq, lease=new_lease())


def new_lease():
    return secrets.token_urlsafe(18)


def append(run_id, events, interventions, summary=None, lease=None):
    """Save a batch before it is sent, so a browser never holds an event the database lacks.

    One transaction: the run row (updated first, so concurrent writers of one run queue on its lock) and
    the chunk land or none does (the end's compaction comes after, off the stream's path). Idempotent: the batch replaces whatever
    was saved from its first seq on, so writing it twice, or after a rewind, leaves one consistent trace.
    With ``lease``, only the connection holding the run's lease may write; any other gets TakenOver."""
    with transaction.atomic():
        fields = {"interventions": interventions}
        if events:
            fields["event_count"] = events[-1]["seq"] + 1
        if summary is not None:
            fields.update(status=Run.Status.ENDED, summary=summary)
        runs = Run.objects.filter(pk=run_id)
        if lease is not None:
            runs = runs.filter(lease=lease)
        if not runs.update(**fields):
            if lease is not None and Run.objects.filter(pk=run_id).exists():
                raise TakenOver("another connection resumed this run and drives it now")
            return
        if events:
            _cut(run_id, events[0]["seq"])
            Chunk.objects.bulk_create(Chunk(run_id=run_id, start=events[i]["seq"], count=len(events[i:i + CHUNK]),
                                            data=Chunk.pack(events[i:i + CHUNK])) for i in range(0, len(events), CHUNK))


def compact(run_id, size=CHUNK):
    """Rewrite a finished run's many small chunks as a few large ones: compression works across events.
    One transaction of its own: a failure leaves the run whole, in more chunks."""
    chunks = list(Chunk.objects.filter(run_id=run_id).order_by("start"))
    if all(c.count == size for c in chunks[:-1]):
        return  # already few and full: streamed fast, in large writes
    events = [e for chunk in chunks for e in chunk.events()]
    packed = [Chunk(run_id=run_id, start=i, count=len(events[i:i + size]), data=Chunk.pack(events[i:i + size], 9))
              for i in range(0, len(events), size)]  # outside the transaction: other runs' writes go on meanwhile
    with transaction.atomic():
        Chunk.objects.filter(run_id=run_id).delete()
        Chunk.objects.bulk_create(packed)


def save_trace(scenario, params, seed, faults):
    """Run a set-up to the end on the spot and save it whole (for comparisons); at most HEAVY_JOBS at once
    per process, else Busy."""
    with heavy_slot():
        trace = scenario.simulate(params, seed, faults).run()
    run = Run.objects.create(scenario=scenario.slug, params=params, seed=seed, faults=faults,
                             status=Run.Status.ENDED, event_count=len(trace), summary=trace[-1]["summary"])
    Chunk.objects.bulk_create(Chunk(run=run, start=i, count=len(trace[i:i + CHUNK]), data=Chunk.pack(trace[i:i + CHUNK], 9))
                              for i in range(0, len(trace), CHUNK))
    return run


def truncate(run_id, keep, lease=None):
    """Forget saved events from seq ``keep`` on (saved ahead, then undone by an intervention)."""
    with transaction.atomic():
        runs = Run.objects.filter(pk=run_id)
        if lease is not None:
            runs = runs.filter(lease=lease)
        if runs.update(event_count=keep):
            _cut(run_id, keep)


def _cut(run_id, keep):
    Chunk.objects.filter(run_id=run_id, start__gte=keep).delete()
    for chunk in Chunk.objects.filter(run_id=run_id, start__lt=keep):
        if chunk.start + chunk.count > keep:
            events = chunk.events()[:keep - chunk.start]
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


def events_from(run_id, start):
    events = []
    for chunk in Chunk.objects.filter(run_id=run_id, start__gte=0).order_by("start"):
        if chunk.start + chunk.count > start:
            events.extend(e for e in chunk.events() if e["seq"] >= start)
    return events


acreate_run = database_sync_to_async(create_run)
aappend = database_sync_to_async(append)
aevents_from = database_sync_to_async(events_from)
aget_run = database_sync_to_async(get_run)
atruncate = database_sync_to_async(truncate)
aset_status = database_sync_to_async(set_status)
atake_over = database_sync_to_async(take_over)
# outside the one thread the other writes share, so the next run's first batch does not wait for it
acompact = database_sync_to_async(compact, thread_sensitive=False)
