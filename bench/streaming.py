"""Streaming: trace events per second delivered to one WebSocket client by one daphne process.

Method. One daphne process (the bench's database and channel layer: PostgreSQL and Redis when they answer)
and one client (the ``websockets`` package, asyncio) on the same machine. The client starts a big run
(BENCH_STREAM_SCENARIO, default gossip; BENCH_STREAM_PARAMS, default {"n": 64, "mode": "epidemic"}),
sends ``play`` at speed 100,000 (the protocol's maximum) and reads until the ``ended`` status; then starts
the next seed, until BENCH_STREAM_EVENTS events (default 100,000) have arrived. Rate = events received
during play / wall time from each ``play`` to its ``ended``, summed over the runs. Every batch is saved to
the database before it is sent and published to the run's channel group, as in production.

The alternative is what a user gets without the live protocol: the same saved runs downloaded as
``/runs/<id>/trace.json`` over HTTP from the same process, one request per run, timed the same way. Each run
is downloaded as soon as it has ended, so that the two are timed in the same moment: this machine's speed
drifts by more than a tenth from one minute to the next, and timing all the runs first and all the downloads
after measured that drift too (0.88x to 1.13x for the same code).
"""
import asyncio
import json
import os
import time
import urllib.request

from . import servers, wsclient
from .common import cpu_seconds, env_int, env_json, env_str, row

TARGET = 50_000
FIGURE = "streaming: events/s to one WebSocket client"
FIGURES = {FIGURE: f">= {TARGET:,} ev/s"}


async def stream(ws_url, base, scenario, params, want, cpu):
    """Play runs until ``want`` events have come, downloading each one's trace.json from ``base`` as soon as it
    has ended. Returns the events, the seconds they took, the run ids, the batches, the events and seconds of
    the downloads, and the server's CPU seconds while playing (``cpu`` reads its CPU time)."""
    got, playing, run_ids, seed, batches, downloaded, downloading, busy = 0, 0.0, [], 0, 0, 0, 0.0, 0.0
    async with wsclient.connect(ws_url) as ws:
        while got < want:
            run, _ = await wsclient.start(ws, scenario, params, seed)
            run_ids.append(run)
            t0, cpu0 = time.perf_counter(), cpu()
            await wsclient.send(ws, type="play", speed=100_000)
            while True:
                msg = await wsclient.receive(ws, 60)
                if msg["type"] == "events":
                    got += len(msg["events"])
                    batches += 1
                elif msg["type"] == "status" and msg["state"] == "ended":
                    break
                elif msg["type"] == "error":
                    raise RuntimeError(f"{msg['code']}: {msg['message']}")
            playing, busy = playing + time.perf_counter() - t0, busy + cpu() - cpu0
            seed += 1
            events, seconds = await asyncio.to_thread(download, base, run)
            downloaded, downloading = downloaded + events, downloading + seconds
    return got, playing, run_ids, batches, downloaded, downloading, busy


def download(base, run):
    """A run's events over HTTP, and the seconds they took."""
    t0 = time.perf_counter()
    with urllib.request.urlopen(f"{base}/runs/{run}/trace.json", timeout=60) as r:
        events = len(json.loads(r.read()))
    return events, time.perf_counter() - t0


def measure():
    scenario = env_str("BENCH_STREAM_SCENARIO", "gossip")
    params = env_json("BENCH_STREAM_PARAMS", {"n": 64, "mode": "epidemic"})
    want = env_int("BENCH_STREAM_EVENTS", 100_000)
    with servers.daphne(os.environ["BENCH_SERVER_DB"], name="streaming") as server:
        got, seconds, run_ids, batches, events, http_seconds, server_cpu = asyncio.run(
            stream(server.ws, server.url, scenario, params, want, lambda: cpu_seconds(server.pid)))
    rate, http_rate = got / seconds, events / http_seconds
    return [row(FIGURE, rate, unit="ev/s", target=f">= {TARGET:,} ev/s", meets=rate >= TARGET,
                alternative=f"trace.json over HTTP {http_rate:,.0f} ev/s", ratio=f"{rate / http_rate:.2f}x HTTP",
                note=f"{scenario} {params}, {len(run_ids)} runs, {got:,} events in {batches:,} batches, "
                     f"daphne CPU {server_cpu / seconds:.0%} of one core",
                http_rate=http_rate, events=got, seconds=seconds, runs=len(run_ids))]
