"""The catalog, scenario pages with their htmx form, the JSON catalog and saved-run pages."""
import json

import pytest
from django.utils.html import escape

import simulations
from runs.models import Chunk, Run

pytestmark = pytest.mark.django_db


def test_catalog_lists_every_scenario_with_what_it_teaches(client):
    html = client.get("/").content.decode()
    for s in simulations.SCENARIOS.values():
        assert f'href="/s/{s.slug}/"' in html and escape(s.title) in html and escape(s.teaches) in html


def test_scenario_page_explains_the_problem_and_the_known_result(client):
    html = client.get("/s/bully-election/").content.decode()
    scenario = simulations.get("bully-election")
    assert escape(scenario.source) in html
    assert "n^2 - n - 2" in html
    assert 'name="n"' in html and "(2..16)" in html
    assert 'id="run"' in html


def test_unknown_scenario_is_404(client):
    assert client.get("/s/no-such-thing/").status_code == 404


def test_query_string_carries_params_and_seed(client):
    html = client.get("/s/bully-election/?n=7&seed=3").content.decode()
    assert 'name="n" value="7"' in html
    assert 'name="seed" value="3"' in html
    assert '<option value="P7" selected>' not in html  # detector stays P1
    assert "P7" in html  # node choices follow n


def test_out_of_bounds_link_values_are_refused_beside_the_field_not_clamped(client):
    html = client.get("/s/bully-election/?n=99&seed=-4").content.decode()
    assert "must be at most 16" in html
    assert 'name="n" value="99"' in html and 'name="n" value="16"' not in html  # kept as typed, beside its error
    assert "must be a whole number from 0" in html


def test_htmx_form_partial_rerenders_with_errors(client):
    resp = client.get("/s/two-generals/form?rounds=0&loss=0.5", HTTP_HX_REQUEST="true")
    html = resp.content.decode()
    assert resp.status_code == 200 and html.lstrip().startswith("<form")
    assert "must be at least 1" in html


def test_bad_fault_script_in_a_link_is_refused_with_a_message(client):
    html = client.get('/s/bully-election/?faults=[{"action":"crash","node":"X"}]').content.decode()
    assert "unknown node" in html


def test_api_lists_scenarios_with_parameter_schemas(client):
    data = client.get("/api/scenarios/").json()
    by_slug = {s["slug"]: s for s in data["scenarios"]}
    n = next(p for p in by_slug["bully-election"]["params"] if p["name"] == "n")
    assert (n["kind"], n["default"], n["min"], n["max"]) == ("int", 5, 2, 16)
    crashed = next(p for p in by_slug["bully-election"]["params"] if p["name"] == "crashed")
    assert crashed["default"] == ["P5"]


def test_saved_run_page_and_trace_json(client):
    scenario = simulations.get("two-generals")
    trace = scenario.run({"loss": 0}, 1)
    run = Run.objects.create(scenario="two-generals", params={"rounds": 3}, seed=1, status="ended",
                             event_count=len(trace))
    Chunk.objects.create(run=run, start=0, count=5, data=Chunk.pack(trace[:5]))
    Chunk.objects.create(run=run, start=5, count=len(trace) - 5, data=Chunk.pack(trace[5:]))
    html = client.get(f"/runs/{run.id}/").content.decode()
    assert "Two Generals" in html and f"/runs/{run.id}/trace.json" in html
    assert client.get(f"/runs/{run.id}/trace.json").json() == trace


def test_run_ids_are_unguessable_and_url_safe():
    ids = {Run.objects.create(scenario="two-generals").id for _ in range(20)}
    assert len(ids) == 20
    assert all(len(i) >= 12 and all(c.isalnum() or c in "-_" for c in i) for i in ids)


def test_unknown_run_is_404(client):
    assert client.get("/runs/doesnotexist/").status_code == 404
    assert client.get("/runs/doesnotexist/trace.json").status_code == 404


def test_stored_runs_are_compact():
    trace = simulations.get("bully-election").run({"n": 16})
    packed = Chunk.pack(trace)
    assert len(packed) / len(trace) < 100
    assert json.loads(__import__("zlib").decompress(packed)) == trace
