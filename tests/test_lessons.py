"""Guided lessons: checkpoints validated against their preset's run, the shipped lessons, progress in the session,
the lessons page, and the preset admin's per-parameter form and preview."""
import base64
import re

import pytest
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError

import simulations
from scenarios.checkpoints import fire_seq
from scenarios.lessons import LESSONS
from scenarios.models import Checkpoint, Preset

pytestmark = pytest.mark.django_db


def lesson(scenario="two-generals", slug="lost-last-ack"):
    return Preset.objects.get(scenario=scenario, slug=slug)


def answer(client, preset, checkpoint, choice, **kwargs):
    return client.post(f"/lessons/{preset.scenario}/{preset.slug}/answer", {"checkpoint": checkpoint, "choice": choice},
                       content_type="application/json", **kwargs)


def staff(client):
    User.objects.create_superuser("admin", password="pw-admin-1")
    client.login(username="admin", password="pw-admin-1")


# -- the model ----------------------------------------------------------------------

def test_a_checkpoint_that_never_fires_is_refused_with_the_reason():
    preset = lesson("token-ring", "lost-token")
    cp = Checkpoint(preset=preset, match={"kind": "send", "label": "TOKEN", "node": "N9"}, narration="n")
    with pytest.raises(ValidationError) as e:
        cp.full_clean()
    events = len(simulations.SCENARIOS["token-ring"].run(preset.params, preset.seed, preset.faults))
    assert e.value.message_dict["match"] == [
        f"no event matches kind=send label=TOKEN node=N9 in this set-up's {events} events"]
    late = Checkpoint(preset=preset, at_seq=events + 5, narration="n")
    with pytest.raises(ValidationError) as e:
        late.full_clean()
    assert f"step {events + 5} never comes" in e.value.message_dict["at_seq"][0]


def test_a_checkpoint_needs_exactly_one_trigger():
    preset = lesson()
    for kwargs in ({}, {"at_seq": 3, "match": {"kind": "drop"}}):
        with pytest.raises(ValidationError) as e:
            Checkpoint(preset=preset, narration="n", **kwargs).full_clean()
        assert "exactly one trigger" in e.value.message_dict["at_seq"][0]
    with pytest.raises(ValidationError) as e:
        Checkpoint(preset=preset, narration="n", match={"colour": "red"}).full_clean()
    assert "unknown key 'colour'" in e.value.message_dict["match"][0]


@pytest.mark.parametrize("choices, answer, field, message", [
    (["only one"], 0, "choices", "2 to 6 choices, not 1"),
    ([str(i) for i in range(7)], 0, "choices", "2 to 6 choices, not 7"),
    (["yes", ""], 0, "choices", "non-empty strings"),
    ("yes or no", 0, "choices", "list of non-empty strings"),
    (["yes", "no"], 2, "answer", "0 to 1"),
    (["yes", "no"], None, "answer", "0 to 1"),
])
def test_bad_choices_and_answers_are_refused(choices, answer, field, message):
    cp = Checkpoint(preset=lesson(), match={"kind": "drop"}, narration="n", question="Q?", choices=choices,
                    answer=answer)
    with pytest.raises(ValidationError) as e:
        cp.full_clean()
    assert message in e.value.message_dict[field][0]


def test_a_good_checkpoint_passes_and_a_narration_needs_no_question():
    Checkpoint(preset=lesson(), match={"kind": "drop"}, narration="n", question="Q?", choices=["a", "b"],
               answer=1).full_clean()
    Checkpoint(preset=lesson(), at_seq=3, narration="just look").full_clean()


# -- the shipped lessons --------------------------------------------------------------

def test_every_scenario_ships_at_least_two_guided_lessons():
    for slug in simulations.SCENARIOS:
        guided = Preset.objects.filter(scenario=slug, checkpoints__isnull=False).distinct()
        assert guided.count() >= 2, slug
    assert sum(len(v) for v in LESSONS.values()) == Preset.objects.filter(checkpoints__isnull=False).distinct().count()


def test_every_shipped_checkpoint_fires_for_its_preset_in_order_and_is_valid():
    checked = 0
    for preset in Preset.objects.filter(checkpoints__isnull=False).distinct():
        trace = simulations.SCENARIOS[preset.scenario].run(preset.params, preset.seed, preset.faults)
        seqs = []
        for cp in preset.checkpoints.all():
            cp.full_clean()
            seq = fire_seq(trace, cp.at_seq, cp.match)
            assert seq is not None, f"{preset}: {cp.trigger} never fires"
            seqs.append(seq)
            checked += 1
            if cp.question:
                assert 2 <= len(cp.choices) <= 6 and cp.explanation, cp
        assert seqs == sorted(seqs), preset
    assert checked >= 30


def test_a_shipped_question_is_asked_before_its_answer_shows():
    """The two generals: the question about dawn comes at the dropped messenger, before the verdict."""
    preset = lesson()
    trace = simulations.SCENARIOS[preset.scenario].run(preset.params, preset.seed, preset.faults)
    cp = preset.checkpoints.get(match={"kind": "drop"})
    seq = fire_seq(trace, cp.at_seq, cp.match)
    verdict = next(e["seq"] for e in trace if e["kind"] == "check" and not e["ok"])
    assert seq < verdict and "alone" in cp.choices[cp.answer]


# -- answering and finishing ------------------------------------------------------------

def test_answering_reveals_the_answer_and_keeps_progress_in_the_session(client):
    preset = lesson()
    first, second = preset.checkpoints.all()
    resp = answer(client, preset, first.id, first.answer)
    assert resp.status_code == 200
    body = resp.json()
    assert body["correct"] is True and body["answer"] == first.answer and body["explanation"] == first.explanation
    assert body["progress"] == {"questions": 2, "answered": 1, "correct": 1, "finished": False}
    wrong = (second.answer + 1) % len(second.choices)
    body = answer(client, preset, second.id, wrong).json()
    assert body["correct"] is False and body["answer"] == second.answer
    assert body["progress"] == {"questions": 2, "answered": 2, "correct": 1, "finished": False}
    assert answer(client, preset, second.id, second.answer).json()["progress"]["correct"] == 1  # the first answer counts
    assert client.session["lessons"]["two-generals/lost-last-ack"]["answers"] == {str(first.id): True,
                                                                                  str(second.id): False}


def test_bad_answers_get_a_400_that_says_why(client):
    preset = lesson()
    cp = preset.checkpoints.first()
    other = lesson("gossip", "dropped-call").checkpoints.first()
    cases = [
        (f"/lessons/two-generals/no-such/answer", {"checkpoint": cp.id, "choice": 0}, "no guided lesson"),
        (f"/lessons/two-generals/lost-last-ack/answer", {"checkpoint": other.id, "choice": 0}, "one of this lesson's"),
        (f"/lessons/two-generals/lost-last-ack/answer", {"checkpoint": "x", "choice": 0}, "one of this lesson's"),
        (f"/lessons/two-generals/lost-last-ack/answer", {"checkpoint": cp.id, "choice": 9}, "from 0 to"),
        (f"/lessons/two-generals/lost-last-ack/answer", {"checkpoint": cp.id, "choice": True}, "from 0 to"),
        (f"/lessons/two-generals/lost-last-ack/answer", {"checkpoint": cp.id}, "from 0 to"),
    ]
    for url, data, message in cases:
        resp = client.post(url, data, content_type="application/json")
        assert resp.status_code == 400 and message in resp.json()["error"], (url, data)
    resp = client.post("/lessons/two-generals/lost-last-ack/answer", "not json", content_type="application/json")
    assert resp.status_code == 400 and "send JSON" in resp.json()["error"]
    assert client.get("/lessons/two-generals/lost-last-ack/answer").status_code == 405
    assert "lessons" not in client.session


def test_answering_needs_the_csrf_token(client):
    from django.test import Client

    csrf_client = Client(enforce_csrf_checks=True)
    preset = lesson()
    assert answer(csrf_client, preset, preset.checkpoints.first().id, 0).status_code == 403


def test_a_lesson_is_finished_only_once_its_questions_are_answered(client):
    preset = lesson()
    resp = client.post("/lessons/two-generals/lost-last-ack/finish")
    assert resp.status_code == 400 and "0 of 2 answered" in resp.json()["error"]
    for cp in preset.checkpoints.all():
        answer(client, preset, cp.id, 0)
    resp = client.post("/lessons/two-generals/lost-last-ack/finish")
    assert resp.status_code == 200 and resp.json()["progress"]["finished"] is True
    assert client.session["lessons"]["two-generals/lost-last-ack"]["finished"] is True
    assert client.post("/lessons/two-generals/nope/finish").status_code == 400


def test_the_lessons_page_lists_every_guided_lesson_with_this_browsers_progress(client):
    html = client.get("/lessons/").content.decode()
    for slug in simulations.SCENARIOS:
        assert simulations.SCENARIOS[slug].title in html
    assert "Finished 0 of" in html
    preset = lesson()
    first, second = preset.checkpoints.all()
    answer(client, preset, first.id, first.answer)
    answer(client, preset, second.id, (second.answer + 1) % len(second.choices))
    client.post("/lessons/two-generals/lost-last-ack/finish")
    html = client.get("/lessons/").content.decode()
    item = re.search(r'<li data-lesson="two-generals/lost-last-ack" data-finished="true">(.*?)</li>', html, re.S)
    assert item, "the lesson is marked finished"
    assert "2 of 2 answered" in item.group(1) and "1 correct" in item.group(1)
    assert "Finished 1 of" in html
    assert 'href="/lessons/"' in client.get("/").content.decode()  # linked from the catalog


def test_the_lesson_page_carries_checkpoints_but_not_their_answers(client):
    preset = lesson()
    html = client.get("/s/two-generals/?preset=lost-last-ack").content.decode()
    assert 'id="lesson-data" type="application/json"' in html and "js/lesson.js" in html
    cp = preset.checkpoints.first()
    assert cp.narration.split(":")[0] in html
    assert cp.explanation not in html and '"answer"' not in html
    assert "lesson-panel" not in client.get("/s/two-generals/").content.decode()


def test_the_classroom_can_ask_a_lessons_question(client):
    html = client.get("/s/bully-election/").content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html).group(1)
    room = client.post("/room/open/bully-election/", {"setup": "n=8", "csrfmiddlewaretoken": token})
    html = client.get(room["Location"]).content.decode()
    assert 'id="room-questions" type="application/json"' in html and "room-lesson" in html
    assert lesson("bully-election", "worst-case").checkpoints.first().question.split("(")[0] in html


# -- the preset admin -------------------------------------------------------------------

def test_preset_admin_asks_for_the_scenario_then_shows_a_field_per_parameter(client):
    staff(client)
    html = client.get("/admin/scenarios/preset/add/").content.decode()
    assert "?scenario=bully-election" in html and 'name="params"' not in html
    html = client.get("/admin/scenarios/preset/add/?scenario=bully-election").content.decode()
    for p in simulations.SCENARIOS["bully-election"].params:
        assert f'name="p_{p.name}"' in html
    assert 'max="16"' in html and "<textarea" in html  # the scenario's bounds; faults stay a script
    assert 'type="hidden" name="params"' in html
    preset = lesson("byzantine-generals", "om1-four-generals")
    html = client.get(f"/admin/scenarios/preset/{preset.id}/change/").content.decode()
    assert 'name="p_strategy"' in html and 'name="p_n"' in html
    assert re.search(r'<select name="p_strategy"[^>]*>.*?<option value="flip" selected>', html, re.S)
    assert 'name="checkpoints-0-narration"' in html  # the lesson's checkpoints inline
    assert "data:image/svg+xml;base64," in html  # the saved set-up's preview


def test_preset_admin_shows_every_parameter_error_at_once_and_saves_good_values(client):
    staff(client)
    base = {"scenario": "bully-election", "name": "Big", "slug": "big", "description": "", "seed": 0,
            "faults": "[]", "order": 0, "per_param": "1", "fields_for": "bully-election",
            "checkpoints-TOTAL_FORMS": 0, "checkpoints-INITIAL_FORMS": 0}
    resp = client.post("/admin/scenarios/preset/add/", {**base, "p_n": "40", "p_ok_timeout": "-3",
                                                          "p_detector": "P1", "p_crashed": "P9"})
    html = resp.content.decode()
    assert resp.status_code == 200
    assert "n: must be at most 16" in html and "ok_timeout: must be at least" in html
    resp = client.post("/admin/scenarios/preset/add/", {**base, "p_n": "12", "p_detector": "P1", "p_crashed": "P12",
                                                          "p_ok_timeout": "3", "p_coordinator_timeout": "6"})
    assert resp.status_code == 302
    assert Preset.objects.get(slug="big").params == {"n": 12}


def test_preset_admin_previews_the_run_before_saving(client):
    staff(client)
    data = {"scenario": "two-generals", "name": "Preview me", "slug": "preview-me", "seed": 0, "faults": "[]",
            "per_param": "1", "fields_for": "two-generals", "p_rounds": "3", "p_loss": "0", "p_messengers": "1"}
    resp = client.post("/admin/scenarios/preset/preview/", data)
    html = resp.content.decode()
    assert resp.status_code == 200
    svg = base64.b64decode(re.search(r'src="data:image/svg\+xml;base64,([^"]+)"', html).group(1)).decode()
    assert svg.startswith("<svg") and "ATTACK AT DAWN" in svg
    assert "preset-headline" in html and "events" in html
    assert not Preset.objects.filter(slug="preview-me").exists()
    html = client.post("/admin/scenarios/preset/preview/", {**data, "p_rounds": "999", "p_loss": "2"}).content.decode()
    assert "rounds: must be at most" in html and "loss: must be at most 0.95" in html and "data:image" not in html
    client.logout()
    assert client.post("/admin/scenarios/preset/preview/", data).status_code == 302


def test_admin_inline_refuses_a_checkpoint_that_never_fires_and_checkpoints_out_of_order(client):
    staff(client)
    preset = lesson("token-ring", "lost-token")
    url = f"/admin/scenarios/preset/{preset.id}/change/"
    base = {"scenario": "token-ring", "name": preset.name, "slug": preset.slug, "description": preset.description,
            "seed": 0, "faults": '[{"action": "drop", "match": {"label": "TOKEN", "nth": 3}}]', "order": 0,
            "per_param": "1", "fields_for": "token-ring", "p_n": "5", "p_cs_time": "2", "p_requests": "N2@0,N4@0",
            "p_rotations": "4", "p_generations": "on",
            "checkpoints-INITIAL_FORMS": 0, "checkpoints-MIN_NUM_FORMS": 0, "checkpoints-MAX_NUM_FORMS": 1000}
    preset.checkpoints.all().delete()

    def cp(i, **fields):
        return {f"checkpoints-{i}-{k}": v for k, v in {"narration": "look", "question": "", "choices": "[]",
                                                       "explanation": "", **fields}.items()}

    resp = client.post(url, {**base, "checkpoints-TOTAL_FORMS": 1,
                             **cp(0, order=0, match='{"kind": "send", "label": "TOKEN", "node": "N9"}')})
    html = resp.content.decode()
    assert resp.status_code == 200 and "no event matches kind=send label=TOKEN node=N9 in this set-up&#x27;s" in html
    resp = client.post(url, {**base, "checkpoints-TOTAL_FORMS": 2, **cp(0, order=0, match='{"kind": "drop"}'),
                             **cp(1, order=1, at_seq=2)})
    assert resp.status_code == 200 and "give them orders in the run&#x27;s order" in resp.content.decode()
    resp = client.post(url, {**base, "checkpoints-TOTAL_FORMS": 2, **cp(0, order=0, at_seq=2),
                             **cp(1, order=1, match='{"kind": "drop"}', question="Next?", choices='["a", "b"]',
                                  answer=1)})
    assert resp.status_code == 302
    assert [c.trigger for c in preset.checkpoints.all()] == ["step 2", "kind=drop"]
