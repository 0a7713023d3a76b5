"""A run streaming to one connection: the engine ahead, the browser behind, the database in between."""
import simulations
from simulations.faults import validate_fault
from simulations.params import ParamError

from . import store

MAX_BATCH = 2_000


class LiveRun:
    """Owns one Simulation; hands out its trace in batches, saving each before it leaves."""

    def __init__(self, run_id, sim):
        self.id = run_id
        self.sim = sim
        self.sent = 0  # trace events already saved and sent
        self.injected = []  # live interventions as recorded, for exact re-execution

    @classmethod
    async def start(cls, slug, raw_params, seed, raw_faults, parent=None, branch_seq=None):
        """Validate a start request and create its Run; raises KeyError or ParamError."""
        scenario = simulations.get(slug)
        params, faults = scenario.parse(raw_params, raw_faults)
        run = await store.acreate_run(slug, params, seed, faults, parent, branch_seq)
        return cls(run.id, scenario.simulate(params, seed, faults))

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

    def inject(self, raw_fault):
        """Apply a learner's intervention now; raises ValueError when it does not fit this run."""
        if self.sim.ended:
            raise ValueError("the run has ended")
        fault = validate_fault(raw_fault, list(self.sim.nodes))
        if "at" in fault or "seq" in fault:
            raise ValueError("a live intervention applies now: leave out at and seq")
        msg = fault.get("match", {}).get("msg")
        if msg is not None and msg not in self.sim.network.in_flight:
            raise ValueError(f"message {msg} is not in flight any more")
        fault = self.sim.inject(fault)
        self.injected.append(fault)
        return fault

    async def take(self, count):
        """The next ``count`` events (fewer at the end), saved before they are returned."""
        count = min(count, MAX_BATCH)
        self.sim.advance(self.sent + count - len(self.sim.trace))
        return await self.flush(self.sent + count)

    async def flush(self, upto=None):
        """Save and return whatever the engine has produced beyond what was sent (up to ``upto``)."""
        trace = self.sim.trace
        batch = trace[self.sent:upto]
        if not batch:
            return []
        summary = self.sim.summary if batch[-1]["kind"] == "end" else None
        await store.aappend(self.id, batch, self.injected, summary)
        self.sent += len(batch)
        return batch


__all__ = ["LiveRun", "ParamError"]
