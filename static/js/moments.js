// A run's key moments (faults, crashes, violations, retries, band changes) and what its legend has seen: pure, no DOM.

import { faultText } from "./layout.js";

const REPAIRS = ["recover", "heal", "release"];

// Whether event i is among the checks the engine writes once a run is over (nothing but checks until the end).
function atTheEnd(events, i) {
  for (let j = i; j < events.length; j++) if (events[j].kind !== "check" && events[j].kind !== "end") return false;
  return true;
}

export class Moments {
  constructor() {
    this.reset();
  }

  reset() {
    this.list = []; // { i: event index, type, text } in event order
    this.violated = new Set();
    this.seen = { tones: new Set(), crashed: false, forged: false };
  }

  // Take one event in order: note it when it is a key moment, and what it shows for the legend.
  note(e) {
    const seen = this.seen;
    if (e.kind === "state" && e.band) seen.tones.add(e.band.tone);
    else if (e.kind === "crash") seen.crashed = true;
    else if (e.kind === "send" && e.data && e.data.forged) seen.forged = true;
    let type = null, text = "";
    if (e.kind === "fault") { type = REPAIRS.includes(e.fault.action) ? "repair" : "fault"; text = `fault: ${faultText(e.fault)}`; }
    else if (e.kind === "crash" || e.kind === "recover") { type = e.kind; text = `${e.node} ${e.kind === "crash" ? "crashes" : "recovers"}`; }
    else if (e.kind === "check" && !e.ok && !this.violated.has(e.name)) { this.violated.add(e.name); type = "violation"; text = `${e.name} violated`; }
    else if (e.kind === "send" && e.tag && /^#([2-9]|\d\d)/.test(e.tag)) { type = "retry"; text = `${e.src} retries ${e.label} (${e.tag})`; }
    else if (e.kind === "state" && "band" in e) { type = "band"; text = `${e.node}: ${e.band ? e.band.label : "back to normal"}`; }
    if (type) this.list.push({ i: e.seq, type, text });
  }

  // Where a run lands: the first violation; else the last fault or crash (landing a third of the way down shows
  // what it caused below it); else the first state that went wrong (a band that says fault or fail); else the
  // last state change; else the last event.
  key(events) {
    const m = this.list;
    const violation = this.first("violation");
    const faults = m.filter((k) => k.type === "fault" || (k.type === "crash" && events[k.i].t > 0)); // down at t=0 is the set-up
    if (violation) return violation.i;
    if (faults.length) return faults[faults.length - 1].i;
    const bands = m.filter((k) => k.type === "band" && events[k.i].band);
    const wrong = bands.find((k) => ["fault", "fail"].includes(events[k.i].band.tone));
    if (wrong) return wrong.i;
    return bands.length ? bands[bands.length - 1].i : events.length - 1;
  }

  // What caused a violation that only the end-of-run checks found: the last fault or crash before it, if any
  // (such a violation is found long after things went wrong, so the view should show both).
  cause(events, key) {
    const e = events[key];
    if (!e || e.kind !== "check" || !atTheEnd(events, key)) return null;
    const before = this.list.filter((k) => k.i < key && (k.type === "fault" || (k.type === "crash" && events[k.i].t > 0)));
    return before.length ? before[before.length - 1].i : null;
  }

  first(type) {
    return this.list.find((k) => k.type === type);
  }

  // The moment after (dir > 0) or before (dir < 0) event index `here`, if any.
  next(here, dir) {
    return dir > 0 ? this.list.find((k) => k.i > here) : [...this.list].reverse().find((k) => k.i < here);
  }
}
