// Happened-before in the browser: Lamport clocks (Lamport 1978) and vector clocks (Fidge 1988, Mattern 1988),
// computed from the trace the player holds, so live runs, saved runs and exports all have them.
// The rules are simulations/clocks.py's (tests/test_causality_browser.py holds the two to the same clocks):
// a send is on its src, a deliver on its dst, state/timer/crash/recover/note/check on their node; init, fault,
// end, drops and node-less events are on no node; a duplicate (send with `dup`) is the network's copy, on no node,
// and its delivery merges the clock of the send it copies. A vector clock lists the init event's nodes in order.
//
// Selecting an event marks every rendered element with data-seq as hb-sel, hb-past, hb-future, hb-concurrent or
// hb-none (on no node); the diagram re-applies the marks each time it renders its window.

const NODELESS = new Set(["init", "fault", "end", "drop"]);

export function eventNode(e) {
  if (NODELESS.has(e.kind)) return null;
  if (e.kind === "send") return "dup" in e ? null : e.src;
  if (e.kind === "deliver") return e.dst;
  return e.node ?? null;
}

// The clocks of a growing trace, computed lazily up to what is asked for.
export class Clocks {
  constructor(events) {
    this.events = events;
    this.ids = events[0].nodes.map((n) => n.id);
    this.index = new Map(this.ids.map((id, k) => [id, k]));
    this.k = Math.max(this.ids.length, 1);
    this.node = [];          // node index per event, -1 for none
    this.lam = [];           // Lamport clock per event, 0 for none
    this.vc = new Int32Array(this.k * 64);  // vector clocks, k per event
    this.now = this.ids.map(() => new Int32Array(this.k));
    this.lamNow = new Int32Array(this.k);
    this.sent = new Map();   // message id -> event index of the send whose clock it carries
  }

  upTo(n) {
    const { events, k } = this;
    n = Math.min(n, events.length);
    if (this.vc.length < n * k) {
      const grown = new Int32Array(Math.max(n * k, this.vc.length * 2));
      grown.set(this.vc);
      this.vc = grown;
    }
    for (let i = this.node.length; i < n; i++) {
      const e = events[i];
      if (e.kind === "send" && "dup" in e) {
        if (this.sent.has(e.dup)) this.sent.set(e.msg, this.sent.get(e.dup));
        this.none();
        continue;
      }
      const id = eventNode(e), j = id === null ? undefined : this.index.get(id);
      if (j === undefined) { this.none(); continue; }
      const vc = this.now[j];
      let lam = this.lamNow[j];
      const from = e.kind === "deliver" ? this.sent.get(e.msg) : undefined;
      if (from !== undefined) {
        for (let x = 0; x < k; x++) vc[x] = Math.max(vc[x], this.vc[from * k + x]);
        lam = Math.max(lam, this.lam[from]);
      }
      vc[j] += 1;
      this.lamNow[j] = lam + 1;
      this.node.push(j);
      this.lam.push(lam + 1);
      this.vc.set(vc, i * this.k);
      if (e.kind === "send") this.sent.set(e.msg, i);
    }
    return this;
  }

  none() { this.node.push(-1); this.lam.push(0); }

  nodeOf(i) { this.upTo(i + 1); return this.node[i] >= 0 ? this.ids[this.node[i]] : null; }
  lamport(i) { this.upTo(i + 1); return this.node[i] >= 0 ? this.lam[i] : null; }
  vector(i) { this.upTo(i + 1); return this.node[i] >= 0 ? Array.from(this.vc.subarray(i * this.k, i * this.k + this.ids.length)) : null; }

  // a -> b: a's own entry of its vector clock is at most b's entry for a's node (Fidge, Mattern).
  before(a, b) {
    this.upTo(Math.max(a, b) + 1);
    const na = this.node[a];
    return a !== b && na >= 0 && this.node[b] >= 0 && this.vc[a * this.k + na] <= this.vc[b * this.k + na];
  }

  // What event i is to the selected event: "sel", "past", "future", "concurrent", or "none" (on no node).
  relation(sel, i) {
    if (i === sel) return "sel";
    this.upTo(Math.max(sel, i) + 1);
    if (this.node[i] < 0 || this.node[sel] < 0) return "none";
    return this.before(i, sel) ? "past" : this.before(sel, i) ? "future" : "concurrent";
  }

  // "3 [1,0,2]": the Lamport clock, then the vector clock.
  stamp(i) {
    const v = this.vector(i);
    return v ? `${this.lam[i]} [${v.join(",")}]` : "";
  }
}

// Every event's clocks at once: {node, lamport, vc} or null, as simulations/clocks.py returns them.
export function clocks(events) {
  const c = new Clocks(events).upTo(events.length);
  return events.map((_, i) => (c.node[i] >= 0 ? { node: c.nodeOf(i), lamport: c.lamport(i), vc: c.vector(i) } : null));
}

function what(e, events) {
  switch (e.kind) {
    case "send": return `send ${e.label}`;
    case "deliver": { const s = events.find((x) => x.kind === "send" && x.msg === e.msg); return `deliver ${s ? s.label : `message ${e.msg}`}`; }
    case "state": return "state change";
    case "timer": return `timer ${e.label}`;
    case "check": return `check ${e.name}`;
    default: return e.kind;
  }
}

// The diagram's selection: one event, its causal past and future, the rest concurrent.
export class Causality {
  constructor() { this.reset([]); }

  reset(events) {
    this.events = events;
    this.cache = null;
    this.selected = null;
  }

  get clocks() {
    const init = this.events[0];
    if (!init || init.kind !== "init") return null;
    if (!this.cache || this.cache.events !== this.events) this.cache = new Clocks(this.events);
    return this.cache;
  }

  stamp(i) { const c = this.clocks; return c ? c.stamp(i) : ""; }

  clear() { this.selected = null; }

  // Select event i (or clear it when it was selected already); returns the sentence that says what that shows.
  toggle(i, shown) {
    if (this.selected === i) { this.clear(); return "Selection cleared: every event is drawn again."; }
    const c = this.clocks, e = this.events[i];
    if (!c || !e) return "";
    const node = c.nodeOf(i);
    if (node === null) {
      this.clear();
      return `The ${e.kind} at t=${e.t} happens on no node, so it has no causal past or future; select an event on a lifeline.`;
    }
    this.selected = i;
    const n = { past: 0, future: 0, concurrent: 0 };
    for (let j = 0; j < shown; j++) {
      const r = c.relation(i, j);
      if (r in n) n[r]++;
    }
    return `Selected: ${what(e, this.events)} at ${node}, t=${e.t}. ${n.past} event${n.past === 1 ? "" : "s"} before it, `
      + `${n.future} after, ${n.concurrent} concurrent. Clocks: Lamport ${c.lamport(i)}, vector [${c.vector(i).join(",")}].`;
  }

  // Mark what the diagram rendered: events (marks and arrows' ends) keyboard-reachable, and, with a selection,
  // each element's relation to it.
  paint(svg) {
    const sel = this.selected, c = sel === null ? null : this.clocks;
    svg.classList.toggle("hb-on", !!c);
    for (const el of svg.querySelectorAll(".mark[data-seq], .ev[data-seq]")) el.setAttribute("tabindex", "0");
    if (!c) return;
    for (const el of svg.querySelectorAll("[data-seq]")) el.classList.add(`hb-${c.relation(sel, Number(el.dataset.seq))}`);
  }
}

// The element that has the focus in the diagram, to give it back after the window is rendered again.
export function focusedIn(svg) {
  const el = document.activeElement;
  return el && el !== svg && svg.contains(el) && el.dataset.seq !== undefined ? `${el.tagName}[data-seq="${el.dataset.seq}"]` : null;
}

export function refocus(svg, selector) {
  if (!selector) return;
  const el = svg.querySelector(selector);
  if (el) el.focus({ preventScroll: true });
}
