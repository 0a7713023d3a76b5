"""Classroom fan-out through Redis, and whether the app's own Redis settings keep an idle connection open.

A classroom's learners follow the instructor's run with ``watch`` (static/js/room.js, on ``room.run``), so
that is what is measured.

Method (fan-out). Two daphne processes on the same database and Redis. The "instructor" connects to the
first and starts a run (BENCH_FANOUT_SCENARIO / BENCH_FANOUT_PARAMS, default gossip epidemic n=64);
BENCH_FANOUT_LEARNERS (default 500) "learners" connect to the second and ``watch`` that run. Then the
instructor sends ``step`` BENCH_FANOUT_STEPS times (default 50, BENCH_FANOUT_INTERVAL apart, default
0.25 s). A learner's delay for a step is the time from the instructor's ``step`` leaving the client to
that learner receiving the batch holding the step's first event: it crosses the first process (save, then
publish to the run's group in Redis) and the second (one Redis message to the process, runs.fanout, then each
learner's socket). All clients are one asyncio process, so they share one clock. Figure: the 99th percentile
over every learner and step; a learner that misses a step counts as an infinite delay.

Method (idle connection). With the app's settings unchanged (config.settings, not bench/server_settings.py),
a client starts a run, stays idle BENCH_IDLE_SECONDS (default 7), then steps: the connection must still be
there. Under redis-py 8 it is not (see bench/server_settings.py), which is why the other figures' servers
run with a longer Redis read timeout.
"""
import asyncio
import os
import time

from . import servers, wsclient
from .common import env_float, env_int, env_json, env_str, percentile, quiet_collector, row

TARGET_MS, LEARNERS = 100, 500
FANOUT = "classroom fan-out via Redis (`watch` on a 2nd daphne)"
IDLE = "redis: app settings keep an idle WebSocket open"
FIGURES = {FANOUT: f"p99 < {TARGET_MS} ms, {LEARNERS} learners", IDLE: "stays open"}


async def learner(url, run_id, ready, received, stop):
    async with wsclient.connect(url) as ws:
        await wsclient.send(ws, type="watch", run=run_id)
        first = await wsclient.receive(ws, 30)  # what was saved so far
        received.update({e["seq"]: time.perf_counter() for e in first.get("events", [])[:1]})
        ready.append(1)
        while not stop.is_set():
            try:
                msg = await wsclient.receive(ws, 0.5)
            except TimeoutError:
                continue
            if msg["type"] == "events" and msg["events"]:
                received[msg["events"][0]["seq"]] = time.perf_counter()


async def classroom(owner_url, learner_url, scenario, params, learners, steps, interval):
    async with wsclient.connect(owner_url) as owner:
        run_id, events = await wsclient.start(owner, scenario, params)
        ready, stop = [], asyncio.Event()
        seen = [dict() for _ in range(learners)]
        tasks = []
        for i in range(learners):
            tasks.append(asyncio.create_task(learner(learner_url, run_id, ready, seen[i], stop)))
            await asyncio.sleep(0.005)
        deadline = time.perf_counter() + 60
        while len(ready) < learners and time.perf_counter() < deadline:
            if any(t.done() for t in tasks):
                for t in tasks:
                    if t.done() and t.exception():
                        raise t.exception()
            await asyncio.sleep(0.05)
        if len(ready) < learners:
            raise RuntimeError(f"only {len(ready)} of {learners} learners were watching after 60 s")
        await asyncio.sleep(0.5)
        sent, next_seq, own = {}, len(events), []
        for _ in range(steps):
            t = time.perf_counter()
            await wsclient.send(owner, type="step", count=1)
            sent[next_seq] = t
            while True:
                msg = await wsclient.receive(owner, 30)
                if msg["type"] == "events":
                    own.append((time.perf_counter() - t) * 1000)
                    next_seq = msg["events"][-1]["seq"] + 1
                if msg["type"] == "status":
                    break
            await asyncio.sleep(interval)
        await asyncio.sleep(1.0)
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)
    delays = [(got[seq] - t) * 1000 if seq in got else float("inf") for got in seen for seq, t in sent.items()]
    return delays, own


async def idle_check(url, seconds):
    async with wsclient.connect(url) as ws:
        await wsclient.start(ws, "bully-election", {"n": 5})
        await asyncio.sleep(seconds)
        try:
            await wsclient.send(ws, type="step", count=1)
            while (await wsclient.receive(ws, 10))["type"] != "status":
                pass
            return True, f"open after {seconds:g} s idle"
        except Exception as e:
            code = getattr(getattr(e, "rcvd", None), "code", None)
            return False, f"closed after < {seconds:g} s idle" + (f" with {code}" if code else f": {e}")


def measure():
    if not os.environ.get("REDIS_URL"):
        why = "needs Redis (REDIS_URL): the fan-out crosses two daphne processes"
        return [row(name, shown=f"error: {why}", target=target, meets=False, error=why)
                for name, target in FIGURES.items()]
    db = os.environ["BENCH_SERVER_DB"]
    learners = env_int("BENCH_FANOUT_LEARNERS", LEARNERS)
    steps = env_int("BENCH_FANOUT_STEPS", 50)
    interval = env_float("BENCH_FANOUT_INTERVAL", 0.25)
    scenario = env_str("BENCH_FANOUT_SCENARIO", "gossip")
    params = env_json("BENCH_FANOUT_PARAMS", {"n": 64, "mode": "epidemic"})
    rows = []
    try:
        with servers.daphne(db, name="fanout-instructor") as one, servers.daphne(db, name="fanout-learners") as two:
            with quiet_collector():
                delays, own = asyncio.run(classroom(one.ws, two.ws, scenario, params, learners, steps, interval))
        p99, p50 = percentile(delays, 99), percentile(delays, 50)
        missed = sum(d == float("inf") for d in delays)
        note = (f"{learners} learners x {steps} steps; min {min(delays):.1f}, p50 {p50:.1f} ms; the instructor's "
                f"own batch p50 {percentile(own, 50):.1f} ms") + (f"; {missed} batches never arrived"
                                                                         if missed else "")
        rows.append(row(FANOUT, p99, unit="ms", shown=f"p99 {p99:.1f} ms" if missed == 0 else "p99 never",
                        target=f"p99 < {TARGET_MS} ms, {LEARNERS} learners",
                        meets=p99 < TARGET_MS and learners >= LEARNERS, note=note, p50_ms=p50, missed=missed,
                        instructor_p50_ms=percentile(own, 50)))
    except Exception as e:
        rows.append(row(FANOUT, shown=f"error: {type(e).__name__}: {e}"[:170], target=FIGURES[FANOUT], meets=False,
                        error=str(e)))
    seconds = env_float("BENCH_IDLE_SECONDS", 7)
    with servers.daphne(db, name="idle-app-settings", DJANGO_SETTINGS_MODULE="config.settings") as app:
        ok, what = asyncio.run(idle_check(app.ws, seconds))
    rows.append(row(IDLE, shown="yes" if ok else "NO", target="stays open", meets=ok,
                    note=what + ("" if ok else "; redis-py 8's 5 s socket_timeout = channels_redis' 5 s BZPOPMIN "
                                                "(bench servers run bench/server_settings.py)")))
    return rows
