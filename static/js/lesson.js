// A guided lesson: predict, then reveal. The player's cursor passes a checkpoint's trigger, the run pauses,
// the learner reads the narration and answers; the server says whether they were right and why; Continue
// plays on. After the last checkpoint and the run's end, the lesson is finished (progress lives in the session).
// Triggers follow scenarios/checkpoints.py: a step (at_seq) or the first event matching kind/label/node.

const panel = document.querySelector(".lesson-panel");
const root = document.querySelector(".player");

function eventLabel(e, labels) {
  if (e.kind === "send" || e.kind === "timer") return e.label;
  if (e.kind === "deliver" || e.kind === "drop") return labels.get(e.msg);
  if (e.kind === "check") return e.name;
  return undefined;
}

function eventNode(e) {
  if (e.kind === "send") return e.src;
  if (e.kind === "deliver" || e.kind === "drop") return e.dst;
  return e.node;
}

function matches(e, match, labels) {
  return (!match.kind || e.kind === match.kind) && (!match.label || eventLabel(e, labels) === match.label)
    && (!match.node || eventNode(e) === match.node);
}

class Lesson {
  constructor(panel, root) {
    this.panel = panel;
    this.root = root;
    this.player = root.player;
    const data = JSON.parse(document.getElementById("lesson-data").textContent);
    this.checkpoints = data.checkpoints;
    this.finished = data.progress.finished;
    this.$ = (sel) => panel.querySelector(sel);
    // The card floats over the bottom of the diagram, wherever the panel sits (below it, on a phone).
    this.card = this.$(".lesson-card");
    (root.querySelector(".stage") || document.body).appendChild(this.card);
    this.q = (sel) => this.card.querySelector(sel);
    this.reset();
    this.bind();
  }

  // A new run (Run pressed again, a branch): every checkpoint waits for its trigger again.
  reset() {
    this.init = this.player.events[0] || null;
    this.scanned = 0;
    this.labels = new Map();
    this.found = this.checkpoints.map((c) => null);
    this.next = 0;
    this.active = null;
    this.finishSent = false;
    this.hideCard();
    this.status("");
  }

  // Find trigger steps in the events that arrived since the last look.
  scan() {
    const events = this.player.events;
    for (; this.scanned < events.length; this.scanned++) {
      const e = events[this.scanned];
      if (e.kind === "send") this.labels.set(e.msg, e.label);
      this.checkpoints.forEach((c, i) => {
        if (this.found[i] !== null) return;
        if (c.at_seq !== null && c.at_seq !== undefined) { if (e.seq === c.at_seq) this.found[i] = this.scanned; }
        else if (matches(e, c.match || {}, this.labels)) this.found[i] = this.scanned;
      });
    }
  }

  onCursor(n) {
    const events = this.player.events;
    if (events[0] !== this.init) this.reset();
    if (!events.length) return;
    this.scan();
    if (this.active) {
      // Answer first: the run may not move past an open checkpoint (looking back is fine).
      const stop = this.found[this.active.index] + 1;
      if (n > stop) this.hold(stop);
      return;
    }
    const i = this.next;
    if (i < this.checkpoints.length && this.found[i] !== null && n > this.found[i]) return this.fire(i);
    this.maybeFinish();
  }

  hold(stop) {
    if (this.player.playing) this.player.pause();
    this.player.follow = false;
    if (this.player.cursor !== stop) this.player.setCursor(stop);
  }

  fire(index) {
    const cp = this.checkpoints[index];
    this.active = { ...cp, index };
    this.hold(this.found[index] + 1);
    const total = this.checkpoints.length;
    this.q(".lesson-card-title").textContent = `Checkpoint ${index + 1} of ${total}`;
    this.q(".lesson-narration").textContent = cp.narration;
    const form = this.q(".lesson-question");
    const reveal = this.q(".lesson-reveal");
    reveal.hidden = true;
    reveal.textContent = "";
    reveal.className = "lesson-reveal";
    if (cp.question) {
      form.hidden = false;
      this.q(".lesson-q").textContent = cp.question;
      const box = this.q(".lesson-choices");
      box.textContent = "";
      cp.choices.forEach((text, i) => {
        const label = document.createElement("label");
        label.className = "lesson-choice";
        const input = document.createElement("input");
        input.type = "radio";
        input.name = "lesson-choice";
        input.value = String(i);
        label.append(input, " ", text);
        box.appendChild(label);
      });
      this.q(".lesson-answer").disabled = true;
      this.q(".lesson-answer").hidden = false;
      this.q(".lesson-continue").hidden = true;
    } else {
      form.hidden = true;
      this.q(".lesson-continue").hidden = false;
    }
    this.card.hidden = false;
    document.body.classList.add("lesson-open");
    this.q(".lesson-card-title").focus({ preventScroll: true });
    if (this.player.announce) this.player.announce(`Checkpoint ${index + 1} of ${total}: ${cp.question || cp.narration}`);
  }

  async answer(choice) {
    const cp = this.active;
    if (!cp) return;
    const button = this.q(".lesson-answer");
    button.disabled = true;
    let body;
    try {
      const res = await fetch(this.panel.dataset.answer, {
        method: "POST", credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRFToken": this.panel.dataset.csrf },
        body: JSON.stringify({ checkpoint: cp.id, choice }),
      });
      body = await res.json();
      if (!res.ok) throw new Error(body.error || `the server answered ${res.status}`);
    } catch (err) {
      button.disabled = false;
      return this.showReveal(`Your answer could not be sent: ${err.message}. Try again.`, "error");
    }
    for (const input of this.card.querySelectorAll("input[name=lesson-choice]")) {
      input.disabled = true;
      const i = Number(input.value);
      if (i === body.answer) input.parentElement.classList.add("right");
      else if (i === choice) input.parentElement.classList.add("wrong");
    }
    button.hidden = true;
    const verdict = body.correct ? "Right." : `Not quite: the answer is "${cp.choices[body.answer]}".`;
    this.showReveal(`${verdict} ${body.explanation}`.trim(), body.correct ? "correct" : "incorrect");
    this.progress(body.progress);
    const next = this.q(".lesson-continue");
    next.hidden = false;
    next.focus({ preventScroll: true });
  }

  showReveal(text, tone) {
    const reveal = this.q(".lesson-reveal");
    reveal.hidden = false;
    reveal.textContent = text;
    reveal.className = `lesson-reveal ${tone}`;
  }

  continue() {
    if (!this.active) return;
    this.next = this.active.index + 1;
    this.active = null;
    this.hideCard();
    this.scan();
    const i = this.next;
    if (i < this.checkpoints.length && this.found[i] !== null && this.player.cursor > this.found[i]) return this.fire(i);
    const more = this.player.cursor < this.player.events.length || !this.player.ended;
    if (more && !this.player.playing) this.player.play();
    this.maybeFinish();
  }

  hideCard() {
    if (this.card) this.card.hidden = true;
    document.body.classList.remove("lesson-open");
  }

  // The run has ended, its end is on screen and no checkpoint is left: the lesson is done.
  maybeFinish() {
    const events = this.player.events;
    const last = events[events.length - 1];
    if (this.active || !last || last.kind !== "end" || this.player.cursor < events.length) return;
    if (this.next < this.checkpoints.length) {
      return this.status("This run never reached the lesson's next checkpoint: the lesson follows the preset's set-up. "
        + "Reload the preset and press Run to take it.");
    }
    if (this.finishSent) return;
    this.finishSent = true;
    this.finish();
  }

  async finish() {
    try {
      const res = await fetch(this.panel.dataset.finish, {
        method: "POST", credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRFToken": this.panel.dataset.csrf }, body: "{}",
      });
      const body = await res.json();
      if (!res.ok) throw new Error(body.error || `the server answered ${res.status}`);
      this.finished = true;
      this.progress(body.progress);
      this.status("Lesson finished. See all lessons and your progress on the lessons page.");
      this.panel.dataset.finished = "true";
    } catch (err) {
      this.finishSent = false;
      this.status(`The lesson could not be marked finished: ${err.message}`);
    }
  }

  progress(p) {
    if (!p) return;
    this.$(".lesson-progress").textContent = `${p.answered} of ${p.questions} answered, ${p.correct} correct${p.finished ? "; finished" : ""}`;
  }

  status(text) {
    this.$(".lesson-status").textContent = text;
  }

  bind() {
    this.root.addEventListener("cursor", (ev) => this.onCursor(ev.detail));
    this.root.addEventListener("ended", () => this.maybeFinish());
    const form = this.q(".lesson-question");
    form.addEventListener("change", () => { this.q(".lesson-answer").disabled = !form.querySelector("input:checked"); });
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      ev.stopPropagation();
      const checked = form.querySelector("input:checked");
      if (checked) this.answer(Number(checked.value));
    });
    this.q(".lesson-continue").addEventListener("click", () => this.continue());
  }
}

function start() {
  // ?guide=0 plays a lesson's set-up without stopping at its questions (the gallery, a second look)
  if (!panel || !root || new URLSearchParams(location.search).get("guide") === "0") return;
  if (!root.player) return setTimeout(start, 50);
  root.lesson = new Lesson(panel, root);
}

start();
