// The player: one page, two sources. Live runs stream over the WebSocket run protocol (DESIGN.md);
// saved runs load their trace.json. Either way the browser holds the events and a cursor into them,
// so stepping back and scrubbing are instant and never ask the server.

import { Diagram } from "./diagram.js";
import { Room } from "./room.js";
import { describe, fmt, foldState } from "./trace.js";
import { faultText } from "./layout.js";

const BASE_RATE = 4; // events per second at 1x, as on the server
const TRANSCRIPT_WINDOW = 80; // lines kept in the DOM around the cursor: enough to read back, cheap to redraw

class Player {
  constructor(root) {
    this.root = root;
    this.mode = root.dataset.mode;
    this.events = [];
    this.moments = [];
    this.violatedNames = new Set();
    this.seen = { tones: new Set(), crashed: false, forged: false };
    this.cursor = 0;
    this.ended = false;
    this.playing = false;
    this.follow = true;
    this.$ = (sel) => root.querySelector(sel);
    this.diagram = new Diagram(this.$(".diagram-wrap"), { onHead: (id) => this.toggleNode(id) });
    this.speed = this.$(".speed");
    this.scrub = this.$(".scrub");
    this.bindControls();
    if (this.mode === "replay") this.loadTrace(root.dataset.trace);
    else this.bindForm();
    const panel = document.querySelector(".room-panel");
    if (panel) new Room(this, panel);
  }

  // -- sources -------------------------------------------------------------
  async loadTrace(url) {
    const res = await fetch(url);
    const events = await res.json();
    this.begin();
    this.receive(events);
    const start = this.root.dataset.startStep;
    this.follow = false;
    this.ended = true;
    if (start) this.setCursor(Math.min(Number(start) + 1, events.length));
    else if (this.root.dataset.autoplay) this.setCursor(1);
    else this.land();
    if (this.root.dataset.autoplay) this.play();
  }

  bindForm() {
    document.addEventListener("submit", (ev) => {
      if (ev.target.id !== "setup") return;
      ev.preventDefault();
      this.start(ev.target);
    });
    const form = document.getElementById("setup");
    if (form && (new URLSearchParams(location.search).get("autorun") || this.root.dataset.autoplay)) {
      this.autoplay = true;
      this.start(form);
    }
  }

  connect() {
    if (this.ws && this.ws.readyState <= 1) return Promise.resolve(this.ws);
    return new Promise((resolve, reject) => {
      const proto = location.protocol === "https:" ? "wss" : "ws";
      const ws = new WebSocket(`${proto}://${location.host}${this.root.dataset.ws}`);
      ws.onopen = () => { this.retries = 0; resolve(ws); };
      ws.onerror = () => { this.announce("The connection to the server failed."); reject(new Error("ws")); };
      ws.onclose = () => { this.setPlaying(false); this.reconnect(); };
      ws.onmessage = (m) => this.onMessage(JSON.parse(m.data));
      this.ws = ws;
    });
  }

  // A dropped connection comes back on its own and takes the run up where this browser left it.
  reconnect() {
    const resumable = this.mode === "live" && this.runId && this.token && !this.ended;
    if (!resumable && !this.room) return;
    this.retries = (this.retries || 0) + 1;
    const wait = Math.min(8000, 250 * 2 ** this.retries);
    this.announce("Connection lost; reconnecting…", true);
    setTimeout(() => this.connect().then(() => {
      if (resumable) this.send({ type: "resume", run: this.runId, token: this.token, from: this.events.length });
      if (this.room) this.room.hello();
    }).catch(() => {}), wait);
  }

  send(msg) {
    if (this.ws && this.ws.readyState === 1) this.ws.send(JSON.stringify(msg));
  }

  async start(form) {
    const data = new FormData(form);
    const params = {};
    const names = new Set([...form.querySelectorAll("[name]")].map((el) => el.name));
    for (const name of names) if (name !== "seed" && name !== "faults") params[name] = data.getAll(name).pop();
    let faults = [];
    const text = (data.get("faults") || "").trim();
    if (text) {
      try { faults = JSON.parse(text); } catch { return this.announce("The fault script is not valid JSON.", true); }
    }
    const seed = Number(data.get("seed") || 0);
    const autoplay = document.getElementById("autoplay");
    if (!autoplay || autoplay.checked) this.autoplay = true;
    this.startedAt = performance.now();
    await this.connect();
    this.send({ type: "start", scenario: this.root.dataset.scenario, params, seed, faults });
  }

  onMessage(msg) {
    if (msg.type.startsWith("room.")) {
      if (msg.type === "room.joined" && msg.id) this.learnerId = msg.id;
      return this.room && this.room.onMessage(msg);
    }
    switch (msg.type) {
      case "started": {
        this.begin();
        this.runUrl = msg.url;
        this.runId = msg.run;
        this.token = msg.token;
        this.ended = false;
        const link = document.querySelector(".run-link");
        if (link) { link.href = msg.url; link.hidden = false; }
        this.announce(msg.parent ? `A branch of run ${msg.parent}: it shares the past up to the change, then goes its own way. Press Play.` : "Run started. Press Play, or step through it.");
        if (msg.parent) this.follow = true;
        if (this.autoplay) { this.autoplay = false; this.play(); }
        break;
      }
      case "degraded":
        this.announce(msg.message, true);
        if (this.room) this.room.degraded();
        break;
      case "resumed":
        this.announce("Reconnected: the run goes on from where this page left it.");
        break;
      case "events":
        if (msg.from !== undefined && msg.from < this.events.length) this.truncate(msg.from);
        const ending = !this.ended && msg.events.some((e) => e.kind === "end");
        this.receive(msg.events);
        if (!msg.run && msg.events.length) this.send({ type: "ack", seq: msg.events[msg.events.length - 1].seq });
        if (this.follow) this.setCursor(this.events.length);
        else if (this.target && this.target <= this.events.length) this.goTo(this.target);
        if (ending && this.follow && !this.room) this.land();
        if (ending) this.root.dispatchEvent(new CustomEvent("ended", { detail: { run: this.runId, url: this.runUrl } }));
        if (this.startedAt && msg.events.some((e) => e.kind === "send")) {
          this.root.dataset.firstArrowMs = Math.round(performance.now() - this.startedAt);
          this.startedAt = null;
        }
        break;
      case "status":
        if (msg.state === "ended") this.ended = true;
        if (msg.state === "waiting") this.announce("You are the network: pick the next message to deliver (In flight, on the right).");
        this.setPlaying(msg.state === "playing");
        break;
      case "error":
        this.announce(`${msg.message}`, true);
        if (msg.code === "degraded" && this.room) this.room.degraded();
        if (msg.errors) this.showFieldErrors(msg.errors);
        break;
    }
  }

  showFieldErrors(errors) {
    for (const [name, text] of Object.entries(errors)) {
      const input = document.getElementById(`p-${name}`);
      if (!input) continue;
      const field = input.closest(".field");
      field.classList.add("invalid");
      let el = field.querySelector(".error");
      if (!el) { el = document.createElement("small"); el.className = "error"; el.setAttribute("role", "alert"); field.appendChild(el); }
      el.textContent = text;
    }
  }

  begin() {
    this.holdSeen = false;
    this.events = [];
    this.cursor = 0;
    this.ended = false;
    this.follow = true;
    this.diagram.reset(null);
    this.moments = [];
    this.violatedNames = new Set();
    this.seen = { tones: new Set(), crashed: false, forged: false };
    this.$(".transcript").innerHTML = "";
    this.renderStrip();
  }

  // Forget events from seq n on: a watcher's catch-up ran ahead of the owner, who has since changed the run.
  truncate(n) {
    const kept = this.events.slice(0, n);
    this.events = [];
    this.moments = [];
    this.violatedNames = new Set();
    this.seen = { tones: new Set(), crashed: false, forged: false };
    this.diagram.reset(null);
    this.receive(kept);
    if (this.target == null) this.cursor = Math.min(this.cursor, kept.length);
  }

  receive(events) {
    for (const e of events) {
      if (e.seq !== this.events.length) continue; // never a gap or a duplicate
      if (e.kind === "init") this.diagram.reset(e);
      this.events.push(e);
      this.diagram.append([e]);
      this.noteMoment(e);
      if (e.kind === "fault" && e.fault.action === "hold") this.holdSeen = true;
      if (e.kind === "end") this.ended = true;
    }
    this.scrub.max = this.events.length;
    this.refreshDropChoices();
  }

  // -- key moments ---------------------------------------------------------------
  // Faults, crashes, violations, retries and band changes: the strip above the slider, and where a run lands.
  noteMoment(e) {
    if (!this.moments) this.moments = [], this.violatedNames = new Set();
    const seen = this.seen;
    if (e.kind === "state" && e.band) seen.tones.add(e.band.tone);
    else if (e.kind === "crash") seen.crashed = true;
    else if (e.kind === "send" && e.data && e.data.forged) seen.forged = true;
    let type = null, text = "";
    if (e.kind === "fault") { type = ["recover", "heal", "release"].includes(e.fault.action) ? "repair" : "fault"; text = `fault: ${faultText(e.fault)}`; }
    else if (e.kind === "crash" || e.kind === "recover") { type = e.kind; text = `${e.node} ${e.kind === "crash" ? "crashes" : "recovers"}`; }
    else if (e.kind === "check" && !e.ok && !this.violatedNames.has(e.name)) { this.violatedNames.add(e.name); type = "violation"; text = `${e.name} violated`; }
    else if (e.kind === "send" && e.tag && /^#([2-9]|\d\d)/.test(e.tag)) { type = "retry"; text = `${e.src} retries ${e.label} (${e.tag})`; }
    else if (e.kind === "state" && "band" in e) { type = "band"; text = `${e.node}: ${e.band ? e.band.label : "back to normal"}`; }
    if (type) this.moments.push({ i: e.seq, type, text });
  }

  // The first violation; else the last fault or crash (landing a third of the way down shows what it caused
  // below it); else the first state that went wrong (a band that says fault or fail); else the last state change.
  keyMoment() {
    const m = this.moments || [];
    const violation = m.find((k) => k.type === "violation");
    if (violation) return violation.i;
    const faults = m.filter((k) => k.type === "fault" || (k.type === "crash" && this.events[k.i].t > 0));  // down at t=0 is the set-up
    if (faults.length) return faults[faults.length - 1].i;
    const bands = m.filter((k) => k.type === "band" && this.events[k.i].band);
    const wrong = bands.find((k) => ["fault", "fail"].includes(this.events[k.i].band.tone));
    if (wrong) return wrong.i;
    return bands.length ? bands[bands.length - 1].i : this.events.length - 1;
  }

  land() {
    this.setCursor(this.events.length);
    this.follow = false;
    const k = this.keyMoment();
    this.diagram.reveal(k, 0.3, true);
    this.root.dataset.key = k;
    this.renderStrip();
    const e = this.events[k], end = this.events[this.events.length - 1];
    const what = !e || e.kind === "end" ? "" : e.kind === "check" ? `${e.name} is violated at t=${e.t}: ${e.detail.replace(/\.$/, "")}. `
      : `its key moment: ${describe(e).replace(/^#\d+ t=\d+ /, `at t=${e.t}, `)}. `;
    this.announce(`The run ended at t=${end.t}; ${what || "nothing went wrong. "}Press Home to watch it from the start.`);
  }

  jumpTo(i) {
    this.pauseLocal();
    this.follow = false;
    this.setCursor(Math.max(this.cursor, i + 1));
    this.diagram.reveal(i, 0.3, true);
    this.select(i);
  }

  jumpMark(dir) {
    const m = this.moments || [];
    const here = this.diagram.key ?? this.cursor - 1;
    const next = dir > 0 ? m.find((k) => k.i > here) : [...m].reverse().find((k) => k.i < here);
    if (next) this.jumpTo(next.i);
  }

  renderStrip() {
    const strip = this.$(".strip");
    if (!strip) return;
    const n = Math.max(this.events.length, 1), key = this.diagram.key;
    const marks = this.moments || [];
    const html = marks.slice(0, 400).map((k) => `<button type="button" class="k-${k.type}${k.i === key ? " k-key" : ""}" data-moment="${k.i}" data-pos="${(100 * k.i / n).toFixed(2)}" title="#${k.i} ${esc(k.text)}" aria-label="${esc(k.text)} at step ${k.i}"></button>`).join("");
    if (strip.dataset.html !== html) {
      setHTML(strip, html);
      for (const b of strip.children) b.style.left = `${b.dataset.pos}%`;
    }
    this.$('[data-act="first-violation"]').disabled = !(this.moments || []).some((k) => k.type === "violation");
    this.renderLegend();
  }

  renderLegend() {
    const { tones, crashed, forged } = this.seen;
    const names = { hold: "holds it", busy: "working", wait: "waiting", fault: "degraded", fail: "failed", done: "done", traitor: "traitor" };
    const items = ['<li class="l-msg">message</li>', '<li class="l-lost">lost</li>', '<li class="l-fault">fault</li>', '<li class="l-violation">violation</li>']
      .concat(forged ? ['<li class="l-traitor">forged</li>'] : [], crashed ? ['<li class="l-band l-down">down</li>'] : [],
        [...tones].map((t) => `<li class="l-band l-${t === "fault" || t === "traitor" ? "t" + t : t}">${names[t] || t}</li>`));
    setHTML(this.$(".legend"), items.join(""));
  }

  // -- time ------------------------------------------------------------------
  setCursor(n) {
    n = Math.max(Math.min(this.events.length, 1), Math.min(n, this.events.length));
    this.cursor = n;
    this.scrub.value = n;
    this.diagram.show(n);
    this.diagram.follow();
    if (this.onCursor) this.onCursor(n);
    this.root.dispatchEvent(new CustomEvent("cursor", { detail: n }));
    if (!this.painting) this.painting = requestAnimationFrame(() => this.paint());
  }

  // Panels and transcript follow the cursor once per frame, however fast it moves (scrubbing, fast play).
  paint() {
    this.painting = null;
    const n = this.cursor;
    this.$(".position").textContent = `step ${Math.max(n - 1, 0)}/${Math.max(this.events.length - 1, 0)}`;
    this.renderPanels();
    this.renderTranscript();
    if (this.holdSeen) this.renderFlight();
    this.renderStrip();
    this.root.dataset.cursor = n;
  }

  atHead() { return this.cursor >= this.events.length; }

  // Show the first n events as soon as they are here (a follower may hear of a step before its events).
  goTo(n) {
    this.target = n > this.events.length ? n : null;
    this.setCursor(Math.min(n, this.events.length));
  }

  play() {
    if (this.playing) return this.pause();
    this.setPlaying(true);
    if (!this.atHead() || this.mode === "replay" || this.ended) return this.tickLocal();
    this.follow = true;
    this.send({ type: "play", speed: Number(this.speed.value) });
  }

  // Play what the browser already holds at the chosen speed; at the head of a live run, hand over to the server.
  tickLocal() {
    clearTimeout(this.timer);
    if (!this.playing) return;
    if (this.atHead()) {
      if (this.mode === "live" && !this.ended) { this.follow = true; return this.send({ type: "play", speed: Number(this.speed.value) }); }
      return this.setPlaying(false);
    }
    const rate = BASE_RATE * Number(this.speed.value);
    const per = Math.max(1, Math.round(rate / 20));
    this.setCursor(this.cursor + per);
    this.timer = setTimeout(() => this.tickLocal(), Math.max(16, (1000 * per) / rate));
  }

  pause() {
    clearTimeout(this.timer);
    this.send({ type: "pause" });
    this.setPlaying(false);
  }

  setPlaying(on) {
    this.playing = on;
    const b = this.$('[data-act="play"]');
    b.textContent = on ? "Pause" : "Play";
    b.setAttribute("aria-label", on ? "Pause" : "Play");
  }

  step(delta) {
    if (this.playing) this.pause();
    if (delta > 0 && this.atHead() && this.mode === "live" && !this.ended) {
      this.follow = true;
      return this.send({ type: "step", count: delta });
    }
    this.follow = false;
    this.setCursor(this.cursor + delta);
  }

  // -- faults by hand ----------------------------------------------------------
  // A fault at the head of a live run applies now; anywhere else (scrubbed back, a saved run, an ended run)
  // it starts a branch: a new run with the same past and this change at the step on screen.
  inject(fault) {
    if (!this.events.length) return this.announce("Press Run first: faults apply to a run.", true);
    this.follow = true;
    if (this.mode === "live" && !this.ended && this.atHead()) return this.send({ type: "inject", fault });
    const run = this.runId || this.root.dataset.run;
    if (!run) return this.announce("This run has no saved id to branch from.", true);
    this.pauseLocal();
    this.mode = "live";
    this.root.dataset.mode = "live";
    this.connect().then(() => this.send({ type: "branch", run, seq: Math.max(1, this.cursor), fault }));
    this.announce(`Branching at step ${this.cursor}…`);
  }

  toggleNode(id) {
    if (!this.events.length) return this.announce("Press Run first: faults apply to a run.", true);
    const { nodes } = foldState(this.events, this.cursor);
    this.inject({ action: nodes.get(id).alive ? "crash" : "recover", node: id });
  }

  dropNext() {
    const src = this.$(".drop-src").value, dst = this.$(".drop-dst").value;
    const match = {};
    if (src) match.src = src;
    if (dst) match.dst = dst;
    this.inject({ action: "drop", match });
    this.announce(`The next message ${src || "from anyone"} to ${dst || "anyone"} will be dropped.`);
  }

  partition() {
    const boxes = [...this.root.querySelectorAll(".partition-nodes input")];
    const a = boxes.filter((b) => b.checked).map((b) => b.value), b = boxes.filter((x) => !x.checked).map((x) => x.value);
    if (!a.length || !b.length) return this.announce("Tick the nodes on one side of the cut, and leave some unticked.", true);
    this.inject({ action: "partition", groups: [a, b] });
  }

  // What the diagram element with this event index is, in words and data, with what can be done to it.
  select(i) {
    const e = this.events[i];
    if (!e) return;
    const panel = this.$(".details-panel");
    panel.hidden = false;
    const rows = [`<p><strong>${esc(describe(e))}</strong></p>`];
    if (e.kind === "send" || e.kind === "deliver" || e.kind === "drop") {
      const send = e.kind === "send" ? e : this.events.find((x) => x.kind === "send" && x.msg === e.msg);
      const end = this.events.slice(send.seq + 1, this.cursor).find((x) => (x.kind === "deliver" || x.kind === "drop") && x.msg === e.msg);
      rows.push(`<p>${esc(send.src)} &rarr; ${esc(send.dst)}: <b>${esc(send.label)}</b> (message ${send.msg}), sent at t=${send.t}; ${end ? (end.kind === "deliver" ? `delivered at t=${end.t}` : `lost at t=${end.t} (${esc(end.reason)})`) : "in flight"}</p>`);
      if (send.data !== undefined) rows.push(`<pre>${esc(JSON.stringify(send.data, null, 1))}</pre>`);
      if (!end) rows.push(`<p class="acts"><button type="button" data-msg-act="drop" data-msg="${send.msg}">Drop it</button> <button type="button" data-msg-act="delay" data-msg="${send.msg}">Delay +5</button> <button type="button" data-msg-act="duplicate" data-msg="${send.msg}">Duplicate</button></p>`);
    } else if (e.kind === "state") {
      const before = this.events.slice(0, i).reverse().find((x) => x.kind === "state" && x.node === e.node);
      rows.push(`<dl class="made-of"><dt>before</dt><dd><code>${esc(JSON.stringify(before ? before.state : {}))}</code></dd><dt>after</dt><dd><code>${esc(JSON.stringify(e.state))}</code></dd></dl>`);
    } else if (e.kind === "fault") {
      rows.push(`<pre>${esc(JSON.stringify(e.fault, null, 1))}</pre>`);
    }
    this.$(".details").innerHTML = rows.join("");
  }

  renderFlight() {
    let held = false;
    const open = new Map();
    for (let i = 1; i < this.cursor; i++) {
      const e = this.events[i];
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

  refreshDropChoices() {
    const init = this.events[0];
    const src = this.$(".drop-src");
    if (!init || src.dataset.for === init.scenario + init.nodes.length) return;
    src.dataset.for = init.scenario + init.nodes.length;
    const options = `<option value="">any</option>` + init.nodes.map((n) => `<option>${esc(n.id)}</option>`).join("");
    src.innerHTML = options;
    this.$(".drop-dst").innerHTML = options;
    this.$(".partition-nodes").innerHTML = init.nodes.map((n) => `<label><input type="checkbox" value="${esc(n.id)}"> ${esc(n.id)}</label>`).join(" ");
    this.$(".filter-nodes").innerHTML = init.nodes.map((n) => `<label><input type="checkbox" data-filter-node="${esc(n.id)}" checked> ${esc(n.id)}</label>`).join(" ");
  }

  // -- panels ------------------------------------------------------------------
  renderPanels() {
    if (!this.events.length) return;
    const { nodes, invariants, summary, log } = foldState(this.events, this.cursor);
    setHTML(this.$(".nodes"), [...nodes.values()].map((n) => `<li class="${n.alive ? "" : "down"} ${n.group ? "g-" + n.group : ""}">
      <button type="button" class="node-toggle" data-node="${esc(n.id)}" aria-label="${n.alive ? "Crash" : "Recover"} ${esc(n.id)}">${esc(n.id)}</button>${n.label && n.label !== n.id ? ` <span class="full-name">${esc(n.label)}</span>` : ""}
      <span class="status">${n.alive ? "" : "crashed"}${n.group ? " " + esc(n.group) : ""}</span>
      <span class="kv">${Object.entries(n.state).filter(([k]) => k !== "knows").map(([k, v]) => `${esc(k)}: <b>${esc(fmt(v))}</b>`).join(" · ")}</span></li>`).join(""));
    setHTML(this.$(".invariants"), [...invariants.values()].map((i) => {
      const cls = i.ok === false ? "bad" : i.ok ? "ok" : "pending";
      const word = i.ok === false ? `FAILED at <a href="#" data-seq="${i.seq}">#${i.seq}</a>` : i.ok ? "held" : "watching";
      return `<li class="${cls}"><span class="inv-name">${esc(i.name)}</span> <span class="inv-state">${word}</span><small>${esc(i.ok === false ? i.detail : i.text)}</small></li>`;
    }).join(""));
    this.renderSummary(summary);
    this.renderOutcome(summary, invariants);
    this.renderMatrix(nodes);
    const panel = this.$(".log-panel");
    panel.hidden = !log.length;
    if (log.length) {
      this.$(".log-title").textContent = log[0].panel;
      this.$(".log").innerHTML = log.map((e) => `<li>${esc(e.text)}</li>`).join("");
    }
  }

  // The summary for people: words for keys, lists and pairs for values; behind the "details" toggle.
  renderSummary(summary) {
    const dl = this.$(".summary");
    if (!summary) {
      setHTML(dl, `<dt>status</dt><dd>${this.ended ? "ended" : this.events.length ? "running" : "not started"}</dd><dt>events</dt><dd>${this.cursor}</dd>`);
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
  renderOutcome(summary, invariants) {
    const box = this.$(".outcome");
    if (!box) return;
    if (!this.events.length) { box.hidden = true; return; }
    box.hidden = false;
    const broken = [...invariants.values()].filter((i) => i.ok === false);
    const t = this.events[Math.max(0, this.cursor - 1)].t;
    let head;
    if (summary && summary.headline) head = summary.headline;
    else if (broken.length) head = `${broken.map((i) => i.name).join(" and ")} ${broken.length > 1 ? "are" : "is"} violated: ${broken[0].detail}`;
    else head = `${summary ? "Ended" : this.ended || this.cursor < this.events.length ? "At step " + (this.cursor - 1) : "Running"} at t=${t}: no invariant broken${summary ? "" : " so far"}.`;
    const rows = summary && Array.isArray(summary.known) ? summary.known : [];
    const mark = (a) => a === true ? '<span class="agree" aria-label="agrees">✓</span>' : a === false ? '<span class="disagree" aria-label="disagrees">✗</span>' : '<span class="na" aria-label="does not apply">–</span>';
    setHTML(box, `<p class="headline${broken.length ? " bad" : ""}">${esc(head)}</p>` + (rows.length ? `<table class="known"><thead><tr><th scope="col"></th><th scope="col">known</th><th scope="col">this run</th><th scope="col"></th></tr></thead><tbody>${rows.map((r) =>
      `<tr><th scope="row">${esc(r.quantity)}</th><td>${esc(r.known)}${r.assumes ? `<small>${esc(r.assumes)}</small>` : ""}</td><td>${esc(r.measured)}</td><td>${mark(r.agrees)}</td></tr>`).join("")}</tbody></table>` : ""));
  }

  renderMatrix(nodes) {
    const people = [...nodes.values()].filter((n) => Array.isArray(n.state.knows));
    const panel = this.$(".matrix-panel");
    panel.hidden = !people.length;
    if (!people.length) return;
    const items = [...new Set(people.flatMap((n) => n.state.knows).concat([...nodes.keys()]))].filter((i) => people.some((p) => p.state.knows.includes(i)) || nodes.has(i));
    const head = `<tr><th></th>${items.map((i) => `<th scope="col">${esc(i)}</th>`).join("")}</tr>`;
    const body = people.map((p) => `<tr><th scope="row">${esc(p.id)}</th>${items.map((i) => p.state.knows.includes(i) ? `<td class="on" aria-label="knows ${esc(i)}">&#9679;</td>` : `<td aria-label="does not know ${esc(i)}"></td>`).join("")}</tr>`).join("");
    this.$(".matrix").innerHTML = `<table>${head}${body}</table>`;
  }

  renderTranscript() {
    const ol = this.$(".transcript");
    const from = Math.max(0, this.cursor - TRANSCRIPT_WINDOW);
    const lines = [];
    for (let i = from; i < this.cursor; i++) {
      const e = this.events[i];
      const cur = i === this.cursor - 1;
      lines.push(`<li data-seq="${i}" class="k-${e.kind}${e.kind === "check" && !e.ok ? " bad" : ""}"${cur ? ' aria-current="step"' : ""}>${esc(describe(e))}</li>`);
    }
    ol.innerHTML = lines.join("");
    ol.start = from + 1;
    ol.scrollTop = ol.scrollHeight;
  }

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

  // -- input -------------------------------------------------------------------
  bindControls() {
    this.root.addEventListener("click", (ev) => {
      const act = ev.target.closest("[data-act]");
      if (act) {
        const a = act.dataset.act;
        if (a === "play") this.play();
        else if (a === "step") this.step(1);
        else if (a === "back") this.step(-1);
        else if (a === "start") { this.pauseLocal(); this.follow = false; this.setCursor(1); }
        else if (a === "end") { this.pauseLocal(); this.follow = true; this.setCursor(this.events.length); }
        else if (a === "drop") this.dropNext();
        else if (a === "partition") this.partition();
        else if (a === "heal") this.inject({ action: "heal" });
        else if (a === "loss") this.inject({ action: "loss", rate: Math.max(0, Math.min(1, Number(this.$(".loss").value) || 0)) });
        else if (a === "zoom-in") this.diagram.setZoom(this.diagram.zoom * 1.5);
        else if (a === "zoom-out") this.diagram.setZoom(this.diagram.zoom / 1.5);
        else if (a === "fit") this.diagram.fit();
        else if (a === "first-violation") { const v = (this.moments || []).find((k) => k.type === "violation"); if (v) this.jumpTo(v.i); }
        else if (a === "prev-mark") this.jumpMark(-1);
        else if (a === "next-mark") this.jumpMark(1);
        else if (a === "key") this.land();
        return;
      }
      const msgAct = ev.target.closest("[data-msg-act]");
      if (msgAct) {
        const msg = Number(msgAct.dataset.msg), act = msgAct.dataset.msgAct;
        if (act === "deliver") this.inject({ action: "deliver", msg });
        else this.inject({ action: act, match: { msg }, ...(act === "drop" ? {} : { by: 5 }) });
        return;
      }
      const moment = ev.target.closest("[data-moment]");
      if (moment) return this.jumpTo(Number(moment.dataset.moment));
      const mark = ev.target.closest("svg.diagram [data-seq]");
      if (mark) return this.select(Number(mark.dataset.seq));
      const toggle = ev.target.closest(".node-toggle");
      if (toggle) return this.toggleNode(toggle.dataset.node);
      const link = ev.target.closest("[data-seq]");
      if (link && (link.tagName === "A" || link.tagName === "LI")) {
        ev.preventDefault();
        this.pauseLocal();
        this.follow = false;
        this.setCursor(Number(link.dataset.seq) + 1);
        this.select(Number(link.dataset.seq));
      }
    });
    this.scrub.addEventListener("input", () => {
      this.pauseLocal();
      const n = Number(this.scrub.value);
      this.follow = n >= this.events.length;
      this.setCursor(n);
    });
    this.root.addEventListener("change", (ev) => {
      if (ev.target.matches(".hold")) this.inject({ action: ev.target.checked ? "hold" : "release" });
      else if (ev.target.matches("[data-filter-node]")) {
        const id = ev.target.dataset.filterNode;
        if (ev.target.checked) this.diagram.hidden.delete(id); else this.diagram.hidden.add(id);
        this.diagram.schedule();
      } else if (ev.target.matches(".show-labels")) { this.diagram.showLabels = ev.target.checked; this.diagram.schedule(); }
      else if (ev.target.matches(".show-faults")) { this.diagram.showFaults = ev.target.checked; this.diagram.schedule(); }
    });
    this.speed.addEventListener("change", () => { if (this.playing && this.atHead() && this.mode === "live") this.send({ type: "play", speed: Number(this.speed.value) }); });
    document.addEventListener("keydown", (ev) => {
      if (ev.target.closest("input, select, textarea") || ev.metaKey || ev.ctrlKey || ev.altKey) return;
      const keys = {
        " ": () => this.play(), ArrowRight: () => this.step(1), ArrowLeft: () => this.step(-1),
        Home: () => { this.pauseLocal(); this.follow = false; this.setCursor(1); },
        End: () => { this.pauseLocal(); this.follow = true; this.setCursor(this.events.length); },
        "+": () => this.nudgeSpeed(1), "=": () => this.nudgeSpeed(1), "-": () => this.nudgeSpeed(-1),
        z: () => this.diagram.setZoom(this.diagram.zoom * 1.5), x: () => this.diagram.setZoom(this.diagram.zoom / 1.5),
        "[": () => this.jumpMark(-1), "]": () => this.jumpMark(1), v: () => this.$('[data-act="first-violation"]').click(),
      };
      if (keys[ev.key] && !(ev.key === " " && ev.target.closest("button"))) { ev.preventDefault(); keys[ev.key](); }
    });
  }

  pauseLocal() {
    if (this.playing) this.pause();
  }

  nudgeSpeed(d) {
    const s = this.speed;
    s.selectedIndex = Math.max(0, Math.min(s.options.length - 1, s.selectedIndex + d));
    s.dispatchEvent(new Event("change"));
  }
}

// Replace an element's content only when it changed: keeps focus, selection and buttons under the pointer.
function setHTML(el, html) {
  if (el.dataset.html !== html) { el.innerHTML = html; el.dataset.html = html; }
}

const words = (k) => String(k).replace(/_/g, " ");
function human(v) {
  if (v === null || v === undefined) return "none";
  if (typeof v === "number") return String(+v.toFixed(4));
  if (typeof v === "boolean") return v ? "yes" : "no";
  if (Array.isArray(v)) return v.length ? v.map(human).join(", ") : "none";
  if (typeof v === "object") return Object.entries(v).map(([a, b]) => `${words(a)}: ${human(b)}`).join("; ") || "none";
  return /^[a-z0-9]+(_[a-z0-9]+)+$/.test(v) ? words(v) : String(v);
}

const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" }[c]));

for (const root of document.querySelectorAll(".player")) root.player = new Player(root);
