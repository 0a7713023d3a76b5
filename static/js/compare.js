// Two saved runs side by side, aligned in virtual time: one time slider drives both diagrams, and the
// first event where they part is named and banded on both.

import { Diagram } from "./diagram.js";
import { describe } from "./trace.js";

const root = document.querySelector(".compare");
const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" }[c]));

function shape(e) {
  const { seq, msg, ...rest } = e;
  return JSON.stringify(rest);
}

function countUpTo(events, t) {
  let lo = 0, hi = events.length;
  while (lo < hi) { const mid = (lo + hi) >> 1; if (events[mid].t <= t) lo = mid + 1; else hi = mid; }
  return lo;
}

async function main() {
  const [a, b] = await Promise.all([root.dataset.a, root.dataset.b].map((u) => fetch(u).then((r) => r.json())));
  const sides = [[a, root.querySelector(".side-a .diagram-wrap")], [b, root.querySelector(".side-b .diagram-wrap")]].map(([events, wrap]) => {
    const d = new Diagram(wrap);
    d.reset(events[0]);
    d.append(events);
    return { events, d };
  });
  let part = null;
  for (let i = 1; i < Math.min(a.length, b.length); i++) if (shape(a[i]) !== shape(b[i])) { part = i; break; }
  if (part === null && a.length !== b.length) part = Math.min(a.length, b.length);
  const note = root.querySelector(".diverge");
  if (part === null) note.textContent = "The two runs are identical event for event.";
  else {
    const t = Math.min((a[part] || a[a.length - 1]).t, (b[part] || b[b.length - 1]).t);
    note.innerHTML = `The runs part at step ${part} (t=${t}):<br>A: ${esc(a[part] ? describe(a[part]) : "ends")}<br>B: ${esc(b[part] ? describe(b[part]) : "ends")}`;
    for (const s of sides) s.d.divergeAt = part;
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

main();
