"""What every scenario declares: its story, parameters, nodes, invariants and summary.

A scenario module subclasses ``Scenario`` and is listed in ``registry.py``;
nothing else needs to change to add one.
"""
from dataclasses import dataclass

from .engine import Simulation
from .faults import validate_faults
from .params import ParamError, parse_params


@dataclass(frozen=True)
class Invariant:
    name: str
    text: str


class Scenario:
    slug = ""
    title = ""
    summary_text = ""  # one line for the catalog
    teaches = ""  # what a learner takes away
    problem = ""  # the problem in a paragraph
    theory = ""  # the known result
    source = ""  # where the known result is published
    tick = "one message delay"
    params = ()
    invariants = ()
    bands = {}  # state key -> {value: tone or (tone, label)}: the coloured band along a lifeline (first key wins)
    max_events = 200_000
    max_time = 10_000_000  # ticks; raise it for scenarios whose clock is in milliseconds and spans days

    # -- declarations -----------------------------------------------------
    def nodes(self, params):
        """Node ids (or (id, label, group) tuples) for these parameters."""
        raise NotImplementedError

    def node_ids(self, params):
        return [n if isinstance(n, str) else n[0] for n in self.nodes(params)]

    def validate(self, params):
        """Cross-field checks and runaway refusals: raise ParamError. Called after each field is parsed."""

    # -- running ----------------------------------------------------------
    def setup(self, sim, params):
        """Return the node objects; may set network defaults and schedule initial work."""
        raise NotImplementedError

    def finish(self, sim, params):
        """Evaluate end-of-run invariants with ``sim.check``."""

    def summary(self, sim, params):
        """Scenario-specific summary fields, measured figures beside the theory."""
        return {}

    # -- entry points -----------------------------------------------------
    def parse(self, raw_params=None, faults=None):
        """Parse and bound parameters and a fault script: (params, faults) or ParamError."""
        params = parse_params(self.params, raw_params or {})
        self.validate(params)
        return params, validate_faults(faults, self.node_ids(params))

    def simulate(self, params, seed=0, faults=()):
        """A ready Simulation for parsed params; call ``run()`` or ``step()`` on it."""
        return Simulation(self, params, seed, faults, max_events=self.max_events, max_time=self.max_time)

    def run(self, raw_params=None, seed=0, faults=None):
        """Parse, run to the end and return the trace: the simplest way to use a scenario."""
        params, faults = self.parse(raw_params, faults)
        return self.simulate(params, seed, faults).run()

    def schema(self):
        defaults = {}
        out = []
        for p in self.params:
            defaults[p.name] = p.default_for(defaults)
            out.append(p.schema(defaults))
        return out

    def describe(self):
        return {"slug": self.slug, "title": self.title, "summary": self.summary_text, "teaches": self.teaches,
                "problem": self.problem, "theory": self.theory, "source": self.source, "tick": self.tick,
                "params": self.schema(),
                "invariants": [{"name": i.name, "text": i.text} for i in self.invariants]}


def refuse(field, message):
    raise ParamError({field: message})
