"""Searches as jobs, off the event loop: on Redis through RQ when REDIS_URL is set, so that any process on any
machine running ``manage.py searchworker`` takes them; else in a small thread pool of this process, so that
``make run`` needs nothing.

A job is described by a spec (scenario, parsed params, seed, faults, goal, budget), reports its progress
(runs, distinct states, depth) as it goes, honours a cancel within a fraction of a second, and ends with the
search's result, the run found saved as an ordinary run.
"""
import os
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

from django.conf import settings
from django.db import connections

import simulations
from simulations.explore import Search, parse_goal

QUEUE = "searches"
MAX_RUNS = 20_000  # per search from the page: a few seconds of one core, a few MiB of state digests
MAX_SECONDS = 60
MAX_FAULTS = 3
THREADS = int(os.environ.get("SEARCH_THREADS", 1))  # local searches at once, per process; more wait their turn
MAX_WAITING = 20  # local searches queued, per process, before new ones are refused
KEEP_SECONDS = 3600  # a finished search's result stays readable this long
CHECK_SECONDS = 0.2  # how often a search looks for a cancel in Redis


class Busy(Exception):
    """Too many searches wait already."""


def search_for(spec, stop, progress):
    scenario = simulations.get(spec["scenario"])
    return Search(scenario, spec["params"], spec["seed"], spec["faults"], parse_goal(scenario, spec["goal"]),
                  max_faults=spec["max_faults"], max_runs=spec["max_runs"], kinds=spec["kinds"],
                  stop=stop, progress=progress, every=50)


def perform(spec, progress, cancelled):
    """Run the search of ``spec`` to its end and save the run it found: the job's result, a dict."""
    deadline = time.monotonic() + spec["seconds"]

    def stop():
        if cancelled():
            return "cancelled"
        return "time" if time.monotonic() > deadline else None

    result = search_for(spec, stop, progress).run()
    out = result.as_dict()
    if result.found:
        from runs.store import save_trace
        out["url"] = save_trace(simulations.get(spec["scenario"]), result.params, result.seed,
                                result.faults).get_absolute_url()
    return out


def status(state, progress=None, result=None, error=""):
    """What a poll is told: state is queued, running, done, failed or cancelled."""
    if state == "done" and result and result.get("stopped") == "cancelled":
        state = "cancelled"
    return {"state": state, "progress": progress or {}, "result": result, "error": error}


class LocalJobs:
    """A thread pool in this process; jobs and their results live in memory for KEEP_SECONDS."""

    def __init__(self, threads=THREADS):
        self.pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="search")
        self.jobs = {}
        self.lock = threading.Lock()

    def submit(self, spec):
        with self.lock:
            self.forget_old()
            if sum(job["state"] == "queued" for job in self.jobs.values()) >= MAX_WAITING:
                raise Busy("the server is busy with other searches; try again in a minute")
            job_id = uuid.uuid4().hex
            self.jobs[job_id] = {"state": "queued", "progress": {}, "result": None, "error": "",
                                 "cancel": threading.Event(), "at": time.monotonic()}
        self.pool.submit(self.work, job_id, spec)
        return job_id

    def work(self, job_id, spec):
        job = self.jobs[job_id]
        if job["cancel"].is_set():
            job.update(state="cancelled", at=time.monotonic())
            return
        job["state"] = "running"
        try:
            job["result"] = perform(spec, lambda p: job.update(progress=p), job["cancel"].is_set)
            job["state"] = "done"
        except Exception as e:  # a scenario bug or a database error: the poll says so, the pool lives on
            job.update(state="failed", error=f"the search failed: {type(e).__name__}")
        finally:
            connections.close_all()  # this thread's own: the pool's threads outlive any request
        job["at"] = time.monotonic()

    def status(self, job_id):
        job = self.jobs.get(job_id)
        return job and status(job["state"], job["progress"], job["result"], job["error"])

    def cancel(self, job_id):
        job = self.jobs.get(job_id)
        if job:
            job["cancel"].set()

    def forget_old(self):
        now = time.monotonic()
        for job_id in [j for j, job in self.jobs.items()
                       if job["state"] not in ("queued", "running") and now - job["at"] > KEEP_SECONDS]:
            del self.jobs[job_id]


class RedisJobs:
    """RQ on the Redis of REDIS_URL: progress in the job's meta, a cancel as a key the search looks for."""

    def __init__(self, url):
        from redis import Redis
        from rq import Queue

        self.redis = Redis.from_url(url)
        self.queue = Queue(QUEUE, connection=self.redis)

    def submit(self, spec):
        if self.queue.count >= MAX_WAITING * 10:
            raise Busy("the server is busy with other searches; try again in a minute")
        job = self.queue.enqueue(run_job, spec, job_timeout=spec["seconds"] + 60, result_ttl=KEEP_SECONDS,
                                 failure_ttl=KEEP_SECONDS, ttl=KEEP_SECONDS)
        return job.id

    def status(self, job_id):
        from rq.exceptions import NoSuchJobError
        from rq.job import Job

        try:
            job = Job.fetch(job_id, connection=self.redis)
        except NoSuchJobError:
            return None
        state = job.get_status()
        progress = job.meta.get("progress", {})
        if state == "finished":
            return status("done", progress, job.return_value())
        if state == "failed":
            return status("failed", progress, error="the search failed")
        if state in ("canceled", "stopped"):
            return status("cancelled", progress)
        return status("running" if state == "started" else "queued", progress)

    def cancel(self, job_id):
        self.redis.set(cancel_key(job_id), 1, ex=KEEP_SECONDS)
        from rq.exceptions import InvalidJobOperation, NoSuchJobError
        from rq.job import Job

        try:
            job = Job.fetch(job_id, connection=self.redis)
            if job.get_status() == "queued":
                job.cancel()
        except (NoSuchJobError, InvalidJobOperation):
            pass


def cancel_key(job_id):
    return f"lifelines:search:cancel:{job_id}"


def run_job(spec):
    """The RQ job: a search that writes its progress to the job's meta and looks for a cancel key."""
    from rq import get_current_job

    job = get_current_job()
    checked = {"at": 0.0, "cancelled": False}

    def progress(stats):
        job.meta["progress"] = stats
        job.save_meta()

    def cancelled():
        now = time.monotonic()
        if now - checked["at"] > CHECK_SECONDS:
            checked.update(at=now, cancelled=bool(job.connection.exists(cancel_key(job.id))))
        return checked["cancelled"]

    return perform(spec, progress, cancelled)


_backend = None
_backend_lock = threading.Lock()


def backend():
    """RedisJobs when REDIS_URL is set, else LocalJobs: one per process."""
    global _backend
    with _backend_lock:
        if _backend is None:
            url = getattr(settings, "REDIS_URL", None)
            _backend = RedisJobs(url) if url else LocalJobs()
        return _backend
