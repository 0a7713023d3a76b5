"""Fault scripts: interventions as JSON, validated before they reach the engine.

An intervention is one of
  {"action": "crash"|"recover", "node": ID, "at"?: T}
  {"action": "drop"|"duplicate"|"delay", "match": {"label"?, "src"?, "dst"?, "nth"?, "msg"?}, "by"?: T, "at"?: T}
  {"action": "partition", "groups": [[ID...], ...], "at"?: T, "until"?: T}
  {"action": "heal", "at"?: T}
  {"action": "loss", "rate": P, "at"?: T}
  {"action": "hold"} / {"action": "release"}   (network mode on / off: nothing arrives until picked)
  {"action": "deliver", "msg": ID}            (network mode: the learner picks what arrives next)
Live interventions also carry ``seq``: the trace length at which they were
applied, so that a saved run re-executes exactly.
"""
from .params import ParamError

ACTIONS = ("crash", "recover", "drop", "duplicate", "delay", "partition", "heal", "loss", "hold", "release",
           "deliver")
MATCH_KEYS = ("label", "src", "dst", "nth", "msg")
MAX_FAULTS = 200
MAX_TICKS = 10**9


def _int(value, name, lo=0, hi=MAX_TICKS):
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise ValueError(f"{name} must be a whole number from {lo} to {hi}")
    return value


def validate_fault(fault, node_ids):
    """Return a clean copy of one intervention or raise ValueError saying what is wrong."""
    if not isinstance(fault, dict):
        raise ValueError("a fault must be an object")
    action = fault.get("action")
    if action not in ACTIONS:
        raise ValueError(f"action must be one of {', '.join(ACTIONS)}")
    allowed = {"action", "at", "seq"}
    out = {"action": action}
    for key in ("at", "seq"):
        if key in fault:
            out[key] = _int(fault[key], key)

    def node(value, what="node"):
        if value not in node_ids:
            raise ValueError(f"unknown {what} {str(value)[:40]!r}; nodes are {', '.join(node_ids)}")
        return value

    if action in ("crash", "recover"):
        allowed.add("node")
        out["node"] = node(fault.get("node"))
    elif action in ("drop", "duplicate", "delay"):
        allowed |= {"match", "by"}
        match = fault.get("match", {})
        if not isinstance(match, dict) or set(match) - set(MATCH_KEYS):
            raise ValueError(f"match must be an object with keys among {', '.join(MATCH_KEYS)}")
        clean = {}
        for key in ("src", "dst"):
            if key in match:
                clean[key] = node(match[key], key)
        if "label" in match:
            if not isinstance(match["label"], str) or len(match["label"]) > 80:
                raise ValueError("match.label must be a short string")
            clean["label"] = match["label"]
        if "nth" in match:
            clean["nth"] = _int(match["nth"], "match.nth", 1, 10**6)
        if "msg" in match:
            clean["msg"] = _int(match["msg"], "match.msg", 1, 10**9)
        out["match"] = clean
        if "by" in fault or action == "delay":
            out["by"] = _int(fault.get("by"), "by", 1, 10**6)
    elif action == "partition":
        allowed |= {"groups", "until"}
        groups = fault.get("groups")
        if not isinstance(groups, list) or not 1 <= len(groups) <= len(node_ids) or not all(
                isinstance(g, list) and g for g in groups):
            raise ValueError("groups must be a list of non-empty lists of node ids")
        seen = set()
        for group in groups:
            for n in group:
                node(n)
                if n in seen:
                    raise ValueError(f"node {n} is in two groups")
                seen.add(n)
        out["groups"] = [list(g) for g in groups]
        if "until" in fault:
            out["until"] = _int(fault["until"], "until")
            if out["until"] <= out.get("at", 0):
                raise ValueError("until must be after at")
    elif action == "loss":
        allowed.add("rate")
        rate = fault.get("rate")
        if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 <= rate <= 1:
            raise ValueError("rate must be a number from 0 to 1")
        out["rate"] = rate
    elif action == "deliver":
        allowed.add("msg")
        out["msg"] = _int(fault.get("msg"), "msg", 1, 10**9)
    extra = set(fault) - allowed
    if extra:
        raise ValueError(f"unexpected field {sorted(extra)[0]!r} for {action}")
    return out


def validate_faults(faults, node_ids):
    """Validate a whole script; raise ParamError keyed ``faults`` naming the first bad entry."""
    if faults is None:
        return []
    if not isinstance(faults, list):
        raise ParamError({"faults": "faults must be a list of interventions"})
    if len(faults) > MAX_FAULTS:
        raise ParamError({"faults": f"at most {MAX_FAULTS} interventions"})
    clean = []
    for i, fault in enumerate(faults, 1):
        try:
            clean.append(validate_fault(fault, node_ids))
        except ValueError as e:
            raise ParamError({"faults": f"fault {i}: {e}"}) from None
    return clean


def matches(match, msg):
    return all(getattr(msg, key) == value for key, value in match.items() if key != "nth")
