// The player's controls: buttons, clicks on the diagram and panels, the slider, checkboxes and the keyboard,
// each bound to a Player method.

import { showSetup } from "./setup.js";

// To the first step, or to the newest (following a live run from there on).
function toStart(p) { p.pauseLocal(); p.follow = false; p.setCursor(1); }
function toEnd(p) { p.pauseLocal(); p.follow = true; p.setCursor(p.events.length); }

function nudgeSpeed(p, d) {
  const s = p.speed;
  s.selectedIndex = Math.max(0, Math.min(s.options.length - 1, s.selectedIndex + d));
  s.dispatchEvent(new Event("change"));
}

const ACTS = {
  play: (p) => p.play(),
  step: (p) => p.step(1),
  back: (p) => p.step(-1),
  start: toStart,
  end: toEnd,
  drop: (p) => p.dropNext(),
  partition: (p) => p.partition(),
  heal: (p) => p.inject({ action: "heal" }),
  loss: (p) => p.inject({ action: "loss", rate: Math.max(0, Math.min(1, Number(p.$(".loss").value) || 0)) }),
  "zoom-in": (p) => p.diagram.setZoom(p.diagram.zoom * 1.5),
  "zoom-out": (p) => p.diagram.setZoom(p.diagram.zoom / 1.5),
  fit: (p) => p.diagram.fit(),
  "first-violation": (p) => { const v = p.marks.first("violation"); if (v) p.jumpTo(v.i); },
  "prev-mark": (p) => p.jumpMark(-1),
  "next-mark": (p) => p.jumpMark(1),
  key: (p) => p.land(),
};

const KEYS = {
  " ": (p) => p.play(), ArrowRight: (p) => p.step(1), ArrowLeft: (p) => p.step(-1),
  Home: toStart, End: toEnd,
  "+": (p) => nudgeSpeed(p, 1), "=": (p) => nudgeSpeed(p, 1), "-": (p) => nudgeSpeed(p, -1),
  z: (p) => p.diagram.setZoom(p.diagram.zoom * 1.5), x: (p) => p.diagram.setZoom(p.diagram.zoom / 1.5),
  "[": (p) => p.jumpMark(-1), "]": (p) => p.jumpMark(1), v: (p) => p.$('[data-act="first-violation"]').click(),
  Escape: (p) => p.unpick(),
};

function onClick(p, ev) {
  const act = ev.target.closest("[data-act]");
  if (act) {
    const run = Object.hasOwn(ACTS, act.dataset.act) && ACTS[act.dataset.act];
    if (run) run(p);
    return;
  }
  const msgAct = ev.target.closest("[data-msg-act]");
  if (msgAct) {
    const msg = Number(msgAct.dataset.msg), a = msgAct.dataset.msgAct;
    if (a === "deliver") p.inject({ action: "deliver", msg });
    else p.inject({ action: a, match: { msg }, ...(a === "drop" ? {} : { by: 5 }) });
    return;
  }
  const setupToggle = ev.target.closest(".setup-toggle");
  if (setupToggle) return showSetup(setupToggle.getAttribute("aria-expanded") !== "true");
  const moment = ev.target.closest("[data-moment]");
  if (moment) return p.jumpTo(Number(moment.dataset.moment));
  const mark = ev.target.closest("svg.diagram [data-seq]");
  if (mark) return p.pick(Number(mark.dataset.seq));
  const toggle = ev.target.closest(".node-toggle");
  if (toggle) return p.toggleNode(toggle.dataset.node);
  const link = ev.target.closest("[data-seq]");
  if (link && (link.tagName === "A" || link.tagName === "LI")) {
    ev.preventDefault();
    p.pauseLocal();
    p.follow = false;
    p.setCursor(Number(link.dataset.seq) + 1);
    p.select(Number(link.dataset.seq));
  }
}

function onChange(p, ev) {
  const t = ev.target, d = p.diagram;
  if (t.matches(".hold")) p.inject({ action: t.checked ? "hold" : "release" });
  else if (t.matches("[data-filter-node]")) {
    if (t.checked) d.hidden.delete(t.dataset.filterNode); else d.hidden.add(t.dataset.filterNode);
    d.schedule();
  } else if (t.matches(".show-labels")) { d.showLabels = t.checked; d.schedule(); }
  else if (t.matches(".show-faults")) { d.showFaults = t.checked; d.schedule(); }
  else if (t.matches(".show-clocks")) d.setClocks(t.checked);
}

export function bindControls(p) {
  p.root.addEventListener("click", (ev) => onClick(p, ev));
  p.scrub.addEventListener("input", () => {
    p.pauseLocal();
    const n = Number(p.scrub.value);
    p.follow = n >= p.events.length;
    p.dragging = true;
    p.setCursor(n);
  });
  p.root.addEventListener("change", (ev) => onChange(p, ev));
  p.speed.addEventListener("change", () => { if (p.playing && p.atHead() && p.mode === "live") p.askPlay(); });
  document.addEventListener("keydown", (ev) => {
    if (ev.target.closest("input, select, textarea") || ev.metaKey || ev.ctrlKey || ev.altKey) return;
    const event = (ev.key === "Enter" || ev.key === " ") && ev.target.closest("svg.diagram [data-seq]");
    if (event && p.root.contains(event)) { ev.preventDefault(); return p.pick(Number(event.dataset.seq)); }
    const key = Object.hasOwn(KEYS, ev.key) && KEYS[ev.key];
    if (key && !(ev.key === " " && ev.target.closest("button"))) { ev.preventDefault(); key(p); }
  });
}

// Choosing a lesson loads its page: a fresh player, its set-up and its story (never a page whose Run is dead).
export function bindPresetPicker() {
  document.addEventListener("change", (ev) => {
    if (ev.target.matches(".preset-picker select")) ev.target.form.submit();
  });
}
