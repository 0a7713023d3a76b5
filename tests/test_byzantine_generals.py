"""The Byzantine Generals: Lamport, Shostak and Pease's results, reproduced on the trace and the summary."""
from itertools import combinations

import pytest

from simulations.params import ParamError
from simulations.scenarios.byzantine_generals import ByzantineGenerals, om_messages

STRATEGIES = ("attack", "retreat", "flip", "split", "silent", "random")
scenario = ByzantineGenerals()


def run(seed=0, faults=None, **params):
    return scenario.run(params, seed, faults)


def summary(trace):
    return trace[-1]["summary"]


def red(trace, name):
    """The first failed check of ``name`` before the final verdicts, or None."""
    return next((e for e in trace if e["kind"] == "check" and e["name"] == name and not e["ok"]), None)


def sends(trace):
    return [e for e in trace if e["kind"] == "send"]


def traitor_sets(n, most):
    generals = ["C"] + [f"L{i}" for i in range(1, n)]
    return [list(t) for k in range(most + 1) for t in combinations(generals, k) if set(generals[1:]) - set(t)]


def every_run(n, m, mode, most):
    """Every traitor set of at most ``most`` generals, every strategy, both orders (random with three seeds)."""
    for traitors in traitor_sets(n, most):
        for strategy in STRATEGIES:
            for order in ("ATTACK", "RETREAT"):
                for seed in (0, 1, 2) if strategy == "random" else (0,):
                    yield run(seed, n=n, m=m, mode=mode, order=order, traitors=traitors, strategy=strategy)


def test_om1_four_generals_one_traitor_agree():
    trace = run()
    s = summary(trace)
    assert trace[0]["params"]["traitors"] == ["L3"]
    assert s["decisions"] == {"L1": "ATTACK", "L2": "ATTACK"}
    assert s["ic1"] and s["ic2"] and s["violations"] == []
    assert s["rounds"] == 2 and s["messages_sent"] == 9 and s["forged"] == 2
    assert s["theory"]["guaranteed"] is True


def test_om1_and_om2_hold_for_every_strategy_when_n_exceeds_3m_with_up_to_m_traitors():
    for n, m in ((4, 1), (5, 1), (7, 2)):
        for trace in every_run(n, m, "om", m):
            s = summary(trace)
            assert s["ic1"] and s["ic2"], (trace[0]["params"], trace[0]["seed"])
            assert red(trace, "IC1") is None and red(trace, "IC2") is None


def test_om1_traitorous_commander_cannot_split_four_generals():
    trace = run(order="ATTACK", traitors="C", strategy="split")
    assert [(e["dst"], e["label"]) for e in sends(trace) if e["src"] == "C"] == [
        ("L1", "ATTACK"), ("L2", "RETREAT"), ("L3", "ATTACK")]
    assert summary(trace)["decisions"] == {"L1": "ATTACK", "L2": "ATTACK", "L3": "ATTACK"}


def test_om1_three_generals_one_traitor_break_ic2_at_the_decision():
    trace = run(n=3, m=1, traitors="L2", strategy="flip")
    s = summary(trace)
    assert s["decisions"] == {"L1": "RETREAT"} and s["ic1"] and not s["ic2"]
    broken = red(trace, "IC2")
    assert broken["t"] == 2 and "ordered ATTACK" in broken["detail"]
    decided = next(e for e in trace if e["kind"] == "state" and e["state"].get("decision"))
    assert decided["seq"] < broken["seq"] < trace[-1]["seq"] and decided["t"] == broken["t"]
    assert s["theory"]["n_gt_3m"] is False and s["theory"]["guaranteed"] is False


def test_om_with_n_at_most_3m_fails_for_some_strategy():
    for n, m in ((3, 1), (4, 2), (5, 2), (6, 2)):
        failures = [t for t in every_run(n, m, "om", m) if not (summary(t)["ic1"] and summary(t)["ic2"])]
        assert failures, (n, m)


def test_om2_six_generals_two_traitors_split_the_loyal_lieutenants():
    trace = run(n=6, m=2, traitors="L1,L2", strategy="split")
    s = summary(trace)
    assert not s["ic1"] and not s["ic2"]
    assert red(trace, "IC1")["t"] == 3 and red(trace, "IC2")["t"] == 3
    assert s["violations"] == ["IC1", "IC2"]


def test_n_at_most_3m_with_oral_messages_is_said_plainly():
    notes = [e["text"] for e in run(n=3, m=1)[:6] if e["kind"] == "note"]
    assert any("no guarantee holds" in text and "3m" in text for text in notes)
    notes = [e["text"] for e in run(n=4, m=1)[:6] if e["kind"] == "note"]
    assert not any("no guarantee" in text for text in notes)


def test_sm_holds_with_any_number_of_traitors_up_to_m():
    for n, m in ((3, 1), (4, 1), (4, 2), (5, 3)):
        for trace in every_run(n, m, "sm", m):
            s = summary(trace)
            assert s["ic1"] and s["ic2"], (trace[0]["params"], trace[0]["seed"])
            assert s["messages_sent"] <= s["theory"]["sm_messages_at_most"]


def test_sm1_three_generals_succeed_where_om1_fails():
    trace = run(n=3, m=1, mode="sm", traitors="L2", strategy="flip")
    assert summary(trace)["decisions"] == {"L1": "ATTACK"} and summary(trace)["ic2"]


def test_sm_forgery_of_a_loyal_commanders_signature_is_rejected():
    trace = run(mode="sm", traitors="L3", strategy="flip")
    forged = [e for e in sends(trace) if e["data"]["forged"]]
    assert [(e["src"], e["label"]) for e in forged] == [("L3", "RETREAT"), ("L3", "RETREAT")]
    assert sum("rejects RETREAT" in e.get("text", "") for e in trace) == 2
    assert summary(trace)["decisions"] == {"L1": "ATTACK", "L2": "ATTACK"}


def test_sm_traitorous_commander_splitting_makes_everyone_retreat():
    trace = run(n=5, m=2, mode="sm", traitors="C,L1", strategy="split")
    s = summary(trace)
    assert s["decisions"] == {"L2": "RETREAT", "L3": "RETREAT", "L4": "RETREAT"} and s["ic1"]


def test_sm_with_more_traitors_than_m_can_break_ic1():
    traces = [run(seed, n=4, m=1, mode="sm", traitors="C,L1", strategy="random") for seed in range(10)]
    assert any(red(t, "IC1") for t in traces)
    assert all(summary(t)["theory"]["guaranteed"] is False for t in traces)


@pytest.mark.parametrize("n,m,count", [(3, 0, 2), (3, 1, 4), (4, 1, 9), (5, 2, 40), (7, 2, 156), (7, 3, 516),
                                       (10, 1, 81), (10, 2, 585)])
def test_om_message_count_matches_the_formula(n, m, count):
    trace = run(n=n, m=m, traitors="", strategy="flip")
    s = summary(trace)
    assert om_messages(n, m) == count == s["messages_sent"] == s["theory"]["om_messages"]
    for k in range(1, m + 2):
        per_round = 1
        for j in range(1, k + 1):
            per_round *= n - j
        assert sum(e["data"]["round"] == k for e in sends(trace)) == per_round
    assert summary(run(n=n, m=m, strategy="flip"))["messages_sent"] == count


def test_each_round_is_sent_at_one_tick_and_delivered_at_the_next():
    trace = run(n=5, m=2, traitors="C", strategy="random")
    sent_at = {}
    for e in sends(trace):
        k, path = e["data"]["round"], e["data"]["path"].split(">")
        assert e["t"] == k - 1 and e["label"] in ("ATTACK", "RETREAT")
        assert path[0] == "C" and path[-2:] == [e["src"], e["dst"]] and len(path) == k + 1
        sent_at[e["msg"]] = e["t"]
    delivered = [e for e in trace if e["kind"] == "deliver"]
    assert len(delivered) == len(sent_at) and all(e["t"] == sent_at[e["msg"]] + 1 for e in delivered)
    assert summary(trace)["end_time"] == 3


def test_traitors_are_marked_and_only_their_lies_are_forged():
    trace = run(n=7, m=2, traitors="C,L4", strategy="flip")
    groups = {node["id"]: node.get("group") for node in trace[0]["nodes"]}
    assert [g for g, group in groups.items() if group == "traitor"] == ["C", "L4"]
    forged = [e for e in sends(trace) if e["data"]["forged"]]
    assert forged and {e["src"] for e in forged} == {"C", "L4"}
    assert all(e["label"] == "RETREAT" for e in forged if e["src"] == "C")
    assert summary(trace)["forged"] == len(forged)


def test_silent_commander_counts_as_retreat():
    trace = run(traitors="C", strategy="silent")
    assert not [e for e in sends(trace) if e["src"] == "C"]
    assert summary(trace)["decisions"] == {"L1": "RETREAT", "L2": "RETREAT", "L3": "RETREAT"}


def test_attack_and_retreat_traitors_say_one_thing_to_everyone():
    trace = run(n=5, order="RETREAT", traitors="L2", strategy="attack")
    assert {e["label"] for e in sends(trace) if e["src"] == "L2"} == {"ATTACK"}
    trace = run(n=5, traitors="L2", strategy="retreat")
    assert {e["label"] for e in sends(trace) if e["src"] == "L2"} == {"RETREAT"}


def test_random_strategy_follows_the_seed():
    params = {"n": 7, "m": 2, "traitors": "C,L3", "strategy": "random"}
    assert run(4, **params) == run(4, **params)
    assert len({tuple(e["label"] for e in sends(run(seed, **params))) for seed in range(4)}) > 1


def test_same_inputs_give_the_same_trace():
    faults = [{"action": "drop", "match": {"label": "ATTACK", "nth": 3}}, {"action": "crash", "node": "L5", "at": 2}]
    params = {"n": 7, "m": 2, "traitors": "L6", "strategy": "split"}
    assert run(9, faults, **params) == run(9, faults, **params)


def test_om1_masks_one_lost_message_but_not_a_lost_message_and_a_traitor():
    drop = [{"action": "drop", "match": {"src": "C", "dst": "L1"}}]
    s = summary(run(faults=drop, traitors=""))
    assert s["decisions"] == {"L1": "ATTACK", "L2": "ATTACK", "L3": "ATTACK"} and s["messages_dropped"] == 1
    trace = run(faults=drop, traitors="L3", strategy="flip")
    assert red(trace, "IC2")["t"] == 2 and summary(trace)["decisions"] == {"L1": "RETREAT", "L2": "RETREAT"}


def test_crash_is_a_fault_counted_against_m():
    s = summary(run(faults=[{"action": "crash", "node": "L2", "at": 1}], traitors=""))
    assert s["decisions"] == {"L1": "ATTACK", "L3": "ATTACK"} and s["ic2"] and s["crashed"] == ["L2"]
    trace = run(faults=[{"action": "crash", "node": "L2", "at": 1}], traitors="L3", strategy="flip")
    assert red(trace, "IC2")["t"] == 2
    assert any("2 faults for m = 1" in e.get("text", "") for e in trace)


def test_crashed_commander_is_faulty_and_everyone_retreats():
    s = summary(run(faults=[{"action": "crash", "node": "C", "at": 0}], traitors=""))
    assert s["decisions"] == {"L1": "RETREAT", "L2": "RETREAT", "L3": "RETREAT"} and s["ic1"] and s["ic2"]


def test_a_message_late_for_its_round_counts_as_missing():
    trace = run(faults=[{"action": "delay", "match": {"src": "C", "dst": "L1"}, "by": 1}], traitors="")
    assert any("missed round 1" in e.get("text", "") for e in trace)
    assert any("nothing from C" in e.get("text", "") for e in trace)
    assert summary(trace)["ic1"] and summary(trace)["ic2"]


def test_invariants_and_decisions_cover_loyal_lieutenants():
    trace = run(n=6, traitors="C,L2", strategy="random")
    assert [i["name"] for i in trace[0]["invariants"]] == ["IC1", "IC2"]
    assert [e["name"] for e in trace if e["kind"] == "check"][-2:] == ["IC1", "IC2"]
    s = summary(trace)
    assert sorted(s["decisions"]) == ["L1", "L3", "L4", "L5"]
    assert set(s["decisions"].values()) <= {"ATTACK", "RETREAT"}


def test_default_traitor_is_the_last_lieutenant():
    assert run(n=6)[0]["params"]["traitors"] == ["L5"]


@pytest.mark.parametrize("params,field", [
    ({"n": 10, "m": 3}, "m"),
    ({"n": 8, "m": 3}, "m"),
    ({"n": 4, "m": 3}, "m"),
    ({"n": 3, "traitors": "L1,L2"}, "traitors"),
    ({"n": 11}, "n"),
    ({"m": 4}, "m"),
    ({"traitors": "L7"}, "traitors"),
    ({"strategy": "bribe"}, "strategy"),
    ({"mode": "carrier-pigeon"}, "mode"),
])
def test_runaway_and_invalid_parameter_sets_are_refused(params, field):
    with pytest.raises(ParamError) as refused:
        run(**params)
    assert field in refused.value.errors


def test_signed_messages_run_where_oral_ones_would_be_too_many():
    s = summary(run(n=10, m=3, mode="sm", traitors="C,L1,L2", strategy="split"))
    assert s["ic1"] and s["ic2"] and s["messages_sent"] <= s["theory"]["sm_messages_at_most"] == 153


def bands(trace, node):
    """The bands drawn along ``node``'s lifeline, in order: (tone, label) as it starts, None as it ends."""
    return [e["band"] and (e["band"]["tone"], e["band"]["label"])
            for e in trace if e["kind"] == "state" and e["node"] == node and "band" in e]


def test_a_traitor_is_banded_from_the_start_and_loyal_lieutenants_when_they_decide():
    trace = run(n=4, m=1, traitors="L3", strategy="flip")
    assert bands(trace, "L3") == [("traitor", "traitor")]  # its own decision never replaces the traitor band
    assert bands(trace, "L1") == bands(trace, "L2") == [("done", "ATTACK")]
    assert bands(trace, "C") == []
    three = run(n=3, m=1, traitors="L2", strategy="flip")
    assert bands(three, "L1") == [("done", "RETREAT")]
    assert bands(run(n=4, m=1, traitors="C", strategy="split"), "C") == [("traitor", "traitor")]


def test_outcome_three_generals_name_the_disobedient_lieutenant_and_say_n_must_exceed_3m():
    s = summary(run(n=3, m=1, traitors="L2", strategy="flip"))
    assert s["headline"].startswith("L1 decides RETREAT against loyal C's order ATTACK")
    assert "IC2 is violated at t=2" in s["headline"]
    agreement = s["known"][0]
    assert agreement["agrees"] is None and "n > 3m; here n=3, m=1" in agreement["assumes"]


def test_outcome_four_generals_agree_and_the_message_count_matches_om1():
    s = summary(run(n=4, m=1, traitors="L3", strategy="flip"))
    assert "L1 and L2 both decide ATTACK" in s["headline"] and "n=4 > 3m=3" in s["headline"]
    assert [(r["measured"], r["agrees"]) for r in s["known"]] == [("IC1 and IC2 held", True), ("9", True)]
