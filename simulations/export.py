"""Other shapes of a trace: a one-line description per event, and a Mermaid sequenceDiagram."""
import json


def describe(event):
    """One line a screen reader can say: what happened, where, when."""
    kind = event["kind"]
    head = f"#{event['seq']} t={event['t']}"
    if kind == "init":
        return f"{head} {event['scenario']} starts with {', '.join(n['id'] for n in event['nodes'])}"
    if kind == "send":
        return f"{head} {event['src']} sends {event['label']} to {event['dst']} (message {event['msg']})"
    if kind == "deliver":
        return f"{head} {event['dst']} receives message {event['msg']} from {event['src']}"
    if kind == "drop":
        return f"{head} message {event['msg']} from {event['src']} to {event['dst']} is lost ({event['reason']})"
    if kind == "state":
        return f"{head} {event['node']} is now " + ", ".join(f"{k}={v}" for k, v in event["state"].items())
    if kind == "timer":
        return f"{head} {event['node']}: {event['label']} fires"
    if kind == "note":
        return f"{head} {event.get('node', '') + ': ' if event.get('node') else ''}{event['text']}"
    if kind in ("crash", "recover"):
        return f"{head} {event['node']} {'crashes' if kind == 'crash' else 'recovers'}"
    if kind == "fault":
        return f"{head} fault: {json.dumps(event['fault'], separators=(',', ':'))}"
    if kind == "check":
        return f"{head} invariant {event['name']} {'holds' if event['ok'] else 'VIOLATED'}: {event['detail']}"
    if kind == "end":
        return f"{head} end: {json.dumps(event['summary'], separators=(',', ':'))}"
    return f"{head} {kind}"


def _alias(node_id):
    return "".join(c if c.isalnum() else "_" for c in node_id)


def _text(text):
    return str(text).replace(";", ",").replace("#", "").replace("\n", " ")


def to_mermaid(trace):
    """A Mermaid sequenceDiagram: arrows at delivery (or X at loss), notes for everything else."""
    init = trace[0]
    lines = ["sequenceDiagram"]
    for node in init["nodes"]:
        lines.append(f"    participant {_alias(node['id'])} as {_text(node['label'])}")
    sends = {}
    for e in trace[1:]:
        kind = e["kind"]
        if kind == "send":
            sends[e["msg"]] = e
        elif kind in ("deliver", "drop"):
            s = sends.get(e["msg"])
            label = _text(s["label"]) if s else f"message {e['msg']}"
            arrow = "->>" if kind == "deliver" else "-x"
            suffix = "" if kind == "deliver" else f" (lost: {e['reason']})"
            lines.append(f"    {_alias(e['src'])}{arrow}{_alias(e['dst'])}: {label}{suffix}")
        elif kind in ("crash", "recover"):
            lines.append(f"    Note over {_alias(e['node'])}: {kind.upper()}")
        elif kind == "note" and e.get("node"):
            lines.append(f"    Note over {_alias(e['node'])}: {_text(e['text'])}")
        elif kind == "check" and not e["ok"]:
            first = _alias(init["nodes"][0]["id"])
            lines.append(f"    Note over {first}: VIOLATED {_text(e['name'])}")
    return "\n".join(lines) + "\n"
