"""What every registered scenario promises, whoever wrote it: the same inputs give the same bytes in any process,
the trace is plain JSON, a runaway set-up is refused or ends by itself, and every invariant and band drawn is one
the scenario declares. Each scenario runs with its defaults, under loss and a crash, and with every preset it
ships."""
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import simulations
from scenarios.presets import PRESETS
from simulations.engine import TONES, band_of
from simulations.params import ParamError

ROOT = Path(__file__).resolve().parent.parent
SLUGS = list(simulations.SCENARIOS)
CAPS = ("event cap", "time cap")


def setups(slug):
    """(params, seed, faults) for the defaults, the defaults under random loss and a crash, and each shipped
    preset."""
    second = simulations.get(slug).node_ids(simulations.get(slug).parse({})[0])[1]
    chaos = [{"action": "loss", "rate": 0.1}, {"action": "crash", "node": second, "at": 3},
             {"action": "recover", "node": second, "at": 400}]
    return [({}, 0, []), ({}, 7, []), ({}, 3, chaos)] + [(p[3], p[4], p[5]) for p in PRESETS.get(slug, ())]


def traces(slug):
    scenario = simulations.get(slug)
    return [scenario.run(params, seed, faults) for params, seed, faults in setups(slug)]


FINGERPRINTS = """
import hashlib, json, sys
import simulations
from tests.test_contract import SLUGS, setups
out = {}
for slug in SLUGS:
    scenario = simulations.get(slug)
    digest = hashlib.sha256()
    for params, seed, faults in setups(slug):
        digest.update(json.dumps(scenario.run(params, seed, faults)).encode())
    out[slug] = digest.hexdigest()
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def fingerprints():
    """Per scenario, the sha256 of all its traces, computed in two processes with different hash seeds."""
    runs = []
    for hash_seed in ("0", "4242"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed, "DJANGO_SETTINGS_MODULE": "config.settings_test"}
        done = subprocess.run([sys.executable, "-c", FINGERPRINTS], cwd=ROOT, env=env, capture_output=True,
                              text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        runs.append(json.loads(done.stdout))
    return runs


@pytest.mark.parametrize("slug", SLUGS)
def test_the_same_inputs_give_a_byte_identical_trace_in_another_process(slug, fingerprints):
    first, second = fingerprints
    assert first[slug] == second[slug]
    here = hashlib.sha256()
    for trace in traces(slug):
        here.update(json.dumps(trace).encode())
    assert here.hexdigest() == first[slug]


@pytest.mark.parametrize("slug", SLUGS)
def test_the_trace_is_plain_json(slug):
    for trace in traces(slug):
        assert json.loads(json.dumps(trace, allow_nan=False)) == trace  # no tuples, no non-string keys, no NaN
        assert [e["seq"] for e in trace] == list(range(len(trace)))
        assert trace[0]["kind"] == "init" and trace[-1]["kind"] == "end"


def at_most(scenario, names):
    return {p.name: p.max for p in scenario.params if p.name in names}


@pytest.mark.parametrize("slug", SLUGS)
def test_a_runaway_set_up_is_refused_or_ends_by_itself(slug):
    scenario = simulations.get(slug)
    bounded = [p.name for p in scenario.params if p.kind in ("int", "float") and p.max is not None]
    for raw in [at_most(scenario, bounded)] + [at_most(scenario, [name]) for name in bounded]:
        try:
            params, faults = scenario.parse(raw)
        except ParamError as refused:
            assert refused.errors, raw
            continue
        sim = scenario.simulate(params, 0, faults)
        sim.run()
        assert sim.summary["stopped"] not in CAPS and len(sim.trace) < scenario.max_events, raw


@pytest.mark.parametrize("slug", SLUGS)
def test_every_invariant_checked_is_declared(slug):
    declared = {i.name for i in simulations.get(slug).invariants}
    for trace in traces(slug):
        checked = {e["name"] for e in trace if e["kind"] == "check"}
        assert checked <= declared, checked - declared
        assert {i["name"] for i in trace[0]["invariants"]} == declared


@pytest.mark.parametrize("slug", SLUGS)
def test_every_band_drawn_is_declared(slug):
    scenario = simulations.get(slug)
    for tones in scenario.bands.values():
        for tone in tones.values():
            assert (tone[0] if isinstance(tone, tuple) else tone) in TONES
    for trace in traces(slug):
        for event in trace:
            if event["kind"] == "state" and event.get("band"):
                assert event["band"] == band_of(scenario.bands, event["state"]), event
