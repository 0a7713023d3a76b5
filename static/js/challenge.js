// The challenge panel: when a run ends, ask the server to judge it and show the verdict with its permalink.

import { csrfToken } from "./html.js";

const panel = document.querySelector(".challenge-panel");
const player = document.querySelector(".player");
const RETRIES = 6; // a run's last events may still be on their way to the database (a loaded server: ~17 s in all)

async function judge(run, out, attempt = 0) {
  out.textContent = "Judging your run…";
  let res;
  try {
    res = await fetch(panel.dataset.judge, {
      method: "POST",
      headers: { "X-CSRFToken": csrfToken(), "X-Requested-With": "fetch" },
      body: new URLSearchParams({ run }),
      credentials: "same-origin",
    });
  } catch {
    out.textContent = "The server could not be reached to judge this run.";
    return;
  }
  const html = await res.text();
  const box = document.createElement("div");
  box.innerHTML = html;
  const verdict = box.querySelector(".verdict");
  if (verdict && verdict.dataset.finished === "false" && attempt < RETRIES) {
    setTimeout(() => judge(run, out, attempt + 1), 800 * (attempt + 1));
    return;
  }
  out.replaceChildren(...box.childNodes);
}

if (panel && player) {
  const out = panel.querySelector(".challenge-verdict");
  player.addEventListener("ended", (e) => {
    if (e.detail && e.detail.run) judge(e.detail.run, out);
  });
}
