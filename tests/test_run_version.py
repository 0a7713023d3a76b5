"""A run remembers which model of its scenario made it, so a run saved before a semantic change is told apart."""
import pytest

import simulations
from runs.models import Run


@pytest.mark.django_db
def test_a_new_run_stores_the_scenarios_current_model_version():
    run = Run.objects.create(scenario="payment-gateway", params={}, seed=0)
    assert run.version == simulations.get("payment-gateway").version == 2
    assert not run.older_model


@pytest.mark.django_db
def test_a_run_made_by_an_older_model_says_so_and_still_replays_its_saved_trace(client):
    trace = simulations.get("payment-gateway").run({}, 0)
    run = Run.objects.create(scenario="payment-gateway", params={}, seed=0, version=1, status=Run.Status.ENDED,
                             event_count=len(trace), summary=trace[-1]["summary"])
    run.chunks.create(start=0, count=len(trace), data=run.chunks.model.pack(trace))
    assert run.older_model
    html = client.get(run.get_absolute_url()).content.decode()
    assert "Made by an older model of this scenario (version 1; today's is 2)" in html
    assert client.get(f"/runs/{run.id}/trace.json").json() == trace


@pytest.mark.django_db
def test_a_run_of_an_unchanged_scenario_is_not_marked(client):
    run = Run.objects.create(scenario="two-generals", params={}, seed=0, status=Run.Status.ENDED)
    assert run.version == 1 and not run.older_model
    assert "older model" not in client.get(run.get_absolute_url()).content.decode()
