"""The gossip problem: 2n-4 calls, log2 n parallel rounds, O(log n) random rounds, and the faults that spoil them."""
import math

import pytest

from simulations.params import ParamError
from simulations.scenarios.gossip import Gossip

SCENARIO = Gossip()
SEEDS = range(5)


def run(params, seed=0, faults=None):
    return SCENARIO.run(params, seed, faults)


def summary(trace):
    return trace[-1]["summary"]


def people(n):
    return [f"P{i}" for i in range(1, n + 1)]


def violations(trace, name):
    return [e for e in trace if e["kind"] == "check" and e["name"] == name and not e["ok"]]


def final_checks(trace):
    checks = [e for e in trace if e["kind"] == "check"]
    return {e["name"]: e["ok"] for e in checks[-3:]}


def log2_ceil(n):
    return math.ceil(math.log2(n))


def calls_by_round(trace):
    rounds = {}
    for e in trace:
        if e["kind"] == "send" and e["label"] == "CALL":
            rounds.setdefault(e["data"]["round"], []).append((e["src"], e["dst"]))
    return rounds


@pytest.mark.parametrize("n", range(4, 33))
def test_optimal_schedule_informs_everyone_in_2n_minus_4_calls(n):
    trace = run({"n": n, "mode": "optimal"})
    s = summary(trace)
    assert s["calls"] == 2 * n - 4 == s["theory"]["min_calls"] == s["messages_by_label"]["CALL"]
    assert s["complete"] is True
    assert s["knowledge"] == {p: people(n) for p in people(n)}
    assert s["violations"] == []


def test_two_people_need_one_call_and_three_need_three():
    two, three = summary(run({"n": 2})), summary(run({"n": 3}))
    assert (two["calls"], two["complete"], two["theory"]["min_calls"]) == (1, True, 1)
    assert (three["calls"], three["complete"], three["theory"]["min_calls"]) == (3, True, 3)


def test_optimal_schedule_gathers_at_p1_then_the_four_then_back():
    rounds = calls_by_round(run({"n": 7}))
    assert list(rounds.values()) == [[("P5", "P1")], [("P6", "P1")], [("P7", "P1")], [("P1", "P2"), ("P3", "P4")],
                                     [("P1", "P3"), ("P2", "P4")], [("P1", "P5")], [("P1", "P6")], [("P1", "P7")]]


def test_a_call_is_a_call_with_everything_the_caller_knows_and_a_reply_with_what_the_callee_knew():
    trace = run({"n": 6})
    sends = [e for e in trace if e["kind"] == "send"]
    core = [e for e in sends if e["data"]["round"] == 4]
    assert [(e["src"], e["dst"], e["label"], e["data"]["secrets"]) for e in core] == [
        ("P1", "P3", "CALL", ["P1", "P2", "P5", "P6"]),
        ("P2", "P4", "CALL", ["P1", "P2", "P5", "P6"]),
        ("P3", "P1", "REPLY", ["P3", "P4"]),
        ("P4", "P2", "REPLY", ["P3", "P4"]),
    ]
    assert {e["label"] for e in sends} == {"CALL", "REPLY"}


@pytest.mark.parametrize("n", [2, 4, 8, 16, 32])
def test_parallel_hypercube_completes_in_log2_n_rounds_for_powers_of_two(n):
    trace = run({"n": n, "mode": "parallel"})
    s = summary(trace)
    assert s["complete"] is True
    assert s["rounds"] == int(math.log2(n)) == s["theory"]["rounds_lower_bound"]
    assert s["calls"] == n // 2 * int(math.log2(n))


@pytest.mark.parametrize("n", [n for n in range(3, 33) if n & (n - 1)])
def test_parallel_completes_in_a_bounded_number_of_rounds_for_other_n(n):
    s = summary(run({"n": n, "mode": "parallel"}))
    assert s["complete"] is True
    assert log2_ceil(n) <= s["rounds"] <= log2_ceil(n) + 1
    assert s["rounds"] == s["theory"]["min_parallel_rounds"] == log2_ceil(n) + n % 2


@pytest.mark.parametrize("n", [6, 7, 8, 13])
def test_parallel_rounds_put_each_person_in_at_most_one_call(n):
    for calls in calls_by_round(run({"n": n, "mode": "parallel"})).values():
        talking = [p for call in calls for p in call]
        assert len(talking) == len(set(talking))


@pytest.mark.parametrize("n", [8, 16, 32, 64])
def test_epidemic_push_pull_informs_everyone_in_o_log_n_rounds(n):
    for seed in SEEDS:
        s = summary(run({"n": n, "mode": "epidemic"}, seed))
        assert s["complete"] is True
        assert s["rounds"] <= 2 * log2_ceil(n)
        assert s["calls"] == n * s["rounds"]
        assert s["knowledge"] == {p: people(n) for p in people(n)}


@pytest.mark.parametrize("n", [8, 16, 32, 64])
def test_push_spreads_p1s_rumour_in_o_log_n_rounds(n):
    for seed in SEEDS:
        trace = run({"n": n, "mode": "push"}, seed)
        s = summary(trace)
        assert s["complete"] is True
        assert "rumour P1" in s["goal"]
        assert all("P1" in known for known in s["knowledge"].values())
        assert log2_ceil(n) == s["theory"]["rounds_lower_bound"] <= s["rounds"] <= 2 * s["theory"]["expected_rounds"]
        assert set(s["messages_by_label"]) == {"CALL"}


def test_push_carries_only_the_rumour_and_the_informed_at_most_double_each_round():
    trace = run({"n": 32, "mode": "push"}, 3)
    rounds = calls_by_round(trace)
    sends = [e for e in trace if e["kind"] == "send"]
    assert all(e["data"]["secrets"] == ["P1"] for e in sends)
    assert len(rounds[1]) == 1 and rounds[1][0][0] == "P1"
    for k in range(1, len(rounds)):
        assert len(rounds[k + 1]) <= 2 * len(rounds[k])


def test_epidemic_stops_when_everyone_knows_and_draws_partners_from_sim_rng():
    a, b = run({"n": 16, "mode": "epidemic"}, 1), run({"n": 16, "mode": "epidemic"}, 2)
    assert calls_by_round(a) != calls_by_round(b)
    s = summary(a)
    assert s["completed_in_round"] == s["rounds"] < s["theory"]["round_cap"]
    assert any(e["kind"] == "note" and "everyone knows all 16 secrets" in e["text"] for e in a)


def test_knowledge_matrix_fills_in_as_calls_happen():
    trace = run({"n": 6})
    rows = {}
    for e in trace:
        if e["kind"] == "state":
            knows = e["state"]["knows"]
            previous = rows.get(e["node"], [])
            assert set(previous) <= set(knows)
            assert knows == sorted(knows, key=lambda p: int(p[1:]))
            assert e["state"]["known"] == len(knows)
            if not previous:
                assert knows == [e["node"]]
            rows[e["node"]] = knows
    assert rows == {p: people(6) for p in people(6)}


def test_knowledge_lists_are_in_person_order():
    s = summary(run({"n": 12, "mode": "parallel"}))
    assert s["knowledge"]["P1"] == people(12)


def test_what_64_people_know_replayed_with_sets_is_what_every_call_and_state_says():
    """Each person's knowledge is a bitmask over eight bytes (P1..P64): replayed from the trace with plain sets,
    every CALL and REPLY carries what its sender knew, every state what its person learned, in person order,
    and a crash makes P40 forget across the byte boundaries."""
    faults = [{"action": "crash", "node": "P40", "at": 4}, {"action": "recover", "node": "P40", "at": 10}]
    trace = run({"n": 64, "mode": "epidemic"}, seed=3, faults=faults)
    order = people(64)
    knows, heard, carried = {p: {p} for p in order}, {p: set() for p in order}, {}
    in_order = lambda secrets: [p for p in order if p in secrets]  # noqa: E731
    for e in trace:
        if e["kind"] == "send":
            assert e["data"]["secrets"] == in_order(knows[e["src"]])
            carried[e["msg"]] = set(e["data"]["secrets"])
        elif e["kind"] == "deliver":
            heard[e["dst"]] |= carried[e["msg"]]  # learned after a REPLY with what it knew before
        elif e["kind"] == "recover":
            knows[e["node"]], heard[e["node"]] = {e["node"]}, set()
        elif e["kind"] == "state":
            knows[e["node"]] |= heard[e["node"]]
            heard[e["node"]] = set()
            assert e["state"]["knows"] == in_order(knows[e["node"]]) and e["state"]["known"] == len(knows[e["node"]])
    assert summary(trace)["knowledge"] == {p: in_order(knows[p]) for p in order}
    assert knows["P40"] == set(order) and violations(trace, "knowledge_monotone")


def test_clean_runs_keep_every_invariant_green():
    for params in ({"n": 9}, {"n": 12, "mode": "parallel"}, {"n": 20, "mode": "epidemic"}, {"n": 20, "mode": "push"}):
        trace = run(params, 4)
        assert final_checks(trace) == {"knowledge_monotone": True, "call_symmetric": True, "complete": True}
        assert summary(trace)["violations"] == []


def test_dropping_a_call_leaves_the_callers_secret_unheard():
    trace = run({"n": 6}, faults=[{"action": "drop", "match": {"label": "CALL", "nth": 1}}])
    s = summary(trace)
    assert s["complete"] is False
    assert s["messages_by_label"]["REPLY"] == 7
    assert [p for p, known in s["knowledge"].items() if "P5" not in known] == ["P2", "P3", "P4"]
    assert violations(trace, "complete")[0]["t"] == trace[-1]["t"]
    assert final_checks(trace) == {"knowledge_monotone": True, "call_symmetric": True, "complete": False}


def test_cutting_one_direction_of_a_core_call_breaks_symmetry_then_completeness():
    trace = run({"n": 6}, faults=[{"action": "drop", "match": {"label": "REPLY", "nth": 3}}])
    broken = violations(trace, "call_symmetric")[0]
    assert broken["t"] == 9 and "P1 called P2, but P1 does not know P2: its REPLY did not arrive" in broken["detail"]
    s = summary(trace)
    assert s["complete"] is False
    assert s["violations"] == ["call_symmetric", "complete"]
    assert [p for p, known in s["knowledge"].items() if "P2" not in known] == ["P1", "P3", "P5", "P6"]


def test_a_cut_reply_the_schedule_later_repairs_still_breaks_symmetry():
    trace = run({"n": 6}, faults=[{"action": "drop", "match": {"label": "REPLY", "nth": 1}}])
    assert violations(trace, "call_symmetric")[0]["t"] == 3
    assert summary(trace)["complete"] is True


def test_a_crashed_person_leaves_everyone_incomplete():
    for mode in ("optimal", "parallel", "epidemic"):
        trace = run({"n": 8, "mode": mode}, faults=[{"action": "crash", "node": "P3", "at": 0}])
        s = summary(trace)
        assert s["complete"] is False
        assert [p for p, known in s["knowledge"].items() if "P3" in known] == ["P3"]
        assert violations(trace, "complete")
    s = summary(run({"n": 8, "mode": "epidemic"}, faults=[{"action": "crash", "node": "P3", "at": 0}]))
    assert s["rounds"] == s["theory"]["round_cap"] == 4 * 3 + 10


def test_push_fails_when_the_rumour_source_crashes():
    trace = run({"n": 16, "mode": "push", "max_rounds": 5}, faults=[{"action": "crash", "node": "P1", "at": 0}])
    s = summary(trace)
    assert (s["calls"], s["rounds"], s["complete"]) == (0, 5, False)
    assert "never heard the rumour P1" in violations(trace, "complete")[0]["detail"]


def test_a_recovered_person_has_forgotten_and_knowledge_shrinks():
    trace = run({"n": 6}, faults=[{"action": "crash", "node": "P1", "at": 12},
                                  {"action": "recover", "node": "P1", "at": 13}])
    shrank = violations(trace, "knowledge_monotone")[0]
    assert shrank["t"] == 13 and "P1 no longer knows" in shrank["detail"]
    assert summary(trace)["knowledge"]["P1"] == ["P1", "P5", "P6"]
    assert summary(trace)["complete"] is False


def test_a_partition_splits_the_hypercube_but_epidemic_heals_after_it():
    halves = [people(8)[:4], people(8)[4:]]
    parallel = run({"n": 8, "mode": "parallel"}, faults=[{"action": "partition", "groups": halves}])
    s = summary(parallel)
    assert s["complete"] is False
    assert s["knowledge"]["P1"] == people(4) and s["knowledge"]["P8"] == people(8)[4:]
    healed = summary(run({"n": 8, "mode": "epidemic"}, 1,
                         [{"action": "partition", "groups": halves, "until": 12}]))
    assert healed["complete"] is True and healed["rounds"] > 4


def test_a_round_cap_too_short_leaves_epidemic_incomplete():
    trace = run({"n": 64, "mode": "epidemic", "max_rounds": 2})
    s = summary(trace)
    assert (s["rounds"], s["complete"], s["completed_in_round"]) == (2, False, None)
    assert any(e["kind"] == "note" and "round cap (2)" in e["text"] for e in trace)


def test_a_round_lasts_three_ticks():
    s = summary(run({"n": 16, "mode": "parallel"}))
    assert s["end_time"] == 3 * s["rounds"]


def test_same_inputs_give_the_same_trace():
    faults = [{"action": "drop", "match": {"label": "REPLY", "nth": 9}}]
    for mode in ("optimal", "parallel", "epidemic", "push"):
        assert run({"n": 10, "mode": mode}, 7, faults) == run({"n": 10, "mode": mode}, 7, faults)


@pytest.mark.parametrize("params, field", [
    ({"n": 33, "mode": "optimal"}, "n"),
    ({"n": 40, "mode": "parallel"}, "n"),
    ({"n": 65, "mode": "epidemic"}, "n"),
    ({"n": 1}, "n"),
    ({"mode": "telegraph"}, "mode"),
    ({"mode": "push", "max_rounds": 0}, "max_rounds"),
    ({"mode": "epidemic", "max_rounds": 101}, "max_rounds"),
])
def test_runaway_or_unknown_parameters_are_refused(params, field):
    with pytest.raises(ParamError) as refused:
        SCENARIO.parse(params)
    assert field in refused.value.errors


def test_the_32_person_limit_names_the_random_modes():
    with pytest.raises(ParamError) as refused:
        SCENARIO.parse({"n": 33, "mode": "parallel"})
    assert "64 in epidemic and push" in refused.value.errors["n"]
    assert SCENARIO.parse({"n": 64, "mode": "push"})[0]["n"] == 64


def test_the_round_cap_defaults_to_4_log2_n_plus_10():
    assert SCENARIO.parse({"n": 64, "mode": "epidemic"})[0]["max_rounds"] == 34
    assert SCENARIO.parse({})[0] == {"n": 6, "mode": "optimal", "max_rounds": 22}


def bands(trace, node):
    """The bands drawn along ``node``'s lifeline, in order: (tone, label) as it starts, None as it ends."""
    return [e["band"] and (e["band"]["tone"], e["band"]["label"])
            for e in trace if e["kind"] == "state" and e["node"] == node and "band" in e]


def test_a_person_who_knows_everything_gets_a_done_band():
    trace = run({"n": 8, "mode": "optimal"})
    assert all(bands(trace, p) == [("done", "knows all")] for p in people(8))
    dropped = run({"n": 6, "mode": "optimal"}, 0, [{"action": "drop", "match": {"label": "CALL", "nth": 1}}])
    assert sorted(p for p in people(6) if bands(dropped, p)) == ["P1", "P5", "P6"]


def test_push_bands_who_heard_the_rumour_and_a_crash_that_forgets_ends_the_band():
    trace = run({"n": 8, "mode": "push"})
    assert bands(trace, "P1") == [("done", "heard it")]
    assert all(bands(trace, p) == [("done", "heard it")] for p in people(8))
    forgot = run({"n": 4, "mode": "optimal"}, 0, [{"action": "crash", "node": "P4", "at": 7},
                                                   {"action": "recover", "node": "P4", "at": 8}])
    assert bands(forgot, "P4")[-1] is None


def test_outcome_eight_people_share_everything_in_the_minimum_2n_minus_4_calls():
    s = summary(run({"n": 8, "mode": "optimal"}))
    assert s["headline"] == "Everyone knows all 8 secrets after 12 calls, the fewest possible (2n−4 = 12)."
    assert [(r["known"], r["measured"], r["agrees"]) for r in s["known"]] == [("2n−4 = 12, the minimum", "12", True)]


def test_outcome_a_dropped_call_names_who_never_learns_what_and_sets_the_theory_aside():
    s = summary(run({"n": 6, "mode": "optimal"}, faults=[{"action": "drop", "match": {"label": "CALL", "nth": 1}}]))
    assert s["headline"].startswith("Not everyone knows everything: P2, P3 and P4 never learn P5")
    assert "complete is violated at t=18" in s["headline"]
    assert s["known"][0]["agrees"] is None and "dropped CALL (P5→P1)" in s["known"][0]["assumes"]
