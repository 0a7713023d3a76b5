// The player: one page, two sources. Live runs stream over the WebSocket run protocol (docs/design.md);
// saved runs load their trace.json. Either way the browser holds the events and a cursor into them,
// so stepping back and scrubbing are instant and never ask the server.
// This module is the run state, time (cursor, play, step) and faults by hand; it composes the connection
// (connection.js), the key moments (moments.js), the panels (panels.js) and the controls (keymap.js).
// It dispatches "cursor" (detail: n) and "ended" (detail: {run, url}) on its root, and sets root.player.

import { Diagram } from "./diagram.js";
import { Connection } from "./connection.js";
import { Moments } from "./moments.js";
import { Panels } from "./panels.js";
import { bindControls, bindPresetPicker } from "./keymap.js";
import { readSetup, showSetup, showFieldErrors, describeBranch } from "./setup.js";
import { Room } from "./room.js";
import { describe, foldState } from "./trace.js";

const BASE_RATE = 4; // events per second at 1x, as on the server
const ACK_MS = 1000; // acknowledgements of small batches wait this long, and go as one
const ACK_AT_ONCE = 200; // events in a batch that is acknowledged at once

export class Player {
  constructor(root) {
    this.root = root;
    this.mode = root.dataset.mode;
    this.events = [];
    this.marks = new Moments();
    this.cursor = 0;
    this.ended = false;
    this.playing = false;
    this.asked = false; // a play request the server has not answered yet
    this.follow = true;
    this.room = null; // a Room (room.js) sets itself here when the page is a classroom
    this.$ = (sel) => root.querySelector(sel);
    this.diagram = new Diagram(this.$(".diagram-wrap"), { onHead: (id) => this.toggleNode(id) });
    this.speed = this.$(".speed");
    this.scrub = this.$(".scrub");
    this.panels = new Panels(this);
    this.connection = this.openConnection(root.dataset.ws);
    bindControls(this);
    if (this.mode === "replay") this.loadTrace(root.dataset.trace);
    else this.bindForm();
  }

  get moments() { return this.marks.list; }
  get ws() { return this.connection.ws; }
  get learnerId() { return this.room ? this.room.learnerId : undefined; }

  // -- sources -------------------------------------------------------------
  async loadTrace(url) {
    const res = await fetch(url);
    const events = await res.json();
    this.begin();
    this.receive(events);
    this.diagram.fitPage();
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
    window.lifelinesPlayerReady = true;
    if (form && window.lifelinesPendingRun) { // pressed while this module loaded (early_run.js)
      window.lifelinesPendingRun = false;
      this.start(form);
    } else if (form && (new URLSearchParams(location.search).get("autorun") || this.root.dataset.autoplay)) {
      this.autoplay = true;
      this.start(form);
    }
  }

  openConnection(path) {
    const c = new Connection(path);
    // A live run this browser started comes back where the page left it.
    c.resume = () => (this.mode === "live" && this.runId && this.token && !this.ended
      ? { type: "resume", run: this.runId, token: this.token, from: this.events.length } : null);
    c.addEventListener("message", (ev) => this.onMessage(ev.detail));
    c.addEventListener("error", () => this.announce("The connection to the server failed."));
    c.addEventListener("close", () => this.setPlaying(false));
    c.addEventListener("reconnecting", () => this.announce("Connection lost; reconnecting…", true));
    return c;
  }

  connect() { return this.connection.open(); }

  send(msg) {
    if (msg.type !== "ack") this.flushAck(); // what was drawn is acknowledged before anything else is asked
    this.connection.send(msg);
  }

  async start(form) {
    const setup = readSetup(form);
    if (setup.error) return this.announce(setup.error, true);
    const autoplay = document.getElementById("autoplay");
    if (!autoplay || autoplay.checked) this.autoplay = true;
    this.startedAt = performance.now();
    await this.connect();
    this.send({ type: "start", scenario: this.root.dataset.scenario, ...setup });
  }

  onMessage(msg) {
    if (msg.type.startsWith("room.")) return; // the Room listens to the connection for its own
    switch (msg.type) {
      case "started": {
        this.begin();
        this.runUrl = msg.url;
        this.runId = msg.run;
        this.token = msg.token;
        this.ended = false;
        const link = document.querySelector(".run-link");
        if (link) { link.href = msg.url; link.hidden = false; }
        showSetup(false);
        if (msg.parent) describeBranch(msg, this.root);
        this.announce(msg.parent ? `A branch of run ${msg.parent}: it shares the past up to the change, then goes its own way. Press Play.` : "Run started. Press Play, or step through it.");
        if (msg.parent) this.follow = true;
        if (this.autoplay) { this.autoplay = false; this.play(); }
        break;
      }
      case "degraded":
        this.announce(msg.message, true);
        break;
      case "resumed":
        this.announce("Reconnected: the run goes on from where this page left it.");
        break;
      case "events": {
        if (msg.from !== undefined && msg.from < this.events.length) this.truncate(msg.from);
        // A watched batch past what this page has (batches were lost on the way): ask again from here.
        const gap = msg.run && msg.events.length && msg.events[0].seq > this.events.length;
        const ending = !this.ended && msg.events.some((e) => e.kind === "end");
        this.receive(msg.events);
        if (msg.events.length) this.ack(msg.events[msg.events.length - 1].seq, msg.events.length);
        if (gap) this.send({ type: "watch", run: msg.run, from: this.events.length });
        if (this.follow) this.setCursor(this.events.length);
        else if (this.target && this.target <= this.events.length) this.goTo(this.target);
        if (ending && this.follow && !this.room) this.land();
        if (ending) this.root.dispatchEvent(new CustomEvent("ended", { detail: { run: this.runId, url: this.runUrl } }));
        if (this.startedAt && msg.events.some((e) => e.kind === "send")) {
          this.root.dataset.firstArrowMs = Math.round(performance.now() - this.startedAt);
          this.startedAt = null;
        }
        break;
      }
      case "status":
        if (msg.state === "ended") this.ended = true;
        if (msg.state === "waiting") this.announce("You are the network: pick the next message to deliver (In flight, on the right).");
        // A "paused" sent before the server read our play (the answer to Run, say) is not an answer to it:
        // meanwhile the player stays playing, so a speed chosen now still reaches the server.
        if (msg.state === "paused" && this.asked) break;
        this.asked = false;
        this.setPlaying(msg.state === "playing");
        break;
      case "error":
        if (this.asked) { this.asked = false; this.setPlaying(false); }
        this.announce(`${msg.message}`, true);
        if (msg.errors) showFieldErrors(msg.errors);
        break;
    }
  }

  // Every batch is acknowledged, watched ones too (the server sends a connection only so much unread), but
  // at most every ACK_MS: a playing run sends about twenty batches a second, and an ack for each would double
  // what a lecture hall's connections cost the server. A big batch (a catch-up frame) is acknowledged at once.
  ack(seq, count) {
    this.ackSeq = seq;
    if (count >= ACK_AT_ONCE) return this.flushAck();
    if (!this.ackTimer) this.ackTimer = setTimeout(() => this.flushAck(), ACK_MS);
  }

  flushAck() {
    clearTimeout(this.ackTimer);
    this.ackTimer = null;
    if (this.ackSeq !== null && this.ackSeq !== undefined) this.send({ type: "ack", seq: this.ackSeq });
    this.ackSeq = null;
  }

  // -- run state -----------------------------------------------------------------
  begin() {
    this.flushAck(); // the last run's, before seqs start again
    this.holdSeen = false;
    this.events = [];
    this.cursor = 0;
    this.ended = false;
    this.follow = true;
    this.diagram.reset(null);
    this.marks.reset();
    this.panels.reset();
  }

  // Forget events from seq n on: a watcher's catch-up ran ahead of the owner, who has since changed the run.
  truncate(n) {
    const kept = this.events.slice(0, n);
    this.events = [];
    this.marks.reset();
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
      this.marks.note(e);
      if (e.kind === "fault" && e.fault.action === "hold") this.holdSeen = true;
      if (e.kind === "end") this.ended = true;
    }
    this.scrub.max = this.events.length;
    this.panels.nodeChoices();
  }

  // -- key moments ---------------------------------------------------------------
  // Land on the run's key moment (moments.js says which) and say what it is.
  land() {
    this.setCursor(this.events.length);
    this.follow = false;
    const k = this.marks.key(this.events), cause = this.marks.cause(this.events, k);
    this.diagram.reveal(k, 0.3, true, cause);
    this.root.dataset.key = k;
    this.panels.strip();
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
    const next = this.marks.next(this.diagram.key ?? this.cursor - 1, dir);
    if (next) this.jumpTo(next.i);
  }

  // -- time ------------------------------------------------------------------
  setCursor(n) {
    n = Math.max(Math.min(this.events.length, 1), Math.min(n, this.events.length));
    this.cursor = n;
    this.scrub.value = n;
    this.diagram.show(n);
    this.diagram.follow();
    this.root.dispatchEvent(new CustomEvent("cursor", { detail: n }));
    if (!this.painting) this.painting = requestAnimationFrame(() => this.paint());
  }

  // Panels and transcript follow the cursor once per frame, however fast it moves (fast play); while the slider
  // is being dragged only the diagram and the step count follow, and the panels catch up when it rests.
  paint() {
    this.painting = null;
    if (this.dragging) {
      this.panels.position();
      clearTimeout(this.rest);
      this.rest = setTimeout(() => { this.dragging = false; this.paint(); }, 120);
      return;
    }
    this.panels.paint();
    this.root.dataset.cursor = this.cursor;
  }

  atHead() { return this.cursor >= this.events.length; }

  // Show the first n events as soon as they are here (a follower may hear of a step before its events).
  goTo(n) {
    this.target = n > this.events.length ? n : null;
    this.setCursor(Math.min(n, this.events.length));
  }

  play() {
    if (this.playing) return this.pause();
    if (!this.events.length && !this.runId) {
      const form = document.getElementById("setup");
      if (form && this.mode === "live" && !this.room) { this.autoplay = true; return this.start(form); }
      return this.announce("Nothing to play yet: press Run.", true);
    }
    if (this.ended && this.atHead()) { this.follow = false; this.setCursor(1); this.diagram.reveal(0, 0); }
    this.setPlaying(true);
    if (!this.atHead() || this.mode === "replay" || this.ended) return this.tickLocal();
    this.askPlay();
  }

  // Hand playing to the server, at the head of a live run: it streams at the chosen speed.
  askPlay() {
    this.follow = true;
    this.asked = true;
    this.send({ type: "play", speed: Number(this.speed.value) });
  }

  // Play what the browser already holds at the chosen speed; at the head of a live run, hand over to the server.
  tickLocal() {
    clearTimeout(this.timer);
    if (!this.playing) return;
    if (this.atHead()) {
      if (this.mode === "live" && !this.ended) return this.askPlay();
      return this.setPlaying(false);
    }
    const rate = BASE_RATE * Number(this.speed.value);
    const per = Math.max(1, Math.round(rate / 20));
    this.setCursor(this.cursor + per);
    this.timer = setTimeout(() => this.tickLocal(), Math.max(16, (1000 * per) / rate));
  }

  pause() {
    clearTimeout(this.timer);
    this.asked = false;
    this.send({ type: "pause" });
    this.setPlaying(false);
  }

  pauseLocal() {
    if (this.playing) this.pause();
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
    const seq = this.branchPoint();
    this.connect().then(() => this.send({ type: "branch", run, seq, fault }));
    this.announce(seq < this.cursor ? `The run had ended: branching just before its end (step ${seq}), so that your change plays out…`
      : `Branching at step ${seq}…`);
  }

  // Where a change made at the cursor applies: at the cursor, or, after the end, just before the end-of-run
  // checks (the engine then runs on with the change instead of having already stopped).
  branchPoint() {
    let seq = Math.max(1, this.cursor);
    if (this.ended && seq >= this.events.length) {
      seq = this.events.length - 1;
      while (seq > 1 && this.events[seq - 1].kind === "check" && this.events[seq - 1].t === this.events[seq].t) seq--;
    }
    return seq;
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

  // -- what the page says ---------------------------------------------------------
  select(i) { this.panels.details(i); }

  // An event clicked in the diagram: its details, and its causal past and future (again: cleared).
  pick(i) {
    this.select(i);
    this.announce(this.diagram.causality.toggle(i, this.cursor));
    this.diagram.schedule();
  }

  unpick() {
    if (this.diagram.causality.selected === null) return;
    this.diagram.causality.clear();
    this.announce("Selection cleared: every event is drawn again.");
    this.diagram.schedule();
  }

  announce(text, error = false) { this.panels.announce(text, error); }
}

// Every player on the page; a classroom page composes a Room with it.
const roomPanel = document.querySelector(".room-panel");
for (const root of document.querySelectorAll(".player")) {
  root.player = new Player(root);
  if (roomPanel) new Room(root.player, roomPanel);
}
bindPresetPicker();
