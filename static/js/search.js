// "Find a way to break it": send the set-up above and the search's goal and budget, follow the job's progress
// (runs explored, distinct states, depth), cancel it, and show the run found or what was covered. (A cancel posts
// no body: an empty multipart one is refused as malformed.)

import { csrfToken, esc } from "./html.js";

const panel = document.querySelector(".search-panel");
const POLL_MS = 700;

async function post(url, body) {
  const res = await fetch(url, {
    method: "POST", body, credentials: "same-origin",
    headers: { "X-CSRFToken": csrfToken(), "X-Requested-With": "fetch" },
  });
  return { status: res.status, data: await res.json().catch(() => ({})) };
}

function errorsHTML(errors) {
  return Object.entries(errors || {}).map(([k, v]) => `<p class="error" role="alert">${k === "__all__" ? "" : `${esc(k)}: `}${esc(v)}</p>`).join("");
}

function statsText(p, state) {
  if (state === "queued") return "waiting for a worker…";
  if (!p || !p.runs) return "starting…";
  return `${p.runs} runs explored · ${p.states} distinct states · depth ${p.depth} of ${p.max_faults}`;
}

function resultHTML(r) {
  if (r.found) {
    const steps = r.steps.length ? `<ol>${r.steps.map((s) => `<li>${esc(s)}</li>`).join("")}</ol>` : "";
    const link = r.url ? `<p><a class="button primary search-run" href="${esc(r.url)}">Open the run that breaks it</a></p>` : "";
    return `<div class="found"><p><strong>Found.</strong> ${esc(r.report)}</p>${steps}${link}</div>`;
  }
  return `<div class="${r.complete ? "held" : "partial"}"><p><strong>${r.complete ? "Held." : "Nothing found."}</strong> ${esc(r.report)}</p></div>`;
}

if (panel) {
  const form = panel.querySelector(".search-form");
  const start = panel.querySelector(".search-start");
  const box = panel.querySelector(".search-progress");
  const bar = box.querySelector("progress");
  const stats = box.querySelector(".search-stats");
  const cancel = box.querySelector(".search-cancel");
  const out = panel.querySelector(".search-result");
  let job = null;
  let timer = null;

  const busy = (on) => { start.disabled = on; box.hidden = !on; cancel.disabled = !on; };

  async function poll() {
    timer = null;
    if (!job) return;
    let res;
    try {
      res = await fetch(job.status, { credentials: "same-origin", headers: { "X-Requested-With": "fetch" } });
    } catch {
      timer = setTimeout(poll, POLL_MS * 3);
      return;
    }
    const s = await res.json().catch(() => ({}));
    if (!res.ok) { busy(false); out.innerHTML = errorsHTML(s.errors); job = null; return; }
    const p = s.progress || {};
    if (p.max_runs) bar.max = p.max_runs;
    bar.value = p.runs || 0;
    stats.textContent = statsText(p, s.state);
    if (s.state === "queued" || s.state === "running") { timer = setTimeout(poll, POLL_MS); return; }
    busy(false);
    job = null;
    if (s.state === "failed") out.innerHTML = errorsHTML({ __all__: s.error || "the search failed" });
    else if (s.state === "cancelled") out.innerHTML = `<p>Cancelled.${s.result ? ` ${esc(s.result.report)}` : ""}</p>`;
    else out.innerHTML = resultHTML(s.result);
  }

  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    if (job) return;
    const setup = document.getElementById("setup");
    const body = new FormData(setup || undefined);
    for (const [k, v] of new FormData(form)) body.append(k, v);
    out.innerHTML = "";
    busy(true);
    bar.value = 0;
    bar.max = Number(form.elements.max_runs.value) || 1000;
    stats.textContent = "starting…";
    let res;
    try {
      res = await post(panel.dataset.start, body);
    } catch {
      busy(false);
      out.innerHTML = errorsHTML({ __all__: "the server could not be reached" });
      return;
    }
    if (res.status === 409 && res.data.job) {
      job = res.data;
      out.innerHTML = errorsHTML(res.data.errors);
      poll();
      return;
    }
    if (res.status !== 202) { busy(false); out.innerHTML = errorsHTML(res.data.errors); return; }
    job = res.data;
    poll();
  });

  cancel.addEventListener("click", async () => {
    if (!job) return;
    cancel.disabled = true;
    stats.textContent = "cancelling…";
    try { await post(job.cancel); } catch { /* the next poll tells */ }
    if (!timer) poll();
  });
}
