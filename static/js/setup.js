// The set-up form beside a live player: read it, fold it away once a run starts, show the server's field errors,
// and say so when a run is a branch of another.

import { esc } from "./html.js";

// The form's parameters, seed and fault script, or { error } when the fault script is not JSON.
export function readSetup(form) {
  const data = new FormData(form);
  const params = {};
  const names = new Set([...form.querySelectorAll("[name]")].map((el) => el.name));
  for (const name of names) if (name !== "seed" && name !== "faults") params[name] = data.getAll(name).pop();
  let faults = [];
  const text = (data.get("faults") || "").trim();
  if (text) {
    try { faults = JSON.parse(text); } catch { return { error: "The fault script is not valid JSON." }; }
  }
  return { params, seed: Number(data.get("seed") || 0), faults };
}

// The set-up folds away once a run starts (the diagram is the page) and opens again on request or on an error.
export function showSetup(open) {
  const form = document.getElementById("setup"), toggle = document.querySelector(".setup-toggle");
  if (!form || !toggle) return;
  form.classList.toggle("collapsed", !open);
  toggle.setAttribute("aria-expanded", String(open));
}

// Each refused field says why, beside it.
export function showFieldErrors(errors) {
  showSetup(true);
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

// A branch made on this page is a run of its own: say so, link it, and let a reload open it.
export function describeBranch(msg, root) {
  const about = document.querySelector(".about");
  if (root.dataset.run && msg.url) history.replaceState(null, "", msg.url);
  for (const el of document.querySelectorAll(".about .made-of, .about .share-block")) el.hidden = true;
  if (!about) return;
  let note = about.querySelector(".branch-note");
  if (!note) { note = document.createElement("p"); note.className = "branch-note"; about.querySelector("h1").after(note); }
  note.innerHTML = `This is run <a href="${esc(msg.url)}">${esc(msg.run)}</a>, a branch of run <a href="/runs/${esc(msg.parent)}/">${esc(msg.parent)}</a>: the same past, then your change.`;
}
