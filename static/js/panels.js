// What the player shows beside the diagram, drawn from its events and cursor: nodes, invariants, outcome, summary,
// matrix, log, transcript, in-flight list, key-moment strip, legend, details of one event, and the status line.

import { esc, fmt, setHTML, words, human } from "./html.js";
import { describe, foldState } from "./trace.js";

const TRANSCRIPT_WINDOW = 80; // lines kept in the DOM around the cursor: enough to read back, cheap to redraw
const LEGEND_NAMES = { hold: "holds it", busy: "working", wait: "waiting", fault: "degraded", fail: "failed", done: "done", traitor: "traitor" };

export class Panels {
  // `player` is read, never changed: events, cursor, ended, holdSeen, marks (moments.js), diagram.key.
  constructor(player) {
    this.player = player;
    this.$ = (sel) => player.root.querySelector(sel);
  }

  // Everything that follows the cursor, once per frame.
  paint() {
    const p = this.player;
    this.position();
    this.state();
    this.transcript();
    if (p.holdSeen) this.flight();
    this.strip();
  }

  position() {
    const p = this.player;
    this.$(".position").textContent = `step ${Math.max(p.cursor - 1, 0)}/${Math.max(p.events.length - 1, 0)}`;
  }

  // A new run: nothing on screen from the last one.
  reset() {
    this.$(".transcript").innerHTML = "";
    this.strip();
  }

  // The world at the cursor: nodes, invariants, summary, outcome, matrix, and the scenario's own log.
  state() {
    const { events, cursor } = this.player;
    if (!events.length) return;
    const { nodes, invariants, summary, log } = foldState(events, cursor);
    setHTML(this.$(".nodes"), [...nodes.values()].map((n) => `<li class="${n.alive ? "" : "down"} ${n.group ? "g-" + n.group : ""}">
      <button type="button" class="node-toggle" data-node="${esc(n.id)}" aria-label="${n.alive ? "Crash" : "Recover"} ${esc(n.id)}">${esc(n.id)}</button>${n.label && n.label !== n.id ? ` <span class="full-name">${esc(n.label)}</span>` : ""}
      <span class="status">${n.alive ? "" : "crashed"}${n.group ? " " + esc(n.group) : ""}</span>
      <span class="kv">${Object.entries(n.state).filter(([k]) => k !== "knows").map(([k, v]) => `${esc(k)}: <b>${esc(fmt(v))}</b>`).join(" · ")}</span></li>`).join(""));
    setHTML(this.$(".invariants"), [...invariants.values()].map((i) => {
      const cls = i.ok === false ? "bad" : i.ok ? "ok" : "pending";
      const word = i.ok === false ? `FAILED at <a href="#" data-seq="${i.seq}">#${i.seq}</a>` : i.ok ? "held" : "watching";
      return `<li class="${cls}"><span class="inv-name">${esc(i.name)}</span> <span class="inv-state">${word}</span><small>${esc(i.ok === false ? i.detail : i.text)}</small></li>`;
    }).join(""));
    this.summary(summary);
    this.outcome(summary, invariants);
    this.matrix(nodes);
    const panel = this.$(".log-panel");
    panel.hidden = !log.length;
    if (log.length) {
      this.$(".log-title").textContent = log[0].panel;
      this.$(".log").innerHTML = log.map((e) => `<li>${esc(e.text)}</li>`).join("");
    }
  }

  // The summary for people: words for keys, lists and pairs for values; behind the "details" toggle.
  summary(summary) {
    const { events, cursor, ended } = this.player;
    const dl = this.$(".summary");
    if (!summary) {
      setHTML(dl, `<dt>status</dt><dd>${ended ? "ended" : events.length ? "running" : "not started"}</dd><dt>events</dt><dd>${cursor}</dd>`);
      return;
    }
    const rows = [];
    for (const [k, v] of Object.entries(summary)) {
      if (["theory", "estimate", "headline", "known"].includes(k)) continue;
      rows.push(`<dt data-key="${esc(k)}">${esc(words(k))}</dt><dd>${esc(human(v))}</dd>`);
    }
    for (const k of ["theory", "estimate"]) {
      if (!summary[k]) continue;
      rows.push(`<dt class="theory">${k === "theory" ? "theory" : "measured over many runs"}</dt><dd class="theory">${Object.entries(summary[k]).map(([a, b]) => `${esc(words(a))}: <b>${esc(human(b))}</b>`).join("<br>")}</dd>`);
    }
    setHTML(dl, rows.join(""));
  }

  // One sentence for the run as it stands, and, once it ended, the known result beside the measured one.
  outcome(summary, invariants) {
    const { events, cursor, ended } = this.player;
    const box = this.$(".outcome");
    if (!box) return;
    if (!events.length) { box.hidden = true; return; }
    box.hidden = false;
    const broken = [...invariants.values()].filter((i) => i.ok === false);
    const t = events[Math.max(0, cursor - 1)].t;
    let head;
    if (summary && summary.headline) head = summary.headline;
    else if (broken.length) head = `${broken.map((i) => i.name).join(" and ")} ${broken.length > 1 ? "are" : "is"} violated: ${broken[0].detail}`;
    else head = `${summary ? "Ended" : ended || cursor < events.length ? "At step " + (cursor - 1) : "Running"} at t=${t}: no invariant broken${summary ? "" : " so far"}.`;
    const rows = summary && Array.isArray(summary.known) ? summary.known : [];
    const mark = (a) => a === true ? '<span class="agree" aria-label="agrees">✓</span>' : a === false ? '<span class="disagree" aria-label="disagrees">✗</span>' : '<span class="na" aria-label="does not apply">–</span>';
    setHTML(box, `<p class="headline${broken.length ? " bad" : ""}">${esc(head)}</p>` + (rows.length ? `<table class="known"><thead><tr><th scope="col"></th><th scope="col">known</th><th scope="col">this run</th><th scope="col"></th></tr></thead><tbody>${rows.map((r) =>
      `<tr><th scope="row">${esc(r.quantity)}</th><td>${esc(r.known)}${r.assumes ? `<small>${esc(r.assumes)}</small>` : ""}</td><td>${esc(r.measured)}</td><td>${mark(r.agrees)}</td></tr>`).join("")}</tbody></table>` : ""));
  }

  // Who knows what, for scenarios whose nodes keep a `knows` list (gossip).
  matrix(nodes) {
    const people = [...nodes.values()].filter((n) => Array.isArray(n.state.knows));
    const panel = this.$(".matrix-panel");
    panel.hidden = !people.length;
    if (!people.length) return;
    const items = [...new Set(people.flatMap((n) => n.state.knows).concat([...nodes.keys()]))].filter((i) => people.some((p) => p.state.knows.includes(i)) || nodes.has(i));
    const head = `<tr><th></th>${items.map((i) => `<th scope="col">${esc(i)}</th>`).join("")}</tr>`;
    const body = people.map((p) => `<tr><th scope="row">${esc(p.id)}</th>${items.map((i) => p.state.knows.includes(i) ? `<td class="on" aria-label="knows ${esc(i)}">&#9679;</td>` : `<td aria-label="does not know ${esc(i)}"></td>`).join("")}</tr>`).join("");
    this.$(".matrix").innerHTML = `<table>${head}${body}</table>`;
  }

  // The events up to the cursor in words, the last of them marked current.
  transcript() {
    const { events, cursor } = this.player;
    const ol = this.$(".transcript");
    const from = Math.max(0, cursor - TRANSCRIPT_WINDOW);
    const lines = [];
    for (let i = from; i < cursor; i++) {
      const e = events[i];
      const cur = i === cursor - 1;
      lines.push(`<li data-seq="${i}" class="k-${e.kind}${e.kind === "check" && !e.ok ? " bad" : ""}"${cur ? ' aria-current="step"' : ""}>${esc(describe(e))}</li>`);
    }
    ol.innerHTML = lines.join("");
    ol.start = from + 1;
    ol.scrollTop = ol.scrollHeight;
  }

  // "You are the network": while messages are held, what is in flight, each to deliver or drop.
  flight() {
    const { events, cursor } = this.player;
    let held = false;
    const open = new Map();
    for (let i = 1; i < cursor; i++) {
      const e = events[i];
      if (e.kind === "fault" && (e.fault.action === "hold" || e.fault.action === "release")) held = e.fault.action === "hold";
      else if (e.kind === "send") open.set(e.msg, e);
      else if (e.kind === "deliver" || e.kind === "drop") open.delete(e.msg);
    }
    const panel = this.$(".flight-panel");
    panel.hidden = !held;
    this.$(".hold").checked = held;
    if (!held) return;
    setHTML(this.$(".flight-list"), [...open.values()].map((e) => `<li>${esc(e.src)} &rarr; ${esc(e.dst)} <b>${esc(e.label)}</b>
      <button type="button" data-msg-act="deliver" data-msg="${e.msg}">Deliver</button> <button type="button" data-msg-act="drop" data-msg="${e.msg}">Drop</button></li>`).join("") || "<li class=hint>nothing in flight</li>");
  }

  // The key moments above the slider, the current key one marked; then the legend.
  strip() {
    const p = this.player;
    const strip = this.$(".strip");
    if (!strip) return;
    const n = Math.max(p.events.length, 1), key = p.diagram.key;
    const marks = p.marks.list;
    const html = marks.slice(0, 400).map((k) => `<button type="button" class="k-${k.type}${k.i === key ? " k-key" : ""}" data-moment="${k.i}" data-pos="${(100 * k.i / n).toFixed(2)}" title="#${k.i} ${esc(k.text)}" aria-label="${esc(k.text)} at step ${k.i}"></button>`).join("");
    if (strip.dataset.html !== html) {
      setHTML(strip, html);
      for (const b of strip.children) b.style.left = `${b.dataset.pos}%`;
    }
    this.$('[data-act="first-violation"]').disabled = !p.marks.first("violation");
    this.legend();
  }

  // The legend names only what this run has shown: messages, losses, faults, violations, then its bands.
  legend() {
    const { tones, crashed, forged } = this.player.marks.seen;
    const items = ['<li class="l-msg">message</li>', '<li class="l-lost">lost</li>', '<li class="l-fault">fault</li>', '<li class="l-violation">violation</li>']
      .concat(forged ? ['<li class="l-traitor">forged</li>'] : [], crashed ? ['<li class="l-band l-down">down</li>'] : [],
        [...tones].map((t) => `<li class="l-band l-${t === "fault" || t === "traitor" ? "t" + t : t}">${LEGEND_NAMES[t] || t}</li>`));
    setHTML(this.$(".legend"), items.join(""));
  }

  // What the diagram element with this event index is, in words and data, with what can be done to it.
  details(i) {
    const { events, cursor } = this.player;
    const e = events[i];
    if (!e) return;
    const panel = this.$(".details-panel");
    panel.hidden = false;
    const rows = [`<p><strong>${esc(describe(e))}</strong></p>`];
    if (e.kind === "send" || e.kind === "deliver" || e.kind === "drop") {
      const send = e.kind === "send" ? e : events.find((x) => x.kind === "send" && x.msg === e.msg);
      const end = events.slice(send.seq + 1, cursor).find((x) => (x.kind === "deliver" || x.kind === "drop") && x.msg === e.msg);
      rows.push(`<p>${esc(send.src)} &rarr; ${esc(send.dst)}: <b>${esc(send.label)}</b> (message ${send.msg}), sent at t=${send.t}; ${end ? (end.kind === "deliver" ? `delivered at t=${end.t}` : `lost at t=${end.t} (${esc(end.reason)})`) : "in flight"}</p>`);
      if (send.data !== undefined) rows.push(`<pre>${esc(JSON.stringify(send.data, null, 1))}</pre>`);
      if (!end) rows.push(`<p class="acts"><button type="button" data-msg-act="drop" data-msg="${send.msg}">Drop it</button> <button type="button" data-msg-act="delay" data-msg="${send.msg}">Delay +5</button> <button type="button" data-msg-act="duplicate" data-msg="${send.msg}">Duplicate</button></p>`);
    } else if (e.kind === "state") {
      const before = events.slice(0, i).reverse().find((x) => x.kind === "state" && x.node === e.node);
      rows.push(`<dl class="made-of"><dt>before</dt><dd><code>${esc(JSON.stringify(before ? before.state : {}))}</code></dd><dt>after</dt><dd><code>${esc(JSON.stringify(e.state))}</code></dd></dl>`);
    } else if (e.kind === "fault") {
      rows.push(`<pre>${esc(JSON.stringify(e.fault, null, 1))}</pre>`);
    }
    this.$(".details").innerHTML = rows.join("");
  }

  // The node pickers of the fault controls and filters, once per set of nodes.
  nodeChoices() {
    const init = this.player.events[0];
    const src = this.$(".drop-src");
    if (!init || src.dataset.for === init.scenario + init.nodes.length) return;
    src.dataset.for = init.scenario + init.nodes.length;
    const options = `<option value="">any</option>` + init.nodes.map((n) => `<option>${esc(n.id)}</option>`).join("");
    src.innerHTML = options;
    this.$(".drop-dst").innerHTML = options;
    this.$(".partition-nodes").innerHTML = init.nodes.map((n) => `<label><input type="checkbox" value="${esc(n.id)}"> ${esc(n.id)}</label>`).join(" ");
    this.$(".filter-nodes").innerHTML = init.nodes.map((n) => `<label><input type="checkbox" data-filter-node="${esc(n.id)}" checked> ${esc(n.id)}</label>`).join(" ");
  }

  // The status line above the controls (a live region), red for an error.
  announce(text, error = false) {
    let el = this.$(".announce");
    if (!el) {
      el = document.createElement("p");
      el.className = "announce";
      el.setAttribute("role", "status");
      this.$(".controls").prepend(el);
    }
    el.textContent = text;
    el.classList.toggle("error", error);
  }
}
