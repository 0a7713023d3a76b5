"""Presets, exports, embedding and comparison: what instructors and admins use."""

import pytest
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError

import simulations
from runs.models import Chunk, Run
from scenarios.models import Preset

pytestmark = pytest.mark.django_db


def saved_run(slug="bully-election", params=None, seed=0, faults=()):
    scenario = simulations.get(slug)
    params, faults = scenario.parse(params or {}, list(faults))
    trace = scenario.simulate(params, seed, faults).run()
    run = Run.objects.create(scenario=slug, params=params, seed=seed, faults=faults, status="ended",
                             event_count=len(trace), summary=trace[-1]["summary"])
    Chunk.objects.create(run=run, start=0, count=len(trace), data=Chunk.pack(trace))
    return run, trace


def test_preset_link_loads_its_values_into_the_form(client):
    Preset.objects.all().delete()
    Preset.objects.create(scenario="bully-election", name="Seven", slug="seven", params={"n": 7}, seed=9,
                          description="Seven **processes**.<script>alert(1)</script>")
    html = client.get("/s/bully-election/?preset=seven").content.decode()
    assert 'name="n" value="7"' in html and 'name="seed" value="9"' in html
    assert "<strong>processes</strong>" in html and "<script>alert" not in html


def test_explicit_values_override_the_preset(client):
    Preset.objects.create(scenario="bully-election", name="Seven", slug="seven", params={"n": 7})
    assert 'name="n" value="9"' in client.get("/s/bully-election/?preset=seven&n=9").content.decode()


def test_unknown_preset_is_refused_with_a_message(client):
    assert "no preset" in client.get("/s/bully-election/?preset=nope").content.decode()


@pytest.mark.parametrize("params, faults, field, message", [
    ({"n": 99}, [], "params", "n: must be at most 16"),
    ({"colour": 1}, [], "params", "unknown parameter"),
    ({"n": 4}, [{"action": "crash", "node": "P9"}], "faults", "unknown node"),
])
def test_preset_validation_uses_the_scenario_bounds(params, faults, field, message):
    preset = Preset(scenario="bully-election", name="x", slug="x", params=params, faults=faults)
    with pytest.raises(ValidationError) as e:
        preset.full_clean()
    assert any(message in m for m in e.value.message_dict[field])


def test_admin_is_for_staff_and_shows_errors_beside_fields(client):
    assert client.get("/admin/scenarios/preset/").status_code == 302
    User.objects.create_user("learner", password="pw-learner-1")
    client.login(username="learner", password="pw-learner-1")
    assert client.get("/admin/scenarios/preset/").status_code == 302
    client.logout()
    User.objects.create_superuser("admin", password="pw-admin-1")
    client.login(username="admin", password="pw-admin-1")
    resp = client.post("/admin/scenarios/preset/add/", {
        "scenario": "bully-election", "name": "Big", "slug": "big", "description": "", "params": '{"n": 40}',
        "seed": 0, "faults": "[]", "order": 0})
    assert resp.status_code == 200 and "n: must be at most 16" in resp.content.decode()
    resp = client.post("/admin/scenarios/preset/add/", {
        "scenario": "bully-election", "name": "Big", "slug": "big", "description": "", "params": '{"n": 12}',
        "seed": 0, "faults": "[]", "order": 0})
    assert resp.status_code == 302 and Preset.objects.get(slug="big").params == {"n": 12}


def test_api_lists_presets_with_their_links(client):
    Preset.objects.create(scenario="two-generals", name="Sure", slug="sure", params={"loss": 0})
    data = client.get("/api/scenarios/").json()
    tg = next(s for s in data["scenarios"] if s["slug"] == "two-generals")
    assert any(p["url"] == "/s/two-generals/?preset=sure" for p in tg["presets"])


def test_run_page_says_what_made_it_and_offers_run_again(client):
    run, _ = saved_run(params={"n": 6}, seed=3, faults=[{"action": "crash", "node": "P2", "at": 1}])
    html = client.get(f"/runs/{run.id}/").content.decode()
    assert "n=6" in html and ">3<" in html and "crash" in html
    assert "autorun=1" in html and "Change and run" in html


def test_exports_svg_mermaid_json_and_transcript(client):
    run, trace = saved_run(params={"n": 4})
    svg = client.get(f"/runs/{run.id}/export.svg")
    assert svg["Content-Type"] == "image/svg+xml" and svg.content.startswith(b"<svg")
    assert svg.content.decode().count("<line") >= len([e for e in trace if e["kind"] == "deliver"])
    mmd = client.get(f"/runs/{run.id}/export.mmd").content.decode()
    assert mmd.startswith("sequenceDiagram") and "P1->>P2: ELECTION" in mmd
    assert client.get(f"/runs/{run.id}/trace.json").json() == trace
    text = client.get(f"/runs/{run.id}/transcript.txt").content.decode()
    assert text.splitlines()[0].startswith("#0 t=0 bully-election starts") and len(text.splitlines()) == len(trace)
    download = client.get(f"/runs/{run.id}/export.svg?download=1")
    assert f"bully-election-{run.id}.svg" in download["Content-Disposition"]


def test_embed_may_be_framed_and_carries_step_and_autoplay(client):
    run, _ = saved_run()
    resp = client.get(f"/runs/{run.id}/embed?step=4&autoplay=1")
    html = resp.content.decode()
    assert "X-Frame-Options" not in resp.headers
    assert 'data-start-step="4"' in html and 'data-autoplay="true"' in html
    assert client.get(f"/runs/{run.id}/")["X-Frame-Options"] == "SAMEORIGIN"
    scenario = client.get("/s/two-generals/embed?rounds=5")
    assert "X-Frame-Options" not in scenario.headers and 'name="rounds" value="5"' in scenario.content.decode()


def test_compare_shows_two_runs(client):
    a, _ = saved_run(params={"n": 5})
    b, _ = saved_run(params={"n": 5}, faults=[{"action": "crash", "node": "P4", "at": 1}])
    html = client.get(f"/compare/?a={a.id}&b={b.id}").content.decode()
    assert f"/runs/{a.id}/trace.json" in html and f"/runs/{b.id}/trace.json" in html
    assert client.get(f"/compare/?a={a.id}&b=missing").status_code == 400


def test_every_scenario_ships_presets_that_validate_and_run():
    for slug in simulations.SCENARIOS:
        presets = Preset.objects.filter(scenario=slug)
        assert presets.exists(), slug
        for preset in presets:
            preset.full_clean()
            scenario = simulations.get(slug)
            params, faults = scenario.parse(preset.params, preset.faults)
            assert scenario.simulate(params, preset.seed, faults).run()[-1]["kind"] == "end"


def test_shipped_presets_teach_what_they_say():
    def violations(slug, preset):
        p = Preset.objects.get(scenario=slug, slug=preset)
        return simulations.get(slug).run(p.params, p.seed, p.faults)[-1]["summary"]["violations"]

    assert violations("byzantine-generals", "om1-four-generals") == []
    assert "IC2" in violations("byzantine-generals", "om1-three-generals")
    assert violations("payment-gateway", "double-charge") == ["at_most_once_charge"]
    assert violations("payment-gateway", "idempotent-retry") == []
    assert violations("token-ring", "false-loss-no-generations") == ["mutual_exclusion", "at most one valid token"]
    assert violations("microservices-order", "no-dedupe") == ["notified_at_most_once"]
    refused = Preset.objects.get(scenario="microservices-order", slug="refused-fast")
    assert "breaker opened at t=230" in simulations.get("microservices-order").run(
        refused.params, refused.seed)[-1]["summary"]["headline"]
    deadline = Preset.objects.get(scenario="coffee-shop", slug="deadline")
    cut = simulations.get("coffee-shop").run(deadline.params, deadline.seed)[-1]["summary"]
    assert cut["schedule_to_close_timeouts"]["PrepareBeverage"]["at_ms"] == 4255
    assert violations("token-ring", "false-loss-generations") == []
    summary = simulations.get("bully-election").run({"n": 8, "crashed": "P8"})[-1]["summary"]
    assert summary["messages_sent"] == 54


def test_compare_a_setup_with_one_thing_changed(client):
    resp = client.get("/s/choreography-vs-orchestration/compare?mode=choreography&fault=lost_event&seed=4"
                      "&with=mode=orchestration")
    assert resp.status_code == 302 and resp.url.startswith("/compare/?a=")
    a, b = (Run.objects.get(pk=p.split("=")[1]) for p in resp.url.split("?")[1].split("&"))
    assert (a.params["mode"], b.params["mode"]) == ("choreography", "orchestration")
    assert a.seed == b.seed == 4 and a.summary["stuck"] == 1 and b.summary["stuck"] == 0
    html = client.get("/s/choreography-vs-orchestration/?fault=lost_event").content.decode()
    assert 'value="mode=orchestration"' in html


def test_compare_with_and_without_a_fault(client):
    resp = client.get('/s/bully-election/compare?n=5&faults=[{"action":"crash","node":"P4","at":1}]&with=faults=[]')
    a, b = (Run.objects.get(pk=p.split("=")[1]) for p in resp.url.split("?")[1].split("&"))
    assert a.faults and not b.faults and a.summary["elected"] == "P3" and b.summary["elected"] == "P4"
    assert client.get("/s/bully-election/compare?n=5&with=colour=red").status_code == 400
    assert client.get("/s/bully-election/compare?n=5&with=n=99").status_code == 400
