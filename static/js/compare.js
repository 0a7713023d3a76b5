// Two saved runs side by side, aligned in virtual time: one time slider drives both diagrams, and the
// first event where they part is named and banded on both.

import { Diagram } from "./diagram.js";
import { describe } from "./trace.js";
import { esc } from "./html.js";

const root = document.querySelector(".compare");

function shape(e) {
  const { seq, msg, ...rest } = e;
  return JSON.stringify(rest);
}

// A run's own events: all but init (which lists the params and seed) and the fault script's listing, the
// `fault` events the engine writes as it is built for each scripted fault without a time ("drop the 3rd
// message" waits for its message). Two runs that differ only there have not parted yet: they part at the
// first of their own events that differs. A timed fault (`at`) or a live one (`seq`) is an event like any other.
const listed = (e) => e.kind === "fault" && e.fault && !("at" in e.fault) && !("seq" in e.fault);

function own(events) {
  const out = [];
  for (let i = 1; i < events.length; i++) if (!listed(events[i])) out.push(i);
  return out;
}

// The step on each side where the runs part, or null when every event after the listings is the same.
export function partAt(a, b) {
  const ia = own(a), ib = own(b), n = Math.min(ia.length, ib.length);
  for (let k = 0; k < n; k++) if (shape(a[ia[k]]) !== shape(b[ib[k]])) return [ia[k], ib[k]];
  if (ia.length === ib.length) return null;
  return [k2i(ia, n, a.length), k2i(ib, n, b.length)];
}

const k2i = (idx, k, length) => (k < idx.length ? idx[k] : length);

function countUpTo(events, t) {
  let lo = 0, hi = events.length;
  while (lo < hi) { const mid = (lo + hi) >> 1; if (events[mid].t <= t) lo = mid + 1; else hi = mid; }
  return lo;
}

async function load(url) {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`${url} answered ${res.status}`);
  return res.json();
}

async function main() {
  const note = root.querySelector(".diverge");
  let a, b;
  try {
    [a, b] = await Promise.all([root.dataset.a, root.dataset.b].map(load));
  } catch (err) {
    note.textContent = "One of the two runs could not be loaded. Reload the page to try again.";
    note.classList.add("error");
    return;
  }
  if (!a.length || !b.length) {
    note.textContent = `Run ${a.length ? "B" : "A"} has no events yet: there is nothing to compare.`;
    root.dataset.ready = "true";
    return;
  }
  const sides = [[a, root.querySelector(".side-a .diagram-wrap")], [b, root.querySelector(".side-b .diagram-wrap")]].map(([events, wrap]) => {
    const d = new Diagram(wrap);
    d.reset(events[0]);
    d.append(events);
    return { events, d };
  });
  const part = partAt(a, b);
  if (part === null) {
    const same = a.length === b.length && a.every((e, i) => shape(e) === shape(b[i]));
    note.textContent = same ? "The two runs are identical event for event."
      : "The runs never part: their set-ups differ, but every event after the start is the same.";
  } else {
    const [pa, pb] = part;
    const t = Math.min((a[pa] || a[a.length - 1]).t, (b[pb] || b[b.length - 1]).t);
    const where = pa === pb ? `at step ${pa}` : `at step ${pa} of A, step ${pb} of B`;
    note.innerHTML = `The runs part ${where} (t=${t}):<br>A: ${esc(a[pa] ? describe(a[pa]) : "ends")}<br>B: ${esc(b[pb] ? describe(b[pb]) : "ends")}`;
    note.dataset.partA = pa;
    note.dataset.partB = pb;
    sides[0].d.divergeAt = pa;
    sides[1].d.divergeAt = pb;
  }
  const tmax = Math.max(a[a.length - 1].t, b[b.length - 1].t);
  const slider = root.querySelector(".tscrub");
  slider.max = tmax;
  slider.value = tmax;
  const show = () => {
    const t = Number(slider.value);
    root.querySelector(".tnow").textContent = `t=${t}`;
    for (const s of sides) s.d.show(countUpTo(s.events, t));
  };
  slider.addEventListener("input", show);
  show();
  const sa = a[a.length - 1].summary || {}, sb = b[b.length - 1].summary || {};
  const keys = [...new Set([...Object.keys(sa), ...Object.keys(sb)])];
  root.querySelector(".diff").innerHTML = `<tr><th>field</th><th>A</th><th>B</th></tr>` + keys.map((k) => {
    const va = JSON.stringify(sa[k]), vb = JSON.stringify(sb[k]);
    return `<tr class="${va === vb ? "" : "differs"}"><th scope="row">${esc(k)}</th><td>${esc(va ?? "")}</td><td>${esc(vb ?? "")}</td></tr>`;
  }).join("");
  root.dataset.ready = "true";
}

if (root) main();
