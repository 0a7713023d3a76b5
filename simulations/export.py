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


def to_text(trace):
    """The transcript: one line per event."""
    return "".join(describe(e) + "\n" for e in trace)


def _esc(text):
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def to_svg(trace, row=40, col=120, gutter=64):
    """The whole diagram as one standalone SVG, laid out as the browser draws it: a row per distinct time,
    a lifeline per node, a diagonal arrow per message, an X where one was lost."""
    nodes = trace[0]["nodes"]
    x = {n["id"]: gutter + col * (i + 0.5) for i, n in enumerate(nodes)}
    rows, sends, parts = {}, {}, []
    top = 64

    def y(t):
        return top + rows.setdefault(t, len(rows)) * row

    for e in trace[1:]:
        y(e["t"])
    width, height = gutter + col * len(nodes) + 16, top + len(rows) * row + 24
    down = {n["id"]: [] for n in nodes}
    for e in trace[1:]:
        kind, ey = e["kind"], y(e["t"])
        if kind == "send":
            sends[e["msg"]] = e
        elif kind in ("deliver", "drop"):
            s = sends.get(e["msg"])
            if not s:
                continue
            x0, y0, x1 = x[s["src"]], y(s["t"]), x[s["dst"]]
            lost = kind == "drop"
            if lost:
                x1 = x0 + (x1 - x0) * 0.6
            cls = "lost" if lost else "forged" if (s.get("data") or {}).get("forged") else "msg"
            mark = (f'<path class="x" d="M{x1 - 5} {ey - 5}l10 10m0 -10l-10 10"/>' if lost
                    else f'<circle class="tip" cx="{x1}" cy="{ey}" r="3"/>')
            parts.append(f'<g class="{cls}"><line x1="{x0}" y1="{y0}" x2="{x1}" y2="{ey}"/>{mark}'
                         f'<text x="{x0 + (x1 - x0) * 0.62}" y="{y0 + (ey - y0) * 0.62 - 4}">{_esc(s["label"])}</text></g>')
        elif kind in ("crash", "recover"):
            down[e["node"]].append((kind, ey))
            parts.append(f'<text class="{kind}" x="{x[e["node"]] + 8}" y="{ey - 4}">{kind}</text>')
        elif kind == "fault":
            parts.append(f'<rect class="fault" x="{gutter}" y="{ey - 8}" width="{width - gutter}" height="16"/>'
                         f'<text class="fault" x="{gutter + 4}" y="{ey + 4}">fault: {_esc(e["fault"]["action"])}</text>')
        elif kind == "check" and not e["ok"]:
            parts.append(f'<rect class="violation" x="{gutter}" y="{ey - 9}" width="{width - gutter}" height="18"/>'
                         f'<text class="violation" x="{gutter + 4}" y="{ey + 4}">{_esc(e["name"])} violated at #{e["seq"]}</text>')
    lines = []
    for n in nodes:
        nx, y0, alive = x[n["id"]], top - 14, True
        for kind, ey in down[n["id"]]:
            lines.append(f'<line class="life{"" if alive else " down"}" x1="{nx}" y1="{y0}" x2="{nx}" y2="{ey}"/>')
            y0, alive = ey, kind == "recover"
        lines.append(f'<line class="life{"" if alive else " down"}" x1="{nx}" y1="{y0}" x2="{nx}" y2="{height - 10}"/>')
        lines.append(f'<text class="node" x="{nx}" y="{top - 24}" text-anchor="middle">{_esc(n["id"])}</text>')
    ticks = [f'<text class="tick" x="{gutter - 8}" y="{top + r * row + 4}" text-anchor="end">t={t}</text>'
             for t, r in rows.items()]
    style = ("text{font:11px system-ui,sans-serif;fill:#1d1d1f}.node{font-weight:700;font-size:13px}"
             ".tick{fill:#5f6368;font-size:10px}.life{stroke:#1d1d1f;stroke-width:1.5;opacity:.55}"
             ".life.down{stroke-dasharray:2 5}.msg line{stroke:#0072B2;stroke-width:1.6}.msg text{fill:#0072B2}"
             ".tip{fill:#0072B2}.lost line{stroke:#3a3a3a;stroke-dasharray:3 3}.x{stroke:#3a3a3a;stroke-width:2}"
             ".forged line{stroke:#CC79A7;stroke-dasharray:7 3}.forged text,.forged .tip{fill:#CC79A7}"
             "rect.fault{fill:#E69F00;opacity:.2}text.fault{fill:#8a5a00}rect.violation{fill:#D55E00;opacity:.18}"
             "text.violation{fill:#D55E00;font-weight:700}.crash{fill:#D55E00;font-weight:700}.recover{fill:#009E73}")
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}"><title>{_esc(trace[0]["scenario"])}</title><style>{style}</style>'
            f'<rect width="100%" height="100%" fill="#fbfaf7"/>{"".join(ticks)}{"".join(lines)}{"".join(parts)}</svg>\n')
