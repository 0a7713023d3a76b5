"""manage.py simulate prints the same trace the browser gets, and refuses bad arguments in one line."""
import json
import os
import subprocess
import sys
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

import simulations
from tests.servers import ROOT


def simulate(*args):
    out = StringIO()
    call_command("simulate", *args, stdout=out)
    return out.getvalue()


def test_jsonl_is_the_engine_trace_one_event_per_line():
    lines = simulate("bully-election", "--set", "n=6", "--seed", "3").splitlines()
    trace = [json.loads(line) for line in lines]
    assert trace == simulations.get("bully-election").run({"n": 6}, 3)


def test_summary_format_prints_the_end_summary():
    summary = json.loads(simulate("bully-election", "--set", "n=5", "--format", "summary"))
    assert summary["messages_sent"] == 18 and summary["elected"] == "P4"


def test_faults_and_booleans_and_lists_are_accepted_as_text():
    out = simulate("bully-election", "--set", "n=5", "--set", "crashed=P5,P4",
                   "--fault", '{"action": "recover", "node": "P5", "at": 20}', "--format", "summary")
    assert json.loads(out)["elected"] == "P5"


def test_mermaid_format_is_a_sequence_diagram():
    out = simulate("two-generals", "--set", "loss=0", "--format", "mermaid")
    assert out.startswith("sequenceDiagram\n")
    assert "participant A as General A" in out
    assert "A->>B: ATTACK AT DAWN" in out


@pytest.mark.parametrize("args, reason", [
    (["nope"], "unknown scenario"),
    (["bully-election", "--set", "n=99"], "n: must be at most 16"),
    (["bully-election", "--set", "n"], "--set takes name=value"),
    (["bully-election", "--seed", "x"], "--seed must be a whole number"),
    (["bully-election", "--fault", "{oops"], "--fault must be JSON"),
    (["bully-election", "--fault", '{"action": "crash", "node": "Q1"}'], "unknown node"),
    (["bully-election", "--set", "colour=red"], "unknown parameter"),
])
def test_bad_arguments_fail_with_a_reason(args, reason):
    with pytest.raises(CommandError) as e:
        simulate(*args)
    assert reason in str(e.value)


def test_bad_arguments_exit_non_zero_with_one_line():
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings_test"}
    proc = subprocess.run([sys.executable, "manage.py", "simulate", "bully-election", "--set", "n=0"], cwd=ROOT,
                          env=env, capture_output=True, text=True)
    assert proc.returncode != 0
    assert proc.stderr.strip().splitlines() == ["CommandError: n: must be at least 2"]


def test_clocks_add_lamport_and_vector_clocks_to_the_events_on_a_node():
    lines = simulate("two-generals", "--set", "loss=0", "--clocks").splitlines()
    trace = [json.loads(line) for line in lines]
    plain = simulations.get("two-generals").run({"loss": 0}, 0)
    assert [{k: v for k, v in e.items() if k not in ("vc", "lamport")} for e in trace] == plain
    by_kind = {e["kind"]: e for e in trace}
    assert "vc" not in by_kind["init"] and "vc" not in by_kind["end"]
    send, deliver = (next(e for e in trace if e["kind"] == kind and e.get("msg") == 1) for kind in ("send", "deliver"))
    assert send["vc"] == [3, 0] and deliver["vc"] == [3, 2]  # A, B in the init event's order
    assert send["lamport"] < deliver["lamport"]


def test_clocks_mark_concurrent_sends_as_concurrent():
    trace = [json.loads(line) for line in simulate("gossip", "--set", "n=4", "--set", "mode=parallel", "--clocks").splitlines()]
    first, second = [e for e in trace if e["kind"] == "send"][:2]
    assert (first["src"], second["src"]) == ("P1", "P3")
    assert not all(a <= b for a, b in zip(first["vc"], second["vc"]))
    assert not all(b <= a for a, b in zip(first["vc"], second["vc"]))


@pytest.mark.parametrize("fmt", ["summary", "mermaid"])
def test_clocks_are_refused_outside_jsonl(fmt):
    with pytest.raises(CommandError, match="--clocks works with --format jsonl only"):
        simulate("two-generals", "--format", fmt, "--clocks")
