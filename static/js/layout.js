// Where everything in the sequence diagram goes, decided once per event as the trace streams in.
//
// The rules (docs/diagram.md; simulations/export.py follows the same ones for export.svg):
// - y never goes back: events are placed in trace order, so a run reads top to bottom.
// - Time is linear within bursts (ROW px per `rowTicks`), never closer than MIN_GAP between ticks;
//   a gap longer than BREAK_ROWS rows is drawn as a break of BREAK_H px with the elapsed time on it.
// - Every text (message label, state change, timer, crash, band, round) reserves its box; an event whose
//   boxes would touch a box already placed moves down a sub-row (SUB px) within its tick. Nothing is left
//   out to make room: long texts are abbreviated to their column and keep the full text on hover.
// - With clocks shown (`stamp` gives an event's text), an event on a node reserves a box for its clocks too.

import { fmt } from "./html.js";

export const M = {
  GUTTER: 58, RIGHT: 14, MIN_COL: 46, SUB: 17, ROW: 40, MIN_GAP: 21, BREAK_H: 34, BREAK_ROWS: 4,
  PAD: 2, TEXT_H: 13,
};
export const FONT = { label: "600 10.5px system-ui, sans-serif", small: "10.5px system-ui, sans-serif", band: "600 11px system-ui, sans-serif",
  clock: '9.5px "DejaVu Sans Mono", Menlo, Consolas, monospace' };

// A text measurer with a cache; the canvas uses the same fonts as the SVG (lifelines.css).
export function canvasMeasure() {
  const ctx = document.createElement("canvas").getContext("2d");
  const cache = new Map();
  return (text, font) => {
    const key = font + "\u0000" + text;
    let w = cache.get(key);
    if (w === undefined) {
      ctx.font = font;
      w = Math.ceil(ctx.measureText(text).width) + 2;
      if (cache.size > 20000) cache.clear();
      cache.set(key, w);
    }
    return w;
  };
}

// Units: the axis says them; rowTicks is how many ticks one ROW stands for.
export function timeScale(tick) {
  return /millisecond/.test(tick || "") ? { unit: "ms", rowTicks: 10 } : { unit: "ticks", rowTicks: 1 };
}

export function elapsed(dt, unit) {
  if (unit === "ms") return dt >= 10000 ? `${+(dt / 1000).toFixed(1)} s` : `${dt} ms`;
  return `${dt} ticks`;
}

export class Layout {
  constructor(init, { width, measure, unit = "ticks", rowTicks = 1, zoom = 1, stamp = null }) {
    this.init = init;
    this.nodes = init ? init.nodes : [];
    this.measure = measure;
    this.unit = unit;
    this.rowTicks = rowTicks;
    this.zoom = zoom;
    this.stamp = stamp;
    this.stamps = [];     // {s, node, x, y, text, full}: clocks, in y order
    this.clock = null;
    this.columns(width);
    this.y = [];          // y of each event, by index (non-decreasing)
    this.msgs = new Map();
    this.msgList = [];    // in send order, so in y order
    this.open = new Set(); // sent, neither delivered nor lost yet
    this.marks = [];      // state, timer, crash, recover, fault, violation, note: in y order
    this.bands = new Map(this.nodes.map((n) => [n.id, []]));  // node -> [{y0, s, y1, e, label, tone}]
    this.outages = new Map();
    this.breaks = [];     // {y, h, dt, s}
    this.ticks = [];      // {y, t, s}: axis labels
    this.rounds = new Map();
    this.violated = new Set();
    this.lastState = new Map();
    this.boxes = [];      // boxes still reachable by the next event
    this.maxSpan = 0;
    this.lastT = null;
    this.cur = M.SUB;     // the y of the current sub-row
    this.bottom = M.SUB;
  }

  columns(width) {
    const n = Math.max(this.nodes.length, 1);
    this.col = Math.max(M.MIN_COL, Math.floor((width - M.GUTTER - M.RIGHT) / n));
    this.width = M.GUTTER + this.col * n + M.RIGHT;
    this.x = new Map(this.nodes.map((node, i) => [node.id, M.GUTTER + this.col * (i + 0.5)]));
  }

  // -- boxes ---------------------------------------------------------------
  free(list, dy) {
    for (const a of list) {
      for (const b of this.boxes) {
        if (a.x0 < b.x1 && b.x0 < a.x1 && a.y0 + dy < b.y1 && b.y0 < a.y1 + dy) return false;
      }
    }
    return true;
  }

  // Boxes are given relative to the event's y; returns the y where they fit (the current sub-row or below).
  reserve(list) {
    let y = this.cur;
    for (let tries = 0; tries < 400 && !this.free(list, y); tries++) y += M.SUB;
    for (const a of list) this.boxes.push({ x0: a.x0, x1: a.x1, y0: a.y0 + y, y1: a.y1 + y });
    this.cur = y;
    this.bottom = Math.max(this.bottom, y);
    return y;
  }

  prune() {
    const limit = this.cur - M.ROW * 2;
    if (this.boxes.length > 64) this.boxes = this.boxes.filter((b) => b.y1 > limit);
  }

  // A new tick: move down by the time that passed, or draw a break.
  advance(t, i) {
    if (this.lastT === null) {
      this.lastT = t;
      this.ticks.push({ y: this.cur, t, s: i });
      return;
    }
    if (t === this.lastT) return;
    const dt = t - this.lastT;
    this.lastT = t;
    const base = this.bottom;
    if (dt > this.rowTicks * M.BREAK_ROWS) {
      const y = base + M.MIN_GAP;
      this.breaks.push({ y, h: M.BREAK_H, dt, s: i, text: `⋯ ${elapsed(dt, this.unit)} ⋯` });
      this.cur = y + M.BREAK_H + M.MIN_GAP * 0.6;
    } else {
      this.cur = base + Math.max(M.MIN_GAP, (dt / this.rowTicks) * M.ROW * this.zoom);
    }
    this.bottom = this.cur;
    this.boxes = this.boxes.filter((b) => b.y1 > this.cur - M.ROW * 2);
    this.ticks.push({ y: this.cur, t, s: i });
  }

  // The box of a text of width w beside a lifeline at x: right (dir 1) or left (dir -1) of it, and whether it
  // stays clear of the time axis and inside the page.
  beside(x, w, dir, gap = 6) {
    const x0 = dir > 0 ? x + gap : x - gap - w - 2;
    const box = { x0, x1: x0 + w + 2, y0: -M.TEXT_H / 2 - 1, y1: M.TEXT_H / 2 + 1 };
    box.inside = box.x0 >= M.GUTTER && box.x1 <= this.width;
    return box;
  }

  // An abbreviation that fits `max` px; the full text stays in the title.
  fit(s, font, max) {
    if (this.measure(s, font) <= max) return s;
    let lo = 1, hi = s.length;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.measure(s.slice(0, mid) + "…", font) <= max) lo = mid; else hi = mid - 1;
    }
    return s.slice(0, lo) + "…";
  }

  // The event's clocks beside its lifeline, on the side `dir` or else the other, clear of its own boxes; below
  // the event when neither side has room. Returns the boxes to reserve together.
  clockBox(i, node, dir, own) {
    const full = this.stamp && this.stamp(i);
    if (!full) return own;
    const text = this.fit(full, FONT.clock, Math.max(this.col * 1.8, 90));
    const x = this.x.get(node), w = this.measure(text, FONT.clock);
    const hits = (b) => own.some((a) => a.x0 < b.x1 && b.x0 < a.x1 && a.y0 < b.y1 && b.y0 < a.y1);
    let box = [this.beside(x, w, dir, 8), this.beside(x, w, -dir, 8)].find((b) => b.inside && !hits(b));
    if (!box) {
      const x0 = Math.max(M.GUTTER, Math.min(x - w / 2 - 1, this.width - w - 2));
      box = { x0, x1: x0 + w + 2, y0: 9, y1: 10 + M.TEXT_H };
    }
    this.clock = { s: i, node, text, full, box };
    return [...own, box];
  }

  // -- events --------------------------------------------------------------
  append(e, i) {
    if (e.kind === "init") { this.y[i] = 0; return; }
    this.advance(e.t, i);
    this.clock = null;
    const H = M.TEXT_H;
    switch (e.kind) {
      case "send": {
        const x0 = this.x.get(e.src), x1 = this.x.get(e.dst);
        const dir = x1 >= x0 ? 1 : -1;
        const full = e.label + (e.tag ? ` ${e.tag}` : "") + (e.dup ? " (dup)" : "");
        const reach = Math.max(this.col * 1.6, Math.abs(x1 - x0) - 10);
        const text = this.fit(full, FONT.label, reach);
        const w = this.measure(text, FONT.label);
        let lx = dir > 0 ? x0 + 6 : x0 - 6 - w;
        lx = Math.max(M.GUTTER + M.PAD, Math.min(lx, this.width - M.PAD - w));
        const round = e.data && e.data.round;
        const boxes = [{ x0: lx - M.PAD, x1: lx + w + M.PAD, y0: -H - 1, y1: 0 }, { x0: x0 - 4, x1: x0 + 4, y0: -3, y1: 3 }];
        let roundBox = null;
        if (round != null && !this.rounds.has(round)) {
          const rw = this.measure(`round ${round}`, FONT.small);
          roundBox = { x0: this.width - M.RIGHT - rw - 2, x1: this.width, y0: -H - 1, y1: 0 };
          if (roundBox.x0 < boxes[0].x1) roundBox = { x0: M.GUTTER, x1: M.GUTTER + rw + 4, y0: -H - 1, y1: 0 };
          if (roundBox.x1 > boxes[0].x0 && roundBox.x0 < boxes[0].x1) roundBox = { ...roundBox, y0: -2 * H - 4, y1: -H - 3 };
          boxes.push(roundBox);
        }
        const y = this.reserve(this.clockBox(i, e.src, -dir, boxes));
        this.y[i] = y;
        const m = { id: e.msg, src: e.src, dst: e.dst, label: full, text, lx, ly: y - 3, ys: y, s: i, ye: null, e: null,
          end: null, reason: null, forged: !!(e.data && e.data.forged), dup: e.dup, tag: e.tag, round };
        m.i = this.msgList.length;
        this.msgs.set(e.msg, m);
        this.msgList.push(m);
        this.open.add(m);
        if (round != null) {
          const r = this.rounds.get(round);
          if (r) r.y1 = Math.max(r.y1, y);
          else this.rounds.set(round, { k: round, y0: y, y1: y, s: i, lx: roundBox.x0 + 2, ly: y + roundBox.y1 - 3 });
        }
        break;
      }
      case "deliver": case "drop": {
        const m = this.msgs.get(e.msg);
        const x = m ? this.x.get(e.dst) : 0;
        const xe = m && e.kind === "drop" ? this.x.get(m.src) + (x - this.x.get(m.src)) * 0.6 : x;
        const end = [{ x0: xe - 7, x1: xe + 7, y0: -6, y1: 6 }];
        const y = this.reserve(m && e.kind === "deliver" ? this.clockBox(i, e.dst, x >= this.x.get(m.src) ? 1 : -1, end) : end);
        this.y[i] = y;
        if (!m) break;
        m.ye = y; m.e = i; m.end = e.kind; m.reason = e.reason; m.xe = xe;
        this.open.delete(m);
        this.maxSpan = Math.max(this.maxSpan, y - m.ys);
        if (m.round != null) { const r = this.rounds.get(m.round); r.y1 = Math.max(r.y1, y); }
        break;
      }
      case "state": {
        const x = this.x.get(e.node);
        const before = this.lastState.get(e.node);
        this.lastState.set(e.node, e.state);
        const full = before ? stateText(e.state, before) : "";
        const text = full && this.fit(full, FONT.small, Math.max(this.col - 14, 60));
        const w = text ? this.measure(text, FONT.small) : 0;
        const dot = { x0: x - 4, x1: x + 4, y0: -4, y1: 4 };
        // the text goes right of the lifeline, or left where the right is taken on this sub-row or off the page
        const right = this.beside(x, w, 1), left = this.beside(x, w, -1);
        const sides = [right, left].filter((b) => b.inside);
        const side = sides.find((b) => this.free([dot, b], this.cur)) || sides[0] || right;
        const y = this.reserve(this.clockBox(i, e.node, side === left ? 1 : -1, text ? [dot, side] : [dot]));
        this.y[i] = y;
        this.marks.push({ s: i, y, type: "state", node: e.node, x, text, full, tone: e.band && e.band.tone, left: side === left });
        if ("band" in e) this.band(e.node, e.band, y, i);
        break;
      }
      case "timer": {
        const x = this.x.get(e.node);
        const text = this.fit(e.label, FONT.small, Math.max(this.col - 14, 60));
        const w = this.measure(text, FONT.small);
        const box = this.beside(x, w, -1, 10);
        const side = box.inside ? box : this.beside(x, w, 1, 10);
        const y = this.reserve(this.clockBox(i, e.node, side === box ? 1 : -1, [side, { x0: x - 8, x1: x + 8, y0: -3, y1: 3 }]));
        this.y[i] = y;
        this.marks.push({ s: i, y, type: "timer", node: e.node, x, text, full: e.label, left: side === box });
        break;
      }
      case "crash": case "recover": {
        const x = this.x.get(e.node);
        const w = this.measure(e.kind, FONT.label);
        const y = this.reserve(this.clockBox(i, e.node, -1, [{ x0: x - 9, x1: x + 12 + w, y0: -H / 2 - 3, y1: H / 2 + 3 }]));
        this.y[i] = y;
        const list = this.outages.get(e.node) || [];
        list.push({ kind: e.kind, y, s: i });
        this.outages.set(e.node, list);
        this.marks.push({ s: i, y, type: e.kind, node: e.node, x, text: e.kind });
        break;
      }
      case "fault": case "check": {
        if (e.kind === "check" && (e.ok || this.violated.has(e.name))) { this.y[i] = this.cur; break; }
        if (e.kind === "check") this.violated.add(e.name);
        const full = e.kind === "fault" ? `fault: ${faultText(e.fault)}` : `⚠ ${e.name} violated: ${e.detail}`;
        const text = this.fit(full, FONT.band, this.width - M.GUTTER - 12);
        const y = this.reserve([{ x0: 0, x1: this.width, y0: -11, y1: 11 }]) ;
        this.y[i] = y;
        this.cur = y + 6;  // the band is taller than a sub-row
        this.bottom = Math.max(this.bottom, this.cur);
        this.marks.push({ s: i, y, type: e.kind === "fault" ? "fault" : "violation", text, full, name: e.name });
        break;
      }
      case "note": {
        if (!e.node || e.panel || !this.x.has(e.node)) { this.y[i] = this.cur; break; }
        const x = this.x.get(e.node);
        const y = this.reserve(this.clockBox(i, e.node, 1, [{ x0: x - 3, x1: x + 3, y0: -3, y1: 3 }]));
        this.y[i] = y;
        this.marks.push({ s: i, y, type: "note", node: e.node, x, text: "", full: e.text });
        break;
      }
      default:
        this.y[i] = this.cur;
    }
    if (this.clock) {
      const { s, node, text, full, box } = this.clock;
      this.stamps.push({ s, node, text, full, x: box.x0 + 1, y: this.y[i] + (box.y0 + box.y1) / 2 + 3.5 });
    }
    this.prune();
  }

  // A band runs down a lifeline from a state change until the next one (null ends it).
  band(node, band, y, i) {
    const list = this.bands.get(node);
    if (!list) return;
    const open = list.length && list[list.length - 1].y1 === null ? list[list.length - 1] : null;
    if (open) { open.y1 = y; open.e = i; }
    if (band) list.push({ y0: y, s: i, y1: null, e: null, label: band.label, tone: band.tone });
  }

  yOf(i) { return this.y[i] ?? 0; }
}

// What changed, not the whole state: the node panel holds the rest.
export function stateText(state, before) {
  return Object.entries(state).filter(([k, v]) => k !== "knows" && fmt(v) !== fmt(before[k]))
    .map(([k, v]) => `${k}=${fmt(v)}`).join(" ");
}

export function faultText(f) {
  const who = f.node || (f.groups && f.groups.map((g) => g.join(",")).join(" | ")) || "";
  const match = f.match ? Object.entries(f.match).map(([k, v]) => `${k}=${v}`).join(" ") : "";
  const extra = [f.by !== undefined ? `by ${f.by}` : "", f.rate !== undefined ? `rate ${f.rate}` : ""].join(" ");
  return `${f.action} ${who} ${match} ${extra}`.replace(/\s+/g, " ").trim();
}
