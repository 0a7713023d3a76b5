// The sequence diagram: lifelines down the page, time growing downwards, one diagonal arrow per message.
// Layout is incremental (events are appended as they stream) and drawing is windowed: only what is on
// screen becomes SVG, so a run of 100,000 events scrolls as smoothly as one of ten.

import { fmt } from "./trace.js";

const ROW = 52;
const GUTTER = 64;
const TOP = 18;
const NS = "http://www.w3.org/2000/svg";

const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" }[c]));

export class Diagram {
  constructor(wrap, { onHead } = {}) {
    this.wrap = wrap;
    this.heads = wrap.querySelector(".heads");
    this.scroller = wrap.querySelector(".diagram-scroll");
    this.svg = wrap.querySelector("svg.diagram");
    this.onHead = onHead;
    this.zoom = 1;
    this.hidden = new Set();
    this.showLabels = true;
    this.showFaults = true;
    this.scroller.addEventListener("scroll", () => this.schedule(), { passive: true });
    new ResizeObserver(() => { this.placeColumns(); this.schedule(); }).observe(this.scroller);
    this.reset(null);
  }

  reset(init) {
    this.init = init;
    this.events = [];
    this.rowOfT = new Map();
    this.rowT = [];
    this.ys = [];
    this.msgs = new Map();
    this.msgList = [];
    this.marks = [];
    this.outages = new Map();
    this.rounds = new Map();
    this.lastState = new Map();
    this.violated = new Set();
    this.maxSpan = 0;
    this.open = new Set();  // messages with no delivery or loss yet
    this.cursor = 0;
    this.lastDrawn = 0;
    this.nodes = init ? init.nodes : [];
    this.groups = new Map(this.nodes.map((n) => [n.id, n.group]));
    this.heads.innerHTML = "";
    for (const n of this.nodes) {
      const b = document.createElement("button");
      b.type = "button";
      b.className = `head ${n.group ? "g-" + n.group : ""}`;
      b.dataset.node = n.id;
      b.title = `${n.label}: click to crash or recover`;
      b.innerHTML = `<span class="id">${esc(n.id)}</span>${n.label !== n.id ? `<span class="label">${esc(n.label)}</span>` : ""}`;
      b.addEventListener("click", () => this.onHead && this.onHead(n.id));
      this.heads.appendChild(b);
    }
    this.wrap.classList.toggle("has-run", !!init);
    this.placeColumns();
  }

  placeColumns() {
    const width = this.scroller.clientWidth || 800;
    const n = Math.max(this.nodes.length, 1);
    this.col = Math.max(86, (width - GUTTER - 16) / n);
    this.x = new Map(this.nodes.map((node, i) => [node.id, GUTTER + this.col * (i + 0.5)]));
    this.width = Math.max(width, GUTTER + this.col * n + 16);
    for (const b of this.heads.children) {
      b.style.left = `${this.x.get(b.dataset.node) - this.scroller.scrollLeft}px`;
      b.style.maxWidth = `${this.col - 6}px`;
    }
  }

  rowY(row) { return TOP + row * ROW * this.zoom; }

  // Zoom stretches time (rows) only: columns stay readable; "fit" shows the whole run so far.
  setZoom(z) {
    const rowNow = (this.scroller.scrollTop + this.scroller.clientHeight / 2 - TOP) / (ROW * this.zoom);
    this.zoom = Math.max(0.02, Math.min(4, z));
    this.scroller.scrollTop = Math.max(0, TOP + rowNow * ROW * this.zoom - this.scroller.clientHeight / 2);
    this.wrap.dataset.zoom = this.zoom.toFixed(3);
    this.schedule();
  }

  fit() {
    const rows = Math.max(1, this.headRow() + 2);
    this.setZoom((this.scroller.clientHeight - TOP - 20) / (rows * ROW));
    this.scroller.scrollTop = 0;
  }

  yOf(t) {
    let row = this.rowOfT.get(t);
    if (row === undefined) {
      row = this.rowT.length;
      this.rowOfT.set(t, row);
      this.rowT.push(t);
    }
    return row;
  }

  append(events) {
    for (const e of events) {
      const i = this.events.length;
      this.events.push(e);
      if (e.kind === "init") continue;
      const row = this.yOf(e.t);
      this.ys[i] = row;
      switch (e.kind) {
        case "send": {
          const m = { id: e.msg, src: e.src, dst: e.dst, label: e.label, rs: row, s: i, re: null, e: null, end: null,
            forged: !!(e.data && e.data.forged), round: e.data && e.data.round, dup: e.dup };
          this.msgs.set(e.msg, m);
          this.msgList.push(m);
          this.open.add(m);
          if (m.round != null) {
            const r = this.rounds.get(m.round) || { from: row, to: row, s: i };
            r.to = Math.max(r.to, row);
            this.rounds.set(m.round, r);
          }
          break;
        }
        case "deliver": case "drop": {
          const m = this.msgs.get(e.msg);
          if (!m) break;
          m.re = row; m.e = i; m.end = e.kind; m.reason = e.reason;
          this.open.delete(m);
          this.maxSpan = Math.max(this.maxSpan, row - m.rs);
          if (m.round != null) this.rounds.get(m.round).to = Math.max(this.rounds.get(m.round).to, row);
          break;
        }
        case "crash": case "recover": {
          const list = this.outages.get(e.node) || [];
          list.push({ kind: e.kind, row, s: i });
          this.outages.set(e.node, list);
          this.marks.push({ s: i, row, type: e.kind, node: e.node });
          break;
        }
        case "state": {
          const before = this.lastState.get(e.node);
          this.lastState.set(e.node, e.state);
          this.marks.push({ s: i, row, type: "state", node: e.node, text: before ? stateText(e.state, before) : "" });
          break;
        }
        case "timer": this.marks.push({ s: i, row, type: "timer", node: e.node, text: e.label }); break;
        case "fault": this.marks.push({ s: i, row, type: "fault", text: faultText(e.fault) }); break;
        case "check":
          if (!e.ok && !this.violated.has(e.name)) {
            this.violated.add(e.name);
            this.marks.push({ s: i, row, type: "violation", text: `${e.name} violated` });
          }
          break;
        case "note": if (e.node && !e.panel) this.marks.push({ s: i, row, type: "note", node: e.node, text: e.text }); break;
      }
    }
  }

  show(cursor) {
    this.cursor = cursor;
    this.schedule();
  }

  // The row of the last event shown; the "now" line sits just below it.
  headRow() {
    for (let i = this.cursor - 1; i > 0; i--) if (this.ys[i] !== undefined) return this.ys[i];
    return 0;
  }

  // Keep the newest row in view; done in draw(), once the SVG is tall enough to scroll there.
  follow() {
    this.wantFollow = true;
    this.schedule();
  }

  scrollToHead(headRow) {
    const y = this.rowY(headRow);
    const top = this.scroller.scrollTop, h = this.scroller.clientHeight;
    const row = ROW * this.zoom;
    if (y + row * 1.5 > top + h || y < top) this.scroller.scrollTop = Math.max(0, y + row * 1.5 - h);
  }

  schedule() {
    if (this.pending) return;
    this.pending = requestAnimationFrame(() => { this.pending = null; this.draw(); });
  }

  draw() {
    if (!this.init) {
      this.svg.innerHTML = "";
      return;
    }
    const c = this.cursor;
    const headRow = this.headRow();
    const height = this.rowY(headRow + 3) + ROW;
    this.svg.setAttribute("width", this.width);
    this.svg.setAttribute("height", height);
    if (this.wantFollow) {
      this.wantFollow = false;
      this.scrollToHead(headRow);
    }
    for (const b of this.heads.children) b.style.left = `${this.x.get(b.dataset.node) - this.scroller.scrollLeft}px`;
    const top = this.scroller.scrollTop - ROW * 2, bottom = top + this.scroller.clientHeight + ROW * 4;
    const rowTop = Math.max(0, Math.floor((top - TOP) / (ROW * this.zoom)));
    const rowBottom = Math.ceil((bottom - TOP) / (ROW * this.zoom));
    const yNow = this.rowY(headRow) + ROW * this.zoom * 0.6;
    const out = [];
    const fresh = this.lastDrawn;
    const visible = (r0, r1) => r1 >= rowTop && r0 <= rowBottom;
    const labels = new Labels();

    for (const [k, r] of this.rounds) {
      if (!visible(r.from, r.to) || r.s >= c) continue;
      const y0 = this.rowY(r.from) - ROW * 0.3, y1 = this.rowY(r.to) + ROW * 0.3;
      out.push(`<rect class="round r${k % 2}" x="0" y="${y0}" width="${this.width}" height="${y1 - y0}"/><text class="round-label" x="${this.width - 8}" y="${y0 + 12}" text-anchor="end">round ${k}</text>`);
    }
    const every = Math.max(1, Math.ceil(18 / (ROW * this.zoom)));
    for (let r = rowTop - (rowTop % every); r <= Math.min(rowBottom, headRow); r += every) {
      out.push(`<text class="tick" x="${GUTTER - 10}" y="${this.rowY(r) + 4}" text-anchor="end">t=${this.rowT[r]}</text>`);
    }
    for (const n of this.nodes) {
      if (this.hidden.has(n.id)) continue;
      const x = this.x.get(n.id);
      let from = 0, alive = true;
      const segs = [];
      for (const o of this.outages.get(n.id) || []) {
        if (o.s >= c) break;
        if (o.kind === "crash" && alive) { segs.push([from, this.rowY(o.row), true]); from = this.rowY(o.row); alive = false; }
        else if (o.kind === "recover" && !alive) { segs.push([from, this.rowY(o.row), false]); from = this.rowY(o.row); alive = true; }
      }
      segs.push([from, yNow, alive]);
      for (const [y0, y1, up] of segs) out.push(`<line class="life ${up ? "" : "down"} ${n.group ? "g-" + n.group : ""}" x1="${x}" y1="${y0}" x2="${x}" y2="${y1}"/>`);
    }
    // Both lists are in row order: start where the window starts (less the longest arrow), stop below it.
    let from = rowTop - this.maxSpan - 2;
    for (const m of this.open) from = Math.min(from, m.rs);
    for (let i = firstAtOrAfter(this.msgList, "rs", from); i < this.msgList.length; i++) {
      const m = this.msgList[i];
      if (m.s >= c || m.rs > rowBottom) break;
      const done = m.e !== null && m.e < c;
      const r1 = done ? m.re : headRow + 1;
      if (!visible(m.rs, r1) || this.hidden.has(m.src) || this.hidden.has(m.dst)) continue;
      const x0 = this.x.get(m.src), y0 = this.rowY(m.rs);
      let x1 = this.x.get(m.dst), y1 = done ? this.rowY(m.re) : yNow;
      const cls = ["msg"];
      if (m.forged) cls.push("forged");
      if (m.dup) cls.push("dup");
      if (done && m.e >= fresh) cls.push("fresh");
      if (!done) { cls.push("flight"); x1 = x0 + (x1 - x0) * Math.min(0.85, (y1 - y0) / (ROW * 2 * this.zoom) + 0.3); }
      else if (m.end === "drop") { cls.push("lost"); x1 = x0 + (x1 - x0) * 0.6; }
      const label = this.showLabels && this.zoom > 0.45 ? labels.place(m, x0, y0, x1, y1, done, this.col) : null;
      out.push(`<g class="${cls.join(" ")}" data-seq="${m.s}"><title>#${this.events[m.s].seq} ${esc(m.src)} → ${esc(m.dst)}: ${esc(m.label)}</title><line x1="${x0}" y1="${y0}" x2="${x1}" y2="${y1}" pathLength="1"/>`
        + (done && m.end === "deliver" ? arrowHead(x0, y0, x1, y1) : "")
        + (done && m.end === "drop" ? `<path class="x" d="M${x1 - 5} ${y1 - 5}l10 10m0 -10l-10 10"/>` : "")
        + (label ? `<text x="${label.x}" y="${label.y}" text-anchor="middle">${esc(m.label)}${m.dup ? " (dup)" : ""}</text>` : "") + "</g>");
    }
    for (let i = firstAtOrAfter(this.marks, "row", rowTop); i < this.marks.length; i++) {
      const k = this.marks[i];
      if (k.s >= c || k.row > rowBottom) break;
      if (!visible(k.row, k.row) || (k.node && this.hidden.has(k.node))) continue;
      if (k.type === "fault" && !this.showFaults) continue;
      if (this.zoom < 0.45 && (k.type === "state" || k.type === "timer" || k.type === "note")) continue;
      const y = this.rowY(k.row);
      const x = k.node ? this.x.get(k.node) : 0;
      switch (k.type) {
        case "state":
          const text = trim(k.text, this.col / 6.5);
          const fits = text && labels.take(x + 7, y + 2, text.length * 6 + 4, 13);
          out.push(`<g class="mark state" data-seq="${k.s}"><title>${esc(k.text)}</title><circle cx="${x}" cy="${y}" r="3.5"/>${fits ? `<text x="${x + 7}" y="${y + 12}">${esc(text)}</text>` : ""}</g>`);
          break;
        case "timer":
          out.push(`<g class="mark timer" data-seq="${k.s}"><path d="M${x - 7} ${y}h14"/><text x="${x - 9}" y="${y + 4}" text-anchor="end">${esc(trim(k.text, 16))}</text></g>`);
          break;
        case "crash":
          out.push(`<g class="mark crash" data-seq="${k.s}"><path d="M${x - 8} ${y - 8}l16 16m0 -16l-16 16"/><text x="${x + 10}" y="${y - 6}">crash</text></g>`);
          break;
        case "recover":
          out.push(`<g class="mark recover" data-seq="${k.s}"><circle cx="${x}" cy="${y}" r="6"/><text x="${x + 10}" y="${y - 6}">recover</text></g>`);
          break;
        case "fault":
          out.push(`<g class="mark fault" data-seq="${k.s}"><rect x="${GUTTER - 4}" y="${y - 9}" width="${this.width - GUTTER}" height="18" rx="3"/><text x="${GUTTER + 2}" y="${y + 4}">${esc(k.text)}</text></g>`);
          break;
        case "violation":
          out.push(`<g class="mark violation" data-seq="${k.s}"><rect x="${GUTTER - 4}" y="${y - 10}" width="${this.width - GUTTER}" height="20" rx="3"/><text x="${GUTTER + 2}" y="${y + 4}">&#9888; ${esc(k.text)} at #${this.events[k.s].seq}</text></g>`);
          break;
        case "note":
          out.push(`<g class="mark note" data-seq="${k.s}"><circle cx="${x}" cy="${y}" r="2"/></g>`);
          break;
      }
    }
    if (this.divergeAt != null && this.divergeAt < c && this.ys[this.divergeAt] !== undefined) {
      const y = this.rowY(this.ys[this.divergeAt]);
      out.push(`<g class="mark violation"><rect x="${GUTTER - 4}" y="${y - 10}" width="${this.width - GUTTER}" height="20" rx="3"/><text x="${GUTTER + 2}" y="${y + 4}">the runs part here (step ${this.divergeAt})</text></g>`);
    }
    out.push(`<line class="now" x1="${GUTTER - 6}" y1="${yNow}" x2="${this.width}" y2="${yNow}"/>`);
    this.svg.innerHTML = out.join("");
    this.lastDrawn = c;
  }
}

// Greedy label placement: try the gap next to the destination, then next to the source, then the others;
// a label that fits nowhere is left out (the arrow's tooltip and the transcript still say it).
class Labels {
  constructor() { this.boxes = []; }

  take(x, y, w, h) {
    for (const b of this.boxes) if (x < b.x + b.w && b.x < x + w && y < b.y + b.h && b.y < y + h) return false;
    this.boxes.push({ x, y, w, h });
    return true;
  }

  place(m, x0, y0, x1, y1, done, col) {
    const w = (m.label.length + (m.dup ? 6 : 0)) * 6.3 + 4, h = 13;
    const gaps = Math.max(1, Math.round(Math.abs(x1 - x0) / col));
    const fractions = [(gaps - 0.5) / gaps, 0.5 / gaps];
    for (let j = 1; j < gaps - 1; j++) fractions.push((j + 0.5) / gaps);
    fractions.push(0.3 / gaps, (gaps - 0.25) / gaps);
    for (const f of done ? fractions : [0.5 / gaps]) {
      const x = x0 + (x1 - x0) * f, y = y0 + (y1 - y0) * f - 4;
      if (this.take(x - w / 2, y - 10, w, h)) return { x, y };
    }
    return null;
  }
}

function firstAtOrAfter(list, key, value) {
  let lo = 0, hi = list.length;
  while (lo < hi) { const mid = (lo + hi) >> 1; if (list[mid][key] < value) lo = mid + 1; else hi = mid; }
  return lo;
}

function arrowHead(x0, y0, x1, y1) {
  const a = Math.atan2(y1 - y0, x1 - x0), s = 8;
  const p = (d) => `${x1 - s * Math.cos(a + d)} ${y1 - s * Math.sin(a + d)}`;
  return `<path class="tip" d="M${x1} ${y1}L${p(0.45)}L${p(-0.45)}Z"/>`;
}

// What changed, not the whole state: the node panel holds the rest.
function stateText(state, before) {
  return Object.entries(state).filter(([k, v]) => k !== "knows" && fmt(v) !== fmt(before[k])).map(([k, v]) => `${k}=${fmt(v)}`).join(" ");
}

function faultText(f) {
  const who = f.node || (f.groups && f.groups.map((g) => g.join(",")).join(" | ")) || "";
  const match = f.match ? Object.entries(f.match).map(([k, v]) => `${k}=${v}`).join(" ") : "";
  return `${f.action} ${who} ${match} ${f.rate !== undefined ? "rate=" + f.rate : ""}`.replace(/\s+/g, " ").trim();
}

function trim(s, n) {
  n = Math.max(6, Math.floor(n));
  return s.length > n ? s.slice(0, n - 1) + "…" : s;
}
