"""Engine throughput: trace events per second of CPU time (one core), per registered scenario, and against SimPy.

Method. For every scenario in ``simulations.SCENARIOS`` at the time of the run, take a large parameter set
(``LARGE`` below for the scenarios we know; for any other, a greedy search that raises each whole-number
parameter to its bound while that makes the run longer and it still ends by itself), parse it once, then
run ``scenario.simulate(params, seed).run()`` for seeds 0, 1, 2... until BENCH_ENGINE_EVENTS trace events
(default 200,000) or BENCH_ENGINE_SECONDS of CPU (default 4) have gone by. Throughput = events / CPU seconds
(``time.process_time``: the engine is single-threaded, so this is per core, and another process on the
machine steals less from it than from a wall clock). Everything a run does counts, ``finish()`` and
``summary()`` included; when those take more than a fifth of the time the note says so.

The alternative is SimPy, the library a Python user would pick for a discrete-event simulation. Both sides
run the same message-passing model in this process: n nodes (BENCH_ENGINE_NODES, default 16); each sends a
PING to a random other node at start and passes one on each time one arrives, one tick later, until
BENCH_ENGINE_MESSAGES (default 50,000) have been sent; both write the same trace (a dict per send and per
delivery, with seq, t, kind, msg, src, dst, label). Ours is a Lifelines ``Scenario`` with one ``Node``
class; SimPy's is written the way SimPy's own "Event Latency" example passes messages: one process per
node reading a ``simpy.Store`` inbox, and a process per message that waits out the latency with
``env.timeout`` and puts it in the inbox. The two alternate for BENCH_ENGINE_ROUNDS rounds (default 5)
and each side's median round is compared, so the ratio holds on a noisy machine.
"""
import random
import time

import simulations
from simulations.engine import Node
from simulations.params import Param, ParamError
from simulations.scenario import Scenario

from .common import env_int, env_json, env_float, error_row, median, row

TARGET = 250_000
MODEL = "engine: message-passing model (vs SimPy)"
FIGURES = {"engine: every registered scenario": f">= {TARGET:,} ev/s", MODEL: f">= {TARGET:,} ev/s"}

LARGE = {
    "two-generals": {"rounds": 10, "messengers": 5, "loss": 0.5},
    "bully-election": {"n": 16},
    "byzantine-generals": {"n": 10, "m": 2},
    "gossip": {"n": 64, "mode": "epidemic"},
    "token-ring": {"n": 16, "rotations": 20},
    "payment-gateway": {"payments": 20, "max_attempts": 10, "gateway_error": "timeout", "error_count": 20},
    "event-driven-notes": {"users": 20, "notes": 5},
    "microservices-order": {"orders": 50, "stock": 1000},
    "coffee-shop": {"fail_activity": "PrepareBeverage", "failures": 10, "heartbeat_ms": 1000},
    "choreography-vs-orchestration": {"orders": 10},
}


# -- the model, ours -------------------------------------------------------------------------------------
class Relay(Node):
    """Passes a PING to a random other node each time one arrives, until the run has sent its quota."""

    def on_start(self):
        self.pass_on()

    def on_message(self, msg):
        if self.sim.network.sent < self.sim.params["messages"]:
            self.pass_on()

    def pass_on(self):
        others = self.sim.others[self.id]
        self.send(others[self.sim.rng.randrange(len(others))], "PING")


class RelayModel(Scenario):
    slug = "bench-relay"
    title = "Relay (bench model)"
    params = (Param("n", "int", 16, "nodes", 2, 1000), Param("messages", "int", 50_000, "messages", 1, 10**8))

    def nodes(self, params):
        return [f"P{i}" for i in range(1, params["n"] + 1)]

    def setup(self, sim, params):
        ids = self.nodes(params)
        sim.others = {me: [i for i in ids if i != me] for me in ids}
        return [Relay(i) for i in ids]


def ours(n, messages, seed=0):
    model = RelayModel()
    model.max_events = 2 * messages + 4 * n + 100
    params, faults = model.parse({"n": n, "messages": messages})
    return model.simulate(params, seed, faults).run()


# -- the model, SimPy's ----------------------------------------------------------------------------------
def simpy_relay(n, messages, seed=0):
    import simpy

    env = simpy.Environment()
    rng = random.Random(seed)
    ids = [f"P{i}" for i in range(1, n + 1)]
    others = {me: [i for i in ids if i != me] for me in ids}
    inbox = {me: simpy.Store(env) for me in ids}
    trace = []
    sent = 0

    def emit(kind, **fields):
        event = {"seq": len(trace), "t": env.now, "kind": kind}
        event.update(fields)
        trace.append(event)

    def latency(msg):
        yield env.timeout(1)
        inbox[msg["dst"]].put(msg)

    def send(src):
        nonlocal sent
        sent += 1
        peers = others[src]
        msg = {"msg": sent, "src": src, "dst": peers[rng.randrange(len(peers))], "label": "PING"}
        emit("send", **msg)
        env.process(latency(msg))

    def node(me):
        send(me)
        while True:
            msg = yield inbox[me].get()
            emit("deliver", msg=msg["msg"], src=msg["src"], dst=me)
            if sent < messages:
                send(me)

    emit("init", scenario="bench-relay", params={"n": n, "messages": messages}, seed=seed,
         nodes=[{"id": i, "label": i} for i in ids])
    for me in ids:
        env.process(node(me))
    env.run()
    emit("end", summary={"messages_sent": sent})
    return trace


def cpu(fn, *args):
    t = time.process_time()
    out = fn(*args)
    return out, time.process_time() - t


def compare_with_simpy():
    n, messages = env_int("BENCH_ENGINE_NODES", 16), env_int("BENCH_ENGINE_MESSAGES", 50_000)
    rounds = env_int("BENCH_ENGINE_ROUNDS", 5)
    ours_rates, simpy_rates = [], []
    for r in range(rounds):
        trace, dt = cpu(ours, n, messages, r)
        ours_rates.append(len(trace) / dt)
        sends_ours = sum(1 for e in trace if e["kind"] == "send")
        del trace
        trace, dt = cpu(simpy_relay, n, messages, r)
        simpy_rates.append(len(trace) / dt)
        sends_simpy = sum(1 for e in trace if e["kind"] == "send")
        del trace
        if sends_ours != sends_simpy:
            raise RuntimeError(f"the models differ: {sends_ours} sends against SimPy's {sends_simpy}")
    a, b = median(ours_rates), median(simpy_rates)
    return row(MODEL, a, unit="ev/s", target=f">= {TARGET:,} ev/s", meets=a >= TARGET,
               alternative=f"SimPy {b:,.0f} ev/s", ratio=f"{a / b:.1f}x SimPy",
               note=f"n={n}, {messages:,} messages, median of {rounds} alternating rounds",
               simpy=b, rounds={"ours": ours_rates, "simpy": simpy_rates})


# -- the registered scenarios ----------------------------------------------------------------------------
def trace_length(scenario, raw):
    try:
        params, faults = scenario.parse(raw, [])
    except ParamError:
        return None
    sim = scenario.simulate(params, 0, faults)
    trace = sim.run()
    return len(trace) if sim.summary.get("stopped") == "quiescent" else None


def large_params(scenario):
    """A large run's parameters: ``LARGE``, BENCH_ENGINE_PARAMS (JSON by slug), or grown greedily."""
    override = env_json("BENCH_ENGINE_PARAMS", {})
    if scenario.slug in override:
        return override[scenario.slug]
    if scenario.slug in LARGE and trace_length(scenario, LARGE[scenario.slug]):
        return LARGE[scenario.slug]
    raw, best = {}, trace_length(scenario, {}) or 0
    for p in scenario.params:
        if p.kind != "int" or p.max is None:
            continue
        default = p.default_for(scenario.parse(raw, [])[0]) if callable(p.default) else p.default
        for value in sorted({int(p.max), int((p.max + default) // 2)}, reverse=True):
            length = trace_length(scenario, {**raw, p.name: value})
            if length and length > best:
                raw, best = {**raw, p.name: value}, length
                break
    return raw


def scenario_throughput(scenario):
    raw = large_params(scenario)
    params, faults = scenario.parse(raw, [])
    want, budget = env_int("BENCH_ENGINE_EVENTS", 200_000), env_float("BENCH_ENGINE_SECONDS", 4)
    spent = {"finish": 0.0}
    finish, summary = scenario.finish, scenario.summary

    def timed(fn):
        def wrapper(*args):
            t = time.process_time()
            try:
                return fn(*args)
            finally:
                spent["finish"] += time.process_time() - t
        return wrapper

    scenario.finish, scenario.summary = timed(finish), timed(summary)  # instance attributes, this process only
    try:
        events, runs, seed, t0 = 0, 0, 0, time.process_time()
        while True:
            trace = scenario.simulate(params, seed, faults).run()
            events += len(trace)
            runs += 1
            seed += 1
            dt = time.process_time() - t0
            if events >= want or dt >= budget:
                break
    finally:
        del scenario.finish, scenario.summary
    rate = events / dt
    note = f"{raw or 'defaults'}: {runs} runs, {events // runs:,} events each"
    share = spent["finish"] / dt
    if share > 0.2:
        note += f"; finish()+summary() take {share:.0%} of the time"
    return row(f"engine: {scenario.slug}", rate, unit="ev/s", target=f">= {TARGET:,} ev/s", meets=rate >= TARGET,
               note=note, params=raw, events=events, runs=runs, cpu_s=dt, summary_share=share)


def measure():
    rows = []
    for slug, scenario in simulations.SCENARIOS.items():
        try:
            rows.append(scenario_throughput(scenario))
        except Exception as e:  # one scenario failing must not hide the others
            rows.append(error_row(f"engine: {slug}", f"{type(e).__name__}: {e}", f">= {TARGET:,} ev/s"))
    try:
        rows.append(compare_with_simpy())
    except Exception as e:
        rows.append(error_row(MODEL, f"{type(e).__name__}: {e}", f">= {TARGET:,} ev/s"))
    return rows
