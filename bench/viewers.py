"""Concurrent viewers: how many clients one daphne process streams to at once while batches stay on time.

Method. One daphne process (the bench's database and channel layer). For each level of
BENCH_VIEWERS_LEVELS (default 100,200,300,500) clients, one asyncio process opens that many WebSockets
(``websockets``), spread over BENCH_VIEWERS_RAMP_SECONDS (default 2); each starts its own run
(BENCH_VIEWERS_SCENARIO / BENCH_VIEWERS_PARAMS, default gossip epidemic n=64, long enough to play
throughout) and plays it at BENCH_VIEWERS_SPEED (default 16: 64 events a second, sent as a batch of 6 every
100 ms, or of 13 every 200 ms once the process plays 500 runs: runs.consumers.tick). Once the last client plays, and after one more second, the arrival time of every batch is recorded
for BENCH_VIEWERS_SECONDS (default 8). A batch's latency is how much later it came than the server's own
pace promises: the gap since the client's previous batch minus (events in the batch / events per second).
A level passes when the 99th percentile of that latency, over all clients, is under 250 ms, every client
kept its connection, and the runs played at no less than BENCH_VIEWERS_MIN_PLAYED (default 90%) of the
pace one client alone gets (measured first): a server that falls behind spaces its batches evenly, so
their gaps alone would not show that every run plays at a third of its speed. (Alone, a run plays a little
slower than asked, because the server sleeps a batch's worth of time after sending it rather than until a
deadline; that drift is in the note, not held against the level.) The figure is the largest level that
passes: the ramp stops at the first that does not, and when even the first misses, it is halved until one
passes (down to 5; BENCH_VIEWERS_BACKOFF=0 turns that off), so that the row still tells what one process
carries. The note gives each level's p99 and played share.

The same run gives the server's resident memory per active run: daphne's RSS at the end of the largest
level's window, less its RSS before the first client, divided by the clients.

The client shares the machine's 2 cores with the server; its own CPU use during the window is in the note,
so that a saturated client is not mistaken for a slow server.
"""
import asyncio
import os
import time

from . import servers, wsclient
from .common import env_float, env_int, env_ints, env_json, env_str, percentile, quiet_collector, rss_kb, row

TARGET_CLIENTS, TARGET_P99_MS = 500, 250
VIEWERS = "concurrent viewers (p99 batch latency < 250 ms)"
MEMORY = "memory: server RSS per active run"
FIGURES = {VIEWERS: f">= {TARGET_CLIENTS} clients", MEMORY: ""}
BASE_RATE = 4  # events per second at speed 1 (runs/consumers.py)


async def viewer(i, url, ramp, scenario, params, speed, clock, arrivals, failures, stop):
    await asyncio.sleep(ramp * i)
    try:
        async with wsclient.connect(url) as ws:
            await wsclient.start(ws, scenario, params, seed=i)
            await wsclient.send(ws, type="play", speed=speed)
            clock["playing"] += 1
            mine = arrivals[i]
            while not stop.is_set():
                try:
                    msg = await wsclient.receive(ws, 0.5)
                except TimeoutError:
                    continue
                if msg["type"] == "events":
                    mine.append((time.perf_counter(), len(msg["events"])))
                elif msg["type"] == "status" and msg["state"] == "ended":
                    failures.append(f"client {i}: run ended inside the window")
                    return
    except Exception as e:
        failures.append(f"client {i}: {type(e).__name__}: {e}")


async def level(server, clients, scenario, params, speed, ramp_s, window_s):
    arrivals = [[] for _ in range(clients)]
    failures, clock, stop = [], {"playing": 0}, asyncio.Event()
    tasks = [asyncio.create_task(viewer(i, server.ws, ramp_s / clients, scenario, params, speed, clock, arrivals,
                                        failures, stop)) for i in range(clients)]
    deadline = time.perf_counter() + ramp_s + 60
    while clock["playing"] + len(failures) < clients and time.perf_counter() < deadline:
        await asyncio.sleep(0.05)
    await asyncio.sleep(1.0)
    t0, cpu0 = time.perf_counter(), time.process_time()
    await asyncio.sleep(window_s)
    t1, cpu1 = time.perf_counter(), time.process_time()
    rss = rss_kb(server.pid)  # while every run is still active
    stop.set()
    await asyncio.gather(*tasks)
    rate = BASE_RATE * speed
    late, played = [], []
    for batches in arrivals:
        inside = [(t, n) for t, n in batches if t0 <= t <= t1]
        for (ta, _), (tb, n) in zip(inside, inside[1:]):
            late.append((tb - ta - n / rate) * 1000)
        played.append(sum(n for _, n in inside) / (t1 - t0) / rate)
    return {"clients": clients, "p99_ms": percentile(late, 99), "p50_ms": percentile(late, 50),
            "batches": len(late), "failures": len(failures), "failure_sample": failures[:3],
            "played": sum(played) / len(played) if played else 0, "client_cpu": (cpu1 - cpu0) / (t1 - t0),
            "rss_kb": rss}


async def ramp(server, levels, scenario, params, speed, ramp_s, window_s, backoff):
    """Climb the levels until one misses; when even the first misses, halve it until one passes (to 5)."""
    rss_idle = rss_kb(server.pid)
    alone = await level(server, 1, scenario, params, speed, 0, window_s)
    results, min_played = [], env_float("BENCH_VIEWERS_MIN_PLAYED", 0.9) * alone["played"]

    async def attempt(clients):
        result = await level(server, clients, scenario, params, speed, ramp_s, window_s)
        result["passed"] = (result["failures"] == 0 and result["p99_ms"] is not None
                            and result["p99_ms"] < TARGET_P99_MS and result["played"] >= min_played)
        results.append(result)
        return result["passed"]

    for clients in levels:
        if not await attempt(clients):
            break
    clients = levels[0] // 2
    while backoff and not any(r["passed"] for r in results) and clients >= 5:
        await attempt(clients)
        clients //= 2
    return rss_idle, alone, results


def measure():
    levels = env_ints("BENCH_VIEWERS_LEVELS", "100,200,300,500")
    speed = env_float("BENCH_VIEWERS_SPEED", 16)
    scenario = env_str("BENCH_VIEWERS_SCENARIO", "gossip")
    params = env_json("BENCH_VIEWERS_PARAMS", {"n": 64, "mode": "epidemic"})
    ramp_s, window_s = env_float("BENCH_VIEWERS_RAMP_SECONDS", 2), env_float("BENCH_VIEWERS_SECONDS", 8)
    with servers.daphne(os.environ["BENCH_SERVER_DB"], name="viewers") as server:
        with quiet_collector():
            rss_idle, alone, results = asyncio.run(ramp(server, levels, scenario, params, speed, ramp_s, window_s,
                                                 env_int("BENCH_VIEWERS_BACKOFF", 1)))
    passed = [r["clients"] for r in results if r["passed"]]
    best = max(passed, default=0)
    last = min((r for r in results if not r["passed"]), key=lambda r: r["clients"], default=results[-1])
    steps = "; ".join(f"{r['clients']}: p99 {r['p99_ms']:.0f} ms, played {r['played']:.0%}"
                      if r["p99_ms"] is not None else f"{r['clients']}: no batches" for r in results)
    note = (f"by clients {steps} (of speed {speed:g}; one client alone: {alone['played']:.0%}); "
            f"client CPU {last['client_cpu']:.0%} at {last['clients']}")
    if last["failures"]:
        note += f", {last['failures']} clients failed ({last['failure_sample'][0][:80]})"
    rows = [row(VIEWERS, best, unit="clients", target=f">= {TARGET_CLIENTS} clients",
                meets=best >= TARGET_CLIENTS, note=note, levels=results, alone=alone)]
    # Memory per active run, from the level whose clients were all streaming at the end of the window.
    measured = [r for r in results if not r["failures"]] or results
    top = max(measured, key=lambda r: r["clients"])
    per_run = (top["rss_kb"] - rss_idle) / top["clients"]
    rows.append(row(MEMORY, per_run, unit="KiB", target="", meets=None,
                    note=f"daphne RSS {rss_idle / 1024:.0f} MiB idle, {top['rss_kb'] / 1024:.0f} MiB after "
                         f"{top['clients']} runs streaming at once", rss_idle_kb=rss_idle))
    return rows
