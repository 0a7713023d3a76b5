// The WebSocket to the server's run protocol: open it, send JSON through an optional guard, hand messages on
// as "message" events, and come back after a drop with a growing wait (events: message, error, close,
// reconnecting, reopen).

export class Connection extends EventTarget {
  constructor(path) {
    super();
    this.path = path;
    this.ws = null;
    this.retries = 0;
    this.guard = null; // (msg) => the message to send (it, or another in its place), or null to hold it back
    this.keepAlive = false; // reconnect after a drop even when there is no run to resume (a classroom)
    this.resume = () => null; // the message that takes a run up again after a reconnect, or null
  }

  // The open (or opening) socket, or a new one.
  open() {
    if (this.ws && this.ws.readyState <= 1) return Promise.resolve(this.ws);
    return new Promise((resolve, reject) => {
      const proto = location.protocol === "https:" ? "wss" : "ws";
      const ws = new WebSocket(`${proto}://${location.host}${this.path}`);
      ws.onopen = () => { this.retries = 0; resolve(ws); };
      ws.onerror = () => { this.emit("error"); reject(new Error("ws")); };
      ws.onclose = () => { this.emit("close"); this.reconnect(); };
      ws.onmessage = (m) => this.emit("message", JSON.parse(m.data));
      this.ws = ws;
    });
  }

  // A dropped connection comes back on its own and takes the run up where this browser left it.
  reconnect() {
    const resuming = !!this.resume();
    if (!resuming && !this.keepAlive) return;
    this.retries += 1;
    const wait = Math.min(8000, 250 * 2 ** this.retries);
    this.emit("reconnecting");
    setTimeout(() => this.open().then(() => {
      const msg = resuming && this.resume();
      if (msg) this.send(msg);
      this.emit("reopen");
    }).catch(() => {}), wait);
  }

  send(msg) {
    if (this.guard) msg = this.guard(msg);
    if (msg && this.ws && this.ws.readyState === 1) this.ws.send(JSON.stringify(msg));
  }

  emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }
}
