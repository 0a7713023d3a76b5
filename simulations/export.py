"""Other shapes of a trace: a one-line description per event, a Mermaid sequenceDiagram, and a standalone SVG
drawn by the same layout rules as the browser's diagram (static/js/layout.js)."""
import json
import math
import re


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
    """A Mermaid sequenceDiagram: arrows at delivery (or X at loss), notes for everything else. A broken
    invariant is noted once, where it first fails, however often the run's later checks repeat it."""
    init = trace[0]
    lines = ["sequenceDiagram"]
    for node in init["nodes"]:
        lines.append(f"    participant {_alias(node['id'])} as {_text(node['label'])}")
    ids = [_alias(n["id"]) for n in init["nodes"]]
    across = ",".join(dict.fromkeys([ids[0], ids[-1]])) if ids else ""
    sends, violated, last_note = {}, set(), None

    def note(line):
        nonlocal last_note
        if line != last_note:
            lines.append(line)
        last_note = line

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
            last_note = None
        elif kind in ("crash", "recover"):
            note(f"    Note over {_alias(e['node'])}: {kind.upper()}")
        elif kind == "note" and e.get("node"):
            note(f"    Note over {_alias(e['node'])}: {_text(e['text'])}")
        elif kind == "check" and not e["ok"] and e["name"] not in violated and across:
            violated.add(e["name"])
            note(f"    Note over {across}: VIOLATED {_text(e['name'])}: {_text(e['detail'])}")
    return "\n".join(lines) + "\n"


def to_text(trace):
    """The transcript: one line per event."""
    return "".join(describe(e) + "\n" for e in trace)


def _esc(text):
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


# -- text widths ------------------------------------------------------------------------------------------------

# Advance widths in em, the widest of DejaVu Sans and Liberation Sans (what system-ui becomes where there is no
# browser to ask), rounded up to 0.05 em: an estimate that errs wide, so boxes built on it never overlap on screen.
_EM_GROUPS = {
    False: {0.3: "'Iijl", 0.35: " ,./:;\\|·", 0.4: "()-[]ft", 0.45: "!r", 0.5: '"*J`', 0.55: "csz",
            0.6: "?L_kvxy", 0.65: "$0123456789FTabdeghnopqu{}", 0.7: "ABEKPSVXYZ", 0.75: "CNRU",
            0.8: "&DGHOQ", 0.85: "#+<=>^w~×", 0.9: "M⚠", 1.0: "%Wm⋯…→", 1.05: "@"},
    True: {0.35: " 'ijl", 0.4: ",./:;I\\|·", 0.45: "-f", 0.5: "!()[]`rt", 0.55: '"*', 0.6: "J_csz",
           0.65: "?Lx", 0.7: "$0123456789EFTaekovy", 0.75: "CPSYZbdghnpqu{}", 0.8: "ABKRVX",
           0.85: "#+<=>DGHNU^~×", 0.9: "&OQ⚠", 0.95: "w", 1.0: "@M⋯…→", 1.05: "%m", 1.15: "W"},
}
_EM = {bold: {c: em for em, chars in groups.items() for c in chars} for bold, groups in _EM_GROUPS.items()}
_EM_OTHER, _EM_MONO = 1.15, 0.62

# size in px, bold, monospace: the fonts of static/js/layout.js FONT and lifelines.css, by the class each text has
FONTS = {"label": (10.5, True, False), "small": (10.5, False, False), "band": (11, True, False),
         "mono": (10, False, True), "head": (12, True, True), "head-narrow": (11, True, True)}
ASCENT, DESCENT = 0.93, 0.24  # of DejaVu Sans, the taller of the two: a text's box is y - 0.93 em .. y + 0.24 em


def text_width(text, font="small", size=None):
    """How wide `text` draws in one of FONTS (at `size` px if given), in px, estimated on the wide side."""
    base, bold, mono = FONTS[font]
    size = size or base
    if mono:
        return len(text) * _EM_MONO * size
    table = _EM[bold]
    return sum(table.get(c, _EM_OTHER) for c in text) * size


def _measure(text, font):
    return math.ceil(text_width(text, font)) + 2


# -- layout: a port of static/js/layout.js ------------------------------------------------------------------------

class M:
    """The diagram's constants, as in layout.js."""
    GUTTER, RIGHT, MIN_COL, SUB, ROW, MIN_GAP, BREAK_H, BREAK_ROWS, PAD, TEXT_H = 58, 14, 46, 17, 40, 21, 34, 4, 2, 13


def time_scale(tick):
    """The axis unit and how many ticks one ROW stands for, from a scenario's `tick` text."""
    return ("ms", 10) if "millisecond" in (tick or "") else ("ticks", 1)


def elapsed(dt, unit):
    if unit == "ms":
        if dt >= 10000:
            s = round(dt / 1000, 1)
            return f"{int(s) if s == int(s) else s} s"
        return f"{dt} ms"
    return f"{dt} ticks"


def _box(x0, x1, y0, y1, **extra):
    return {"x0": x0, "x1": x1, "y0": y0, "y1": y1, **extra}


class Layout:
    """Where everything goes, decided once per event in trace order: y never goes back, time is linear within
    bursts and broken across long gaps, and every text reserves a box that no later text may touch."""

    def __init__(self, init, width, unit="ticks", row_ticks=1):
        self.nodes = init["nodes"]
        self.unit, self.row_ticks = unit, row_ticks
        n = max(len(self.nodes), 1)
        self.col = max(M.MIN_COL, (width - M.GUTTER - M.RIGHT) // n)
        self.width = M.GUTTER + self.col * n + M.RIGHT
        self.x = {node["id"]: M.GUTTER + self.col * (i + 0.5) for i, node in enumerate(self.nodes)}
        self.y = []
        self.msgs, self.msg_list = {}, []
        self.marks, self.breaks, self.ticks = [], [], []
        self.bands = {node["id"]: [] for node in self.nodes}
        self.outages, self.rounds = {}, {}
        self.violated, self.last_state = set(), {}
        self.boxes = []
        self.last_t = None
        self.cur = self.bottom = M.SUB

    # -- boxes
    def free(self, boxes, dy):
        return not any(a["x0"] < b["x1"] and b["x0"] < a["x1"] and a["y0"] + dy < b["y1"] and b["y0"] < a["y1"] + dy
                       for a in boxes for b in self.boxes)

    def reserve(self, boxes):
        """The y (this sub-row or one below) where all the boxes, given relative to the event, fit."""
        y = self.cur
        tries = 0
        while tries < 400 and not self.free(boxes, y):
            y += M.SUB
            tries += 1
        self.boxes.extend(_box(a["x0"], a["x1"], a["y0"] + y, a["y1"] + y) for a in boxes)
        self.cur = y
        self.bottom = max(self.bottom, y)
        return y

    def prune(self):
        if len(self.boxes) > 64:
            self.boxes = [b for b in self.boxes if b["y1"] > self.cur - M.ROW * 2]

    def advance(self, t, i):
        if self.last_t is None:
            self.last_t = t
            self.ticks.append({"y": self.cur, "t": t})
            return
        if t == self.last_t:
            return
        dt = t - self.last_t
        self.last_t = t
        base = self.bottom
        if dt > self.row_ticks * M.BREAK_ROWS:
            y = base + M.MIN_GAP
            self.breaks.append({"y": y, "h": M.BREAK_H, "dt": dt, "text": f"⋯ {elapsed(dt, self.unit)} ⋯"})
            self.cur = y + M.BREAK_H + M.MIN_GAP * 0.6
        else:
            self.cur = base + max(M.MIN_GAP, dt / self.row_ticks * M.ROW)
        self.bottom = self.cur
        self.boxes = [b for b in self.boxes if b["y1"] > self.cur - M.ROW * 2]
        self.ticks.append({"y": self.cur, "t": t})

    def beside(self, x, w, side, gap=6):
        x0 = x + gap if side > 0 else x - gap - w - 2
        return _box(x0, x0 + w + 2, -M.TEXT_H / 2 - 1, M.TEXT_H / 2 + 1,
                    inside=x0 >= M.GUTTER and x0 + w + 2 <= self.width)

    def fit(self, s, font, limit):
        """`s`, or the longest abbreviation of it that fits `limit` px."""
        if _measure(s, font) <= limit:
            return s
        lo, hi = 1, len(s)
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if _measure(s[:mid] + "…", font) <= limit:
                lo = mid
            else:
                hi = mid - 1
        return s[:lo] + "…"

    # -- events
    def append(self, e, i):
        kind = e["kind"]
        if kind == "init":
            self.y.append(0)
            return
        self.advance(e["t"], i)
        handler = getattr(self, "_" + kind, None)
        self.y.append(handler(e, i) if handler else self.cur)
        self.prune()

    def _send(self, e, i):
        H = M.TEXT_H
        x0, x1 = self.x[e["src"]], self.x[e["dst"]]
        right = x1 >= x0
        full = e["label"] + (f" {e['tag']}" if e.get("tag") else "") + (" (dup)" if e.get("dup") else "")
        text = self.fit(full, "label", max(self.col * 1.6, abs(x1 - x0) - 10))
        w = _measure(text, "label")
        lx = x0 + 6 if right else x0 - 6 - w
        lx = max(M.GUTTER + M.PAD, min(lx, self.width - M.PAD - w))
        data = e.get("data")
        rnd = data.get("round") if isinstance(data, dict) else None
        boxes = [_box(lx - M.PAD, lx + w + M.PAD, -H - 1, 0), _box(x0 - 4, x0 + 4, -3, 3)]
        round_box = None
        if rnd is not None and rnd not in self.rounds:
            rw = _measure(f"round {rnd}", "small")
            round_box = _box(self.width - M.RIGHT - rw - 2, self.width, -H - 1, 0)
            if round_box["x0"] < boxes[0]["x1"]:
                round_box = _box(M.GUTTER, M.GUTTER + rw + 4, -H - 1, 0)
            if round_box["x1"] > boxes[0]["x0"] and round_box["x0"] < boxes[0]["x1"]:
                round_box = {**round_box, "y0": -2 * H - 4, "y1": -H - 3}
            boxes.append(round_box)
        y = self.reserve(boxes)
        m = {"id": e["msg"], "src": e["src"], "dst": e["dst"], "label": full, "text": text, "lx": lx, "ly": y - 3,
             "ys": y, "ye": None, "end": None, "reason": None, "forged": bool(isinstance(data, dict) and data.get("forged")),
             "dup": e.get("dup"), "xe": None}
        self.msgs[e["msg"]] = m
        self.msg_list.append(m)
        if rnd is not None:
            r = self.rounds.get(rnd)
            if r:
                r["y1"] = max(r["y1"], y)
            else:
                self.rounds[rnd] = {"k": rnd, "y0": y, "y1": y, "lx": round_box["x0"] + 2, "ly": y + round_box["y1"] - 3}
        m["round"] = rnd
        return y

    def _deliver(self, e, i):
        m = self.msgs.get(e["msg"])
        x = self.x[e["dst"]] if m else 0
        xe = self.x[m["src"]] + (x - self.x[m["src"]]) * 0.6 if m and e["kind"] == "drop" else x
        y = self.reserve([_box(xe - 7, xe + 7, -6, 6)])
        if m:
            m.update(ye=y, end=e["kind"], reason=e.get("reason"), xe=xe)
            if m["round"] is not None:
                r = self.rounds[m["round"]]
                r["y1"] = max(r["y1"], y)
        return y

    _drop = _deliver

    def _state(self, e, i):
        node = e["node"]
        x = self.x[node]
        before = self.last_state.get(node)
        self.last_state[node] = e["state"]
        full = state_text(e["state"], before) if before is not None else ""
        text = self.fit(full, "small", max(self.col - 14, 60)) if full else ""
        w = _measure(text, "small") if text else 0
        dot = _box(x - 4, x + 4, -4, 4)
        right, left = self.beside(x, w, 1), self.beside(x, w, -1)
        sides = [b for b in (right, left) if b["inside"]]
        side = next((b for b in sides if self.free([dot, b], self.cur)), None) or (sides[0] if sides else right)
        y = self.reserve([dot, side] if text else [dot])
        band = e.get("band")
        self.marks.append({"s": i, "y": y, "type": "state", "node": node, "x": x, "text": text, "full": full,
                           "tone": band.get("tone") if band else None, "left": side is left})
        if "band" in e:
            self.band(node, band, y, i)
        return y

    def _timer(self, e, i):
        x = self.x[e["node"]]
        text = self.fit(e["label"], "small", max(self.col - 14, 60))
        w = _measure(text, "small")
        box = self.beside(x, w, -1, 10)
        side = box if box["inside"] else self.beside(x, w, 1, 10)
        y = self.reserve([side, _box(x - 8, x + 8, -3, 3)])
        self.marks.append({"s": i, "y": y, "type": "timer", "node": e["node"], "x": x, "text": text,
                           "full": e["label"], "left": side is box})
        return y

    def _crash(self, e, i):
        x = self.x[e["node"]]
        w = _measure(e["kind"], "label")
        y = self.reserve([_box(x - 9, x + 12 + w, -M.TEXT_H / 2 - 3, M.TEXT_H / 2 + 3)])
        self.outages.setdefault(e["node"], []).append({"kind": e["kind"], "y": y})
        self.marks.append({"s": i, "y": y, "type": e["kind"], "node": e["node"], "x": x, "text": e["kind"]})
        return y

    _recover = _crash

    def _fault(self, e, i):
        if e["kind"] == "check":
            if e["ok"] or e["name"] in self.violated:
                return self.cur
            self.violated.add(e["name"])
            full = f"⚠ {e['name']} violated: {e['detail']}"
        else:
            full = f"fault: {fault_text(e['fault'])}"
        text = self.fit(full, "band", self.width - M.GUTTER - 12)
        y = self.reserve([_box(0, self.width, -11, 11)])
        self.cur = y + 6  # the band is taller than a sub-row
        self.bottom = max(self.bottom, self.cur)
        self.marks.append({"s": i, "y": y, "type": "fault" if e["kind"] == "fault" else "violation", "text": text,
                           "full": full})
        return y

    _check = _fault

    def _note(self, e, i):
        node = e.get("node")
        if not node or e.get("panel") or node not in self.x:
            return self.cur
        x = self.x[node]
        y = self.reserve([_box(x - 3, x + 3, -3, 3)])
        self.marks.append({"s": i, "y": y, "type": "note", "node": node, "x": x, "text": "", "full": e["text"]})
        return y

    def band(self, node, band, y, i):
        """A band runs down a lifeline from a state change until the next one (None ends it)."""
        bands = self.bands.get(node)
        if bands is None:
            return
        if bands and bands[-1]["y1"] is None:
            bands[-1]["y1"] = y
        if band:
            bands.append({"y0": y, "y1": None, "label": band.get("label", ""), "tone": band.get("tone", "")})


_MISSING = object()


def _js(v):
    """A value as JavaScript's String() writes it."""
    if v is None:
        return "null"
    if v is True or v is False:
        return "true" if v else "false"
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    if isinstance(v, (list, tuple)):
        return ",".join("" if x is None else _js(x) for x in v)
    if isinstance(v, dict):
        return json.dumps(v, separators=(",", ":"), ensure_ascii=False)
    return str(v)


def _fmt_value(v):
    if v is _MISSING:
        return "undefined"
    if isinstance(v, (list, tuple)):
        return f"[{len(v)}]" if len(v) > 6 else _js(v)
    return _js(v)


def state_text(state, before):
    """What changed, not the whole state."""
    return " ".join(f"{k}={_fmt_value(v)}" for k, v in state.items()
                    if k != "knows" and _fmt_value(v) != _fmt_value(before.get(k, _MISSING)))


def fault_text(f):
    who = f.get("node") or " | ".join(",".join(g) for g in f.get("groups") or []) or ""
    match = " ".join(f"{k}={_js(v)}" for k, v in (f.get("match") or {}).items())
    extra = " ".join([f"by {_js(f['by'])}" if "by" in f else "", f"rate {_js(f['rate'])}" if "rate" in f else ""])
    return " ".join(f"{f.get('action', '')} {who} {match} {extra}".split())


# -- drawing: a port of Diagram.render in static/js/diagram.js, the whole run at once -----------------------------

_STYLE = (
    "text{fill:#1d1d1f;paint-order:stroke;stroke:#fbfaf7;stroke-width:3.5px;stroke-linejoin:round}"
    ".f-label{font:600 10.5px system-ui,sans-serif}.f-small{font:10.5px system-ui,sans-serif}"
    ".f-band{font:600 11px system-ui,sans-serif}.f-mono{font:10px ui-monospace,Menlo,Consolas,'DejaVu Sans Mono',monospace}"
    ".f-head,.f-head-narrow{font:700 12px ui-monospace,Menlo,Consolas,'DejaVu Sans Mono',monospace;stroke:none}"
    ".f-head-narrow{font-size:11px}"
    ".headbox{fill:#fff;stroke:#1d1d1f;stroke-width:1.5}.headbox.g-client{stroke-dasharray:4 3}"
    ".headbox.g-traitor{stroke:#CC79A7}.f-head.g-traitor,.f-head-narrow.g-traitor{fill:#CC79A7}"
    ".heads-rule{stroke:#d9d6cf}.tick,.axis-unit{fill:#5f6368}"
    ".lane{fill:#f1eee7;opacity:.55}.lane.g-broker,.lane.g-database{fill:#56B4E9;opacity:.1}"
    ".lane.g-client{fill:#E69F00;opacity:.07}"
    ".life{stroke:#1d1d1f;stroke-width:1.5;opacity:.55}.life.down{stroke-dasharray:2 5;opacity:.35}"
    ".life.g-traitor{stroke:#CC79A7;opacity:.9}.outage{fill:#3a3a3a;opacity:.12}"
    ".band{opacity:.5}.t-hold{fill:#009E73}.t-busy{fill:#56B4E9}.t-wait{fill:#F0E442}.t-fault{fill:#E69F00}"
    ".t-fail{fill:#D55E00}.t-done{fill:#5f6368}.t-traitor{fill:#CC79A7}"
    ".break rect{fill:#fbfaf7;stroke:#d9d6cf;stroke-dasharray:6 4}.break text{fill:#5f6368}"
    ".round{fill:#f1eee7}.round.r1{fill:none}.round-label{fill:#5f6368}"
    ".msg line,.msg path{stroke:#0072B2;stroke-width:1.6;fill:none}.msg .tip{fill:#0072B2;stroke:none}"
    ".msg text{fill:#0072B2}.msg.flight line{stroke-dasharray:5 4;opacity:.75}"
    ".msg.lost line{stroke:#3a3a3a;stroke-dasharray:3 3}.msg.lost .x{stroke:#3a3a3a;stroke-width:2.2}"
    ".msg.lost text{fill:#3a3a3a}.msg.forged line{stroke:#CC79A7;stroke-dasharray:7 3}"
    ".msg.forged .tip{fill:#CC79A7}.msg.forged text{fill:#CC79A7}"
    ".mark.state circle{fill:#009E73}.mark.state text{fill:#009E73}"
    ".mark.state.t-fault text,.mark.state.t-fail text{fill:#D55E00}"
    ".mark.timer path{stroke:#56B4E9;stroke-width:2.5}.mark.timer text{fill:#5f6368}"
    ".mark.crash path{stroke:#D55E00;stroke-width:3}.mark.crash text{fill:#D55E00}"
    ".mark.recover circle{fill:none;stroke:#009E73;stroke-width:2.5}"
    ".mark.fault rect{fill:#E69F00;opacity:.2}.mark.fault text{fill:#8a5a00}"
    ".mark.violation rect{fill:#D55E00;opacity:.16}.mark.violation text{fill:#D55E00}"
    ".mark.note circle{fill:#5f6368}"
)


def _n(v):
    """A coordinate as short as it can be written."""
    v = round(v, 2)
    return str(int(v)) if v == int(v) else str(v)


def _words(node_id):
    """CamelCase ids split between words (OrderService -> Order, Service), never inside one."""
    return re.sub(r"([a-z0-9])([A-Z])", "\\1 \\2", node_id).split(" ")


def _head_lines(node_id, font, room):
    """The id on as few lines as fit `room` px, breaking only between words."""
    lines = []
    for word in _words(node_id):
        if lines and text_width(lines[-1] + word, font) <= room:
            lines[-1] += word
        else:
            lines.append(word)
    return lines


_END = ' text-anchor="end"'


def _heads(nodes, L):
    """A box per node at the top with its id, wrapped between words where the column is narrow; where a word is
    still too wide the font shrinks a little, or heads take turns on two rows (and shrink if they must).
    Returns the height of the heads and their SVG."""
    font = "head" if L.col >= 80 else "head-narrow"
    size, pad_x, pad_y = FONTS[font][0], (6 if L.col >= 80 else 3), 2
    room = L.col - 4 - 2 * pad_x - 3
    lines = {n["id"]: _head_lines(n["id"], font, room) for n in nodes}
    widest = max((text_width(line, font) for ls in lines.values() for line in ls), default=0)
    rows = 1
    if widest > room / 0.85 and len(nodes) > 1:
        rows, room = 2, 2 * L.col - 8 - 2 * pad_x - 3
        lines = {n["id"]: _head_lines(n["id"], font, room) for n in nodes}
        widest = max(text_width(line, font) for ls in lines.values() for line in ls)
    if widest > room:
        size = math.floor(size * room / widest * 10) / 10
    line_h = size * 1.15
    bh = max(len(ls) for ls in lines.values()) * line_h + 2 * pad_y if nodes else 0
    top = max(46, rows * (bh + 4) + 24)
    style = "" if size == FONTS[font][0] else f' style="font-size:{_n(size)}px"'
    out = []
    for i, n in enumerate(nodes):
        ls, x, g = lines[n["id"]], L.x[n["id"]], f' g-{_esc(n["group"])}' if n.get("group") else ""
        bw = max(text_width(line, font, size) for line in ls) + 2 * pad_x
        x = min(max(x, bw / 2 + 2), L.width - bw / 2 - 2)  # a wide head at either end stays on the page
        h = len(ls) * line_h + 2 * pad_y
        by = max(4, (top - 14 - rows * (bh + 4)) / 2) + (i % rows) * (bh + 4) + (bh - h) / 2
        rx = 12 if n.get("group") in ("broker", "database") else 6
        out.append(f'<g class="head{g}"><title>{_esc(n["label"])}{" (" + _esc(n["group"]) + ")" if n.get("group") else ""}'
                   f'</title><rect class="headbox{g}" x="{_n(x - bw / 2)}" y="{_n(by)}" width="{_n(bw)}" '
                   f'height="{_n(h)}" rx="{rx}"/>')
        for k, line in enumerate(ls):
            ty = by + pad_y + line_h * k + size * 0.95
            out.append(f'<text class="f-{font}{g}" x="{_n(x)}" y="{_n(ty)}" text-anchor="middle"{style}>'
                       f'{_esc(line)}</text>')
        out.append("</g>")
    return top, out


def to_svg(trace, tick=None, width=1200):
    """The whole run as one standalone SVG, laid out by the browser's rules (static/js/layout.js): readable
    columns, texts that never overlap, state bands, outages, and long idle gaps drawn as breaks in time.
    `tick` is the scenario's tick text ("one millisecond" makes the axis milliseconds)."""
    init = trace[0]
    unit, row_ticks = time_scale(tick)
    L = Layout(init, width, unit, row_ticks)
    for i, e in enumerate(trace):
        L.append(e, i)
    nodes, W = init["nodes"], L.width

    top, heads = _heads(nodes, L)
    y_now = L.y[-1] + M.SUB * 0.7
    height = top + L.y[-1] + M.ROW * 2
    out = ['<rect width="100%" height="100%" fill="#fbfaf7"/>',
           f'<line class="heads-rule" x1="0" y1="{_n(top)}" x2="{W}" y2="{_n(top)}"/>',
           f'<text class="axis-unit f-mono" x="6" y="{_n(top - 4)}">t ({unit})</text>', *heads]

    def Y(y):
        return _n(top + y)

    body_h = height - top
    for n in nodes:  # column groups as tinted lanes
        if n.get("group"):
            out.append(f'<rect class="lane g-{_esc(n["group"])}" x="{_n(L.x[n["id"]] - L.col / 2 + 1)}" y="{_n(top)}" '
                       f'width="{L.col - 2}" height="{_n(body_h)}"/>')
    for k, r in L.rounds.items():
        parity = k % 2 if isinstance(k, int) else 0
        out.append(f'<rect class="round r{parity}" x="{M.GUTTER}" y="{Y(r["y0"] - M.SUB)}" width="{W - M.GUTTER}" '
                   f'height="{_n(r["y1"] - r["y0"] + M.SUB * 1.5)}"/>'
                   f'<text class="round-label f-small" x="{_n(r["lx"])}" y="{Y(r["ly"])}">round {_esc(_js(k))}</text>')
    for b in L.breaks:
        out.append(f'<g class="break"><rect x="{M.GUTTER - 4}" y="{Y(b["y"])}" width="{W - M.GUTTER + 4}" height="{b["h"]}"/>'
                   f'<text class="f-band" x="{_n((M.GUTTER + W) / 2)}" y="{Y(b["y"] + b["h"] / 2 + 4)}" '
                   f'text-anchor="middle">{_esc(b["text"])}</text></g>')
    for k in L.ticks:
        out.append(f'<text class="tick f-mono" x="{M.GUTTER - 8}" y="{Y(k["y"] + 4)}" text-anchor="end">{k["t"]}</text>')

    for n in nodes:  # lifelines: state bands, outages (a grey band, the line dashed), the line itself
        nid, x = n["id"], L.x[n["id"]]
        for b in L.bands[nid]:
            y1 = b["y1"] if b["y1"] is not None else y_now
            out.append(f'<rect class="band t-{_esc(b["tone"])}" x="{_n(x - 5)}" y="{Y(b["y0"])}" width="10" '
                       f'height="{_n(max(2, y1 - b["y0"]))}" rx="3"><title>{_esc(nid)}: {_esc(b["label"])}</title></rect>')
        segs, start, alive = [], 0, True
        for o in L.outages.get(nid, []):
            if o["kind"] == "crash" and alive:
                segs.append((start, o["y"], True))
                start, alive = o["y"], False
            elif o["kind"] == "recover" and not alive:
                segs.append((start, o["y"], False))
                start, alive = o["y"], True
        segs.append((start, y_now, alive))
        g = f' g-{_esc(n["group"])}' if n.get("group") else ""
        for y0, y1, up in segs:
            if not up:
                out.append(f'<rect class="outage" x="{_n(x - 5)}" y="{Y(y0)}" width="10" height="{_n(y1 - y0)}">'
                           f'<title>{_esc(nid)} is down</title></rect>')
            out.append(f'<line class="life{"" if up else " down"}{g}" x1="{_n(x)}" y1="{Y(y0)}" x2="{_n(x)}" y2="{Y(y1)}"/>')

    for m in L.msg_list:  # arrows, labels beside their sender just above the line
        x0, y0 = L.x[m["src"]], m["ys"]
        done = m["end"] is not None
        y1 = m["ye"] if done else y_now
        x1 = m["xe"] if m["end"] == "drop" else L.x[m["dst"]]
        cls = ["msg"] + (["forged"] if m["forged"] else []) + (["dup"] if m["dup"] else [])
        if not done:
            cls.append("flight")
            x1 = x0 + (x1 - x0) * min(0.85, (y1 - y0) / (M.ROW * 2) + 0.3)
        elif m["end"] == "drop":
            cls.append("lost")
        if m["src"] == m["dst"]:
            line = f'<path d="M{_n(x0)} {Y(y0)}c{_n(L.col * 0.4)} 0 {_n(L.col * 0.4)} {_n(y1 - y0)} 0 {_n(y1 - y0)}"/>'
        else:
            line = f'<line x1="{_n(x0)}" y1="{Y(y0)}" x2="{_n(x1)}" y2="{Y(y1)}"/>'
        tail = ""
        if m["end"] == "deliver":
            tail = _arrow_head(x0, top + y0, x1, top + y1)
        elif m["end"] == "drop":
            tail = f'<path class="x" d="M{_n(x1 - 5)} {Y(y1 - 5)}l10 10m0 -10l-10 10"/>'
        lost = f" (lost: {_esc(m['reason'])})" if m["reason"] else ""
        out.append(f'<g class="{" ".join(cls)}"><title>{_esc(m["src"])} → {_esc(m["dst"])}: {_esc(m["label"])}{lost}'
                   f'</title>{line}{tail}<text class="f-label" x="{_n(m["lx"])}" y="{Y(m["ly"])}">{_esc(m["text"])}</text></g>')

    for k in L.marks:
        x, y, kind = k.get("x", 0), k["y"], k["type"]
        full = k.get("full") or k["text"]
        title = f"<title>{_esc(full)}</title>" if full else ""
        if kind == "state":
            tone = f' t-{_esc(k["tone"])}' if k["tone"] else ""
            text = (f'<text class="f-small" x="{_n(x - 7 if k["left"] else x + 7)}" y="{Y(y + 4)}"'
                    f'{_END if k["left"] else ""}>{_esc(k["text"])}</text>') if k["text"] else ""
            out.append(f'<g class="mark state{tone}">{title}<circle cx="{_n(x)}" cy="{Y(y)}" r="3.5"/>{text}</g>')
        elif kind == "timer":
            out.append(f'<g class="mark timer">{title}<path d="M{_n(x - 7)} {Y(y)}h14"/><text class="f-small" '
                       f'x="{_n(x - 10 if k["left"] else x + 10)}" y="{Y(y + 4)}"'
                       f'{_END if k["left"] else ""}>{_esc(k["text"])}</text></g>')
        elif kind == "crash":
            out.append(f'<g class="mark crash"><path d="M{_n(x - 7)} {Y(y - 7)}l14 14m0 -14l-14 14"/>'
                       f'<text class="f-label" x="{_n(x + 10)}" y="{Y(y + 4)}">crash</text></g>')
        elif kind == "recover":
            out.append(f'<g class="mark recover"><circle cx="{_n(x)}" cy="{Y(y)}" r="6"/>'
                       f'<text class="f-label" x="{_n(x + 10)}" y="{Y(y + 4)}">recover</text></g>')
        elif kind in ("fault", "violation"):
            out.append(f'<g class="mark {kind}">{title}<rect x="{M.GUTTER - 4}" y="{Y(y - 10)}" width="{W - M.GUTTER}" '
                       f'height="20" rx="3"/><text class="f-band" x="{M.GUTTER + 4}" y="{Y(y + 4)}">{_esc(k["text"])}</text></g>')
        elif kind == "note":
            out.append(f'<g class="mark note">{title}<circle cx="{_n(x)}" cy="{Y(y)}" r="2.5"/></g>')

    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{_n(height)}" viewBox="0 0 {W} {_n(height)}">'
            f'<title>{_esc(init["scenario"])}</title><style>{_STYLE}</style>{"".join(out)}</svg>\n')


def _arrow_head(x0, y0, x1, y1):
    a, s = math.atan2(y1 - y0, x1 - x0), 8

    def p(d):
        return f"{_n(x1 - s * math.cos(a + d))} {_n(y1 - s * math.sin(a + d))}"
    return f'<path class="tip" d="M{_n(x1)} {_n(y1)}L{p(0.45)}L{p(-0.45)}Z"/>'
