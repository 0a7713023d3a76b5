"""Where a live run's simulation runs: in an engine process beside this one, or in this process.

A simulation is pure Python. In the web process it shares the one core the GIL gives every socket, and
the traces of five hundred live runs (a million objects) make each full garbage collection stop the event
loop for a second. With ENGINE_WORKERS engine processes (runs.engine_worker; by default one when the
machine has a second core) the simulations live there: the web process holds only what it has not yet
sent, and a re-execution (resume, branch, an intervention's rewind) runs there too, never on the event loop.
With ENGINE_WORKERS=0 (and in the tests that define scenarios of their own) they run here, behind the same
interface: ``new`` (re-)creates the simulation at some length, ``advance`` steps it, ``inject`` applies an
intervention; each returns the events it produced (encoded: runs.events), and ``length``, ``ended``,
``waiting``, ``pending`` say where it stands.
"""
import asyncio
import itertools
import logging
import multiprocessing
import threading
import weakref
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext

from django.conf import settings

from . import engine_worker
from .errors import HEAVY_JOBS, BadFault, heavy_slot
from .events import encoded

log = logging.getLogger(__name__)
_pool = ThreadPoolExecutor(max_workers=HEAVY_JOBS, thread_name_prefix="rerun")
_handles = itertools.count(1)
_workers = []
_next = itertools.count()
_spawning = threading.Lock()


class EngineFailed(RuntimeError):
    """The simulation raised (a scenario's bug) or its engine process died: the client hears ``internal``."""


async def off_loop(fn, *args):
    """Run a whole-run re-execution in this process's thread pool, never on the event loop; Busy when all
    HEAVY_JOBS slots are taken."""
    with heavy_slot():
        return await asyncio.get_running_loop().run_in_executor(_pool, fn, *args)


def engine_for(scenario, params, seed):
    """An engine for a new live run, in an engine process when there are any."""
    count = getattr(settings, "ENGINE_WORKERS", 0)
    if not count:
        return LocalEngine(scenario, params, seed)
    return WorkerEngine(worker(next(_next) % count), scenario, params, seed)


class LocalEngine:
    """The simulation in this process: small steps on the event loop, re-executions in the thread pool."""

    def __init__(self, scenario, params, seed):
        self.scenario, self.params, self.seed = scenario, params, seed
        self.sim = None

    length = property(lambda self: len(self.sim.trace))
    ended = property(lambda self: self.sim.ended)
    waiting = property(lambda self: self.sim.waiting)
    pending = property(lambda self: bool(self.sim.pending))
    summary = property(lambda self: self.sim.summary)

    async def new(self, faults, upto=1, since=0):
        def make():
            sim = self.scenario.simulate(self.params, self.seed, faults)
            sim.advance(upto - len(sim.trace))
            return sim

        self.sim = make() if upto <= 1 else await off_loop(make)
        return encoded(self.sim.trace[since:])

    async def advance(self, count):
        since = len(self.sim.trace)
        self.sim.advance(count)
        return encoded(self.sim.trace[since:])

    async def inject(self, fault):
        msg = fault.get("match", {}).get("msg")
        if msg is not None and msg not in self.sim.network.in_flight:
            raise BadFault(f"message {msg} is not in flight any more")
        since = len(self.sim.trace)
        fault = self.sim.inject(fault)
        return fault, encoded(self.sim.trace[since:])

    def close(self):
        """The simulation goes with this engine (a closed run may still be asked where it stands)."""


class WorkerEngine:
    """The simulation in an engine process; this side keeps where it stands."""

    def __init__(self, worker_, scenario, params, seed):
        self.worker, self.handle = worker_, next(_handles)
        self.slug, self.params, self.seed = scenario.slug, params, seed
        self.state = {"length": 0, "ended": False, "waiting": False, "pending": False}
        self._finalizer = weakref.finalize(self, worker_.forget, self.handle)

    length = property(lambda self: self.state["length"])
    ended = property(lambda self: self.state["ended"])
    waiting = property(lambda self: self.state["waiting"])
    pending = property(lambda self: self.state["pending"])
    summary = property(lambda self: self.state.get("summary"))

    async def new(self, faults, upto=1, since=0):
        with heavy_slot() if upto > 1 else nullcontext():  # re-executions stay bounded, as in this process
            self.state, events = await self.worker.call("new", self.handle, self.slug, self.params, self.seed,
                                                        faults, upto, since)
        return events

    async def advance(self, count):
        self.state, events = await self.worker.call("advance", self.handle, count)
        return events

    async def inject(self, fault):
        self.state, events, fault = await self.worker.call("inject", self.handle, fault)
        return fault, events

    def close(self):
        self._finalizer()


def worker(i):
    """The i-th engine process, started on first use and again if it died."""
    with _spawning:
        while len(_workers) <= i:
            _workers.append(None)
        if _workers[i] is None or not _workers[i].alive:
            _workers[i] = Worker()
        return _workers[i]


class Worker:
    """One engine process, its pipe, and a thread that hands each answer to the event loop that asked."""

    def __init__(self):
        context = multiprocessing.get_context("spawn")  # not fork: this process has threads
        self.conn, theirs = context.Pipe()
        self.process = context.Process(target=engine_worker.serve, args=(theirs,), daemon=True,
                                       name="lifelines-engine")
        self.process.start()
        theirs.close()
        self.alive = True
        self.waiting = {}  # request id -> (loop, future)
        self.ids = itertools.count()
        self.lock = threading.Lock()
        self.forgotten = []  # handles of engines gone, closed with the next request
        threading.Thread(target=self.read, daemon=True, name="lifelines-engine-reader").start()

    def call(self, op, *args):
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        with self.lock:
            if not self.alive:
                raise EngineFailed("the engine process is gone")
            request = next(self.ids)
            self.waiting[request] = (loop, future)
            while self.forgotten:
                self.conn.send((next(self.ids), "close", self.forgotten.pop()))
            self.conn.send((request, op, *args))
        return future

    def forget(self, handle):
        """An engine this process no longer holds (called from a finalizer: any thread, any moment)."""
        self.forgotten.append(handle)

    def read(self):
        while True:
            try:
                request, ok, result = self.conn.recv()
            except (EOFError, OSError):
                break
            loop, future = self.waiting.pop(request, (None, None))
            if loop is not None and not loop.is_closed():
                loop.call_soon_threadsafe(settle, future, ok, result)
        with self.lock:
            self.alive = False
            waiting, self.waiting = self.waiting, {}
        if threading.main_thread().is_alive():  # not this process's own exit
            log.error("the engine process %s ended (exit code %s)", self.process.pid, self.process.exitcode)
        for loop, future in waiting.values():
            if not loop.is_closed():
                loop.call_soon_threadsafe(settle, future, False, ("failed", "the engine process ended"))


def settle(future, ok, result):
    if future.done():
        return
    if ok:
        future.set_result(result)
    elif result[0] == "not_in_flight":
        future.set_exception(BadFault(result[1]))
    else:
        future.set_exception(EngineFailed(result[1]))

