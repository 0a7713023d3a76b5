"""Happened-before over a trace: Lamport clocks and vector clocks, computed from the trace alone.

Lamport (1978, "Time, Clocks, and the Ordering of Events in a Distributed System") defines a -> b as the
smallest relation holding when a comes before b on one node, or a sends the message b receives, closed under
transitivity. Vector clocks (Fidge 1988; Mattern 1988) characterise it exactly: a -> b iff VC(a) < VC(b).

Which events are on which node: a send is on its `src`, a deliver on its `dst`; `state`, `timer`, `crash`,
`recover`, `note` and `check` events are on their `node` when they have one. `init`, `fault`, `end`, node-less
notes and checks have no node and no clock, and so does a `drop`: the network lost the message, no process did
anything, so a drop creates no edge. A duplicate (a send with `dup`) is the network's copy of message `dup`, not
a step of its sender: it has no clock, and its delivery merges the clock of the original send.

A vector clock is a tuple in the order of the `init` event's nodes: `vc[k]` counts the events of node k that
happened before or at this one. static/js/causality.js computes the same in the browser.
"""
from dataclasses import dataclass

NODELESS = frozenset({"init", "fault", "end", "drop"})


@dataclass(frozen=True)
class Stamp:
    """The clocks of one event: the node it happens on, its Lamport clock and its vector clock."""

    node: str
    lamport: int
    vc: tuple


def event_node(event):
    """The id of the node an event happens on, or None."""
    kind = event["kind"]
    if kind in NODELESS:
        return None
    if kind == "send":
        return None if "dup" in event else event["src"]
    if kind == "deliver":
        return event["dst"]
    return event.get("node")


def clocks(trace):
    """One Stamp per event (None for events on no node), in trace order."""
    if not trace or trace[0]["kind"] != "init":
        raise ValueError("a trace starts with its init event")
    order = {n["id"]: k for k, n in enumerate(trace[0]["nodes"])}
    vcs = [[0] * len(order) for _ in order]
    lamports = [0] * len(order)
    sent = {}  # message id -> the Stamp its send carried
    out = []
    for event in trace:
        if event["kind"] == "send" and "dup" in event:
            if event["dup"] in sent:
                sent[event["msg"]] = sent[event["dup"]]
            out.append(None)
            continue
        node = event_node(event)
        if node not in order:
            out.append(None)
            continue
        k = order[node]
        vc, lamport = vcs[k], lamports[k]
        message = sent.get(event["msg"]) if event["kind"] == "deliver" else None
        if message is not None:
            vc[:] = [max(a, b) for a, b in zip(vc, message.vc)]
            lamport = max(lamport, message.lamport)
        vc[k] += 1
        lamports[k] = lamport + 1
        stamp = Stamp(node, lamport + 1, tuple(vc))
        if event["kind"] == "send":
            sent[event["msg"]] = stamp
        out.append(stamp)
    return out


def _vector(x):
    if isinstance(x, Stamp):
        return x.vc
    if isinstance(x, dict):
        return tuple(x["vc"])
    return tuple(x)


def happened_before(a, b):
    """Whether a -> b. a and b: Stamps, events carrying `vc` (as `--clocks` prints them) or vector clocks."""
    va, vb = _vector(a), _vector(b)
    return va != vb and all(x <= y for x, y in zip(va, vb))


def concurrent(a, b):
    """Neither happened before the other (and they are not the same event)."""
    return _vector(a) != _vector(b) and not happened_before(a, b) and not happened_before(b, a)


def with_clocks(trace):
    """The trace with `lamport` and `vc` (a list) added to each event that happens on a node."""
    return [event if stamp is None else {**event, "lamport": stamp.lamport, "vc": list(stamp.vc)}
            for event, stamp in zip(trace, clocks(trace))]
