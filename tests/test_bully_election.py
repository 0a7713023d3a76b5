"""Bully election: Garcia-Molina's message counts, the highest live id winning, and recovery bullying."""
import pytest

import simulations

BULLY = simulations.get("bully-election")


def run(seed=0, faults=None, **params):
    return BULLY.run(params, seed, faults)


@pytest.mark.parametrize("n", range(3, 17))
def test_worst_case_sends_n_squared_minus_n_minus_2_messages(n):
    s = run(n=n)[-1]["summary"]
    assert s["messages_sent"] == n * n - n - 2 == s["theory"]["worst_case_messages"]
    assert s["elected"] == f"P{n - 1}"
    assert s["violations"] == []


def test_worst_case_message_breakdown_for_five():
    s = run(n=5)[-1]["summary"]
    assert s["messages_by_label"] == {"ELECTION": 9, "OK": 6, "COORDINATOR": 3}


def test_best_case_the_second_highest_detects_and_bullies_at_once():
    s = run(n=6, detector="P5")[-1]["summary"]
    assert s["messages_sent"] == 4 == s["theory"]["best_case_messages"]
    assert s["messages_by_label"] == {"COORDINATOR": 4}


def test_every_live_node_names_the_highest_live_id():
    s = run(n=7, crashed="P7,P6")[-1]["summary"]
    assert s["elected"] == "P5"
    assert all(s["leaders"][f"P{i}"] == "P5" for i in range(1, 6))


def test_nodes_are_p1_to_pn():
    assert [x["id"] for x in run(n=4)[0]["nodes"]] == ["P1", "P2", "P3", "P4"]


def test_a_recovered_highest_node_bullies_its_way_back():
    s = run(n=5, faults=[{"action": "recover", "node": "P5", "at": 20}])[-1]["summary"]
    assert s["elected"] == "P5"
    assert set(s["leaders"].values()) == {"P5"}


def test_the_new_coordinator_crashing_mid_announcement_still_converges():
    s = run(n=5, faults=[{"action": "crash", "node": "P4", "at": 1},
                         {"action": "recover", "node": "P4", "at": 30}])[-1]["summary"]
    assert s["violations"] == [] and s["elected"] == "P4"


def test_a_partition_that_never_heals_breaks_agreement_and_it_is_marked():
    trace = run(n=5, faults=[{"action": "partition", "groups": [["P1", "P2"], ["P3", "P4", "P5"]], "at": 0}])
    s = trace[-1]["summary"]
    assert "agreement" in s["violations"] or "highest_live_leader" in s["violations"]
    assert any(e["kind"] == "check" and not e["ok"] for e in trace)


@pytest.mark.parametrize("params, field", [
    ({"n": 17}, "n"), ({"n": 1}, "n"), ({"detector": "P9"}, "detector"),
    ({"crashed": "P1"}, "detector"), ({"crashed": "P1,P2,P3,P4,P5", "detector": "P1"}, "detector"),
    ({"ok_timeout": 5, "coordinator_timeout": 4}, "coordinator_timeout"),
])
def test_bad_setups_are_refused_with_the_field_named(params, field):
    with pytest.raises(simulations.ParamError) as e:
        run(**params)
    assert field in e.value.errors


def test_default_crashed_follows_n():
    assert run(n=9)[-1]["summary"]["theory"]["this_is_worst_case"]


def bands(trace, node):
    """The bands drawn along ``node``'s lifeline, in order: (tone, label) as it starts, None as it ends."""
    return [e["band"] and (e["band"]["tone"], e["band"]["label"])
            for e in trace if e["kind"] == "state" and e["node"] == node and "band" in e]


def test_bands_show_who_elects_who_waits_and_who_ends_up_coordinator():
    trace = run(n=4)
    assert bands(trace, "P1") == [("busy", "electing"), ("wait", "waiting"), None]
    assert bands(trace, "P3") == [("busy", "electing"), ("hold", "coordinator")]
    assert bands(trace, "P4") == []  # crashed from the start


def test_a_live_coordinator_holds_its_band_from_the_start_and_loses_it_to_a_bully():
    trace = run(n=5, crashed="", detector="P2")
    assert bands(trace, "P5")[0] == ("hold", "coordinator")
    comeback = run(n=5, faults=[{"action": "recover", "node": "P5", "at": 15}])
    assert bands(comeback, "P4") == [("busy", "electing"), ("hold", "coordinator"), None]
    assert bands(comeback, "P5") == [("hold", "coordinator")]


def test_outcome_worst_case_for_eight_names_p7_and_the_54_messages_agree():
    s = run(n=8, detector="P1", crashed="P8")[-1]["summary"]
    assert s["headline"].startswith("P7 is leader after 54 messages")
    assert "worst case for n=8 is 54" in s["headline"]
    row = s["known"][0]
    assert (row["known"].split()[0], row["measured"], row["agrees"]) == ("54", "54", True)


def test_outcome_a_recovery_mid_run_takes_the_message_count_outside_the_theory():
    s = run(n=5, faults=[{"action": "recover", "node": "P5", "at": 15}])[-1]["summary"]
    assert s["headline"].startswith("P5 is leader") and "recovered at t=15" in s["headline"]
    row = s["known"][0]
    assert row["measured"] == "22" and row["agrees"] is None and "recovered P5" in row["assumes"]
