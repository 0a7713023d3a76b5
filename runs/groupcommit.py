"""Group commit: the runs streaming in one process save through one writer, one transaction a round.

Five hundred learners playing at once each save a stretch every second or so; a transaction each would queue
them all on the database thread, a commit (a disk flush) apiece, and their batches would wait. The writer
takes what is queued when its previous write ends, up to GROUP_RUNS runs (one batch each), and saves it in
one transaction (``store.append_many``): under load the groups grow, and a run alone is written at once.
A group the database refuses for any reason but being unreachable is written again one run at a time, so
that one run's bad batch fails only that run.
"""
import asyncio
import weakref

from django.db import DatabaseError, OperationalError

from . import store

GROUP_RUNS = 100  # batches in one transaction (and the statements that name each run stay short)
_writers = weakref.WeakKeyDictionary()  # event loop -> its GroupCommit


async def append(run_id, events, interventions, summary=None, lease=None):
    """Save one run's batch with whatever other runs are saving now; raises TakenOver, or the database's error."""
    loop = asyncio.get_running_loop()
    writer = _writers.get(loop)
    if writer is None:
        writer = _writers[loop] = GroupCommit()
    return await writer.append(store.Append(run_id, events, interventions, summary, lease))


class GroupCommit:
    def __init__(self):
        self.queue = []  # (Append, future) in the order they came
        self.task = None

    async def append(self, batch):
        done = asyncio.get_running_loop().create_future()
        self.queue.append((batch, done))
        if self.task is None or self.task.done():
            self.task = asyncio.ensure_future(self.drain())
        return await done

    async def drain(self):
        while self.queue:
            group, later, runs = [], [], set()
            for entry in self.queue:  # one batch a run in a group: a run's second waits for the next round
                if entry[0].run_id in runs or len(group) == GROUP_RUNS:
                    later.append(entry)
                else:
                    runs.add(entry[0].run_id)
                    group.append(entry)
            self.queue = later
            for (_, done), outcome in zip(group, await self.write([batch for batch, _ in group])):
                if done.done():
                    continue
                if isinstance(outcome, BaseException):
                    done.set_exception(outcome)
                else:
                    done.set_result(outcome)

    async def write(self, batches):
        """Each batch's outcome: None, or the exception its run should see."""
        try:
            return await store.aappend_many(batches)
        except OperationalError as e:  # unreachable or locked: every run retries on its own schedule
            return [e] * len(batches)
        except DatabaseError as e:
            if len(batches) == 1:
                return [e]
            return [(await self.write([batch]))[0] for batch in batches]
        except Exception as e:  # a bug: each run hears of it as its own failure, and the writer goes on
            return [e] * len(batches)
