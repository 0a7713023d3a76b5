"""A run streaming to one connection: the engine ahead, the browser behind, the database in between."""
import asyncio
import logging
import secrets

from django.db import DatabaseError

import simulations
from simulations.faults import validate_fault

from . import store

MAX_BATCH = 2_000
SAVE_WAIT = 2.0  # seconds a batch waits for the database before it is sent anyway
log = logging.getLogger(__name__)


class LiveRun:
    """Owns one Simulation; hands out its trace in batches, saving each before it leaves.

    While playing, the engine runs (and saves) up to ``ahead`` events beyond what the browser has, so
    the database sees one write every couple of seconds instead of one per batch; an intervention then
    rewinds the engine to the browser's step by re-executing (it is deterministic) and drops what was
    saved beyond it.
    """

    def __init__(self, run_id, scenario, params, seed, faults, token=None):
        self.id = run_id
        self.scenario, self.params, self.seed, self.faults = scenario, params, seed, faults
        self.sim = scenario.simulate(params, seed, faults)
        self.token = token
        self.sent = 0  # events handed to the browser
        self.saved = 0  # events queued for the database (always >= sent)
        self.ahead = 1  # how far the engine may run ahead of the browser, in events
        self.injected = []  # live interventions as recorded, for exact re-execution
        self.unsaved = []  # sent or about to be sent, not yet in the database
        self.writer = asyncio.Lock()
        self.arrow_shown = False
        self.lagging = False  # the database is behind: send without waiting until it catches up

    @classmethod
    async def start(cls, slug, raw_params, seed, raw_faults, parent=None, branch_seq=None):
        """Validate a start request and create its Run; raises KeyError or ParamError."""
        scenario = simulations.get(slug)
        params, faults = scenario.parse(raw_params, raw_faults)
        run = await store.acreate_run(slug, params, seed, faults, parent, branch_seq)
        return cls(run.id, scenario, params, seed, faults, run.owner_key)

    @classmethod
    async def resume(cls, run_id, token):
        """Take a run back after a lost connection, on any server: re-execute it up to what was saved
        (deterministic, so identical), then go on from there. Raises LookupError or PermissionError."""
        run = await store.aget_run(run_id)
        if run is None:
            raise LookupError(f"no run {run_id[:32]!r}")
        if not token or not secrets.compare_digest(run.owner_key, token):
            raise PermissionError("only the browser that started a run can resume it")
        scenario = simulations.get(run.scenario)
        live = cls(run.id, scenario, run.params, run.seed, run.faults, run.owner_key)
        live.injected = list(run.interventions)
        live.sim = scenario.simulate(run.params, run.seed, run.all_faults)
        live.sim.advance(run.event_count - len(live.sim.trace))
        live.sent = live.saved = min(run.event_count, len(live.sim.trace))
        await store.aset_status(run.id, run.Status.RUNNING)
        return live

    def events(self, start):
        """Events already sent, from seq ``start``: what a reconnecting browser missed."""
        return self.sim.trace[start:self.sent]

    @classmethod
    async def branch(cls, run_id, seq, raw_fault):
        """A new run from step ``seq`` of a saved one: same seed, the interventions before that step, and
        ``raw_fault`` applied there. Raises LookupError or ValueError."""
        parent = await store.aget_run(run_id)
        if parent is None:
            raise LookupError(f"no run {run_id[:32]!r}")
        if not 1 <= seq <= parent.event_count:
            raise ValueError(f"seq must be from 1 to {parent.event_count}")
        scenario = simulations.get(parent.scenario)
        fault = validate_fault(raw_fault, scenario.node_ids(parent.params))
        if "at" in fault or "seq" in fault:
            raise ValueError("the new intervention applies at the branch point: leave out at and seq")
        before = [f for f in parent.all_faults if f.get("seq", 0) < seq or "seq" not in f]
        return await cls.start(parent.scenario, parent.params, parent.seed, before + [{**fault, "seq": seq}],
                               parent=parent.id, branch_seq=seq)

    def until_first_arrow(self, limit=64):
        """Before the first arrow: how many events up to and including the first send (at most ``limit``)."""
        if self.arrow_shown:
            return 1
        trace = self.sim.trace
        for i in range(self.sent, self.sent + limit):
            while i >= len(trace) and self.sim.step():
                pass
            if i >= len(trace) or trace[i]["kind"] == "send":
                return i - self.sent + 1
        return 1

    @property
    def pending(self):
        """Recorded interventions not yet applied: a branch shows its change before it pauses."""
        return bool(self.sim.pending)

    @property
    def waiting(self):
        """Everything sent, and the network held: the learner picks what arrives next."""
        return self.sim.waiting and self.sent == len(self.sim.trace)

    @property
    def ended(self):
        return self.sim.ended and self.sent == len(self.sim.trace)

    @property
    def seq(self):
        """The seq of the last event sent, -1 before any."""
        return self.sent - 1

    async def inject(self, raw_fault):
        """Apply a learner's intervention at the step the browser shows; raises ValueError when it does
        not fit this run."""
        if self.sim.ended and self.sent == len(self.sim.trace):
            raise ValueError("the run has ended")
        fault = validate_fault(raw_fault, list(self.sim.nodes))
        if "at" in fault or "seq" in fault:
            raise ValueError("a live intervention applies now: leave out at and seq")
        await self.rewind()
        msg = fault.get("match", {}).get("msg")
        if msg is not None and msg not in self.sim.network.in_flight:
            raise ValueError(f"message {msg} is not in flight any more")
        fault = self.sim.inject(fault)
        self.injected.append(fault)
        return fault

    async def rewind(self):
        """Bring the engine back to the browser's step: re-execute to the first step boundary from there
        (the same events, by determinism) and forget what was saved beyond it."""
        if len(self.sim.trace) == self.sent:
            return
        sim = self.scenario.simulate(self.params, self.seed, self.faults + self.injected)
        sim.advance(self.sent - len(sim.trace))
        keep = len(sim.trace)
        async with self.writer:
            self.unsaved = [e for e in self.unsaved if e["seq"] < keep]
            if self.saved > keep:
                await store.atruncate(self.id, keep)
            self.saved = min(self.saved, keep)
        self.sim = sim

    async def take(self, count):
        """The next ``count`` events (fewer at the end), saved before they are returned."""
        end = self.sent + min(count, MAX_BATCH)
        if end > self.saved:
            self.sim.advance(max(end, self.sent + self.ahead) - len(self.sim.trace))
            await self.persist(len(self.sim.trace))
        return self.hand_out(end)

    async def flush(self):
        """Everything the engine has produced beyond what was sent: after an intervention, shown at once."""
        await self.persist(len(self.sim.trace))
        return self.hand_out(len(self.sim.trace))

    def hand_out(self, upto):
        batch = self.sim.trace[self.sent:upto]
        self.sent += len(batch)
        self.arrow_shown = self.arrow_shown or any(e["kind"] == "send" for e in batch)
        return batch

    async def persist(self, upto):
        """Queue events up to ``upto`` for the database and wait for them, so a browser never holds an
        event the database lacks; when the database is locked or down, go on after SAVE_WAIT and let the
        writer catch up later."""
        new = self.sim.trace[self.saved:upto]
        if not new:
            return
        self.saved = upto
        self.unsaved.extend(new)
        saving = asyncio.ensure_future(self.save())
        if not self.lagging:
            try:
                await asyncio.wait_for(asyncio.shield(saving), SAVE_WAIT)
            except TimeoutError:
                self.lagging = True
                log.warning("run %s: the database is slow; streaming on, saving later", self.id)

    async def save(self):
        """Write every unsaved event, one writer at a time, retrying until the database answers."""
        async with self.writer:
            delay = 0.2
            while self.unsaved:
                events = list(self.unsaved)
                summary = self.sim.summary if events[-1]["kind"] == "end" else None
                try:
                    await store.aappend(self.id, events, self.injected, summary)
                except DatabaseError as e:
                    log.warning("run %s: saving %d events failed (%s); retrying", self.id, len(events), e)
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 5)
                    continue
                del self.unsaved[:len(events)]
            self.lagging = False

