// Loaded before the page's modules: a Run pressed before the player has loaded is kept for it (player.js
// starts it once it is ready) instead of going out as a plain form, which would reload the page with no run.
document.addEventListener("submit", (ev) => {
  if (ev.target.id !== "setup" || window.lifelinesPlayerReady) return;
  ev.preventDefault();
  window.lifelinesPendingRun = true;
});
