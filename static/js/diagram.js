// The sequence diagram: lifelines down the page, time growing downwards, one arrow per message.
// Layout (layout.js) is decided once per event as the trace streams in; drawing is windowed: only what is
// on screen becomes SVG, so a run of a million events scrolls like one of ten.

import { Layout, M, canvasMeasure, timeScale } from "./layout.js";
import { esc } from "./html.js";
import { Causality, focusedIn, refocus } from "./causality.js";

export const LIMITS = { page: 30_000_000 };  // px: browsers lay nothing out past ~33.5M

export const TONES = {
  hold: "holds it (token, leadership, a lock)", busy: "working (critical section, election, running)",
  wait: "waiting or backing off", fault: "degraded by a fault", fail: "ended in failure", done: "finished", traitor: "traitor",
};

export class Diagram {
  constructor(wrap, { onHead, tick } = {}) {
    this.wrap = wrap;
    this.heads = wrap.querySelector(".heads");
    this.scroller = wrap.querySelector(".diagram-scroll");
    this.svg = wrap.querySelector("svg.diagram");
    this.onHead = onHead;
    this.scale = timeScale(tick || wrap.closest("[data-tick]")?.dataset.tick);
    this.measure = canvasMeasure();
    this.zoom = 1;
    this.hidden = new Set();
    this.showLabels = true;
    this.showFaults = true;
    this.showClocks = false;
    this.causality = new Causality();
    this.key = null;
    this.scroller.addEventListener("scroll", () => this.schedule(), { passive: true });
    new ResizeObserver(() => this.resized()).observe(this.scroller);
    this.reset(null);
  }

  reset(init) {
    this.init = init;
    this.events = [];
    this.causality.reset(this.events);
    this.cursor = 0;
    this.lastDrawn = 0;
    this.key = this.cause = null;
    this.nodes = init ? init.nodes : [];
    this.layout = this.newLayout();
    this.heads.innerHTML = init ? `<span class="axis-unit" title="time runs downwards">t (${this.scale.unit})</span>` : "";
    for (const n of this.nodes) {
      const b = document.createElement("button");
      b.type = "button";
      b.className = `head ${n.group ? "g-" + n.group : ""}`;
      b.dataset.node = n.id;
      b.title = `${n.label}${n.group ? ` (${n.group})` : ""}: click to crash or recover`;
      b.setAttribute("aria-label", `${n.label}: crash or recover`);
      b.innerHTML = `<span class="id">${words(n.id)}</span>`;
      b.addEventListener("click", () => this.onHead && this.onHead(n.id));
      this.heads.appendChild(b);
    }
    this.wrap.classList.toggle("has-run", !!init);
    this.wrap.closest(".player")?.classList.toggle("has-run", !!init);
    this.placeHeads();
  }

  newLayout() {
    return new Layout(this.init, { width: this.scroller.clientWidth || 800, measure: this.measure, unit: this.scale.unit,
      rowTicks: this.scale.rowTicks, zoom: this.zoom, stamp: this.showClocks ? (i) => this.causality.stamp(i) : null });
  }

  // Clocks on events make room for themselves: the run is laid out again.
  setClocks(on) {
    this.showClocks = on;
    this.relayout();
  }

  // Width or zoom changed: lay the whole run out again (a million events take well under a second).
  relayout() {
    this.layout = this.newLayout();
    this.events.forEach((e, i) => this.layout.append(e, i));
    this.placeHeads();
    this.schedule();
  }

  resized() {
    const w = this.scroller.clientWidth;
    if (this.init && w && Math.abs(w - this.lastWidth) > 2) { this.lastWidth = w; this.relayout(); }
    else { this.lastWidth = w; this.placeHeads(); this.schedule(); }
  }

  placeHeads() {
    const L = this.layout;
    const max = L.col - 4;
    for (const b of this.heads.querySelectorAll(".head")) {
      b.style.left = `${L.x.get(b.dataset.node) - this.scroller.scrollLeft}px`;
      b.style.maxWidth = `${max}px`;
      b.classList.toggle("narrow", L.col < 80);
    }
  }

  setZoom(z) {
    const keep = this.indexAt(this.viewTop() + this.scroller.clientHeight / 2);
    this.zoom = Math.max(0.05, Math.min(4, z));
    this.wrap.dataset.zoom = this.zoom.toFixed(3);
    this.relayout();
    this.reveal(keep, 0.5);
  }

  // As much of the run as fits; ticks never come closer than a readable sub-row, so long runs still scroll.
  fit() {
    const spanNow = this.layout.bottom || 1;
    this.setZoom(this.zoom * Math.max(0.05, (this.scroller.clientHeight - 40) / spanNow));
    this.scroller.scrollTop = 0;
  }

  // A run taller than a browser can lay out (a million events at full scale) is drawn with time packed tighter,
  // as "fit" would, until it is well within the page.
  fitPage() {
    for (let k = 0; k < 3 && this.layout.bottom > LIMITS.page * 0.9; k++) {
      this.setZoom(this.zoom * Math.max(0.05, (LIMITS.page * 0.8) / this.layout.bottom));
    }
  }

  append(events) {
    for (const e of events) {
      const i = this.events.length;
      this.events.push(e);
      this.layout.append(e, i);
    }
  }

  show(cursor) {
    this.cursor = cursor;
    this.schedule();
  }

  // The y of the last event shown; the "now" line sits just below it.
  headY() {
    const i = Math.max(0, this.cursor - 1);
    return this.layout.yOf(i);
  }

  indexAt(y) {
    const ys = this.layout.y;
    let lo = 0, hi = ys.length;
    while (lo < hi) { const mid = (lo + hi) >> 1; if (ys[mid] < y) lo = mid + 1; else hi = mid; }
    return Math.min(lo, Math.max(ys.length - 1, 0));
  }

  follow() {
    this.wantFollow = true;
    this.schedule();
  }

  // Bring event i into view at `at` of the height (0 = top) and mark it as the run's key moment.
  // With a `cause` far above it (a violation the end-of-run checks found), show the cause and as much after it as
  // fits: both when they fit on one screen.
  reveal(i, at = 0.35, key = false, cause = null) {
    if (key) this.key = i;
    this.cause = cause;
    this.wantFollow = false;
    this.wantReveal = { i, at, cause };
    this.schedule();
  }

  schedule() {
    if (this.pending) return;
    this.pending = requestAnimationFrame(() => { this.pending = null; this.draw(); });
  }

  height() { return Math.max(this.headY() + M.ROW * 2, this.scroller.clientHeight - 4); }

  // Browsers lay nothing out past ~33.5M px: a taller run scrolls a capped page, each scrolled pixel moving
  // the diagram by `ratio` px (1.07 for a million events), and is drawn shifted to where the page is.
  ratio() {
    const h = this.height(), view = this.scroller.clientHeight;
    return h > LIMITS.page ? (h - view) / (LIMITS.page - view) : 1;
  }

  // Where the diagram's y is on the page, and back.
  viewTop() { return this.scroller.scrollTop * this.ratio(); }
  scrollToY(y) { this.scroller.scrollTop = Math.max(0, y / this.ratio()); }

  draw(all = false) {
    if (!this.init) { this.svg.innerHTML = ""; return; }
    const L = this.layout;
    this.svg.setAttribute("width", L.width);
    this.svg.setAttribute("height", Math.min(this.height(), LIMITS.page));
    if (this.wantReveal) {
      const { i, at, cause } = this.wantReveal;
      this.wantReveal = null;
      const h = this.scroller.clientHeight;
      if (cause == null) this.scrollToY(L.yOf(i) - h * at);
      else this.scrollToY(L.yOf(i) - L.yOf(cause) < h * 0.8 ? L.yOf(i) - h * 0.85 : L.yOf(cause) - h * 0.15);
    } else if (this.wantFollow) {
      this.wantFollow = false;
      const y = this.headY(), top = this.viewTop(), h = this.scroller.clientHeight;
      if (y + M.ROW > top + h || y < top) this.scrollToY(y + M.ROW * 1.2 - h);
    }
    this.placeHeads();
    const viewTop = this.viewTop(), shift = viewTop - this.scroller.scrollTop;
    const top = all ? -1e9 : viewTop - M.ROW * 2;
    const bottom = all ? 1e12 : viewTop + this.scroller.clientHeight + M.ROW * 3;
    const body = this.render(top, bottom).join("");
    const focus = focusedIn(this.svg);
    this.svg.innerHTML = shift ? `<g transform="translate(0 ${-shift})">${body}</g>` : body;
    this.causality.paint(this.svg);
    refocus(this.svg, focus);
    this.lastDrawn = this.cursor;
  }

  render(top, bottom) {
    const L = this.layout, c = this.cursor, out = [];
    const yNow = this.headY() + M.SUB * 0.7;
    const shown = (y0, y1) => y1 >= top && y0 <= bottom;
    const fresh = this.lastDrawn;
    this.columns(out, top, bottom);
    for (const [k, r] of L.rounds) {
      if (r.s >= c || !shown(r.y0, r.y1)) continue;
      out.push(`<rect class="round r${k % 2}" x="${M.GUTTER}" y="${r.y0 - M.SUB}" width="${L.width - M.GUTTER}" height="${r.y1 - r.y0 + M.SUB * 1.5}"/>`
        + `<text class="round-label" x="${r.lx}" y="${r.ly}">round ${k}</text>`);
    }
    for (const b of L.breaks) {
      if (b.s >= c || !shown(b.y, b.y + b.h)) continue;
      out.push(`<g class="break"><rect x="${M.GUTTER - 4}" y="${b.y}" width="${L.width - M.GUTTER + 4}" height="${b.h}"/>`
        + `<text x="${(M.GUTTER + L.width) / 2}" y="${b.y + b.h / 2 + 4}" text-anchor="middle">${esc(b.text)}</text></g>`);
    }
    for (let i = firstAtOrAfter(L.ticks, "y", top); i < L.ticks.length; i++) {
      const k = L.ticks[i];
      if (k.s >= c || k.y > bottom) break;
      out.push(`<text class="tick" x="${M.GUTTER - 8}" y="${k.y + 4}" text-anchor="end">${k.t}</text>`);
    }
    this.lifelines(out, yNow, top, bottom);
    this.arrows(out, yNow, top, bottom, fresh);
    this.marks(out, top, bottom);
    if (this.showClocks) this.clocks(out, top, bottom);
    if (this.divergeAt != null && this.divergeAt < c && L.y[this.divergeAt] !== undefined) {
      const e = this.events[this.divergeAt];  // a fault or violation band sits on that row: mark just above it
      const y = L.y[this.divergeAt] - (e && (e.kind === "fault" || (e.kind === "check" && !e.ok)) ? 14 : 0);
      out.push(`<g class="mark diverge"><line x1="${M.GUTTER - 4}" y1="${y}" x2="${L.width}" y2="${y}"/><text x="${L.width - M.RIGHT}" y="${y - 4}" text-anchor="end">the runs part here (step ${this.divergeAt})</text></g>`);
    }
    out.push(`<line class="now" x1="${M.GUTTER - 6}" y1="${yNow}" x2="${L.width}" y2="${yNow}"/>`);
    return out;
  }

  // Column groups (clients, services, brokers) as tinted lanes behind the lifelines.
  columns(out, top, bottom) {
    const L = this.layout;
    const h = Math.min(bottom, this.height()) - Math.max(0, top);
    for (const n of this.nodes) {
      if (!n.group || this.hidden.has(n.id)) continue;
      out.push(`<rect class="lane g-${esc(n.group)}" x="${L.x.get(n.id) - L.col / 2 + 1}" y="${Math.max(0, top)}" width="${L.col - 2}" height="${Math.max(0, h)}"/>`);
    }
  }

  lifelines(out, yNow, top, bottom) {
    const L = this.layout, c = this.cursor;
    for (const n of this.nodes) {
      if (this.hidden.has(n.id)) continue;
      const x = L.x.get(n.id);
      for (const b of L.bands.get(n.id) || []) {
        if (b.s >= c) break;
        const y1 = b.e !== null && b.e < c ? b.y1 : yNow;
        if (!shown(b.y0, y1, top, bottom)) continue;
        out.push(`<rect class="band t-${esc(b.tone)}" data-seq="${b.s}" x="${x - 5}" y="${b.y0}" width="10" height="${Math.max(2, y1 - b.y0)}" rx="3"><title>${esc(n.id)}: ${esc(b.label)}</title></rect>`);
      }
      let from = 0, alive = true;
      const segs = [];
      for (const o of L.outages.get(n.id) || []) {
        if (o.s >= c) break;
        if (o.kind === "crash" && alive) { segs.push([from, o.y, true]); from = o.y; alive = false; }
        else if (o.kind === "recover" && !alive) { segs.push([from, o.y, false]); from = o.y; alive = true; }
      }
      segs.push([from, yNow, alive]);
      for (const [y0, y1, up] of segs) {
        if (!up) out.push(`<rect class="outage" x="${x - 5}" y="${y0}" width="10" height="${y1 - y0}"><title>${esc(n.id)} is down</title></rect>`);
        out.push(`<line class="life ${up ? "" : "down"} ${n.group ? "g-" + n.group : ""}" x1="${x}" y1="${y0}" x2="${x}" y2="${y1}"/>`);
      }
    }
  }

  arrows(out, yNow, top, bottom, fresh) {
    const L = this.layout, c = this.cursor;
    let from = firstAtOrAfter(L.msgList, "ys", top - L.maxSpan - M.ROW);
    for (const m of L.open) from = Math.min(from, m.i);
    for (let i = from; i < L.msgList.length; i++) {
      const m = L.msgList[i];
      if (m.s >= c || m.ys > bottom) break;
      const done = m.e !== null && m.e < c;
      const y1 = done ? m.ye : yNow;
      if (!shown(m.ys, y1, top, bottom) || this.hidden.has(m.src) || this.hidden.has(m.dst)) continue;
      const x0 = L.x.get(m.src), y0 = m.ys;
      let x1 = done && m.end === "drop" ? m.xe : L.x.get(m.dst);
      const cls = ["msg"];
      if (m.forged) cls.push("forged");
      if (m.dup) cls.push("dup");
      if (done && m.e >= fresh) cls.push("fresh");
      if (this.key !== null && (this.key === m.s || this.key === m.e)) cls.push("key");
      if (!done) { cls.push("flight"); x1 = x0 + (x1 - x0) * Math.min(0.85, (y1 - y0) / (M.ROW * 2) + 0.3); }
      else if (m.end === "drop") cls.push("lost");
      const line = m.src === m.dst
        ? `<path d="M${x0} ${y0}c${L.col * 0.4} 0 ${L.col * 0.4} ${y1 - y0} 0 ${y1 - y0}" fill="none"/>`
        : `<line x1="${x0}" y1="${y0}" x2="${x1}" y2="${y1}" pathLength="1"/>`;
      const label = this.showLabels ? `<text x="${m.lx}" y="${m.ly}">${esc(m.text)}</text>` : "";
      out.push(`<g class="${cls.join(" ")}" data-seq="${m.s}"><title>${esc(m.src)} → ${esc(m.dst)}: ${esc(m.label)}${m.reason ? ` (lost: ${esc(m.reason)})` : ""}</title>${line}`
        + (done && m.end === "deliver" ? arrowHead(x0, y0, x1, y1) : "")
        + (done && m.end === "drop" ? `<path class="x" d="M${x1 - 5} ${y1 - 5}l10 10m0 -10l-10 10"/>` : "")
        + label + "</g>"
        + `<circle class="ev" data-seq="${m.s}" cx="${x0}" cy="${y0}" r="5"/>` + (done ? `<circle class="ev" data-seq="${m.e}" cx="${x1}" cy="${y1}" r="6"/>` : ""));
    }
  }

  // Each event's Lamport and vector clocks, small, where the layout made room for them.
  clocks(out, top, bottom) {
    const L = this.layout, c = this.cursor;
    for (let i = firstAtOrAfter(L.stamps, "y", top - M.SUB); i < L.stamps.length; i++) {
      const k = L.stamps[i];
      if (k.s >= c || k.y > bottom + M.SUB) break;
      if (this.hidden.has(k.node)) continue;
      out.push(`<g class="clock" data-seq="${k.s}"><title>${esc(k.node)}: Lamport clock, vector clock (${esc(this.nodes.map((n) => n.id).join(", "))}): ${esc(k.full)}</title><text x="${k.x}" y="${k.y}">${esc(k.text)}</text></g>`);
    }
  }

  marks(out, top, bottom) {
    const L = this.layout, c = this.cursor;
    for (let i = firstAtOrAfter(L.marks, "y", top - M.SUB); i < L.marks.length; i++) {
      const k = L.marks[i];
      if (k.s >= c || k.y > bottom) break;
      if (k.node && this.hidden.has(k.node)) continue;
      if (k.type === "fault" && !this.showFaults) continue;
      const { x, y } = k;
      const key = this.key === k.s || this.cause === k.s ? " key" : "";
      const title = `<title>${esc(k.full || k.text)}</title>`;
      switch (k.type) {
        case "state":
          out.push(`<g class="mark state${k.tone ? " t-" + esc(k.tone) : ""}${key}" data-seq="${k.s}">${title}<circle cx="${x}" cy="${y}" r="3.5"/>${k.text ? `<text x="${k.left ? x - 7 : x + 7}" y="${y + 4}"${k.left ? ' text-anchor="end"' : ""}>${esc(k.text)}</text>` : ""}</g>`);
          break;
        case "timer":
          out.push(`<g class="mark timer${key}" data-seq="${k.s}">${title}<path d="M${x - 7} ${y}h14"/><text x="${k.left ? x - 10 : x + 10}" y="${y + 4}"${k.left ? ' text-anchor="end"' : ""}>${esc(k.text)}</text></g>`);
          break;
        case "crash":
          out.push(`<g class="mark crash${key}" data-seq="${k.s}">${title}<path d="M${x - 7} ${y - 7}l14 14m0 -14l-14 14"/><text x="${x + 10}" y="${y + 4}">crash</text></g>`);
          break;
        case "recover":
          out.push(`<g class="mark recover${key}" data-seq="${k.s}">${title}<circle cx="${x}" cy="${y}" r="6"/><text x="${x + 10}" y="${y + 4}">recover</text></g>`);
          break;
        case "fault": case "violation":
          out.push(`<g class="mark ${k.type}${key}" data-seq="${k.s}">${title}<rect x="${M.GUTTER - 4}" y="${y - 10}" width="${L.width - M.GUTTER}" height="20" rx="3"/><text x="${M.GUTTER + 4}" y="${y + 4}">${esc(k.text)}</text></g>`);
          break;
        case "note":
          out.push(`<g class="mark note${key}" data-seq="${k.s}">${title}<circle cx="${x}" cy="${y}" r="2.5"/></g>`);
          break;
      }
    }
  }

  // Overlap check (tests and `make bench`): draw the whole run, then count text boxes that overlap each
  // other and message labels crossed by another message's line.
  overlaps() {
    const saved = this.svg.innerHTML;
    this.svg.setAttribute("height", this.height());
    this.svg.innerHTML = this.render(-1e9, 1e12).join("");
    const texts = [...this.svg.querySelectorAll("text")].map((t) => {
      const b = t.getBBox();
      return { x0: b.x, x1: b.x + b.width, y0: b.y, y1: b.y + b.height, t, text: t.textContent };
    }).filter((b) => b.x1 > b.x0);
    const pairs = [];
    texts.sort((a, b) => a.y0 - b.y0);
    for (let i = 0; i < texts.length; i++) {
      for (let j = i + 1; j < texts.length && texts[j].y0 < texts[i].y1; j++) {
        const a = texts[i], b = texts[j];
        if (a.x0 < b.x1 - 0.5 && b.x0 < a.x1 - 0.5 && a.y0 < b.y1 - 0.5 && b.y0 < a.y1 - 0.5) pairs.push([a.text, b.text]);
      }
    }
    let crossed = 0;
    const lines = [...this.svg.querySelectorAll("g.msg line")].map((l) => ({ g: l.parentNode, x1: +l.getAttribute("x1"), y1: +l.getAttribute("y1"), x2: +l.getAttribute("x2"), y2: +l.getAttribute("y2") }));
    for (const t of texts.filter((b) => b.t.parentNode.matches("g.msg"))) {
      if (lines.some((l) => l.g !== t.t.parentNode && segmentHitsBox(l, t))) crossed++;
    }
    this.svg.innerHTML = saved;
    return { texts: texts.length, overlaps: pairs.length, pairs: pairs.slice(0, 10), crossed };
  }
}

function shown(y0, y1, top, bottom) { return y1 >= top && y0 <= bottom; }

function segmentHitsBox(l, b) {
  // Liang-Barsky clip of the segment against the box
  let t0 = 0, t1 = 1;
  const dx = l.x2 - l.x1, dy = l.y2 - l.y1;
  for (const [p, q] of [[-dx, l.x1 - b.x0], [dx, b.x1 - l.x1], [-dy, l.y1 - b.y0], [dy, b.y1 - l.y1]]) {
    if (p === 0) { if (q < 0) return false; continue; }
    const r = q / p;
    if (p < 0) { if (r > t1) return false; if (r > t0) t0 = r; } else { if (r < t0) return false; if (r < t1) t1 = r; }
  }
  return t1 - t0 > 1e-6;
}

// CamelCase ids may wrap between words (OrderService -> Order·Service), never inside one.
function words(id) {
  return esc(id).replace(/([a-z0-9])([A-Z])/g, "$1<wbr>$2");
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

