"""Writing runs as they stream, and reading them back."""
from channels.db import database_sync_to_async

from .models import Chunk, Run


def create_run(scenario, params, seed, faults, parent=None, branch_seq=None):
    return Run.objects.create(scenario=scenario, params=params, seed=seed, faults=faults,
                              parent_id=parent, branch_seq=branch_seq)


def append(run_id, events, interventions, summary=None):
    """Save a batch before it is sent, so a browser never holds an event the database lacks."""
    if events:
        Chunk.objects.create(run_id=run_id, start=events[0]["seq"], count=len(events), data=Chunk.pack(events))
    fields = {"event_count": events[-1]["seq"] + 1 if events else 0, "interventions": interventions}
    if summary is not None:
        fields.update(status=Run.Status.ENDED, summary=summary)
    if not events:
        fields.pop("event_count")
    Run.objects.filter(pk=run_id).update(**fields)


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
aset_status = database_sync_to_async(set_status)
