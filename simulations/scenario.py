"""What every scenario declares: its story, parameters, nodes, invariants and summary.

A scenario module subclasses ``Scenario`` and is listed in ``registry.py``;
nothing else needs to change to add one.
"""
from dataclasses import dataclass
from typing import Any, Callable

from .engine import Simulation
from .faults import validate_faults
from .params import ParamError, parse_params


@dataclass(frozen=True)
class Invariant:
    """A promise the run is checked against. ``violation``, when given, reads the run's world (never the trace)
    and returns a sentence saying how the promise is broken, or None while it holds; the engine evaluates it
    after every step (``Simulation.verify``), unless ``each_step`` is False: the scenario then calls
    ``sim.verify()`` itself right after every change to the world that can break the promise."""

    name: str
    text: str
    violation: Callable[[Any], str | None] | None = None
    each_step: bool = True


@dataclass(frozen=True)
class Choice:
    """A decision a search may take besides faults, such as a traitor's answer: its position in the run,
    what this run took there, the other values it may take, and each value in words."""
    position: int
    taken: str
    values: tuple
    what: str
    words: dict


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
    version = 1  # bumped when the same inputs give another trace, so that runs saved before can be told apart
    search_kinds = None  # what "Find a way to break it" tries unless told (simulations/explore.py): None for all

    # -- declarations -----------------------------------------------------
    def nodes(self, params):
        """Node ids (or (id, label, group) tuples) for these parameters."""
        raise NotImplementedError

    def node_ids(self, params):
        return [n if isinstance(n, str) else n[0] for n in self.nodes(params)]

    def validate(self, params):
        """Cross-field checks and runaway refusals: raise ParamError. Called after each field is parsed."""

    # -- running ----------------------------------------------------------
    def world(self, params):
        """The run's shared ground truth (a ledger, a stock count, a database), built fresh for every run and
        reachable as ``sim.world`` by nodes and invariants; None when the scenario keeps none."""
        return None

    def setup(self, sim, params):
        """Return the node objects; may set network defaults and schedule initial work."""
        raise NotImplementedError

    def finish(self, sim, params):
        """Evaluate end-of-run invariants with ``sim.check``."""

    def summary(self, sim, params):
        """Scenario-specific summary fields, measured figures beside the theory."""
        return {}

    # -- the outcome, in words --------------------------------------------
    def headline(self, sim, params):
        """One sentence saying what happened in this run and why; ``sim.summary`` holds the measured figures."""
        broken = violation_clause(sim)
        return (f"Ended at t={sim.now}: {plural(sim.network.sent, 'message')}; "
                f"{broken or 'no invariant broken'}.")

    def known(self, sim, params):
        """The known result beside this run's figure: a list of ``known_row`` dicts, never contradicting the run."""
        return []

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

    # -- search (simulations/explore.py) ----------------------------------
    def choice_points(self, sim):
        """The ``Choice`` points of a finished run; most scenarios have none, only faults."""
        return []

    def with_choices(self, params, picks):
        """``params`` made to take ``picks`` ({position: value}) at the run's choice points."""
        return params

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
                "version": self.version,
                "params": self.schema(),
                "invariants": [{"name": i.name, "text": i.text} for i in self.invariants]}


def refuse(field, message):
    raise ParamError({field: message})


def known_row(quantity, known, measured, agrees=None, assumes=None):
    """One line of the known-versus-measured table; ``agrees`` is None when the theory does not apply to this run,
    and ``assumes`` then says what the theory assumes that the run does not give it."""
    return {"quantity": quantity, "known": known, "measured": measured,
            "agrees": None if agrees is None else bool(agrees), "assumes": assumes}


def first_violation(sim):
    """(name, t, detail) of the invariant this run broke first, or None."""
    for name, detail in sim.violations.items():
        return name, sim.violated_at.get(name, sim.now), detail
    return None


def violation_clause(sim):
    """"name is violated at t=..." for the first broken invariant, or "" when none is."""
    first = first_violation(sim)
    return f"{first[0]} is violated at t={first[1]}" if first else ""


def plural(count, word, many=None):
    return f"{count} {word if count == 1 else many or word + 's'}"


def words(items, last="and"):
    """["a", "b", "c"] -> "a, b and c"."""
    items = [str(i) for i in items]
    if len(items) < 2:
        return "".join(items)
    return f"{', '.join(items[:-1])} {last} {items[-1]}"


def some(items, most=3):
    """Like ``words`` but names at most ``most`` items: "a, b, c and 7 more"."""
    items = list(items)
    if len(items) <= most:
        return words(items)
    return f"{', '.join(map(str, items[:most]))} and {len(items) - most} more"


def fault_words(sim):
    """What the fault script and live interventions did to this run, as short phrases ("dropped ACK 2")."""
    if not sim.interventions:
        return []
    sends, phrases = {}, []

    def label(msg_id):
        send = sends.get(msg_id)
        return send and f"{send['label']} ({send['src']}→{send['dst']})"

    for event in sim.trace:
        kind = event["kind"]
        if kind == "send":
            sends[event["msg"]] = event
        elif kind == "drop" and event["reason"] == "manual":
            phrases.append(f"dropped {label(event['msg']) or 'a message'}")
        elif kind == "fault":
            fault = event["fault"]
            action = fault["action"]
            if action in ("crash", "recover"):
                phrases.append(f"{'crashed' if action == 'crash' else 'recovered'} {fault['node']} at t={event['t']}")
            elif action == "loss":
                phrases.append(f"set random loss to {fault['rate']}")
            elif action == "partition":
                phrases.append(f"cut the network at t={event['t']}")
            elif action == "hold":
                phrases.append("let the learner deliver messages by hand")
            elif action in ("delay", "duplicate"):
                match = fault.get("match", {})
                what = label(match.get("msg")) or match.get("label") or "a message"
                phrases.append(f"{'delayed' if action == 'delay' else 'duplicated'} {what}")
    unique = []
    for phrase in phrases:
        if phrase not in unique:
            unique.append(phrase)
    return unique


def faulted(sim, because="this run's fault script", most=3):
    """"this run's fault script dropped ACK 2" when interventions changed the run, else ""."""
    done = fault_words(sim)
    if not done:
        return ""
    return f"{because} {words(done[:most])}" + (" and more" if len(done) > most else "")
