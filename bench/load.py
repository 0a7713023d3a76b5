"""Load test: many learners streaming runs from one daphne process while pages keep loading.

``python -m bench.load`` holds LOAD_CLIENTS WebSocket clients (default 500), each starting a run (LOAD_SCENARIO,
LOAD_PARAMS: bully-election, n=8), playing it to the end at LOAD_SPEED (default 1, the player's default) and
starting the next, plus LOAD_PAGES page loads a second (default 50), for LOAD_SECONDS (default 300).
Everything goes to 127.0.0.1, and every figure is bounded (at most 2,000 clients, 500 pages a second, an
hour). It reports whether there were zero errors, p50/p99 latencies (start -> started, gaps between event
batches while playing, page loads) and the RSS of the server and of its engine process after warm-up and at
the end, then prints one JSON line with all of it.

Runs on DATABASE_URL / REDIS_URL when set (as ``make bench`` sets them), else SQLite and the in-memory layer.
"""
import asyncio
import json
import os
import sys
import time

from .common import env_float, env_int, env_str, percentile
from .servers import bench_database, daphne
from .wsclient import connect, receive, send

HOST = "127.0.0.1"
LIMITS = {"clients": 2000, "pages": 500, "seconds": 3600}
TICK, BASE_RATE = 0.1, 4  # as in runs/consumers.py: the batch interval a client should see while playing


def settings():
    cfg = {
        "clients": min(env_int("LOAD_CLIENTS", 500), LIMITS["clients"]),
        "seconds": min(env_float("LOAD_SECONDS", 300), LIMITS["seconds"]),
        "pages": min(env_float("LOAD_PAGES", 50), LIMITS["pages"]),
        "speed": env_float("LOAD_SPEED", 1),  # the player's default, 1x
        "scenario": env_str("LOAD_SCENARIO", "bully-election"),
        "params": json.loads(env_str("LOAD_PARAMS", '{"n": 8}')),
    }
    cfg["ramp"] = min(20.0, cfg["seconds"] / 5)  # clients connect evenly over this long
    cfg["warmup"] = cfg["ramp"] + min(10.0, cfg["seconds"] / 10)
    rate = BASE_RATE * cfg["speed"]
    cfg["expected_gap_ms"] = round(1000 * (1 if rate * TICK < 1 else round(rate * TICK)) / rate, 1)
    return cfg


def rss_mb(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        return None


def children_rss_mb(pid):
    """The RSS of the process's children together: its engine process (runs/engine_worker.py), which holds
    the live runs' simulations."""
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            sizes = [rss_mb(int(child)) for child in f.read().split()]
    except OSError:
        return None
    return round(sum(size for size in sizes if size), 1)


class Tally:
    def __init__(self):
        self.errors, self.samples = 0, []
        self.start_ms, self.gap_ms, self.page_ms = [], [], []
        self.runs_started = self.runs_ended = self.events = self.pages = 0
        self.recent_runs = []

    def error(self, what):
        self.errors += 1
        if len(self.samples) < 10:
            self.samples.append(what[:200])


async def learner(i, cfg, url, deadline, tally):
    """One client: connect at its slot in the ramp, then start, play to the end, repeat until the deadline."""
    await asyncio.sleep(cfg["ramp"] * i / max(cfg["clients"], 1))
    try:
        async with connect(url) as ws:
            while time.monotonic() < deadline:
                sent = time.monotonic()
                await send(ws, type="start", scenario=cfg["scenario"], params=cfg["params"], seed=i)
                expected, last = 0, None
                while True:
                    msg = await receive(ws, timeout=30)
                    kind = msg["type"]
                    if kind == "started":
                        tally.start_ms.append(1000 * (time.monotonic() - sent))
                        tally.runs_started += 1
                        tally.recent_runs = (tally.recent_runs + [msg["run"]])[-20:]
                    elif kind == "events":
                        now = time.monotonic()
                        if last is not None:
                            tally.gap_ms.append(1000 * (now - last))
                        for e in msg["events"]:
                            if e["seq"] != expected:
                                tally.error(f"client {i}: seq {e['seq']} where {expected} was due")
                            expected = e["seq"] + 1
                        tally.events += len(msg["events"])
                    elif kind == "status" and msg["state"] == "paused" and last is None:
                        await send(ws, type="play", speed=cfg["speed"])
                        last = time.monotonic()
                    elif kind == "status" and msg["state"] == "playing":
                        last = time.monotonic()
                    elif kind == "status" and msg["state"] == "ended":
                        tally.runs_ended += 1
                        break
                    elif kind == "error":
                        tally.error(f"client {i}: {msg.get('code')}: {msg.get('message')}")
                        break
                    if kind == "events" and last is not None:
                        last = time.monotonic()
                    if time.monotonic() >= deadline:
                        return
    except asyncio.CancelledError:
        raise
    except Exception as e:  # noqa: BLE001  (every failure is counted, with its kind)
        if time.monotonic() < deadline:
            tally.error(f"client {i}: {type(e).__name__}: {e}")


async def http_get(port, path):
    reader, writer = await asyncio.open_connection(HOST, port)
    try:
        writer.write(f"GET {path} HTTP/1.1\r\nHost: {HOST}\r\nConnection: close\r\n\r\n".encode())
        await writer.drain()
        data = await asyncio.wait_for(reader.read(), 30)
    finally:
        writer.close()
    return int(data.split(b" ", 2)[1]) if data.startswith(b"HTTP/") else 0


async def page_loads(cfg, port, deadline, tally):
    """LOAD_PAGES requests a second on a fixed schedule (each in its own task, at most 500 in flight)."""
    paths = ["/", "/s/bully-election/", "/s/two-generals/?loss=0.2&seed=3", "/api/scenarios/"]
    in_flight = asyncio.Semaphore(500)
    tasks = set()

    async def one(path):
        async with in_flight:
            t = time.monotonic()
            try:
                status = await http_get(port, path)
            except Exception as e:  # noqa: BLE001
                tally.error(f"GET {path}: {type(e).__name__}: {e}")
                return
            tally.page_ms.append(1000 * (time.monotonic() - t))
            tally.pages += 1
            if status != 200:
                tally.error(f"GET {path}: {status}")

    n, t0 = 0, time.monotonic()
    while time.monotonic() < deadline and cfg["pages"] > 0:
        path = paths[n % len(paths)] if n % 5 or not tally.recent_runs else f"/runs/{tally.recent_runs[-1]}/"
        task = asyncio.create_task(one(path))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
        n += 1
        await asyncio.sleep(max(0.0, t0 + n / cfg["pages"] - time.monotonic()))
    await asyncio.gather(*tasks, return_exceptions=True)


async def drive(cfg, proc):
    tally, rss = Tally(), {}
    begin = time.monotonic()
    deadline = begin + cfg["seconds"]
    clients = [asyncio.create_task(learner(i, cfg, proc.ws, deadline, tally)) for i in range(cfg["clients"])]
    pages = asyncio.create_task(page_loads(cfg, proc.port, deadline, tally))
    peak = 0.0
    while time.monotonic() < deadline:
        await asyncio.sleep(1)
        now = rss_mb(proc.pid)
        if now is None:
            tally.error("the server process is gone")
            break
        peak = max(peak, now)
        if "warm" not in rss and time.monotonic() - begin >= cfg["warmup"]:
            rss["warm"], rss["engine_warm"] = now, children_rss_mb(proc.pid)
            marks = (len(tally.start_ms), len(tally.gap_ms), len(tally.page_ms))
    rss["end"], rss["peak"], rss["engine_end"] = rss_mb(proc.pid), peak, children_rss_mb(proc.pid)
    elapsed = min(time.monotonic(), deadline) - begin
    await asyncio.wait(clients + [pages], timeout=40)
    for task in clients + [pages]:
        task.cancel()
    await asyncio.gather(*clients, pages, return_exceptions=True)
    if "warm" not in rss:
        marks = (0, 0, 0)
    return tally, rss, marks, elapsed


def summary(cfg, tally, rss, marks, elapsed):
    def pct(values):
        return {"p50": round(percentile(values, 50), 1) if values else None,
                "p99": round(percentile(values, 99), 1) if values else None, "count": len(values)}

    return {
        "figure": "load", "clients": cfg["clients"], "seconds": round(elapsed, 1), "speed": cfg["speed"],
        "scenario": cfg["scenario"], "params": cfg["params"], "pages_per_second_target": cfg["pages"],
        "database": "postgresql" if os.environ.get("DATABASE_URL", "").startswith("postgres") else "sqlite",
        "channel_layer": "redis" if os.environ.get("REDIS_URL") else "in-memory",
        "zero_errors": tally.errors == 0, "errors": tally.errors, "error_samples": tally.samples,
        "runs_started": tally.runs_started, "runs_ended": tally.runs_ended, "events": tally.events,
        "events_per_second": round(tally.events / elapsed, 1), "pages": tally.pages,
        "pages_per_second": round(tally.pages / elapsed, 1),
        # latencies after warm-up: the ramp's connection storm is not what a learner meets
        "start_ms": pct(tally.start_ms[marks[0]:]), "batch_gap_ms": pct(tally.gap_ms[marks[1]:]),
        "expected_gap_ms": cfg["expected_gap_ms"], "page_ms": pct(tally.page_ms[marks[2]:]),
        "rss_mb_after_warmup": rss.get("warm"), "rss_mb_end": rss.get("end"), "rss_mb_peak": rss.get("peak"),
        "engine_rss_mb_after_warmup": rss.get("engine_warm"), "engine_rss_mb_end": rss.get("engine_end"),
    }


def main():
    cfg = settings()
    print(f"== load: {cfg['clients']} WebSocket clients at speed {cfg['speed']} on {cfg['scenario']} "
          f"{cfg['params']}, {cfg['pages']:g} pages/s, {cfg['seconds']:g} s, one daphne on {HOST}", flush=True)
    with bench_database(os.environ.get("DATABASE_URL", "")) as db, daphne(db, name="load") as proc:
        tally, rss, marks, elapsed = asyncio.run(drive(cfg, proc))
    result = summary(cfg, tally, rss, marks, elapsed)
    print(f"   errors: {result['errors']} ({'none' if result['zero_errors'] else result['error_samples'][:3]})")
    print(f"   runs {result['runs_started']} started / {result['runs_ended']} ended, "
          f"{result['events_per_second']} events/s, {result['pages_per_second']} pages/s")
    for name in ("start_ms", "batch_gap_ms", "page_ms"):
        print(f"   {name}: p50 {result[name]['p50']} p99 {result[name]['p99']} (n={result[name]['count']})")
    print(f"   server RSS: {result['rss_mb_after_warmup']} MB after warm-up, {result['rss_mb_end']} MB at the end "
          f"(peak {result['rss_mb_peak']} MB)")
    print(f"   engine process RSS: {result['engine_rss_mb_after_warmup']} MB after warm-up, "
          f"{result['engine_rss_mb_end']} MB at the end")
    print(json.dumps(result, separators=(",", ":")), flush=True)
    return 0 if result["zero_errors"] else 1


if __name__ == "__main__":
    sys.exit(main())
