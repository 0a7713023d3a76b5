"""Judging a run against a challenge, from the run's set-up, its faults and its trace alone.

Pure: no database, no clock. ``challenge`` needs the attributes of ``Challenge`` (scenario, params, seed,
faults, free_params, goal, max_faults, kinds, live_only); ``run`` those of ``runs.models.Run`` (id,
scenario, params, seed, faults, interventions, status, parent_id).
"""
from collections import Counter
from dataclasses import dataclass, field

import simulations
from simulations.params import ParamError, to_text

NETWORK_MODE = {"hold", "release", "deliver"}  # "you are the network": one "hold" kind, counted once


@dataclass
class Verdict:
    ok: bool
    reasons: list = field(default_factory=list)
    proof_url: str = ""
    finished: bool = True
    run: str = ""

    def as_dict(self):
        return {"ok": self.ok, "reasons": list(self.reasons), "proof_url": self.proof_url,
                "finished": self.finished, "run": self.run}


def setup_of(challenge):
    """The challenge's set-up as the engine parses it: (scenario, full params, base faults)."""
    scenario = simulations.get(challenge.scenario)
    params, faults = scenario.parse(challenge.params, challenge.faults)
    return scenario, params, faults


def goal_names(goal):
    names = goal.get("invariant", [])
    return [names] if isinstance(names, str) else list(names)


def kind_of(fault):
    return "hold" if fault["action"] in NETWORK_MODE else fault["action"]


def counted(faults):
    """The faults that count against a budget: network mode counts once per hold, each pick is free."""
    return [f for f in faults if f["action"] not in ("release", "deliver")]


def plain(fault):
    return {k: v for k, v in fault.items() if k != "seq"}


def learner_faults(run, base):
    """(script faults the learner added, live interventions, base faults missing from the script).

    A branch's script holds its parent's live interventions, each with its ``seq``: those count as live.
    """
    script, live = [], list(run.interventions or [])
    for f in run.faults or []:
        (live if run.parent_id and "seq" in f else script).append(f)
    remaining = Counter(repr(sorted(plain(f).items())) for f in base)
    added = []
    for f in script:
        key = repr(sorted(plain(f).items()))
        if remaining[key] > 0:
            remaining[key] -= 1
        else:
            added.append(f)
    missing = [f for f in base if remaining[repr(sorted(plain(f).items()))] > 0]
    return added, live, missing


def check_setup(challenge, run, scenario, params):
    reasons = []
    if run.scenario != challenge.scenario:
        return [f"this run is of {run.scenario}; the challenge is set in {challenge.scenario}"]
    free = challenge.free_params or {}
    for name, wanted in params.items():
        got = (run.params or {}).get(name)
        if name in free:
            allowed = free[name]
            if allowed is not None and got not in allowed:
                reasons.append(f"{name}={to_text(got)} is not one of the choices this challenge allows: "
                               f"{', '.join(to_text(a) for a in allowed)}")
        elif got != wanted:
            reasons.append(f"the set-up was changed: {name}={to_text(got)}, "
                           f"the challenge needs {name}={to_text(wanted)}")
    if run.seed != challenge.seed:
        reasons.append(f"the set-up was changed: seed={run.seed}, the challenge needs seed={challenge.seed}")
    return reasons


def check_budget(challenge, added, live, missing):
    reasons = []
    if missing:
        reasons.append(f"the set-up was changed: the fault script must keep the challenge's "
                       f"{len(missing)} given fault{'s' if len(missing) != 1 else ''}")
    if challenge.live_only and added:
        reasons.append(f"this challenge takes live interventions only, made while the run plays; your fault "
                       f"script added {len(added)}")
    used = counted(added + live)
    kinds = list(challenge.kinds or [])
    wrong = sorted({kind_of(f) for f in added + live} - set(kinds))
    if wrong:
        allowed = f"allowed: {', '.join(kinds)}" if kinds else "no faults are allowed"
        reasons.append(f"{', '.join(wrong)} {'is' if len(wrong) == 1 else 'are'} not in the budget ({allowed})")
    if len(used) > challenge.max_faults:
        reasons.append(f"you used {len(used)} fault{'s' if len(used) != 1 else ''}; "
                       f"the budget is {challenge.max_faults}")
    return reasons, used


def check_goal(challenge, trace):
    """(reached, words): whether the goal holds in the trace, and what the trace says about it."""
    goal = challenge.goal or {}
    if "outcome" in goal:
        summary = next((e["summary"] for e in reversed(trace) if e["kind"] == "end"), {}) or {}
        misses = [f"{k} was {to_text(summary.get(k)) if k in summary else 'missing'}, the goal is {to_text(v)}"
                  for k, v in goal["outcome"].items() if summary.get(k) != v]
        if misses:
            return False, misses
        return True, [f"the run ended with {', '.join(f'{k}={to_text(v)}' for k, v in goal['outcome'].items())}"]
    names = goal_names(goal)
    failed = {}
    for e in trace:
        if e["kind"] == "check" and not e.get("ok", True) and e["name"] in names and e["name"] not in failed:
            failed[e["name"]] = e
    if failed:
        return True, [f"{name} failed at t={e['t']}: {e.get('detail', '')}".rstrip(": ")
                      for name, e in failed.items()]
    return False, [f"{name} held" for name in names]


def judge(challenge, run, trace):
    """The verdict on ``run`` (with its ``trace``) for ``challenge``: ok, the reasons in words, the proof."""
    proof = f"/runs/{run.id}/"
    if run.status != "ended" or not any(e["kind"] == "end" for e in trace[-1:]):
        return Verdict(False, ["not finished: the run has not ended yet; play it to the end"], proof, False, run.id)
    try:
        scenario, params, base = setup_of(challenge)
    except (KeyError, ParamError) as e:
        return Verdict(False, [f"this challenge's set-up is broken: {e}"], proof, True, run.id)
    reasons = check_setup(challenge, run, scenario, params)
    if reasons and run.scenario != challenge.scenario:
        return Verdict(False, reasons, proof, True, run.id)
    added, live, missing = learner_faults(run, base)
    budget_reasons, used = check_budget(challenge, added, live, missing)
    reasons += budget_reasons
    reached, words = check_goal(challenge, trace)
    if not reached:
        return Verdict(False, reasons + words, proof, True, run.id)
    if reasons:
        return Verdict(False, reasons + [f"the goal itself was reached ({'; '.join(words)}), but not within the rules"],
                       proof, True, run.id)
    spent = f"{len(used)} fault{'s' if len(used) != 1 else ''} of a budget of {challenge.max_faults}"
    return Verdict(True, words + [f"within budget: {spent}"], proof, True, run.id)
