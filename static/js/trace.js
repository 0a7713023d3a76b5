// The trace, in the browser: describe events in words and fold them into the state at a step.

import { fmt } from "./html.js";
import { faultText } from "./layout.js";

export function describe(e) {
  const head = `#${e.seq} t=${e.t}`;
  switch (e.kind) {
    case "init": return `${head} ${e.scenario} starts with ${e.nodes.map((n) => n.id).join(", ")}`;
    case "send": return `${head} ${e.src} sends ${e.label} to ${e.dst} (message ${e.msg})${e.data && e.data.forged ? " (forged)" : ""}`;
    case "deliver": return `${head} ${e.dst} receives message ${e.msg} from ${e.src}`;
    case "drop": return `${head} message ${e.msg} from ${e.src} to ${e.dst} is lost (${e.reason})`;
    case "state": return `${head} ${e.node} is now ${Object.entries(e.state).map(([k, v]) => `${k}=${fmt(v)}`).join(", ")}`;
    case "timer": return `${head} ${e.node}: ${e.label} fires`;
    case "note": return `${head} ${e.node ? e.node + ": " : ""}${e.text}`;
    case "crash": return `${head} ${e.node} crashes`;
    case "recover": return `${head} ${e.node} recovers`;
    case "fault": return `${head} fault: ${faultText(e.fault)}`;
    case "check": return `${head} invariant ${e.name} ${e.ok ? "holds" : "VIOLATED"}: ${e.detail}`;
    case "end": return `${head} end: ${e.summary.stopped || ""}`;
    default: return `${head} ${e.kind}`;
  }
}

// The world as it stood after `count` events: node states, liveness, invariants, summary.
// Snapshots every SNAPSHOT events make scrubbing a 100,000-event run cost at most SNAPSHOT steps.
const SNAPSHOT = 1000;
const snapshots = new WeakMap();

function copy(world) {
  return {
    nodes: new Map([...world.nodes].map(([id, n]) => [id, { ...n }])),
    invariants: new Map([...world.invariants].map(([k, v]) => [k, { ...v }])),
    summary: world.summary, log: world.log.slice(), at: world.at,
  };
}

export function foldState(events, count) {
  let cache = snapshots.get(events);
  if (!cache || cache.init !== events[0]) {
    cache = { init: events[0], list: [] };
    snapshots.set(events, cache);
  }
  const k = Math.min(Math.floor(count / SNAPSHOT), cache.list.length);
  let world;
  if (k > 0) world = copy(cache.list[k - 1]);
  else {
    const init = events[0];
    world = { nodes: new Map(init.nodes.map((n) => [n.id, { ...n, alive: true, state: {} }])),
      invariants: new Map((init.invariants || []).map((i) => [i.name, { ...i, ok: null, seq: null, detail: "" }])),
      summary: null, log: [], at: 1 };
  }
  while (world.at < count) {
    apply(world, events[world.at]);
    world.at++;
    if (world.at % SNAPSHOT === 0 && cache.list.length === world.at / SNAPSHOT - 1) cache.list.push(copy(world));
  }
  return world;
}

function apply(world, e) {
  const { nodes, invariants, log } = world;
  switch (e.kind) {
    case "state": nodes.get(e.node).state = e.state; break;
    case "crash": nodes.get(e.node).alive = false; break;
    case "recover": nodes.get(e.node).alive = true; break;
    case "check": {
      const inv = invariants.get(e.name) || { name: e.name, text: "" };
      if (!e.ok) Object.assign(inv, { ok: false, seq: inv.seq ?? e.seq, detail: inv.seq == null ? e.detail : inv.detail });
      else if (inv.ok !== false) Object.assign(inv, { ok: true, detail: e.detail });
      invariants.set(e.name, inv);
      break;
    }
    case "note": if (e.panel) log.push(e); break;
    case "end": world.summary = e.summary; break;
  }
}
