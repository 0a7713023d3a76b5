"""Two Generals: the exact odds of the acknowledgement chain, and the lone attack the safety check catches."""
import pytest

import simulations

TG = simulations.get("two-generals")


def summary(seed=0, faults=None, **params):
    return TG.run(params, seed, faults)[-1]["summary"]


def test_nodes_are_a_and_b():
    assert [n["id"] for n in TG.run({})[0]["nodes"]] == ["A", "B"]


def test_no_loss_means_the_whole_chain_arrives_and_both_attack():
    s = summary(rounds=4, loss=0)
    assert (s["a_attacks"], s["b_attacks"], s["outcome"]) == (True, True, "coordinated")
    assert s["messages_sent"] == 4 and s["violations"] == []


def test_losing_the_last_message_makes_its_sender_attack_alone():
    s = summary(rounds=3, loss=0, faults=[{"action": "drop", "match": {"nth": 3}}])
    assert s["outcome"] == "lone_attack"
    assert s["a_attacks"] and not s["b_attacks"]  # A sent message 3 and attacks; B never got it
    assert s["violations"] == ["no_lone_attack"]


def test_losing_an_earlier_message_makes_both_retreat():
    s = summary(rounds=3, loss=0, faults=[{"action": "drop", "match": {"nth": 2}}])
    assert s["outcome"] == "both_retreat" and s["violations"] == []


def test_a_lone_attack_is_marked_red_at_the_step_it_happens():
    trace = TG.run({"rounds": 2, "loss": 0}, 0, [{"action": "drop", "match": {"nth": 2}}])
    red = [e for e in trace if e["kind"] == "check" and not e["ok"]]
    assert red and red[0]["name"] == "no_lone_attack"


def test_a_message_needs_only_one_of_its_messengers():
    s = summary(rounds=1, loss=0, messengers=3, faults=[{"action": "drop", "match": {"nth": 1}},
                                                         {"action": "drop", "match": {"nth": 2}}])
    assert s["outcome"] == "coordinated"


@pytest.mark.parametrize("rounds, loss, messengers", [(1, 0.5, 1), (3, 0.3, 1), (5, 0.5, 2), (10, 0.2, 3)])
def test_theory_gives_the_exact_odds(rounds, loss, messengers):
    theory = summary(rounds=rounds, loss=loss, messengers=messengers)["theory"]
    q = 1 - loss ** messengers
    assert theory["p_coordinated"] == pytest.approx(q ** rounds, abs=1e-6)
    assert theory["p_lone_attack"] == pytest.approx((1 - q) * q ** (rounds - 1), abs=1e-6)
    assert theory["p_both_retreat"] == pytest.approx(1 - q ** (rounds - 1), abs=1e-6)


def test_measured_outcomes_over_many_seeds_match_the_odds():
    counts = {"coordinated": 0, "lone_attack": 0, "both_retreat": 0}
    runs = 600
    for seed in range(runs):
        counts[summary(seed, rounds=3, loss=0.3)["outcome"]] += 1
    q = 0.7
    assert counts["coordinated"] / runs == pytest.approx(q ** 3, abs=0.06)
    assert counts["lone_attack"] / runs == pytest.approx(0.3 * q ** 2, abs=0.06)


def test_the_summary_shows_an_estimate_beside_the_theory():
    s = summary(rounds=3, loss=0.3)
    assert s["estimate"]["trials"] == 2000
    assert s["estimate"]["coordinated"] == pytest.approx(s["theory"]["p_coordinated"], abs=0.04)


@pytest.mark.parametrize("params", [{"rounds": 0}, {"rounds": 11}, {"loss": 0.96}, {"messengers": 6}])
def test_out_of_bounds_parameters_are_refused(params):
    with pytest.raises(simulations.ParamError):
        TG.run(params)


def bands(trace, node):
    """The bands drawn along ``node``'s lifeline, in order: (tone, label) as it starts, None as it ends."""
    return [e["band"] and (e["band"]["tone"], e["band"]["label"])
            for e in trace if e["kind"] == "state" and e["node"] == node and "band" in e]


def test_the_general_who_will_attack_holds_a_band_so_a_lone_attack_shows():
    trace = TG.run({"rounds": 3, "loss": 0}, 0, [{"action": "drop", "match": {"nth": 3}}])
    assert bands(trace, "A") == [("hold", "attacks")]
    assert bands(trace, "B") == []
    both = TG.run({"rounds": 2, "loss": 0})
    assert bands(both, "A") == bands(both, "B") == [("hold", "attacks")]


def test_outcome_the_captured_last_messenger_makes_a_attack_alone_and_the_odds_row_does_not_pretend():
    s = summary(rounds=3, loss=0, faults=[{"action": "drop", "match": {"nth": 3}}])
    assert s["headline"].startswith("A attacked alone")
    assert "ACK 2" in s["headline"] and "no_lone_attack is violated at t=3" in s["headline"]
    odds = s["known"][0]
    assert odds["agrees"] is None and "dropped ACK 2" in odds["assumes"]
    assert odds["measured"] == "this run: A attacked alone"


def test_outcome_with_random_loss_one_run_is_one_draw_and_without_loss_the_odds_agree():
    lossy = summary(seed=1, rounds=3, loss=0.5, messengers=5)["known"][0]
    assert lossy["agrees"] is None and "one draw" in lossy["assumes"] and "simulated chains" in lossy["measured"]
    clean = summary(rounds=3, loss=0)
    assert clean["headline"].startswith("A and B attack together")
    assert clean["known"][0]["agrees"] is True and clean["known"][0]["known"].startswith("1 / 0 / 0")
