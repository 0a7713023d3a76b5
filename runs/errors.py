"""What can go wrong with a run that the client caused or can act on: each error carries its protocol code.

Anything else that fails (a scenario bug during a rewind, a database that will not take a write) is not one
of these: it is logged and the client is told ``internal``, never mistaken for bad input.
"""
import os
import threading
from contextlib import contextmanager

HEAVY_JOBS = int(os.environ.get("LIFELINES_HEAVY_JOBS", 2))  # re-executions at once, per process
_slots = threading.BoundedSemaphore(HEAVY_JOBS)


class RunError(Exception):
    code = "error"


class UnknownScenario(RunError):
    code = "unknown_scenario"


class UnknownRun(RunError):
    code = "unknown_run"


class Forbidden(RunError):
    code = "forbidden"


class BadFault(RunError):
    code = "bad_fault"


class Busy(RunError):
    code = "busy"


class TakenOver(RunError):
    code = "taken_over"


@contextmanager
def heavy_slot():
    """Hold one of the process's HEAVY_JOBS slots for a whole-run re-execution, or raise Busy at once:
    a crowd of resumes is refused with a clear answer rather than queued without bound."""
    if not _slots.acquire(blocking=False):
        raise Busy("the server is busy re-running other runs; try again in a few seconds")
    try:
        yield
    finally:
        _slots.release()
