"""Where a lesson's checkpoint fires in a trace; static/js/lesson.js applies the same rules in the browser.

A trigger is either a step (``at_seq``) or the first event matching a ``match`` of up to three keys:

- ``kind``: the event's kind (send, deliver, drop, state, timer, note, crash, recover, fault, check, end);
- ``label``: a send's or timer's label, the label of the message a deliver or drop ends, a check's name;
- ``node``: where the event happens: a send's sender, a deliver's or drop's receiver, otherwise its ``node``.
"""
import json
from functools import lru_cache

import simulations

MATCH_KEYS = ("kind", "label", "node")


def event_label(event, labels):
    kind = event["kind"]
    if kind in ("send", "timer"):
        return event.get("label")
    if kind in ("deliver", "drop"):
        return labels.get(event.get("msg"))
    if kind == "check":
        return event.get("name")
    return None


def event_node(event):
    kind = event["kind"]
    if kind == "send":
        return event.get("src")
    if kind in ("deliver", "drop"):
        return event.get("dst")
    return event.get("node")


def matches(event, match, labels):
    return ((not match.get("kind") or event["kind"] == match["kind"])
            and (not match.get("label") or event_label(event, labels) == match["label"])
            and (not match.get("node") or event_node(event) == match["node"]))


def first_match(trace, match):
    """The seq of the first event matching ``match``, or None."""
    labels = {}
    for event in trace:
        if event["kind"] == "send":
            labels[event.get("msg")] = event.get("label")
        if matches(event, match, labels):
            return event["seq"]
    return None


def fire_seq(trace, at_seq=None, match=None):
    """The seq at which a trigger fires in ``trace``, or None if it never does."""
    if at_seq is not None:
        return at_seq if 0 <= at_seq < len(trace) else None
    return first_match(trace, match or {})


def describe_match(match):
    return " ".join(f"{k}={match[k]}" for k in MATCH_KEYS if match.get(k)) or "any event"


def never_fires(trace, at_seq=None, match=None):
    """Why a trigger never fires in ``trace`` (a sentence), or None if it does."""
    if fire_seq(trace, at_seq, match) is not None:
        return None
    if at_seq is not None:
        return f"step {at_seq} never comes: this set-up's run has {len(trace)} events (steps 0 to {len(trace) - 1})"
    return f"no event matches {describe_match(match)} in this set-up's {len(trace)} events"


@lru_cache(maxsize=64)
def _trace(scenario, key):
    params, seed, faults = json.loads(key)
    return simulations.SCENARIOS[scenario].run(params, seed, faults)


def setup_trace(scenario, params, seed=0, faults=None):
    """The trace of a set-up (memoised: validating many checkpoints runs it once). Raises ParamError or KeyError."""
    key = json.dumps([params or {}, seed or 0, faults or []], sort_keys=True)
    return _trace(scenario, key)
