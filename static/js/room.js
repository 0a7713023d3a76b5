// The classroom: the instructor's player leads, every learner's player follows its cursor, live.
// Runs reach learners through the run protocol's `watch`; the cursor, questions and control through room.* messages.
// The Room composes a Player: it listens to the player's connection and "cursor" events, and guards what a
// learner's player sends.

import { esc } from "./html.js";

const RUN_COMMANDS = new Set(["play", "pause", "step", "inject"]);

export class Room {
  constructor(player, panel) {
    this.player = player;
    this.panel = panel;
    this.code = panel.dataset.room;
    this.host = panel.dataset.role === "host";
    this.hasControl = false;
    this.learnerId = undefined;
    this.lastCursor = null;
    this.$ = (sel) => panel.querySelector(sel);
    player.room = this;
    const connection = player.connection;
    connection.keepAlive = true; // a classroom stays connected, run or no run
    if (!this.host) connection.guard = (msg) => this.guard(msg);
    connection.addEventListener("message", (ev) => this.onMessage(ev.detail));
    connection.addEventListener("reopen", () => this.hello());
    player.root.addEventListener("cursor", (ev) => this.cursorMoved(ev.detail));
    this.bind();
    player.connect().then(() => this.hello());
  }

  // Redis is away: say so, and knock again every few seconds until the room answers.
  degraded() {
    this.panel.dataset.degraded = "true";
    this.$(".room-status").textContent = "The classroom is degraded: the server cannot reach Redis. Retrying…";
    clearInterval(this.retry);
    this.retry = setInterval(() => this.hello(), 3000);
  }

  hello() {
    if (this.host) this.player.send({ type: "room.host", room: this.code, key: this.panel.dataset.key });
    else this.player.send({ type: "room.join", room: this.code, name: this.panel.dataset.name || undefined });
  }

  // Learners drive the instructor's run only when handed control; otherwise their controls stay quiet.
  guard(msg) {
    if (!RUN_COMMANDS.has(msg.type)) return msg;
    if (this.hasControl) return { type: "room.command", command: msg };
    this.player.announce("The instructor has control; you follow along.");
    return null;
  }

  cursorMoved(n) {
    if (!(this.host || this.hasControl) || n === this.lastCursor) return;
    this.lastCursor = n;
    clearTimeout(this.pending);
    this.pending = setTimeout(() => this.player.send({ type: "room.cursor", seq: n, state: this.player.playing ? "playing" : "paused" }), 30);
  }

  follow(cursor) {
    if (!cursor) return;
    this.lastCursor = cursor.seq;
    this.player.follow = false;
    this.player.goTo(cursor.seq);
  }

  // Show a run of the room's; until the instructor's cursor says where they are, show it as it grows.
  watch(run) {
    if (!run) return;
    this.lastCursor = null;
    this.player.begin();
    this.player.follow = true;
    this.player.send({ type: "watch", run });
  }

  onMessage(msg) {
    switch (msg.type) {
      case "degraded": this.degraded(); break;
      case "error": if (msg.code === "degraded") this.degraded(); break;
      case "room.joined":
        if (msg.id) this.learnerId = msg.id;
        clearInterval(this.retry);
        delete this.panel.dataset.degraded;
        this.$(".room-status").textContent = this.host ? `You lead room ${msg.room}.` : `You are in room ${msg.room} as ${msg.name}, following the instructor.`;
        this.panel.dataset.connected = "true";
        break;
      case "room.state":
        this.watch(msg.run);
        this.follow(msg.cursor);
        if (msg.question) this.showQuestion(msg.question);
        this.setControl(msg.controller);
        break;
      case "room.run": this.watch(msg.run); break;
      case "started": this.lastCursor = null; break;  // a new run: its first cursor is news to the room
      case "room.cursor": this.follow(msg); break;
      case "room.ask": this.showQuestion(msg); break;
      case "room.reveal": this.reveal(msg.counts); break;
      case "room.control": this.setControl(msg.to); break;
      case "room.people": this.people(msg); break;
      case "room.tally": this.tally(msg); break;
    }
  }

  setControl(to) {
    if (this.host) return;
    this.hasControl = to === this.learnerId;
    this.panel.dataset.control = this.hasControl ? "true" : "false";
    this.$(".room-control").textContent = this.hasControl ? "You have control: play, step and scrub for the whole room." : "";
  }

  people(msg) {
    this.$(".room-count").textContent = `${msg.learners.length} learner${msg.learners.length === 1 ? "" : "s"} connected`;
    this.$(".room-people").innerHTML = msg.learners.map((l) => `<li>${esc(l.name)} <button type="button" data-give="${esc(l.id)}">${msg.controller === l.id ? "take back" : "give control"}</button></li>`).join("");
    this.controller = msg.controller;
  }

  tally(msg) {
    const box = this.$(".room-tally");
    if (!box) return;
    const total = Math.max(1, msg.answered);
    box.innerHTML = `<p>${msg.answered} of ${msg.learners} answered</p>` + (this.question ? this.question.options.map((o, i) =>
      `<div class="bar"><span>${esc(o)}</span><meter min="0" max="${total}" value="${msg.counts[i] || 0}"></meter> ${msg.counts[i] || 0}</div>`).join("") : "");
  }

  showQuestion(q) {
    this.question = q;
    if (this.host) return;
    const box = this.$(".room-question");
    box.hidden = false;
    box.innerHTML = `<p class="q">${esc(q.question)}</p>` + q.options.map((o, i) => `<button type="button" data-choice="${i}">${esc(o)}</button>`).join(" ");
  }

  reveal(counts) {
    if (this.host) return;
    const box = this.$(".room-question");
    const total = counts.reduce((a, b) => a + b, 0) || 1;
    box.innerHTML = `<p class="q">${esc(this.question ? this.question.question : "")}</p>` + (this.question ? this.question.options.map((o, i) =>
      `<div class="bar"><span>${esc(o)}</span><meter min="0" max="${total}" value="${counts[i] || 0}"></meter> ${counts[i] || 0}</div>`).join("") : "");
  }

  bind() {
    this.panel.addEventListener("click", (ev) => {
      const give = ev.target.closest("[data-give]");
      if (give) this.player.send({ type: "room.control", to: this.controller === give.dataset.give ? null : give.dataset.give });
      const choice = ev.target.closest("[data-choice]");
      if (choice) {
        this.player.send({ type: "room.answer", choice: Number(choice.dataset.choice) });
        for (const b of this.panel.querySelectorAll("[data-choice]")) b.setAttribute("aria-pressed", b === choice ? "true" : "false");
      }
      if (ev.target.closest("[data-act=reveal]")) this.player.send({ type: "room.reveal" });
    });
    const ask = this.$(".room-ask");
    const pick = this.$(".room-lesson");
    if (ask && pick) pick.addEventListener("change", () => {
      // A lesson's checkpoint question fills the form; the instructor may still edit it before asking.
      const data = document.getElementById("room-questions");
      const q = data && JSON.parse(data.textContent).find((x) => String(x.id) === pick.value);
      if (!q) return;
      ask.elements.question.value = q.question;
      ask.elements.options.value = q.choices.join("\n");
    });
    if (ask) ask.addEventListener("submit", (ev) => {
      ev.preventDefault();
      const data = new FormData(ask);
      const options = String(data.get("options")).split("\n").map((s) => s.trim()).filter(Boolean);
      this.question = { question: String(data.get("question")), options };
      this.player.send({ type: "room.ask", question: this.question.question, options });
    });
  }
}
