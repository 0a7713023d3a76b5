"""Challenges: the judge reads a run's set-up, faults and trace; every shipped challenge is solvable, or
resists a sample of attempts when it teaches an impossibility; the pages and the judge endpoint."""
import itertools
import json
from types import SimpleNamespace

import pytest
from django.test import Client

import simulations
from challenges.catalog import CHALLENGES
from challenges.judge import judge, setup_of
from challenges.models import Challenge
from runs.models import Run
from runs.store import save_trace

BY_SLUG = {c["slug"]: c for c in CHALLENGES}


def challenge(slug, **changes):
    """A shipped challenge as an unsaved model (the judge needs no database)."""
    fields = {k: v for k, v in BY_SLUG[slug].items() if k != "slug"}
    return Challenge(slug=slug, **{**fields, **changes})


def attempt(ch, faults=(), interventions=(), params=None, seed=None, status="ended", parent_id=None):
    """Run a set-up through the engine and return an unsaved Run with its trace, as the consumer saves it."""
    scenario, base_params, base = setup_of(ch)
    params = {**base_params, **(params or {})}
    params, script = scenario.parse(params, list(base) + list(faults))
    seed = ch.seed if seed is None else seed
    trace = scenario.simulate(params, seed, script + list(interventions)).run()
    run = Run(scenario=ch.scenario, params=params, seed=seed, faults=script, interventions=list(interventions),
              status=status, summary=trace[-1]["summary"], parent_id=parent_id)
    return run, trace


def live_drop_of_last(ch, label=None):
    """A live intervention as the player records it: the last message dropped while in flight."""
    _, trace = attempt(ch)
    send = [e for e in trace if e["kind"] == "send" and (label is None or e["label"] == label)][-1]
    return {"action": "drop", "match": {"msg": send["msg"]}, "seq": send["seq"] + 1, "at": send["t"]}


# A fault script within budget that meets each possible challenge (found by hand, checked by the engine).
SOLUTIONS = {
    "one-general-alone": [{"action": "drop", "match": {"label": "ACK 2"}}],
    "two-leaders": [{"action": "recover", "node": "P5", "at": 3}],
    "one-lost-order": [{"action": "drop", "match": {"src": "C", "dst": "L1"}}],
    "two-tokens": [{"action": "delay", "match": {"label": "TOKEN", "nth": 3}, "by": 25}],
    "someone-never-knows": [{"action": "drop", "match": {"label": "CALL", "nth": 1}}],
    "charge-twice": [{"action": "crash", "node": "Payment", "at": 100}, {"action": "recover", "node": "Payment", "at": 1000}],
    "orphaned-charge": [{"action": "drop", "match": {"label": "PaymentCharged"}}],
    "double-charge": [{"action": "drop", "match": {"label": "200 OK", "nth": 1}}],
    "apply-twice": [{"action": "duplicate", "match": {"label": "UserCreated", "nth": 1}}],
    "leak-stock": [{"action": "delay", "match": {"label": "Reserve", "nth": 1}, "by": 500}],
    "block-the-participants": [{"action": "crash", "node": "C", "at": 12}],
    "count-it-twice": [{"action": "delay", "match": {"label": "MARKER", "src": "P1", "dst": "P2"}, "by": 5}],
    "stall-raft": [{"action": "crash", "node": f"S{i}", "at": 0} for i in (1, 2, 3)],
    "stop-the-decision": [{"action": "crash", "node": a, "at": 0} for a in ("A1", "A2", "A3")],
}
LIVE_SOLUTIONS = {"catch-the-last-messenger": lambda ch: live_drop_of_last(ch)}


# -- the shipped catalog ----------------------------------------------------------------------------------------
def test_every_scenario_has_a_challenge_and_both_theorems_are_shipped():
    assert {c["scenario"] for c in CHALLENGES} == set(simulations.SCENARIOS)
    impossible = {c["slug"]: c for c in CHALLENGES if not c["possible"]}
    assert impossible["break-om1"]["scenario"] == "byzantine-generals"
    assert impossible["break-om1"]["params"]["n"] == 4 and impossible["break-om1"]["max_faults"] == 0
    assert impossible["double-charge-with-keys"]["params"]["idempotency"] is True
    assert set(impossible["double-charge-with-keys"]["kinds"]) == {"drop", "delay"}
    assert impossible["double-charge-with-keys"]["max_faults"] == 2


@pytest.mark.parametrize("slug", [c["slug"] for c in CHALLENGES])
def test_every_shipped_challenge_is_valid_for_its_scenario(slug):
    ch = challenge(slug)
    ch.clean_fields()
    ch.clean()


@pytest.mark.parametrize("slug", [c["slug"] for c in CHALLENGES if c["possible"]])
def test_every_possible_challenge_has_a_run_within_budget_that_the_judge_accepts(slug):
    ch = challenge(slug)
    if slug in LIVE_SOLUTIONS:
        run, trace = attempt(ch, interventions=[LIVE_SOLUTIONS[slug](ch)])
    else:
        run, trace = attempt(ch, SOLUTIONS[slug])
    verdict = judge(ch, run, trace)
    assert verdict.ok, verdict.reasons
    assert verdict.proof_url == f"/runs/{run.id}/"
    untouched = judge(ch, *attempt(ch))
    assert not untouched.ok, "the set-up alone must not already meet the goal"


def test_break_om1_resists_every_traitor_and_strategy_it_allows():
    ch = challenge("break-om1")
    free = ch.free_params
    tried = 0
    for traitors, strategy, order in itertools.product(free["traitors"], free["strategy"], free["order"]):
        verdict = judge(ch, *attempt(ch, params={"traitors": traitors, "strategy": strategy, "order": order}))
        assert not verdict.ok, (traitors, strategy, order)
        assert verdict.reasons == ["IC1 held", "IC2 held"]
        tried += 1
    assert tried == 4 * 6 * 2
    # the same traitor with three generals does break it: the sample is not blind
    three = challenge("break-om1", params={"n": 3, "m": 1, "traitors": "L2", "strategy": "flip"})
    assert judge(three, *attempt(three)).ok


def payment_attempts():
    """A sample of up to two drops or delays on the charge, its answer and the health checks."""
    singles = []
    for label in ("CHARGE", "200 OK", "HEALTH", "UP"):
        for nth in (1, 2, 3):
            singles.append({"action": "drop", "match": {"label": label, "nth": nth}})
            for by in (100, 999, 1000, 1001, 5000):
                singles.append({"action": "delay", "match": {"label": label, "nth": nth}, "by": by})
    pairs = [list(p) for p in itertools.combinations(singles, 2)]
    return [[f] for f in singles] + pairs[::5]


def test_double_charge_with_keys_resists_a_sample_of_drops_and_delays():
    ch = challenge("double-charge-with-keys")
    keyless = challenge("double-charge-with-keys", params={"idempotency": False, "payments": 2})
    broken_without_keys = 0
    sample = payment_attempts()
    assert len(sample) > 500
    for faults in sample:
        verdict = judge(ch, *attempt(ch, faults))
        assert not verdict.ok, (faults, verdict.reasons)
        broken_without_keys += judge(keyless, *attempt(keyless, faults)).ok
    assert broken_without_keys > 0, "the same attempts without keys must double-charge: the sample is not blind"


# -- the judge ------------------------------------------------------------------------------------------------
def test_judge_accepts_a_run_that_meets_the_goal_within_budget_and_says_why():
    ch = challenge("one-general-alone")
    verdict = judge(ch, *attempt(ch, SOLUTIONS["one-general-alone"]))
    assert verdict.ok and verdict.finished
    assert verdict.reasons[0].startswith("no_lone_attack failed at t=")
    assert "within budget: 1 fault of a budget of 1" in verdict.reasons


def test_judge_refuses_a_changed_set_up():
    ch = challenge("break-om1")
    run, trace = attempt(ch, params={"n": 5})
    verdict = judge(ch, run, trace)
    assert not verdict.ok
    assert "the set-up was changed: n=5, the challenge needs n=4" in verdict.reasons
    run, trace = attempt(ch, seed=7)
    assert "the set-up was changed: seed=7, the challenge needs seed=0" in judge(ch, run, trace).reasons


def test_judge_refuses_free_params_outside_their_allowed_values():
    ch = challenge("break-om1", params={"n": 4, "m": 1, "traitors": "L3"})
    run, trace = attempt(ch, params={"traitors": ["L2", "L3"]})
    verdict = judge(ch, run, trace)
    assert not verdict.ok
    assert any(r.startswith("traitors=L2,L3 is not one of the choices") for r in verdict.reasons)


def test_judge_refuses_a_run_of_another_scenario():
    ch = challenge("one-general-alone")
    run, trace = attempt(challenge("two-leaders"))
    verdict = judge(ch, run, trace)
    assert verdict.reasons == ["this run is of bully-election; the challenge is set in two-generals"]


def test_judge_counts_faults_against_the_budget():
    ch = challenge("one-general-alone")
    faults = [{"action": "drop", "match": {"label": "ACK 2"}}, {"action": "drop", "match": {"label": "ACK 2", "nth": 2}}]
    verdict = judge(ch, *attempt(ch, faults))
    assert not verdict.ok
    assert "you used 2 faults; the budget is 1" in verdict.reasons
    assert any("the goal itself was reached" in r for r in verdict.reasons)


def test_judge_refuses_fault_kinds_outside_the_budget():
    ch = challenge("one-general-alone")
    verdict = judge(ch, *attempt(ch, [{"action": "crash", "node": "B", "at": 2}]))
    assert not verdict.ok
    assert "crash is not in the budget (allowed: drop)" in verdict.reasons
    om1 = challenge("break-om1")
    verdict = judge(om1, *attempt(om1, [{"action": "drop", "match": {"src": "C", "dst": "L1"}}]))
    assert "drop is not in the budget (no faults are allowed)" in verdict.reasons


def test_live_only_refuses_a_fault_script_and_accepts_the_same_drop_made_live():
    ch = challenge("catch-the-last-messenger")
    scripted = judge(ch, *attempt(ch, [{"action": "drop", "match": {"label": "ACK 4"}}]))
    assert not scripted.ok
    assert any(r.startswith("this challenge takes live interventions only") for r in scripted.reasons)
    live = judge(ch, *attempt(ch, interventions=[live_drop_of_last(ch)]))
    assert live.ok, live.reasons


def test_a_branch_counts_its_parents_live_interventions_as_live():
    ch = challenge("catch-the-last-messenger")
    drop = live_drop_of_last(ch)
    run, trace = attempt(ch, [drop], parent_id="parent")
    assert judge(ch, run, trace).ok
    run.parent_id = None  # the same script typed by hand is a script
    assert not judge(ch, run, trace).ok


def test_network_mode_picks_are_not_faults_but_holding_needs_the_hold_kind():
    ch = challenge("one-general-alone", kinds=["drop", "hold"])
    _, trace = attempt(ch)
    first = next(e for e in trace if e["kind"] == "send")
    moves = [{"action": "hold", "seq": 1, "at": 0}, {"action": "deliver", "msg": first["msg"], "seq": first["seq"] + 1}]
    verdict = judge(ch, *attempt(ch, interventions=moves))
    assert not any("budget" in r for r in verdict.reasons), verdict.reasons
    strict = challenge("one-general-alone")
    assert "hold is not in the budget (allowed: drop)" in judge(strict, *attempt(strict, interventions=moves)).reasons


def test_judge_says_which_invariant_held_when_the_goal_is_not_reached():
    ch = challenge("one-general-alone")
    verdict = judge(ch, *attempt(ch, [{"action": "drop", "match": {"nth": 1}}]))
    assert not verdict.ok and verdict.reasons == ["no_lone_attack held"]


def test_outcome_goals_compare_the_end_summary():
    ch = challenge("charge-twice")
    verdict = judge(ch, *attempt(ch))
    assert not verdict.ok and verdict.reasons == ["charges was 1, the goal is 2"]
    assert judge(ch, *attempt(ch, SOLUTIONS["charge-twice"])).reasons[0] == "the run ended with charges=2"


def test_base_faults_belong_to_the_set_up_and_must_stay():
    base = [{"action": "drop", "match": {"label": "TOKEN", "nth": 3}}]
    ch = challenge("two-tokens", faults=base, kinds=["delay", "drop"])
    run, trace = attempt(ch, [{"action": "delay", "match": {"label": "TOKEN", "nth": 5}, "by": 25}])
    verdict = judge(ch, run, trace)
    assert not any("budget is" in r for r in verdict.reasons)  # the base drop is not counted
    run.faults = [f for f in run.faults if f["action"] != "drop"]
    assert any("must keep the challenge's 1 given fault" in r for r in judge(ch, run, trace).reasons)


def test_a_run_that_has_not_ended_is_not_finished():
    ch = challenge("one-general-alone")
    run, trace = attempt(ch, SOLUTIONS["one-general-alone"], status="running")
    verdict = judge(ch, run, trace[:5])
    assert not verdict.ok and not verdict.finished
    assert verdict.reasons[0].startswith("not finished")


# -- pages and the endpoint -----------------------------------------------------------------------------------
def saved(slug, faults=()):
    ch = Challenge.objects.get(slug=slug)
    scenario, params, base = setup_of(ch)
    return save_trace(scenario, params, ch.seed, list(base) + list(faults))


@pytest.mark.django_db
def test_the_data_migration_ships_the_catalog():
    assert set(Challenge.objects.values_list("slug", flat=True)) == set(BY_SLUG)


@pytest.mark.django_db
def test_list_page_groups_by_scenario_and_does_not_spoil(client):
    html = client.get("/challenges/").content.decode()
    for s in simulations.SCENARIOS.values():
        assert f'href="/s/{s.slug}/"' in html
    for c in CHALLENGES:
        assert f'href="/challenges/{c["slug"]}/"' in html
    assert "Some of these cannot be done" in html
    assert "Cannot be done" not in html and "Solved" not in html


@pytest.mark.django_db
def test_challenge_page_links_to_the_set_up_and_the_link_reproduces_it(client):
    html = client.get("/challenges/break-om1/").content.decode()
    assert "Make IC1" in html and "No faults" in html and "You may change" in html
    ch = Challenge.objects.get(slug="break-om1")
    url = ch.try_url()
    assert url.startswith("/s/byzantine-generals/?") and url.endswith("&challenge=break-om1")
    assert url.replace("&", "&amp;") in html
    page = client.get(url).content.decode()
    assert 'name="n" value="4"' in page and 'class="challenge-panel"' in page
    assert 'src="/static/js/challenge.js"' in page and "/challenges/break-om1/judge" in page
    assert 'aria-live="polite"' in page


@pytest.mark.django_db
def test_scenario_page_without_or_with_a_foreign_challenge(client):
    assert "challenge-panel" not in client.get("/s/two-generals/").content.decode()
    html = client.get("/s/two-generals/?challenge=break-om1").content.decode()
    assert "challenge-panel" not in html and "No challenge break-om1 for" in html


@pytest.mark.django_db
def test_judging_records_the_attempt_and_answers_with_the_permalink(client):
    run = saved("one-general-alone", SOLUTIONS["one-general-alone"])
    response = client.post("/challenges/one-general-alone/judge", {"run": run.id}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    html = response.content.decode()
    assert f'href="/runs/{run.id}/"' in html and 'data-ok="true"' in html
    attempts = client.session["challenge_attempts"]["one-general-alone"]
    assert attempts[0]["run"] == run.id and attempts[0]["ok"] is True
    page = client.get("/challenges/one-general-alone/").content.decode()
    assert f"/runs/{run.id}/" in page and "What it teaches" in page
    assert "Solved" in client.get("/challenges/").content.decode()


@pytest.mark.django_db
def test_a_permalink_is_accepted_and_a_plain_form_post_redirects(client):
    run = saved("double-charge")
    response = client.post("/challenges/double-charge/judge", {"run": f"http://testserver/runs/{run.id}/"})
    assert response.status_code == 302 and response["Location"].endswith("/challenges/double-charge/#attempts")
    attempts = client.session["challenge_attempts"]["double-charge"]
    assert attempts[0]["ok"] is False and "at_most_once_charge held" in attempts[0]["reasons"]


@pytest.mark.django_db
def test_an_impossible_challenge_explains_the_theorem_after_an_attempt(client):
    run = saved("break-om1")
    client.post("/challenges/break-om1/judge", {"run": run.id}, HTTP_HX_REQUEST="true")
    html = client.get("/challenges/break-om1/").content.decode()
    assert "Why nobody can" in html and "Lamport, Shostak and Pease" in html
    assert "Cannot be done" in client.get("/challenges/").content.decode()


@pytest.mark.django_db
def test_judge_endpoint_refuses_bad_input(client):
    assert client.post("/challenges/one-general-alone/judge", {}).status_code == 400
    bad = client.post("/challenges/one-general-alone/judge", {"run": "not a run!"})
    assert bad.status_code == 400 and "run must be a run id" in bad.content.decode()
    missing = client.post("/challenges/one-general-alone/judge", {"run": "nosuchrun123"})
    assert missing.status_code == 404 and "no run" in missing.content.decode()
    assert client.post("/challenges/no-such-challenge/judge", {"run": "x"}).status_code == 404
    assert client.get("/challenges/no-such-challenge/").status_code == 404
    assert client.get("/challenges/one-general-alone/judge").status_code == 405
    assert "challenge_attempts" not in client.session


@pytest.mark.django_db
def test_judge_endpoint_needs_the_csrf_token():
    run = saved("one-general-alone")
    strict = Client(enforce_csrf_checks=True)
    assert strict.post("/challenges/one-general-alone/judge", {"run": run.id}).status_code == 403
    strict.get("/challenges/one-general-alone/")
    token = strict.cookies["csrftoken"].value
    response = strict.post("/challenges/one-general-alone/judge", {"run": run.id}, HTTP_X_CSRFTOKEN=token,
                           HTTP_HX_REQUEST="true")
    assert response.status_code == 200


@pytest.mark.django_db
def test_a_running_run_is_judged_not_finished_and_not_recorded(client):
    run = Run.objects.create(scenario="two-generals", params={}, seed=0)
    html = client.post("/challenges/one-general-alone/judge", {"run": run.id}, HTTP_HX_REQUEST="true").content.decode()
    assert "Not finished" in html and 'data-finished="false"' in html
    assert "challenge_attempts" not in client.session


@pytest.mark.django_db
def test_admin_lists_challenges_for_staff(admin_client):
    html = admin_client.get("/admin/challenges/challenge/").content.decode()
    assert "Break OM(1) with four generals" in html
    assert admin_client.get(f"/admin/challenges/challenge/{Challenge.objects.get(slug='break-om1').pk}/change/").status_code == 200


def test_solutions_cover_every_possible_challenge():
    possible = {c["slug"] for c in CHALLENGES if c["possible"]}
    assert possible == set(SOLUTIONS) | set(LIVE_SOLUTIONS)
    assert all(json.dumps(f) for f in SOLUTIONS.values())
