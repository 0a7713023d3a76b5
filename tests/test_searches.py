"""The "Find a way to break it" panel's endpoints: a search is a job, one per session, with progress and cancel.

With REDIS_URL the jobs go through RQ on that Redis and a worker takes them (here a burst worker in this
process); without it, through this process's thread pool.
"""
import time

import pytest
from django.conf import settings
from django.test import Client

from searches import jobs
from searches.jobs import LocalJobs, RedisJobs

pytestmark = [pytest.mark.django_db(transaction=True)]

TWO_GENERALS = {"rounds": "3", "loss": "0", "messengers": "1", "seed": "0", "faults": ""}


def work_queued():
    """With RQ, the jobs wait for a worker: run one until the queue is empty."""
    backend = jobs.backend()
    if isinstance(backend, RedisJobs):
        from rq import SimpleWorker

        SimpleWorker([backend.queue], connection=backend.redis).work(burst=True)


def wait(client, job, states=("done", "failed", "cancelled"), seconds=60):
    work_queued()
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        status = client.get(job["status"]).json()
        if status["state"] in states:
            return status
        time.sleep(0.05)
    raise AssertionError(f"the search is still {status['state']}")


def start(client, slug="two-generals", setup=TWO_GENERALS, **fields):
    return client.post(f"/s/{slug}/search", {**setup, "max_faults": "1", "max_runs": "100", "seconds": "10",
                                             **fields})


def test_the_backend_is_rq_with_redis_and_threads_without():
    assert isinstance(jobs.backend(), RedisJobs if settings.REDIS_URL else LocalJobs)


def test_a_search_finds_the_lost_last_ack_and_saves_its_run():
    from runs.models import Run

    client = Client()
    res = start(client, kinds=["drop"])
    assert res.status_code == 202
    status = wait(client, res.json())
    result = status["result"]
    assert status["state"] == "done", status
    assert result["found"] and result["reached"] == "no_lone_attack"
    assert result["steps"] == ["drop the 1st ACK 2 from A to B"]
    run = Run.objects.get(pk=result["url"].split("/")[2])
    assert run.faults == result["faults"] and run.summary["violations"] == ["no_lone_attack"]
    assert status["progress"] == {} or status["progress"]["runs"] <= result["runs"]
    page = client.get(result["url"])
    assert page.status_code == 200 and "ACK 2" in page.content.decode()


def test_a_search_that_finds_nothing_says_what_it_covered():
    client = Client()
    res = client.post("/s/byzantine-generals/search", {"n": "4", "seed": "0", "faults": "", "kinds": ["choice"],
                                                        "max_faults": "3", "max_runs": "100", "seconds": "10"})
    status = wait(client, res.json())
    assert status["state"] == "done" and not status["result"]["found"] and status["result"]["complete"]
    assert status["result"]["report"].startswith("Not broken: all 9 runs")


def test_one_search_per_session_and_a_cancel_stops_it():
    client, other = Client(), Client()
    first = start(client, "payment-gateway", {"seed": "0"}, max_faults="3", max_runs="20000", seconds="60")
    assert first.status_code == 202, first.content
    job = first.json()
    second = start(client)
    assert second.status_code == 409 and second.json()["job"] == job["job"]
    assert "still running" in second.json()["errors"]["__all__"]
    assert other.get(job["status"]).status_code == 404  # a search is its session's alone
    assert other.post(job["cancel"]).status_code == 404
    assert client.post(job["cancel"]).status_code == 200
    status = wait(client, job)
    assert status["state"] == "cancelled"
    again = start(client)
    assert again.status_code == 202  # the session may search again
    wait(client, again.json())  # and its thread has stopped writing before the next test's (SQLite: locked)


@pytest.mark.parametrize("fields, field", [
    ({"max_runs": "0"}, "max_runs"), ({"max_runs": "20001"}, "max_runs"), ({"max_faults": "4"}, "max_faults"),
    ({"seconds": "61"}, "seconds"), ({"goal": "invariant:nope"}, "goal"), ({"goal": "win"}, "goal"),
    ({"outcome": "nope"}, "goal"), ({"kinds": ["fire"]}, "kinds"), ({"rounds": "99"}, "rounds"),
    ({"faults": "{oops"}, "faults"), ({"seed": "-1"}, "seed"),
])
def test_a_bad_search_is_refused_naming_the_field(fields, field):
    res = start(Client(), **fields)
    assert res.status_code == 400 and field in res.json()["errors"]


def test_unknown_scenario_and_unknown_job_are_404_and_start_needs_post():
    client = Client()
    assert client.post("/s/nope/search", TWO_GENERALS).status_code == 404
    assert client.get("/searches/nope/").status_code == 404
    assert client.get("/s/two-generals/search").status_code == 405


def test_the_scenario_page_offers_the_panel_with_the_scenarios_own_goals_and_kinds():
    html = Client().get("/s/byzantine-generals/").content.decode()
    assert "Find a way to break it" in html and 'value="invariant:IC2"' in html
    assert 'value="choice"' in html and "js/search.js" in html
    html = Client().get("/s/two-generals/").content.decode()
    assert 'value="invariant:no_lone_attack"' in html and 'value="choice"' not in html


@pytest.mark.skipif(not settings.REDIS_URL, reason="RQ needs REDIS_URL")
def test_any_worker_process_takes_a_search_that_a_web_process_queued(server_db):
    """daphne queues, a separate searchworker process works, the page polls daphne and opens the saved run."""
    import http.cookiejar
    import json
    import subprocess
    import sys
    import urllib.parse
    import urllib.request

    from tests import servers

    jar = http.cookiejar.CookieJar()
    browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    worker = subprocess.Popen([sys.executable, "manage.py", "searchworker"], cwd=servers.ROOT,
                              env=servers.server_env(server_db), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        with servers.daphne(server_db) as web:
            browser.open(f"{web.url}/s/payment-gateway/").read()
            token = next(c.value for c in jar if c.name == "csrftoken")

            def call(path, data=None):
                body = urllib.parse.urlencode(data, doseq=True).encode() if data is not None else None
                req = urllib.request.Request(f"{web.url}{path}", body, {"X-CSRFToken": token, "Referer": web.url})
                try:
                    with browser.open(req) as res:
                        return json.loads(res.read())
                except urllib.error.HTTPError as e:
                    return {"http": e.code, **json.loads(e.read())}

            def until(job, *states):
                end = time.monotonic() + 60
                while time.monotonic() < end:
                    status = call(job["status"])
                    if status["state"] in states:
                        return status
                    time.sleep(0.1)
                raise AssertionError(f"still {status}")

            long = call("/s/payment-gateway/search", {"seed": "0", "max_faults": "3", "max_runs": "20000",
                                                      "seconds": "60"})
            status = until(long, "running")
            end = time.monotonic() + 20
            while not status["progress"].get("runs") and time.monotonic() < end:
                status = call(long["status"])
            assert status["progress"]["runs"] > 0 and status["progress"]["max_runs"] == 20000
            call(long["cancel"], {})
            cancelled = until(long, "cancelled", "done", "failed")
            assert cancelled["state"] == "cancelled"

            short = call("/s/payment-gateway/search", {"seed": "0", "idempotency": "false", "kinds": ["drop"],
                                                       "max_faults": "1", "max_runs": "100", "seconds": "10"})
            result = until(short, "done")["result"]
            assert result["found"] and result["reached"] == "at_most_once_charge"
            assert browser.open(f"{web.url}{result['url']}").status == 200
    finally:
        worker.terminate()
        worker.wait(10)


def test_search_starts_are_rate_limited_per_address(settings):
    settings.RATE_LIMIT_SEARCHES = 1
    from django.core.cache import cache

    cache.clear()
    first, second = Client(REMOTE_ADDR="10.9.8.7"), Client(REMOTE_ADDR="10.9.8.7")
    job = start(first, kinds=["drop"]).json()
    wait(first, job)  # its search thread has stopped writing: the in-memory test database locks, it does not wait
    refused = start(second, kinds=["drop"])
    assert refused.status_code == 429 and "too many searches from your address: at most 1 a minute" in refused.json()["errors"]["__all__"]
