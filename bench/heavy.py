"""One heavy request beside many light ones: how much a watch of a 60,000-event run moves other clients' round trips.

Method. One daphne process (the bench's database and channel layer). A saved run of BENCH_HEAVY_EVENTS events
(default 60,000: token-ring runs joined seed after seed, bench/traces.py, saved in 2,000-event chunks as
bench/scroll.py does). BENCH_HEAVY_CLIENTS clients (default 20) each start a run and then ping, one round trip
after another: ``pause`` -> ``status``, which touches neither the engine nor the database. Their round trips are
timed for BENCH_HEAVY_SECONDS (default 4) alone, then again while one more client watches the saved run from
its first event (``watch`` from 0: the catch-up read from the store and sent in frames as its acks make room)
until it holds all of it, and for at least as long. Figure: the p99 round trip during the watch less the p99
alone; the target is under 50 ms. (No registered scenario makes a 60,000-event run in one go, so a resume or a
branch at that depth, which re-executes the run, cannot be asked of a real one; both run in the engine process,
runs/engines.py, not on the web process's loop.)
"""
import asyncio
import os
import time

from . import servers, wsclient
from .common import env_float, env_int, env_json, env_str, percentile, row
from .scroll import save_run
from .traces import long_trace

TARGET_MS = 50
FIGURE = "a 60k-event watch beside 20 clients: their p99 round trip moves by"
FIGURES = {FIGURE: f"< {TARGET_MS} ms"}


async def pinger(url, stop, times):
    async with wsclient.connect(url) as ws:
        await wsclient.start(ws, "bully-election", {"n": 4})
        while not stop.is_set():
            t0 = time.perf_counter()
            await wsclient.send(ws, type="pause")
            while (await wsclient.receive(ws, 30))["type"] != "status":
                pass
            times.append((t0, (time.perf_counter() - t0) * 1000))


async def watcher(url, run_id, events):
    async with wsclient.connect(url) as ws:
        await wsclient.send(ws, type="watch", run=run_id, **{"from": 0})
        got = 0
        while got < events:
            msg = await wsclient.receive(ws, 60)
            if msg["type"] == "events":
                got = msg["events"][-1]["seq"] + 1
                await wsclient.send(ws, type="ack", seq=msg["events"][-1]["seq"])
            elif msg["type"] == "error":
                raise RuntimeError(f"{msg['code']}: {msg['message']}")


async def measure_async(url, run_id, events, clients, seconds):
    stop, times = asyncio.Event(), []
    pingers = [asyncio.create_task(pinger(url, stop, times)) for _ in range(clients)]
    await asyncio.sleep(1.0)
    t0 = time.perf_counter()
    await asyncio.sleep(seconds)
    t1 = time.perf_counter()
    await watcher(url, run_id, events)
    t2 = time.perf_counter()
    await asyncio.sleep(max(0.0, seconds - (t2 - t1)))
    t3 = time.perf_counter()
    stop.set()
    await asyncio.gather(*pingers)
    alone = [ms for t, ms in times if t0 <= t < t1]
    during = [ms for t, ms in times if t1 <= t < t3]
    return alone, during, t2 - t1


def measure():
    want = env_int("BENCH_HEAVY_EVENTS", 60_000)
    clients, seconds = env_int("BENCH_HEAVY_CLIENTS", 20), env_float("BENCH_HEAVY_SECONDS", 4)
    trace = long_trace(env_str("BENCH_HEAVY_SCENARIO", "token-ring"), env_json("BENCH_HEAVY_PARAMS", {"n": 16}),
                       min_events=want)
    db = os.environ["BENCH_SERVER_DB"]
    run_id = save_run(trace, db)
    with servers.daphne(db, name="heavy") as server:
        alone, during, watch_s = asyncio.run(measure_async(server.ws, run_id, len(trace), clients, seconds))
    before, after = percentile(alone, 99), percentile(during, 99)
    moved = after - before
    return [row(FIGURE, moved, unit="ms", target=f"< {TARGET_MS} ms", meets=moved < TARGET_MS,
                note=f"p99 round trip {before:.1f} ms alone, {after:.1f} ms while one client watched "
                     f"{len(trace):,} saved events from the start ({watch_s:.1f} s to hold them all); "
                     f"p50 {percentile(alone, 50):.1f} -> {percentile(during, 50):.1f} ms; {clients} clients, "
                     f"{len(alone) + len(during):,} round trips")]
