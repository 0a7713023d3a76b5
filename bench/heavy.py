"""One heavy request beside many light ones: how much a watch, a resume or a branch of a 60,000-event run moves
other clients' round trips.

Method. One daphne process (the bench's database and channel layer). A real run of 60,000 events: Raft with nine
servers, a 5 ms heartbeat and a crash at t=40 s (BENCH_HEAVY_PARAMS / BENCH_HEAVY_FAULTS), which stops at the
scenario's event cap; one client plays it at full speed to BENCH_HEAVY_DEPTH events (default 59,000), pauses and
goes. BENCH_HEAVY_CLIENTS clients (default 20) each start a small run and then ping, one round trip after
another: ``pause`` -> ``status``, which touches neither the engine nor the database. Their round trips are timed
for BENCH_HEAVY_SECONDS (default 4) alone, then while each heavy request is under way, BENCH_HEAVY_REPEAT times
(default 3) one after another:

- watch: a new client watches the run from its first event until it holds all of it (the catch-up read from the
  store and sent in frames as its acks make room);
- resume: the browser that drove it comes back (``resume`` with its token, from where it was): the simulation
  is re-executed to that depth (in the engine process) before the run goes on;
- branch: a crash at the depth reached (``branch``): the shared past is re-executed, saved as the new run's and
  sent to the browser, which holds it all before the figure's clock stops.

Figure: each request's p99 round trip of the others less their p99 alone; the target is under 50 ms.
"""
import asyncio
import os
import time

from . import servers, wsclient
from .common import env_float, env_int, env_json, env_str, percentile, quiet_collector, row

TARGET_MS = 50
KINDS = ("watch", "resume", "branch")
FIGURES = {f"a 60k-event {kind} beside 20 clients: their p99 round trip moves by": f"< {TARGET_MS} ms"
           for kind in KINDS}


async def pinger(url, stop, times):
    async with wsclient.connect(url) as ws:
        await wsclient.start(ws, "bully-election", {"n": 4})
        while not stop.is_set():
            t0 = time.perf_counter()
            await wsclient.send(ws, type="pause")
            while (await wsclient.receive(ws, 30))["type"] != "status":
                pass
            times.append((t0, (time.perf_counter() - t0) * 1000))


async def until(ws, kind, timeout=60):
    """Read (acknowledging as a browser does) until a message of ``kind``; return it and the last seq seen."""
    last = -1
    while True:
        msg = await wsclient.receive(ws, timeout)
        if msg["type"] == "events" and msg["events"]:
            last = msg["events"][-1]["seq"]
            if "run" in msg:  # a watcher acknowledges what it was sent too
                await wsclient.send(ws, type="ack", seq=last)
        elif msg["type"] == "error":
            raise RuntimeError(f"{msg['code']}: {msg['message']}")
        if msg["type"] == kind:
            return msg, last


async def drive(url, scenario, params, faults, depth):
    """Start the long run, play it at full speed to ``depth`` events, pause, go: (run, token, next seq)."""
    async with wsclient.connect(url) as ws:
        await wsclient.send(ws, type="start", scenario=scenario, params=params, faults=faults, seed=0)
        started, _ = await until(ws, "started")
        await until(ws, "status")
        await wsclient.send(ws, type="play", speed=100_000)
        last = 0
        while last + 1 < depth:
            msg = await wsclient.receive(ws, 60)
            if msg["type"] == "events" and msg["events"]:
                last = msg["events"][-1]["seq"]
            elif msg["type"] == "status" and msg["state"] == "ended":
                break
        await wsclient.send(ws, type="pause")
        _, seen = await until(ws, "status")
        return started["run"], started["token"], max(last, seen) + 1


async def heavy(url, kind, run_id, token, depth):
    async with wsclient.connect(url) as ws:
        if kind == "watch":
            await wsclient.send(ws, type="watch", run=run_id, **{"from": 0})
            last = -1
            while last + 1 < depth:
                _, last = await until(ws, "events")
        elif kind == "resume":
            await wsclient.send(ws, type="resume", run=run_id, token=token, **{"from": depth})
            await until(ws, "resumed")
            await until(ws, "status")
        else:
            await wsclient.send(ws, type="branch", run=run_id, seq=depth - 1,
                                fault={"action": "crash", "node": "S1"})
            await until(ws, "started")
            _, last = await until(ws, "status")
            if last + 1 < depth:
                raise RuntimeError(f"the branch sent {last + 1} of its {depth} shared events")


async def measure_async(url, scenario, params, faults, depth, clients, seconds, repeat):
    run_id, token, depth = await drive(url, scenario, params, faults, depth)
    stop, times = asyncio.Event(), []
    pingers = [asyncio.create_task(pinger(url, stop, times)) for _ in range(clients)]
    await asyncio.sleep(1.0)
    t0 = time.perf_counter()
    await asyncio.sleep(seconds)
    windows = {"alone": [(t0, time.perf_counter())]}
    took = {}
    for kind in KINDS:
        windows[kind] = []
        for _ in range(repeat):
            start = time.perf_counter()
            await heavy(url, kind, run_id, token, depth)
            windows[kind].append((start, time.perf_counter()))
            await asyncio.sleep(0.2)
        took[kind] = sum(b - a for a, b in windows[kind]) / repeat
    stop.set()
    await asyncio.gather(*pingers)
    rtt = {name: [ms for t, ms in times if any(a <= t < b for a, b in spans)] for name, spans in windows.items()}
    return rtt, took, depth


def measure():
    scenario = env_str("BENCH_HEAVY_SCENARIO", "raft")
    params = env_json("BENCH_HEAVY_PARAMS", {"n": 9, "heartbeat": 5})
    faults = env_json("BENCH_HEAVY_FAULTS", [{"action": "crash", "node": "S9", "at": 40000}])
    depth = env_int("BENCH_HEAVY_DEPTH", 59_000)
    clients, seconds = env_int("BENCH_HEAVY_CLIENTS", 20), env_float("BENCH_HEAVY_SECONDS", 4)
    repeat = env_int("BENCH_HEAVY_REPEAT", 3)
    with servers.daphne(os.environ["BENCH_SERVER_DB"], name="heavy") as server:
        with quiet_collector():
            rtt, took, depth = asyncio.run(measure_async(server.ws, scenario, params, faults, depth, clients, seconds,
                                                         repeat))
    before = percentile(rtt["alone"], 99)
    rows = []
    for (figure, target), kind in zip(FIGURES.items(), KINDS):
        after = percentile(rtt[kind], 99)
        moved = after - before
        rows.append(row(figure, moved, unit="ms", target=target, meets=moved < TARGET_MS,
                        note=f"p99 round trip {before:.1f} ms alone, {after:.1f} ms during the {kind} of a "
                             f"{scenario} run at {depth:,} events ({took[kind]:.2f} s each, {repeat} in turn); "
                             f"p50 {percentile(rtt['alone'], 50):.1f} -> {percentile(rtt[kind], 50):.1f} ms; "
                             f"{clients} clients, {len(rtt[kind]):,} round trips during"))
    return rows
