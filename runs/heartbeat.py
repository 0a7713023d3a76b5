"""Who still owns a run: each daphne process touches the runs its connections hold, every HEARTBEAT seconds.

A run left "running" by a process that died without a word (SIGKILL, a lost machine) stops being touched; once
its heartbeat is STALE seconds old, the next look at it (its page, its embed) marks it interrupted for good.
"""
import asyncio
import logging
import os
import weakref
from datetime import timedelta

from channels.db import database_sync_to_async
from django.utils import timezone

from .models import Run

HEARTBEAT = float(os.environ.get("RUN_HEARTBEAT_SECONDS", 20))
STALE = float(os.environ.get("RUN_STALE_SECONDS", 120))
log = logging.getLogger(__name__)

_holders = weakref.WeakSet()  # consumers of this process; each may hold a live run (.live)
_task = None


def hold(consumer):
    """Called when a connection opens: the runs it drives are kept alive while it lasts."""
    global _task
    _holders.add(consumer)
    if _task is None or _task.done():
        _task = asyncio.get_running_loop().create_task(_beat())


def release(consumer):
    """Called when a connection closes."""
    global _task
    _holders.discard(consumer)
    if not _holders and _task is not None and not _task.done():
        _task.cancel()
        _task = None


def touch(run_ids):
    """Its owner is alive: the run is running (again, if a look at it had marked it interrupted meanwhile)."""
    Run.objects.filter(pk__in=run_ids, status__in=[Run.Status.RUNNING, Run.Status.INTERRUPTED]).update(
        updated=timezone.now(), status=Run.Status.RUNNING)


async def _beat():
    while _holders:
        await asyncio.sleep(HEARTBEAT)
        ids = {c.live.id for c in list(_holders) if getattr(c, "live", None) is not None and not c.live.ended}
        if ids:
            try:
                await database_sync_to_async(touch)(ids)
            except Exception as e:  # noqa: BLE001  (the database away: try again next beat)
                log.warning("Run heartbeat not written: %s", e)


def settle(run):
    """Mark ``run`` interrupted (saved and in hand) if it says running but no process has touched it for STALE
    seconds: its owner is gone."""
    if run.status == Run.Status.RUNNING and timezone.now() - run.updated > timedelta(seconds=STALE):
        cutoff = timezone.now() - timedelta(seconds=STALE)
        Run.objects.filter(pk=run.pk, status=Run.Status.RUNNING, updated__lt=cutoff).update(
            status=Run.Status.INTERRUPTED)
        run.refresh_from_db(fields=["status", "updated"])
    return run
