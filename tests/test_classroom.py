"""The live classroom: an instructor leads, learners follow, in real browsers and across daphne processes."""
import json
import os

import pytest
from websockets.sync.client import connect

from classroom.models import Room
from config.asgi import application
from tests import servers
from tests.communicator import Communicator
from tests.wire import receive_until

ORIGIN = [(b"origin", b"http://127.0.0.1")]


def cursor(page):
    return int(page.evaluate("() => document.querySelector('.player').dataset.cursor || 0"))


@pytest.mark.browser
def test_learners_see_the_instructors_run_steps_and_questions(browser, live_daphne):
    teacher = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
    teacher.goto(f"{live_daphne.url}/s/bully-election/?n=5")
    teacher.click("text=Open classroom")
    teacher.wait_for_selector(".room-panel[data-connected=true]")
    code = teacher.locator(".room-panel").get_attribute("data-room")
    learners = []
    for _ in range(2):
        page = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
        page.goto(f"{live_daphne.url}/room/")
        page.fill("#code", code.lower())
        page.click(".join button")
        page.wait_for_selector(".room-panel[data-connected=true]")
        learners.append(page)
    teacher.wait_for_function("() => document.querySelector('.room-count').textContent.startsWith('2 learners')")

    teacher.uncheck("#autoplay")
    teacher.click("#run")
    teacher.wait_for_selector(".head[data-node='P5']")
    for _ in range(6):
        teacher.click('[data-act="step"]')
    teacher.wait_for_function("() => document.querySelector('.player').dataset.cursor >= 7")
    target = cursor(teacher)
    for page in learners:
        page.wait_for_function(f"() => document.querySelector('.player').dataset.cursor == {target}", timeout=5000)
        assert page.locator(".head[data-node='P5']").count() == 1

    teacher.keyboard.press("Home")
    for page in learners:
        page.wait_for_function("() => document.querySelector('.player').dataset.cursor == 1", timeout=5000)

    teacher.click(".room-ask button[type=submit]")
    for i, page in enumerate(learners):
        page.wait_for_selector(".room-question [data-choice]")
        page.click(f".room-question [data-choice='{i}']")
    teacher.wait_for_function("() => document.querySelector('.room-tally').textContent.includes('2 of 2 answered')")
    teacher.click("[data-act=reveal]")
    learners[0].wait_for_selector(".room-question meter")

    learner_id = learners[0].evaluate("() => document.querySelector('.player').player.learnerId")
    teacher.click(f"[data-give='{learner_id}']")
    learners[0].wait_for_selector(".room-panel[data-control=true]")
    learners[0].click('[data-act="end"]')
    learners[0].click('[data-act="step"]')
    teacher.wait_for_function(f"() => document.querySelector('.player').dataset.cursor > {target}", timeout=5000)


def test_joining_an_unknown_room_says_so(client, db):
    resp = client.get("/room/?code=ZZZZZZ")
    assert resp.status_code == 404 and "No room" in resp.content.decode()


def test_only_the_instructors_session_gets_the_key(client, db):
    resp = client.post("/room/open/bully-election/", {"setup": "n=6&seed=2"})
    room = Room.objects.get()
    assert resp.url == f"/room/{room.code}/"
    assert room.key in client.get(resp.url).content.decode()
    other = type(client)()
    html = other.get(resp.url).content.decode()
    assert room.key not in html and 'data-role="learner"' in html


@pytest.mark.django_db(transaction=True)
async def test_a_learner_cannot_lead_or_take_the_instructors_role():
    room = await Room.objects.acreate(scenario="bully-election")
    comm = Communicator(application, "/ws/run/", headers=ORIGIN)
    await comm.connect()
    await comm.send_json_to({"type": "room.host", "room": room.code, "key": "guess"})
    assert (await comm.receive_json_from())["code"] == "forbidden"
    await comm.send_json_to({"type": "room.join", "room": room.code})
    assert (await comm.receive_json_from())["role"] == "learner"
    for msg in ({"type": "room.cursor", "seq": 3}, {"type": "room.ask", "question": "?", "options": ["a", "b"]},
                {"type": "room.control", "to": None}):
        await comm.send_json_to(msg)
        assert (await comm.receive_json_from())["code"] == "forbidden"
    await comm.send_json_to({"type": "room.join", "room": "NOPE99"})
    assert (await comm.receive_json_from())["code"] == "unknown_room"
    await comm.disconnect()


@pytest.mark.redis
@pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs REDIS_URL (the second CI pass)")
def test_a_room_spans_two_daphne_processes_through_redis(server_db, tmp_path):
    with servers.daphne(server_db) as one, servers.daphne(server_db) as two:
        code, key = servers.create_room(server_db)
        with connect(f"ws://127.0.0.1:{one.port}/ws/run/", additional_headers=servers.origin(one)) as host, \
                connect(f"ws://127.0.0.1:{two.port}/ws/run/", additional_headers=servers.origin(two)) as learner:
            host.send(json.dumps({"type": "room.host", "room": code, "key": key}))
            assert json.loads(host.recv(timeout=10))["role"] == "host"
            learner.send(json.dumps({"type": "room.join", "room": code, "name": "Ada"}))
            assert json.loads(learner.recv(timeout=10))["role"] == "learner"
            people = receive_type(host, "room.people")
            assert [p["name"] for p in people["learners"]] == ["Ada"]
            host.send(json.dumps({"type": "start", "scenario": "two-generals", "params": {"loss": 0}}))
            run = receive_type(learner, "room.run")["run"]
            host.send(json.dumps({"type": "room.cursor", "seq": 4, "state": "paused"}))
            assert receive_type(learner, "room.cursor")["seq"] == 4
            learner.send(json.dumps({"type": "watch", "run": run}))
            assert receive_type(learner, "events")["events"][0]["kind"] == "init"


def receive_type(ws, kind):
    return receive_until(ws, lambda m: m["type"] == kind)[-1]


def open_room(browser, live_daphne):
    teacher = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
    teacher.goto(f"{live_daphne.url}/s/bully-election/?n=5")
    teacher.click("text=Open classroom")
    teacher.wait_for_selector(".room-panel[data-connected=true]")
    return teacher, teacher.locator(".room-panel").get_attribute("data-room")


def join(browser, live_daphne, code):
    page = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
    page.goto(f"{live_daphne.url}/room/")
    page.fill("#code", code.lower())
    page.click(".join button")
    page.wait_for_selector(".room-panel[data-connected=true]")
    return page


@pytest.mark.browser
def test_an_instructors_reload_shows_the_rooms_run_again(browser, live_daphne):
    teacher, code = open_room(browser, live_daphne)
    teacher.select_option(".speed", "1000")
    teacher.click("#run")
    teacher.wait_for_function("() => document.querySelector('.player').player.ended")
    total = teacher.evaluate("() => document.querySelector('.player').player.events.length")
    teacher.reload()
    teacher.wait_for_selector(".room-panel[data-connected=true]")
    teacher.wait_for_function(f"() => document.querySelector('.player').player.events.length === {total}")
    teacher.wait_for_function(f"() => Number(document.querySelector('.player').dataset.cursor) === {total}")


@pytest.mark.browser
def test_a_learner_who_joins_after_an_end_of_run_branch_sees_the_run(browser, live_daphne):
    teacher, code = open_room(browser, live_daphne)
    teacher.select_option(".speed", "1000")
    teacher.click("#run")
    teacher.wait_for_function("() => document.querySelector('.player').player.ended")
    teacher.click(".head[data-node='P3']")  # after the end: a branch with P3 crashed
    teacher.wait_for_function("() => document.querySelector('.player').player.events.some((e) => e.kind === 'crash')")
    teacher.wait_for_function("() => document.querySelector('.player').player.ended")
    learner = join(browser, live_daphne, code)
    learner.wait_for_function("() => document.querySelector('.player').player.events.some((e) => e.kind === 'crash')")
    learner.wait_for_function("() => Number(document.querySelector('.player').dataset.cursor) > 1")
    assert "step 0/0" not in learner.locator(".position").text_content()
