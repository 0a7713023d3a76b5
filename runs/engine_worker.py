"""An engine process: holds live runs' simulations for a web process and steps them on request.

It collects only the young generation, every YOUNG allocations: with five hundred live runs it holds a
million trace objects, and a collection of the older generations went through all of them (a full one up
to a second, the middle one 430 ms: every run's batches came that much late). A simulation it lets go of
has its cycles broken (``dispose``), so that it is freed at once, by reference counting; anything else that
became cyclic garbage after its young collection is collected when the process holds no simulation, and
then the collection costs next to nothing.

It imports the simulations and nothing of Django. Requests come down a pipe as tuples ``(id, op, handle,
*args)`` and each is answered ``(id, True, result)`` or ``(id, False, (kind, message))``, in order. Every
result carries the simulation's ``info`` and the events it asked for, encoded (runs.events). A run that has
ended is dropped here at once (its info is kept): everything it produced has gone back already. It is freed
after its last answer has gone, not before: freeing a run's trace takes as long as a tenth of computing it.
"""
import gc

import simulations

from .events import encoded

YOUNG = 10_000  # allocations between two young collections (up to 30 ms each beside 500 live runs)
NEVER = 2**31 - 1


class NotInFlight(Exception):
    """The message an intervention names has been delivered or dropped meanwhile."""


def info(sim):
    return {"length": len(sim.trace), "ended": sim.ended, "waiting": sim.waiting, "pending": bool(sim.pending),
            "summary": sim.summary}


class Host:
    """The simulations of one web process, by the handle it gave each."""

    def __init__(self):
        self.sims, self.ended = {}, {}
        self.retired = []  # simulations let go of, freed once the answer is sent (``sweep``)

    def new(self, handle, slug, params, seed, faults, upto, since):
        """A fresh simulation of ``faults`` advanced to ``upto`` events; returns the events from ``since``."""
        self.close(handle)
        sim = simulations.get(slug).simulate(params, seed, faults)
        sim.advance(upto - len(sim.trace))
        return self.keep(handle, sim, since)

    def advance(self, handle, count):
        sim = self.sims.get(handle)
        if sim is None:
            return self.ended.get(handle) or {"length": 0, "ended": True, "waiting": False, "pending": False}, []
        since = len(sim.trace)
        sim.advance(count)
        return self.keep(handle, sim, since)

    def inject(self, handle, fault):
        sim = self.sims[handle]
        msg = fault.get("match", {}).get("msg")
        if msg is not None and msg not in sim.network.in_flight:
            raise NotInFlight(f"message {msg} is not in flight any more")
        since = len(sim.trace)
        fault = sim.inject(fault)
        state, events = self.keep(handle, sim, since)
        return state, events, fault

    def keep(self, handle, sim, since):
        state, events = info(sim), encoded(sim.trace[since:])
        if sim.ended:
            self.sims.pop(handle, None)
            self.ended[handle] = state
            self.retired.append(sim)
        else:
            self.sims[handle] = sim
        return state, events

    def close(self, handle):
        self.ended.pop(handle, None)
        sim = self.sims.pop(handle, None)
        if sim is not None:
            self.retired.append(sim)

    def sweep(self):
        while self.retired:
            dispose(self.retired.pop())


def dispose(sim):
    """Break the cycles of a simulation let go of (its nodes, its world and the kernel's callbacks all point
    back at it), so that reference counting frees it now."""
    for node in list(sim.nodes.values()):
        vars(node).clear()
    if hasattr(sim.world, "__dict__"):
        vars(sim.world).clear()
    vars(sim).clear()


def serve(conn):
    """The engine process's loop: until the web process goes (the pipe closes)."""
    gc.freeze()  # what is imported lives as long as the process
    gc.set_threshold(YOUNG, NEVER, NEVER)  # young collections only (the module's docstring)
    host = Host()
    while True:
        try:
            request_id, op, *args = conn.recv()
        except (EOFError, OSError):
            return
        try:
            result = getattr(host, op)(*args)
        except NotInFlight as e:
            conn.send((request_id, False, ("not_in_flight", str(e))))
        except Exception as e:  # a scenario's bug: the run that met it is told internal, the others go on
            conn.send((request_id, False, ("failed", f"{type(e).__name__}: {e}")))
        else:
            conn.send((request_id, True, result))
        host.sweep()
        if not host.sims and gc.get_count()[1]:
            gc.collect()  # nothing lives here now: a full collection is cheap

