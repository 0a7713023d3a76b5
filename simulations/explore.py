"""Is there any way to break it? A breadth-first search over bounded perturbations of one set-up.

A perturbation is an ordinary fault-script entry (drop, duplicate or delay the nth message with a given
label, source and destination; reorder, a delay that lets the next message to the same node arrive first,
"you are the network" picking which in-flight message is delivered next; crash a node at a tick) or, where a scenario declares ``choice_points``, a
choice such as a traitor's answer. Candidates come from the trace of the run they perturb: each message it
sent, each tick at which a node took a step. Level d runs the sets of d perturbations grown from the runs
of level d-1, so the first run that reaches the goal has the fewest perturbations, and it is an ordinary
run (params, seed, fault script) that anyone can replay.

The state of a run, for pruning, is a digest of what it did, in order: its trace without sequence numbers and
ticks, fault announcements and the end summary (which restate the script and the checks), plus the rules of
its script that never fired. Runs with equal states did the same things in the same order, only faster or
slower; a further perturbation is taken to act on them alike, so only the first is grown. (Ticks are left out
on purpose: a delay that reorders nothing makes no new state.)

Pure like the rest of ``simulations``: no clock. The caller bounds the time through ``stop``, asked before
every run, which also cancels.
"""
import hashlib
import json
from dataclasses import dataclass, field

from .params import ParamError, to_text
from .scenario import plural, words

KINDS = ("drop", "duplicate", "delay", "reorder", "crash", "choice")
PLAINEST = ("drop", "crash", "delay", "duplicate")  # the order candidates of one depth are tried in
MAX_RUNS = 100_000
MAX_FAULTS = 6
MAX_DELAYS = 8
GOALS = "invariant, invariant:NAME or outcome:FIELD=VALUE"


@dataclass(frozen=True)
class Goal:
    """What the search looks for: any broken invariant, a named one, or a summary field taking a value."""

    kind: str = "invariant"
    name: str = ""
    value: str = ""

    def reached(self, summary):
        """What this run reached ("IC2", "outcome=lone_attack"), or "" if it did not."""
        if self.kind == "invariant":
            broken = summary["violations"]
            if self.name:
                return self.name if self.name in broken else ""
            return broken[0] if broken else ""
        return f"{self.name}={self.value}" if to_text(lookup(summary, self.name)) == self.value else ""

    def __str__(self):
        if self.kind == "invariant":
            return f"invariant:{self.name}" if self.name else "invariant"
        return f"outcome:{self.name}={self.value}"

    def kept(self):
        """What holds when the goal is never reached: "keep every invariant", "never reach outcome=x"."""
        if self.kind == "invariant":
            return f"keep {self.name or 'every invariant'}"
        return f"never reach {self.name}={self.value}"


def lookup(summary, name):
    """A summary field by dotted name ("theory.q"), or None."""
    value = summary
    for part in name.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def parse_goal(scenario, text):
    """``invariant``, ``invariant:NAME`` or ``outcome:FIELD=VALUE`` as a Goal, or ParamError on ``goal``."""
    text = (text or "invariant").strip()
    kind, _, rest = text.partition(":")
    if kind == "invariant":
        names = [i.name for i in scenario.invariants]
        if rest and rest not in names:
            raise ParamError({"goal": f"unknown invariant {rest[:40]!r}; {scenario.slug} has {', '.join(names)}"})
        return Goal("invariant", rest)
    if kind == "outcome":
        name, sep, value = rest.partition("=")
        if not sep or not name.strip():
            raise ParamError({"goal": "outcome takes FIELD=VALUE, a field of the run's summary (outcome=lone_attack)"})
        return Goal("outcome", name.strip(), value.strip())
    raise ParamError({"goal": f"must be {GOALS}, got {text[:40]!r}"})


def parse_kinds(raw):
    """A comma-separated list (or a list) of perturbation kinds, or ParamError on ``kinds``."""
    items = [k.strip() for k in raw.split(",") if k.strip()] if isinstance(raw, str) else list(raw or ())
    unknown = [k for k in items if k not in KINDS]
    if not items or unknown:
        raise ParamError({"kinds": f"choose among {', '.join(KINDS)}" + (f"; not {unknown[0]!r}" if unknown else "")})
    return tuple(k for k in KINDS if k in items)


def parse_delays(raw):
    """A comma-separated list (or a list) of at most MAX_DELAYS delays in ticks, or ParamError on ``delays``."""
    try:
        items = [int(d) for d in raw.split(",") if d.strip()] if isinstance(raw, str) else [int(d) for d in raw]
    except (TypeError, ValueError):
        raise ParamError({"delays": "must be whole numbers of ticks, comma-separated"}) from None
    if not 1 <= len(items) <= MAX_DELAYS or not all(1 <= d <= 10**6 for d in items):
        raise ParamError({"delays": f"1 to {MAX_DELAYS} delays, each from 1 to 1000000 ticks"})
    return tuple(sorted(set(items)))


def default_kinds(scenario):
    """What a search tries unless told: the scenario's ``search_kinds`` (the faults its theorem is about), else all."""
    return tuple(scenario.search_kinds or KINDS)


def check_budget(max_faults, max_runs):
    for name, value, most in (("max_faults", max_faults, MAX_FAULTS), ("max_runs", max_runs, MAX_RUNS)):
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= most:
            raise ParamError({name: f"must be a whole number from 1 to {most:,}"})


def default_delays(trace):
    """1, 4, 16, ... ticks up to the first past the run's end: short enough to reorder neighbours,
    long enough to outlast any timeout the run used."""
    end, delays = max(trace[-1]["t"], 1), [1]
    while delays[-1] < end and len(delays) < MAX_DELAYS:
        delays.append(delays[-1] * 4)
    return tuple(delays)


def canon(perturbation):
    return json.dumps(perturbation, sort_keys=True, separators=(",", ":"))


def state_of(sim):
    """A digest of what the run did (see the module's docstring)."""
    h = hashlib.blake2b(digest_size=16)
    dumps = json.JSONEncoder(sort_keys=True, separators=(",", ":")).encode
    for event in sim.trace:
        kind = event["kind"]
        if kind in ("fault", "end"):
            continue
        h.update(dumps([kind, *(v for k, v in event.items() if k not in ("seq", "t", "kind"))]).encode())
    h.update(dumps(sorted(canon(fault) + str(left) for fault, left in sim.network.rules)).encode())
    return h.digest()


def ordinal(n):
    return f"{n}{'th' if 10 <= n % 100 <= 20 else {1: 'st', 2: 'nd', 3: 'rd'}.get(n % 10, 'th')}"


@dataclass
class Result:
    """What a search found or covered; ``as_dict`` is what the CLI, the page and the job store show."""

    goal: Goal
    found: bool = False
    reached: str = ""
    runs: int = 0
    states: int = 0
    depth: int = 0
    max_faults: int = 0
    complete: bool = False
    stopped: str = ""
    by_depth: dict = field(default_factory=dict)
    perturbations: list = field(default_factory=list)
    steps: list = field(default_factory=list)
    params: dict = field(default_factory=dict)
    seed: int = 0
    faults: list = field(default_factory=list)
    kinds: tuple = ()
    delays: tuple = ()

    def report(self):
        states = plural(self.states, "distinct state")
        if self.found:
            what = (f"Broken: {self.reached} is violated" if self.goal.kind == "invariant" else
                    f"Reached {self.reached}")
            if not self.steps:
                return f"{what} by the set-up as it is, with no perturbation."
            return (f"{what} after {plural(len(self.steps), 'perturbation')}: {words(self.steps)}. "
                    f"Found in {plural(self.runs, 'run')} ({states}).")
        kinds = words(list(self.kinds), "or")
        if self.complete:
            return (f"Not broken: all {plural(self.runs, 'run')} with up to {plural(self.max_faults, 'perturbation')} "
                    f"({kinds}) {self.goal.kept()}; {states}.")
        why = {"max_runs": "the run budget was spent", "time": "the time budget was spent",
               "cancelled": "the search was cancelled"}.get(self.stopped, self.stopped)
        return (f"Nothing found before {why}: {plural(self.runs, 'run')} ({states}) covered every way to apply up "
                f"to {plural(max(self.depth - 1, 0), 'perturbation')} and part of those with {self.depth}; "
                "no claim beyond that.")

    def as_dict(self):
        return {"found": self.found, "goal": str(self.goal), "reached": self.reached, "runs": self.runs,
                "states": self.states, "depth": self.depth, "max_faults": self.max_faults, "complete": self.complete,
                "stopped": self.stopped, "by_depth": dict(self.by_depth), "perturbations": list(self.perturbations),
                "steps": list(self.steps), "params": dict(self.params), "seed": self.seed, "faults": list(self.faults),
                "kinds": list(self.kinds), "delays": list(self.delays), "report": self.report()}


class Search:
    """One search: ``run()`` returns a Result. ``kinds`` defaults to the scenario's ``search_kinds``;
    ``progress`` gets a dict (runs, states, depth) every ``every`` runs; ``stop()`` returns a reason ("time",
    "cancelled") to end the search early, or None."""

    def __init__(self, scenario, params, seed=0, faults=(), goal=Goal(), max_faults=1, max_runs=1000,
                 kinds=None, delays=None, stop=None, progress=None, every=100):
        check_budget(max_faults, max_runs)
        self.scenario, self.params, self.seed, self.faults = scenario, params, seed, list(faults)
        self.goal, self.max_faults, self.max_runs = goal, max_faults, max_runs
        self.kinds = parse_kinds(kinds if kinds is not None else default_kinds(scenario))
        self.delays = parse_delays(delays) if delays is not None else None
        self.stop, self.progress, self.every = stop, progress, every
        self.baseline = {}  # choice position -> what the unperturbed run took there
        self.points = {}  # choice position -> Choice, to say a pick in words
        self.overtakes = {}  # canon of a reorder's delay -> the message that overtakes, to say it in words
        self.seen, self.tried = set(), set()
        self.runs, self.depth, self.by_depth = 0, 0, {}

    # -- running one set of perturbations ------------------------------------
    def setup(self, perturbations):
        """(params, faults) of the run with these perturbations: an ordinary set-up."""
        picks = {p["choice"]: p["value"] for p in perturbations if "choice" in p}
        params = self.scenario.with_choices(self.params, {**self.baseline, **picks}) if picks else self.params
        return params, self.faults + [p for p in perturbations if "action" in p]

    def execute(self, perturbations):
        params, faults = self.setup(perturbations)
        sim = self.scenario.simulate(params, self.seed, faults)
        sim.run()
        return sim

    # -- what may be perturbed next ------------------------------------------
    def candidates(self, sim, taken):
        """Single perturbations of ``sim``'s run, skipping what ``taken`` touches: the plainest kind first (a lost
        message, a crash, a delay, then a duplicate), each in the order it would act. Among equally short
        counterexamples the first found is then the one a learner recognises, rather than, say, a duplicate
        that only breaks the run by shifting which later messages the random loss takes."""
        kinds, trace = self.kinds, sim.trace
        touched = {canon(p["match"]) for p in taken if "match" in p}
        crashed = {p["node"] for p in taken if p.get("action") == "crash"}
        picked = {p["choice"] for p in taken if "choice" in p}
        lost = {e["msg"] for e in trace if e["kind"] == "drop"}
        out, counts, steps, matches, last = [], {}, {}, {}, {}
        for event in trace:
            kind, t = event["kind"], event["t"]
            node = (event["src"] if kind == "send" else event["dst"] if kind == "deliver" else
                    event.get("node") if kind in ("timer", "state") else None)
            if node is not None and t > 0:
                steps.setdefault(node, set()).add(t)
            if kind == "deliver" and "reorder" in kinds:
                out.extend(self.reorder(last.get(event["dst"]), event, matches, touched))
                last[event["dst"]] = event
            if kind != "send":
                continue
            key = (event["label"], event["src"], event["dst"])
            counts[key] = counts.get(key, 0) + 1
            match = {"label": key[0], "src": key[1], "dst": key[2], "nth": counts[key]}
            matches[event["msg"]] = (match, event["seq"])
            if event["msg"] in lost or canon(match) in touched:
                continue
            if "drop" in kinds:
                out.append((t, {"action": "drop", "match": match}))
            if "duplicate" in kinds:
                out.append((t, {"action": "duplicate", "match": match}))
            if "delay" in kinds:
                out.extend((t, {"action": "delay", "match": match, "by": by}) for by in self.delays)
        if "crash" in kinds:
            for node in trace[0]["nodes"]:
                if node["id"] not in crashed:
                    out.extend((t, {"action": "crash", "node": node["id"], "at": t})
                               for t in sorted(steps.get(node["id"], ())))
        out.sort(key=lambda c: (PLAINEST.index(c[1]["action"]), c[0]))
        if "choice" in kinds:
            for point in self.scenario.choice_points(sim):
                self.points.setdefault(point.position, point)
                if point.position not in picked:
                    out.extend((0, {"choice": point.position, "value": v}) for v in point.values)
        return [c for _, c in out]

    def reorder(self, first, then, matches, touched):
        """Deliver ``then`` before ``first``, the delivery just before it at the same node, when it was already
        in flight: ``first`` is delayed until just after ``then`` arrives."""
        if first is None or first["msg"] not in matches or then["msg"] not in matches:
            return []
        (match, _), (overtaking, sent) = matches[first["msg"]], matches[then["msg"]]
        if sent > first["seq"] or canon(match) in touched:
            return []
        delay = {"action": "delay", "match": match, "by": then["t"] - first["t"] + 1}
        self.overtakes[canon(delay)] = overtaking
        return [(first["t"], delay)]

    # -- the search ------------------------------------------------------------
    def run(self):
        root = self.execute(())
        self.runs, self.by_depth[0] = 1, 1
        if self.delays is None:
            self.delays = default_delays(root.trace)
        if self.goal.kind == "outcome" and lookup(root.summary, self.goal.name) is None:
            fields = ", ".join(k for k in root.summary if k not in ("headline", "known"))
            raise ParamError({"goal": f"the summary has no field {self.goal.name[:40]!r}; it has {fields}"})
        if "choice" in self.kinds:
            for point in self.scenario.choice_points(root):
                self.points[point.position], self.baseline[point.position] = point, point.taken
        if self.goal.reached(root.summary):
            return self.result(root, ())
        self.seen.add(state_of(root))
        frontier = [()]
        for depth in range(1, self.max_faults + 1):
            self.depth, grown = depth, []
            for parent in frontier:
                sim = root if not parent else self.execute(parent)
                for candidate in self.candidates(sim, parent):
                    child = tuple(sorted((*parent, candidate), key=canon))
                    key = hashlib.blake2b("|".join(map(canon, child)).encode(), digest_size=16).digest()
                    if key in self.tried:
                        continue
                    reason = "max_runs" if self.runs >= self.max_runs else self.stop and self.stop()
                    if reason:
                        return self.result(stopped=reason)
                    self.tried.add(key)
                    run = self.execute(child)
                    self.runs += 1
                    self.by_depth[depth] = self.by_depth.get(depth, 0) + 1
                    digest = state_of(run)
                    if self.goal.reached(run.summary):
                        self.seen.add(digest)
                        return self.result(run, child)
                    if digest not in self.seen:
                        self.seen.add(digest)
                        if depth < self.max_faults:
                            grown.append(child)
                    if self.progress and self.runs % self.every == 0:
                        self.progress(self.stats())
            frontier = grown
            if not frontier:
                break
        return self.result()

    def stats(self):
        return {"runs": self.runs, "states": len(self.seen), "depth": self.depth, "max_runs": self.max_runs,
                "max_faults": self.max_faults}

    def describe(self, p):
        """One perturbation in words: "drop the 2nd ACK 1 from B to A", "crash P4 at t=3"."""
        if "choice" in p:
            point = self.points.get(p["choice"])
            return f"{point.what} {point.words.get(p['value'], p['value'])}" if point else f"choice {p['choice']}"
        if p["action"] == "crash":
            return f"crash {p['node']} at t={p['at']}"
        m = p["match"]
        first = self.overtakes.get(canon(p))
        if first:
            return (f"deliver the {ordinal(first['nth'])} {first['label']} from {first['src']} to {first['dst']} "
                    f"before the {ordinal(m['nth'])} {m['label']} from {m['src']} (delayed by "
                    f"{plural(p['by'], 'tick')})")
        text = f"{p['action']} the {ordinal(m['nth'])} {m['label']} from {m['src']} to {m['dst']}"
        return text + (f" by {plural(p['by'], 'tick')}" if p["action"] == "delay" else "")

    def result(self, sim=None, perturbations=None, stopped=""):
        kinds = tuple(k for k in self.kinds if k != "choice" or self.points)
        result = Result(goal=self.goal, runs=self.runs, states=len(self.seen) or 1, depth=self.depth,
                        max_faults=self.max_faults, stopped=stopped, by_depth=dict(self.by_depth),
                        kinds=kinds or self.kinds, delays=self.delays or (), seed=self.seed)
        if sim is not None:
            params, faults = self.setup(perturbations)
            result.found, result.reached = True, self.goal.reached(sim.summary)
            result.perturbations = list(perturbations)
            result.steps = [self.describe(p) for p in perturbations]
            result.params, result.faults = params, faults
            result.complete = True
        else:
            result.complete = not stopped
            result.params, result.faults = self.params, list(self.faults)
        return result


def explore(scenario, params, seed=0, faults=(), goal=None, **budget):
    """Search the set-up (parsed ``params``, ``seed``, validated base ``faults``) for ``goal``; see ``Search``."""
    return Search(scenario, params, seed, faults, goal or Goal(), **budget).run()
