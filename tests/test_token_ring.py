"""Token ring: mutual exclusion from one token, the monitor's regeneration, the false-loss lesson and broken rings."""
import pytest

from simulations.params import ParamError
from simulations.scenarios.token_ring import ONE_TOKEN, TokenRing

RING = TokenRing()
TWO = "N2@0,N4@0"


def run(faults=None, seed=0, **params):
    return RING.run(params, seed, faults)


def summary(faults=None, **params):
    return run(faults, **params)[-1]["summary"]


def delay_third_token(by):
    return [{"action": "delay", "match": {"label": "TOKEN", "nth": 3}, "by": by}]


def tokens(trace):
    return [e for e in trace if e["kind"] == "send" and e["label"] == "TOKEN"]


def red(trace, name):
    return [e for e in trace if e["kind"] == "check" and e["name"] == name and not e["ok"]]


def inside_at(trace, seq):
    """Who the node panel shows inside the critical section once event ``seq`` has happened."""
    inside = {}
    for e in trace[:seq + 1]:
        if e["kind"] == "state" and "in_cs" in e["state"]:
            inside[e["node"]] = e["state"]["in_cs"]
    return sorted(node for node, yes in inside.items() if yes)


def test_nodes_are_n0_to_n_minus_1_and_n0_is_the_monitor():
    init = run(n=4)[0]
    assert [x["id"] for x in init["nodes"]] == ["N0", "N1", "N2", "N3"]
    assert "monitor" in init["nodes"][0]["label"]
    assert [i["name"] for i in init["invariants"]] == ["mutual_exclusion", "at most one valid token", "liveness",
                                                      "fairness"]


def test_defaults_a_busy_ring_serves_everyone_in_ring_order():
    s = summary()
    assert [e["node"] for e in s["cs_entries"]] == ["N1", "N2", "N3", "N4"] * 4
    assert s["cs_entries"][:2] == [{"node": "N1", "enter": 1, "exit": 4}, {"node": "N2", "enter": 5, "exit": 8}]
    assert s["violations"] == [] and s["tokens_generated"] == 1 and s["stopped"] == "quiescent"


@pytest.mark.parametrize("n, rotations", [(2, 1), (5, 3), (9, 4), (16, 2)])
def test_one_token_message_per_hop_and_the_run_ends_after_its_rotations(n, rotations):
    s = summary(n=n, rotations=rotations)
    assert s["messages_by_label"] == {"TOKEN": n * rotations} and s["rotations"] == rotations
    assert s["theory"]["messages_per_rotation"] == n
    s = summary(n=n, rotations=rotations, ack=True)
    assert s["messages_by_label"] == {"TOKEN": n * rotations, "ACK": n * rotations}


def test_token_messages_carry_their_generation():
    trace = run(ack=True)
    assert all(e["data"] == {"gen": 1} for e in tokens(trace))
    assert all(e["data"] == {"gen": 1} for e in trace if e["kind"] == "send" and e["label"] == "ACK")


@pytest.mark.parametrize("n, cs_time", [(2, 1), (5, 2), (7, 3), (16, 10)])
def test_everyone_asking_at_once_the_last_waits_n_minus_1_hops_and_sections(n, cs_time):
    s = summary(n=n, cs_time=cs_time, requests=",".join(f"N{i}@0" for i in range(n)))
    assert [e["node"] for e in s["cs_entries"]] == [f"N{i}" for i in range(n)]
    assert s["max_wait"] == (n - 1) * (cs_time + 1)
    assert s["max_wait"] < s["theory"]["wait_bound"] == n + (n - 1) * cs_time


@pytest.mark.parametrize("requests", ["", TWO, "N1@0/1,N3@2/1", "N0@0/2,N2@1/5,N4@3/1", "N4@0/1,N1@9"])
@pytest.mark.parametrize("cs_time", [1, 4])
def test_without_faults_a_request_waits_less_than_one_rotation(requests, cs_time):
    s = summary(requests=requests, cs_time=cs_time, rotations=6)
    assert s["violations"] == []
    assert s["max_wait"] < s["theory"]["longest_rotation"] == 5 + 4 * cs_time


@pytest.mark.parametrize("n, cs_time, ack, timeout", [(5, 3, False, 21), (5, 2, False, 16), (16, 10, False, 177),
                                                      (2, 1, False, 5), (5, 2, True, 26), (3, 1, True, 13)])
def test_the_loss_timeout_is_one_full_rotation_every_hop_and_critical_section_plus_one(n, cs_time, ack, timeout):
    """Le Lann (1977): T = sum over the ring of (hop delay + critical section) + 1; a hop may cost the ack timeout."""
    hop = 3 if ack else 1
    crash_inside = [{"action": "crash", "node": "N1", "at": 2}]  # the token dies with N1, inside since t=1
    trace = run(crash_inside, n=n, cs_time=cs_time, ack=ack, requests="N1@0")
    s = trace[-1]["summary"]
    assert s["theory"]["loss_timeout"] == timeout == n * (hop + cs_time) + 1 > s["theory"]["longest_rotation"]
    assert any(e["kind"] == "note" and f"= {timeout} ticks" in e["text"] for e in trace)
    left = tokens(trace)[0]
    fired = next(e for e in trace if e["kind"] == "timer" and e["label"] == "loss timeout")
    assert left["src"] == "N0" and fired["t"] - left["t"] == timeout
    row = next(r for r in s["known"] if r["quantity"] == "silence before N0 makes a new token")
    assert f"= {timeout} ticks" in row["known"] and "Le Lann 1977" in row["known"]
    assert row["measured"].startswith(f"{timeout} ticks") and row["agrees"] is True


@pytest.mark.parametrize("n, cs_time", [(2, 1), (5, 3), (9, 10), (16, 4)])
def test_a_token_on_time_is_never_presumed_lost_even_when_everyone_enters(n, cs_time):
    s = summary(n=n, cs_time=cs_time, requests=",".join(f"N{i}@0/1" for i in range(n)))
    assert s["tokens_generated"] == 1 and s["violations"] == []
    row = next(r for r in s["known"] if r["quantity"] == "silence before N0 makes a new token")
    assert row["measured"] == f"never reached: the token came back within {n + (n - 1) * cs_time} ticks"
    assert row["agrees"] is True and n + (n - 1) * cs_time < s["theory"]["loss_timeout"]


def test_dropping_the_token_the_monitor_regenerates_the_next_generation_and_requests_are_served():
    trace = run(faults=[{"action": "drop", "match": {"label": "TOKEN", "nth": 3}}], requests=TWO, cs_time=2)
    s = trace[-1]["summary"]
    assert s["tokens_generated"] == 2 and s["violations"] == []
    assert s["cs_entries"] == [{"node": "N2", "enter": 2, "exit": 4}, {"node": "N4", "enter": 20, "exit": 22}]
    assert s["max_wait"] == 20
    assert [e["t"] for e in trace if e["kind"] == "timer" and e["label"] == "loss timeout"] == [16]
    assert {e["data"]["gen"] for e in tokens(trace) if e["t"] >= 16} == {2}
    assert s["valid_tokens_max"] == 1


def test_without_generations_the_same_drop_is_also_repaired_and_one_token_stays_valid():
    s = summary(faults=[{"action": "drop", "match": {"label": "TOKEN", "nth": 3}}], requests=TWO, generations=False)
    assert s["tokens_generated"] == 2 and s["violations"] == [] and s["valid_tokens_max"] == 1


@pytest.mark.parametrize("by", range(22, 37, 2))
def test_false_loss_without_generations_two_nodes_are_inside_at_once(by):
    trace = run(faults=delay_third_token(by), generations=False)
    s = trace[-1]["summary"]
    assert s["tokens_generated"] == 2 and by > s["theory"]["loss_timeout"] == 21
    assert any(e["data"]["gen"] == 1 for e in tokens(trace) if e["t"] > 21)
    violation = red(trace, "mutual_exclusion")[0]
    assert len(inside_at(trace, violation["seq"])) == 2
    assert inside_at(trace, violation["seq"] - 2) != inside_at(trace, violation["seq"])
    assert s["violations"] == ["mutual_exclusion", ONE_TOKEN]
    assert red(trace, ONE_TOKEN)[0]["t"] == 21 < violation["t"]


@pytest.mark.parametrize("requests", ["", TWO, "N1@0"])
@pytest.mark.parametrize("by", [22, 25, 40])
def test_false_loss_without_generations_the_second_valid_token_is_flagged_when_n0_makes_it(by, requests):
    trace = run(faults=delay_third_token(by), generations=False, requests=requests)
    regenerated = next(e for e in trace if e["kind"] == "timer" and e["label"] == "loss timeout")
    flagged = red(trace, ONE_TOKEN)[0]
    assert flagged["t"] == regenerated["t"] == 21 and flagged["seq"] > regenerated["seq"]
    assert not any(e["kind"] == "send" for e in trace[regenerated["seq"]:flagged["seq"]])
    assert flagged["detail"].startswith("N0 makes a new token (generation 2) at t=21")
    assert "in flight N2→N3" in flagged["detail"]
    assert trace[-1]["summary"]["valid_tokens_max"] == 2


def test_false_loss_without_generations_is_flagged_even_if_no_two_nodes_enter():
    trace = run(faults=delay_third_token(25), generations=False, requests="")
    s = trace[-1]["summary"]
    assert s["violations"] == [ONE_TOKEN] and s["cs_entries"] == []
    assert s["headline"].startswith("N0 replaced a token that was only late: two valid tokens exist")
    assert f"{ONE_TOKEN} is violated at t=21" in s["headline"]
    row = next(r for r in s["known"] if r["quantity"] == "valid tokens at once")
    assert row["measured"] == "2" and row["agrees"] is True


@pytest.mark.parametrize("requests", ["", TWO, "N1@0"])
@pytest.mark.parametrize("by", [22, 25, 40])
def test_false_loss_with_generations_the_same_fault_breaks_nothing(by, requests):
    s = summary(faults=delay_third_token(by), requests=requests)
    assert s["tokens_generated"] == 2 and s["violations"] == [] and s["valid_tokens_max"] == 1


@pytest.mark.parametrize("by", range(22, 37, 2))
def test_false_loss_with_generations_the_stale_token_is_discarded(by):
    trace = run(faults=delay_third_token(by))
    s = trace[-1]["summary"]
    assert s["tokens_generated"] == 2 and s["violations"] == []
    assert not red(trace, "mutual_exclusion")
    assert {e["data"]["gen"] for e in tokens(trace) if e["t"] > 21} == {2}
    late = tokens(trace)[2]
    assert any(e["kind"] == "deliver" and e["msg"] == late["msg"] for e in trace)
    assert any(e["kind"] == "note" and "discards a stale token of generation 1" in e["text"] for e in trace)


def test_false_loss_mutual_exclusion_is_checked_when_the_second_node_enters():
    trace = run(faults=delay_third_token(22), generations=False)
    violation = red(trace, "mutual_exclusion")[0]
    entering = trace[violation["seq"] - 1]
    assert entering["kind"] == "state" and entering["state"]["in_cs"]
    assert entering["node"] in violation["detail"] and f"t={violation['t']}" in violation["detail"]


def test_crashing_an_idle_node_breaks_the_ring_without_ack():
    trace = run(faults=[{"action": "crash", "node": "N3", "at": 0}], requests=TWO, cs_time=2)
    s = trace[-1]["summary"]
    assert s["violations"] == ["liveness"]
    assert [e["node"] for e in s["cs_entries"]] == ["N2"]
    assert s["waiting_at_end"] == [{"node": "N4", "at": 0}]
    assert s["tokens_generated"] == 4  # every rotation's token dies at N3
    assert all(e["reason"] == "crashed" and e["dst"] == "N3" for e in trace if e["kind"] == "drop")
    assert "N4 (asked at t=0)" in red(trace, "liveness")[0]["detail"]


def test_crashing_an_idle_node_is_skipped_with_ack():
    trace = run(faults=[{"action": "crash", "node": "N3", "at": 0}], requests=TWO, cs_time=2, ack=True)
    s = trace[-1]["summary"]
    assert s["violations"] == [] and s["tokens_generated"] == 1
    assert s["cs_entries"] == [{"node": "N2", "enter": 2, "exit": 4}, {"node": "N4", "enter": 8, "exit": 10}]
    skips = [e for e in tokens(trace) if e["src"] == "N2" and e["dst"] == "N4"]
    assert len(skips) == 4 and skips[0]["t"] == 7  # the ack timeout of 3 after the pass at t=4
    assert any(e["kind"] == "note" and "presumes it crashed" in e["text"] for e in trace)


def test_crashing_the_holder_loses_the_token_and_the_monitor_regenerates_it():
    crash = [{"action": "crash", "node": "N2", "at": 3}]
    trace = run(faults=crash, requests=TWO, cs_time=2)
    s = trace[-1]["summary"]
    assert s["cs_entries"] == [{"node": "N2", "enter": 2, "exit": 3}]
    assert s["tokens_generated"] == 4 and s["violations"] == ["liveness"]
    s = summary(faults=crash, requests=TWO, cs_time=2, ack=True)
    assert s["tokens_generated"] == 2 and s["violations"] == []
    assert s["cs_entries"][-1] == {"node": "N4", "enter": 32, "exit": 34}


def test_with_ack_a_lost_token_looks_like_a_crash_and_a_waiting_node_is_passed_over():
    trace = run(faults=[{"action": "drop", "match": {"label": "TOKEN", "nth": 3}}], requests="N2@0,N3@0",
                cs_time=2, ack=True)
    unfair = red(trace, "fairness")[0]
    assert unfair["t"] == 7 and "N2 skips N3" in unfair["detail"]
    assert trace[-1]["summary"]["violations"] == ["fairness"]


def test_with_ack_a_late_token_is_duplicated_and_generations_cannot_help():
    trace = run(faults=delay_third_token(21), ack=True)
    s = trace[-1]["summary"]
    assert s["tokens_generated"] == 1
    assert "mutual_exclusion" in s["violations"] and "fairness" in s["violations"]
    second = red(trace, ONE_TOKEN)[0]
    assert second["t"] == red(trace, "fairness")[0]["t"] == 11  # the skip passes a copy of a token still in flight
    assert second["detail"].startswith("N2 passes the token to N4 at t=11")


def test_a_duplicated_token_breaks_mutual_exclusion_even_with_generations():
    trace = run(faults=[{"action": "duplicate", "match": {"label": "TOKEN", "nth": 3}}])
    assert len(inside_at(trace, red(trace, "mutual_exclusion")[0]["seq"])) == 2
    assert red(trace, ONE_TOKEN)[0]["t"] == 8 < red(trace, "mutual_exclusion")[0]["t"]  # flagged as it is copied


def test_a_crashed_monitor_leaves_nobody_to_regenerate():
    s = summary(faults=[{"action": "crash", "node": "N0", "at": 1}])
    assert s["tokens_generated"] == 1 and s["violations"] == ["liveness"]


def test_a_recovered_monitor_regenerates_after_its_timeout():
    trace = run(faults=[{"action": "crash", "node": "N0", "at": 1}, {"action": "recover", "node": "N0", "at": 30}])
    s = trace[-1]["summary"]
    assert s["tokens_generated"] == 2 and s["violations"] == []
    assert [e["t"] for e in trace if e["kind"] == "timer" and e["label"] == "loss timeout"][0] == 30 + 21


def test_green_runs_end_with_every_invariant_ok():
    trace = run()
    final = [e for e in trace if e["kind"] == "check"]
    assert [(e["name"], e["ok"]) for e in final] == [("mutual_exclusion", True), (ONE_TOKEN, True),
                                                     ("liveness", True), ("fairness", True)]
    assert trace[-1]["summary"]["valid_tokens_max"] == 1


def test_requests_after_the_last_rotation_began_are_not_counted_as_starved():
    s = summary(requests="N2@0,N3@40", cs_time=2, rotations=2)
    assert s["violations"] == [] and s["waiting_at_end"] == [{"node": "N3", "at": 40}]


def test_nobody_asking_the_token_just_circulates():
    s = summary(requests="")
    assert s["cs_entries"] == [] and s["max_wait"] == 0 and s["messages_by_label"] == {"TOKEN": 20}


def test_a_request_text_may_space_its_items():
    assert summary(requests=" N2@0 , N4@0 ")["requests_served"] == 2


def test_same_inputs_give_an_identical_trace():
    faults = delay_third_token(23) + [{"action": "crash", "node": "N3", "at": 40}]
    assert run(faults, seed=7, generations=False) == run(faults, seed=7, generations=False)
    assert run(faults, seed=1, ack=True)[1:] == run(faults, seed=2, ack=True)[1:]


def test_default_requests_follow_n():
    assert summary(n=2)["cs_entries"][0]["node"] == "N1"
    assert [e["node"] for e in summary(n=3, rotations=1)["cs_entries"]] == ["N1", "N2"]


@pytest.mark.parametrize("params, field", [
    ({"n": 1}, "n"), ({"n": 17}, "n"), ({"cs_time": 0}, "cs_time"), ({"cs_time": 11}, "cs_time"),
    ({"rotations": 0}, "rotations"), ({"rotations": 21}, "rotations"),
    ({"requests": "N5@0"}, "requests"), ({"n": 3, "requests": TWO}, "requests"),
    ({"requests": "N1@0/0"}, "requests"), ({"requests": "N1@123456"}, "requests"),
    ({"requests": "N1 at 0"}, "requests"), ({"requests": "N1@0,"}, "requests"),
    ({"generations": "maybe"}, "generations"),
])
def test_bad_setups_are_refused_with_the_field_named(params, field):
    with pytest.raises(ParamError) as e:
        run(**params)
    assert field in e.value.errors


def bands(trace, node):
    """The bands drawn along ``node``'s lifeline, in order: (tone, label) as it starts, None as it ends."""
    return [e["band"] and (e["band"]["tone"], e["band"]["label"])
            for e in trace if e["kind"] == "state" and e["node"] == node and "band" in e]


def test_waiting_and_inside_show_as_bands_and_the_monitor_keeps_the_token_at_the_end():
    trace = run(requests=TWO, cs_time=2, rotations=2)
    assert bands(trace, "N2") == [("wait", "wants CS"), ("busy", "in CS"), None]
    assert bands(trace, "N0") == [("hold", "keeps token")]
    assert bands(trace, "N1") == []


def test_token_arrows_carry_their_generation_g1_then_g2_after_regeneration():
    trace = run([{"action": "drop", "match": {"label": "TOKEN", "nth": 3}}], requests=TWO, cs_time=2)
    tags = [e.get("tag") for e in tokens(trace)]
    assert tags[:3] == ["g1"] * 3 and set(tags[3:]) == {"g2"}
    assert all("tag" not in e for e in tokens(run(generations=False)))  # nothing tells the tokens apart


def test_without_generations_two_nodes_are_in_cs_bands_at_once():
    trace = run(delay_third_token(25), generations=False)
    open_now, overlap = set(), False
    for e in trace:
        if e["kind"] == "state" and "band" in e:
            (open_now.add if e["band"] == {"label": "in CS", "tone": "busy"} else open_now.discard)(e["node"])
            overlap = overlap or len(open_now) > 1
    assert overlap


def test_outcome_a_late_token_without_generations_puts_two_inside_and_the_theory_row_expects_it():
    s = summary(delay_third_token(25), generations=False)
    assert s["headline"].startswith("N3 entered the critical section while N2 was inside")
    assert f"{ONE_TOKEN} is violated at t=21, mutual_exclusion at t=42" in s["headline"]
    inside, wait = s["known"][:2]
    assert inside["measured"] == "2" and inside["agrees"] is True and "without generations" in inside["known"]
    assert wait["agrees"] is None and "delayed TOKEN" in wait["assumes"]


def test_outcome_without_faults_one_token_serves_everyone_within_one_rotation():
    s = summary()
    assert s["headline"].startswith("One token served 16 requests")
    assert [(r["measured"], r["agrees"]) for r in s["known"]] == [
        ("1", True), ("13 ticks", True), ("never reached: the token came back within 17 ticks", True)]
    assert s["known"][1]["known"].startswith("at most 17 ticks")


def test_a_real_loss_regenerated_never_makes_two_valid_tokens_with_or_without_generations():
    for generations in (True, False):
        trace = run([{"action": "crash", "node": "N2", "at": 3}], requests=TWO, cs_time=2, ack=True,
                    generations=generations)
        s = trace[-1]["summary"]
        assert s["tokens_generated"] == 2 and s["valid_tokens_max"] == 1 and not red(trace, ONE_TOKEN)
        row = next(r for r in s["known"] if r["quantity"] == "valid tokens at once")
        assert (row["measured"], row["agrees"]) == ("1", True)


def test_a_crashed_monitor_states_the_timeout_but_cannot_measure_it():
    s = summary(faults=[{"action": "crash", "node": "N0", "at": 1}])
    row = next(r for r in s["known"] if r["quantity"] == "silence before N0 makes a new token")
    assert row["known"].startswith("T = n·(1 + cs_time) + 1 = 21 ticks")
    assert (row["measured"], row["agrees"]) == ("never reached", None) and row["assumes"]
