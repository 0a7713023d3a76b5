"""A run streaming to one connection: the engine ahead, the browser behind, the database in between."""
import asyncio
import logging
import secrets
import weakref

from django.db import DatabaseError, OperationalError

import simulations
from simulations.faults import validate_fault

from . import groupcommit, store
from .engines import engine_for
from .errors import BadFault, Forbidden, TakenOver, UnknownRun, UnknownScenario

MAX_BATCH = 2_000  # events in one frame to the browser
STRETCH = 500  # events the engine computes per request far ahead: each is saved while it computes the next
MAX_AHEAD = 10_000  # events the engine may compute and save ahead of the browser: one write at high speed
SAVE_WAIT = 2.0  # seconds a batch waits for the database before it is sent anyway
SAVE_RETRIES = 8  # attempts at a write while the database is locked or down (about 20 s), then give up
SAVE_DELAY = 0.2  # first pause between attempts, doubling up to 5 s
log = logging.getLogger(__name__)
_drivers = weakref.WeakValueDictionary()  # run id -> the LiveRun that drives it in this process
_compacting = set()  # compactions under way (held here: the loop keeps only weak references to tasks)


def scenario_for(slug):
    try:
        return simulations.get(slug)
    except KeyError:
        raise UnknownScenario(f"no scenario {slug[:60]!r}") from None


def checked_fault(raw_fault, node_ids):
    try:
        return validate_fault(raw_fault, node_ids)
    except ValueError as e:
        raise BadFault(str(e)) from None


class LiveRun:
    """Owns one run's simulation (runs.engines); hands out its events in batches, saving each before it leaves.

    While playing, the engine runs (and saves) up to ``ahead`` events beyond what the browser has, so
    the database sees one write every couple of seconds instead of one per batch; an intervention then
    rewinds the engine to the browser's step by re-executing (it is deterministic) and drops what was
    saved beyond it. This process holds only the events not yet sent (``buffer``); what was sent is read
    back from the store.
    """

    def __init__(self, run_id, scenario, params, seed, faults, token, engine, sent, saved, unsent):
        """``engine`` has produced ``unsent``, the events from seq ``sent`` on; ``saved`` are in the database."""
        self.id = run_id
        self.scenario, self.params, self.seed, self.faults = scenario, params, seed, faults
        self.engine = engine
        self.token = token
        self.sent = sent  # events handed to the browser
        self.buffer = list(unsent)  # events from seq ``sent`` on, produced and not yet sent
        self.saved = saved  # events queued for the database (always >= sent)
        self.durable = saved  # events the database has (or that it refused, said to the client: save_failed)
        self.saving = None  # the latest save under way: when it is done, all queued before it are too
        self.landed = asyncio.Event()  # set (and cleared at once) whenever a write lands: durable moved
        self.compacting = None
        self.chunks = None  # how many chunks the store holds the run in, when this process knows
        self.ahead = 1  # how far the engine may run ahead of the browser, in events
        self.injected = []  # live interventions as recorded, for exact re-execution
        self.unsaved = []  # sent or about to be sent, not yet in the database
        self.writer = asyncio.Lock()
        self.arrow_shown = False
        self.lagging = False  # the database is behind: send without waiting until it catches up
        self.stepping = asyncio.Lock()  # a rewind and the player's batches take turns
        self.refilling = None  # the engine computing ahead between batches; the next batch raises its failure
        self.lease = None  # this connection's right to write the run (a resume elsewhere takes it)
        self.taken = False  # another connection resumed the run: stop, write nothing more
        self.listener = None  # called with (code, message) when the client must hear of a failure

    def tell(self, code, message):
        if self.listener is not None:
            self.listener(self, code, message)

    def drive(self):
        """This LiveRun drives its run in this process now; an older one for the same run is told."""
        old = _drivers.get(self.id)
        _drivers[self.id] = self
        if old is not None and old is not self:
            old.lost()

    def lost(self):
        if not self.taken:
            self.taken = True
            self.unsaved.clear()
            self.tell("taken_over", "This run was resumed by another connection, which drives it now; "
                                    "this one has stopped.")

    @classmethod
    async def start(cls, slug, raw_params, seed, raw_faults, parent=None, branch_seq=None):
        """Validate a start request and create its Run; raises UnknownScenario or ParamError."""
        scenario = scenario_for(slug)
        params, faults = scenario.parse(raw_params, raw_faults)
        engine = engine_for(scenario, params, seed)
        first = await engine.new(faults)  # the init event: saved with the run, in one write
        run = await store.acreate_run(slug, params, seed, faults, parent, branch_seq, first[:1])
        live = cls(run.id, scenario, params, seed, faults, run.owner_key, engine, 0, len(first[:1]), first)
        live.lease, live.chunks = run.lease, 1
        live.drive()
        return live

    @classmethod
    async def resume(cls, run_id, token):
        """Take a run back after a lost connection, on any server: re-execute it up to what was saved
        (deterministic, so identical), off the event loop, then go on from there. The newest connection
        owns the run: resuming takes its lease, and an older connection still driving it is told
        ``taken_over`` and stops. Raises UnknownRun, Forbidden or Busy."""
        run = await store.aget_run(run_id)
        if run is None:
            raise UnknownRun(f"no run {run_id[:32]!r}")
        if not token or not secrets.compare_digest(run.owner_key, token):
            raise Forbidden("only the browser that started a run can resume it")
        scenario = scenario_for(run.scenario)
        run, lease = await store.atake_over(run.id)  # from here the older connection writes nothing
        engine = engine_for(scenario, run.params, run.seed)
        unsent = await engine.new(run.all_faults, run.event_count, run.event_count)
        sent = min(run.event_count, engine.length)
        live = cls(run.id, scenario, run.params, run.seed, run.faults, run.owner_key, engine, sent, sent, unsent)
        live.injected = list(run.interventions)
        live.lease = lease
        live.drive()
        return live

    async def events(self, start):
        """Events already sent, from seq ``start``: what a reconnecting browser missed (from the store)."""
        events, _ = await store.aevents_from(self.id, start)
        return [e for e in events if e[0] < self.sent]

    @classmethod
    async def branch(cls, run_id, seq, raw_fault):
        """A new run from step ``seq`` of a saved one: same seed, the interventions before that step, and
        ``raw_fault`` applied there; the shared past is re-executed off the event loop. Raises UnknownRun,
        BadFault, ParamError or Busy."""
        parent = await store.aget_run(run_id)
        if parent is None:
            raise UnknownRun(f"no run {run_id[:32]!r}")
        if not 1 <= seq <= parent.event_count:
            raise BadFault(f"seq must be from 1 to {parent.event_count}")
        scenario = scenario_for(parent.scenario)
        fault = checked_fault(raw_fault, scenario.node_ids(parent.params))
        if "at" in fault or "seq" in fault:
            raise BadFault("the new intervention applies at the branch point: leave out at and seq")
        before = [f for f in parent.all_faults if f.get("seq", 0) < seq or "seq" not in f]
        live = await cls.start(parent.scenario, parent.params, parent.seed, before + [{**fault, "seq": seq}],
                               parent=parent.id, branch_seq=seq)
        live.buffer = await live.engine.new(before + [{**fault, "seq": seq}], seq)  # the browser gets seq + 1 at once
        return live

    async def until_first_arrow(self, limit):
        """Before the first arrow: how many events up to and including the first send (at most ``limit``)."""
        if self.arrow_shown:
            return 1
        async with self.stepping:  # not while computing ahead from the last play goes on
            if len(self.buffer) < limit and not self.engine.ended:
                self.buffer += await self.engine.advance(limit - len(self.buffer))
        for i, (_, kind, _) in enumerate(self.buffer[:limit]):
            if kind == "send":
                return i + 1
        return 1

    @property
    def produced(self):
        """Events the engine has produced: the browser's and those ahead of it."""
        return self.sent + len(self.buffer)

    @property
    def pending(self):
        """Recorded interventions not yet applied: a branch shows its change before it pauses."""
        return self.engine.pending

    @property
    def waiting(self):
        """Everything sent, and the network held: the learner picks what arrives next."""
        return self.engine.waiting and not self.buffer

    @property
    def ended(self):
        return self.engine.ended and not self.buffer

    def close(self):
        """The connection is done with this run: its engine lets the simulation go."""
        if self.refilling is not None:
            self.refilling.cancel()
        self.engine.close()

    @property
    def seq(self):
        """The seq of the last event sent, -1 before any."""
        return self.sent - 1

    async def inject(self, raw_fault):
        """Apply a learner's intervention at the step the browser shows; raises ValueError when it does
        not fit this run (BadFault); the rewind runs off the event loop (Busy when the pool is full)."""
        if self.taken:
            raise TakenOver("another connection resumed this run and drives it now")
        if self.ended:
            raise BadFault("the run has ended")
        fault = checked_fault(raw_fault, self.scenario.node_ids(self.params))
        if "at" in fault or "seq" in fault:
            raise BadFault("a live intervention applies now: leave out at and seq")
        async with self.stepping:
            await self.rewind()
            fault, events = await self.engine.inject(fault)  # BadFault when its message has gone meanwhile
            self.buffer += events
            self.injected.append(fault)
            return fault

    async def rewind(self):
        """Bring the engine back to the browser's step: re-execute to the first step boundary from there
        (the same events, by determinism) and forget what was saved beyond it."""
        if not self.buffer:
            return
        self.buffer = await self.engine.new(self.faults + self.injected, self.sent, self.sent)
        keep = self.produced
        async with self.writer:
            self.unsaved = [e for e in self.unsaved if e[0] < keep]
            if self.saved > keep:
                await store.atruncate(self.id, keep, self.lease)
                self.chunks = None
            self.saved, self.durable = min(self.saved, keep), min(self.durable, keep)

    async def take(self, count):
        """The next ``count`` events (fewer at the end), saved before they are returned. While playing, once
        three quarters of what is saved ahead have been sent, the next stretch is computed and saved in the
        background (``refill``), so a batch seldom waits for the engine or the database: beside 500 live
        runs, the engine's answer took up to 140 ms, every few batches. What the batch itself needs and
        is not computed yet is computed now: far ahead (a fast run), in STRETCHes, each saved while the
        engine computes the next."""
        async with self.stepping:
            if self.refilling is not None and self.refilling.done():
                refilled, self.refilling = self.refilling, None
                refilled.result()  # what failed while computing ahead is raised here
            end = self.sent + min(count, MAX_BATCH)
            if end > self.saved:
                await self.compute(max(end, self.sent + self.ahead))
            elif self.saved - end < self.ahead // 4 and self.refilling is None:
                self.refilling = asyncio.ensure_future(self.refill())
            await self.until_saved(end)
            return self.hand_out(end)

    async def compute(self, target):
        """Run the engine up to ``target`` events (or its end), queueing each stretch for the database."""
        while self.produced < target and not self.engine.ended:
            events = await self.engine.advance(min(STRETCH, target - self.produced))
            if not events:
                break  # the network is held: the learner picks what arrives next
            self.buffer += events
            self.queue_save(self.produced)
        self.queue_save(self.produced)  # what was computed before (the start's, an intervention's)

    async def refill(self):
        """Compute and save ahead between two batches; a failure reaches the next ``take``."""
        async with self.stepping:
            await self.compute(self.sent + self.ahead)

    async def flush(self):
        """Everything the engine has produced beyond what was sent: after an intervention, shown at once."""
        async with self.stepping:
            self.queue_save(self.produced)
            await self.until_saved(self.produced)
            return self.hand_out(self.produced)

    def hand_out(self, upto):
        batch = self.buffer[:upto - self.sent]
        del self.buffer[:len(batch)]
        self.sent += len(batch)
        self.arrow_shown = self.arrow_shown or any(kind == "send" for _, kind, _ in batch)
        return batch

    def queue_save(self, upto):
        """Queue the events up to ``upto`` for the database and start writing them."""
        if self.taken:
            raise TakenOver("another connection resumed this run and drives it now")
        new = self.buffer[self.saved - self.sent:upto - self.sent]
        if new:
            self.saved = upto
            self.unsaved.extend(new)
            self.saving = asyncio.ensure_future(self.save())

    async def until_saved(self, upto):
        """Wait until the database has the events before ``upto``, so a browser never holds an event the
        database lacks; when the database is locked or down, go on after SAVE_WAIT and let the writer catch
        up later."""
        try:
            async with asyncio.timeout(SAVE_WAIT):
                while upto > self.durable and self.saving is not None and not self.lagging:
                    if self.saving.done():
                        self.saving.result()  # a write that crashed says so here (the play task reports it)
                        break
                    await self.landed.wait()  # a write landed (the first may be all this batch needs)
        except TimeoutError:
            self.lagging = True
            log.warning("run %s: the database is slow; streaming on, saving later", self.id)
        if self.taken:
            raise TakenOver("another connection resumed this run and drives it now")

    async def save(self):
        """Write every unsaved event, one writer at a time (``write``); whatever happens, those waiting for a
        write hear that this one is over."""
        try:
            async with self.writer:
                await self.write()
        finally:
            self.wake_waiters()  # (with nothing to write, this save may be the one they wait for)

    async def write(self):
        """A locked or unreachable database (OperationalError) is retried SAVE_RETRIES times with backoff;
        then, or at once for any other database error (an IntegrityError is never retried), the failure is
        logged, the client told ``save_failed`` and the events dropped from the queue: the stream goes on,
        unsaved."""
        delay, failures = SAVE_DELAY, 0
        while self.unsaved and not self.taken:
            events = self.unsaved[:MAX_AHEAD]  # bounded: encoding holds the GIL for a whole write
            summary = self.engine.summary if events[-1][1] == "end" else None
            try:
                await groupcommit.append(self.id, events, self.injected, summary, self.lease)
                self.durable = max(self.durable, events[-1][0] + 1)
                if self.chunks is not None:
                    self.chunks += -(-len(events) // store.CHUNK)
                if summary is not None and (self.chunks is None or store.in_small_chunks(self.chunks,
                                                                                        self.durable)):
                    self.compact_later()
            except TakenOver:
                self.lost()
                break
            except OperationalError as e:
                failures += 1
                if failures < SAVE_RETRIES:
                    log.warning("run %s: saving %d events failed (%s); retry %d of %d in %.1f s", self.id,
                                len(events), e, failures, SAVE_RETRIES - 1, delay)
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 5)
                    continue
                self.gave_up(events, e)
            except DatabaseError as e:
                self.gave_up(events, e)
            del self.unsaved[:len(events)]
            self.wake_waiters()
        self.lagging = False

    def wake_waiters(self):
        self.landed.set()
        self.landed.clear()

    def compact_later(self):
        """The finished run in a few well-compressed chunks, while its end is already on its way."""
        self.compacting = asyncio.ensure_future(self.compact())
        _compacting.add(self.compacting)
        self.compacting.add_done_callback(_compacting.discard)

    async def settled(self):
        """Wait until what was computed is stored (the write under way, and once the run has ended its
        compaction): a status says where the run stands, saved. Not while the database lags."""
        if self.saving is not None and not self.lagging:
            await asyncio.shield(self.saving)
        if self.compacting is not None and not self.lagging:  # the last write started it
            await asyncio.shield(self.compacting)

    async def compact(self):
        try:
            await store.acompact(self.id)
        except DatabaseError as e:
            log.warning("run %s: compacting failed, it stays in more chunks: %r", self.id, e)

    def gave_up(self, events, error):
        first, last = events[0][0], events[-1][0]
        self.durable = max(self.durable, last + 1)  # dropped, and the client told so
        log.error("run %s: could not save events %d to %d, giving up: %r", self.id, first, last, error)
        self.tell("save_failed", f"The database did not take steps {first} to {last}: "
                                 "they are shown but not saved, so the saved run may stop short of them.")

