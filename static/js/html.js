// HTML for people, safely: escape text for markup, replace content only when it changed, and say values in words.

// Text made safe inside element content and double-quoted attributes.
export const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" }[c]));

// Replace an element's content only when it changed: keeps focus, selection and buttons under the pointer.
export function setHTML(el, html) {
  if (el.dataset.html !== html) { el.innerHTML = html; el.dataset.html = html; }
}

// A key in words: messages_sent -> "messages sent".
export const words = (k) => String(k).replace(/_/g, " ");

// A value in words: numbers rounded, yes/no, lists joined, pairs as "key: value", snake_case as words.
export function human(v) {
  if (v === null || v === undefined) return "none";
  if (typeof v === "number") return String(+v.toFixed(4));
  if (typeof v === "boolean") return v ? "yes" : "no";
  if (Array.isArray(v)) return v.length ? v.map(human).join(", ") : "none";
  if (typeof v === "object") return Object.entries(v).map(([a, b]) => `${words(a)}: ${human(b)}`).join("; ") || "none";
  return /^[a-z0-9]+(_[a-z0-9]+)+$/.test(v) ? words(v) : String(v);
}

// A state value in a few characters, for a mark on the diagram or a line of the transcript.
export function fmt(v) {
  if (Array.isArray(v)) return v.length > 6 ? `[${v.length}]` : v.join(",");
  if (v && typeof v === "object") return JSON.stringify(v);
  return String(v);
}

// Django's CSRF token: the one htmx sends (hx-headers on <body>), else the cookie.
export function csrfToken() {
  try {
    const headers = JSON.parse(document.body.getAttribute("hx-headers") || "{}");
    if (headers["X-CSRFToken"]) return headers["X-CSRFToken"];
  } catch { /* fall back to the cookie */ }
  const cookie = document.cookie.split("; ").find((c) => c.startsWith("csrftoken="));
  return cookie ? decodeURIComponent(cookie.split("=")[1]) : "";
}
