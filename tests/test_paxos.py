"""Single-decree Paxos: one uncontested proposer chooses its value in 2 round trips and 4m messages, any
majority of acceptors suffices, dueling proposers livelock without backoff, a later proposer adopts the
accepted value, and no run ever chooses two values."""
import json
import random

import pytest

from simulations.params import ParamError
from simulations.scenarios.paxos import SAFETY, Paxos

PAXOS = Paxos()
LABELS = ("PREPARE", "PROMISE", "ACCEPT", "ACCEPTED", "NACK")


def run(faults=None, seed=0, **params):
    return PAXOS.run(params, seed, faults)


def summary(faults=None, seed=0, **params):
    return run(faults, seed, **params)[-1]["summary"]


def crash(*nodes, at=0):
    return [{"action": "crash", "node": n, "at": at} for n in nodes]


def bands(trace, node):
    return [(e["band"]["tone"], e["band"]["label"]) if e["band"] else None
            for e in trace if e["kind"] == "state" and e["node"] == node and "band" in e]


def sends(trace, label, src=None):
    return [e for e in trace if e["kind"] == "send" and e["label"] == label and src in (None, e["src"])]


@pytest.mark.parametrize("m", range(3, 8))
def test_one_proposer_chooses_v1_in_two_round_trips_and_4m_messages(m):
    trace = run(proposers=1, acceptors=m, starts="P1@0")
    s = trace[-1]["summary"]
    assert s["chosen"] == "v1" and s["learned"] == {"P1": "v1"} and s["ballots"] == 1
    assert s["messages_by_label"] == {"PREPARE": m, "PROMISE": m, "ACCEPT": m, "ACCEPTED": m}
    assert s["messages_sent"] == 4 * m == s["theory"]["messages_uncontested"]
    assert s["round_trips"] == 2 and s["chosen_at"] == 3  # the ACCEPTs land after three message delays
    assert s["accepted"] == {f"A{i}": {"ballot": "1.1", "value": "v1"} for i in range(1, m + 1)}
    known = s["known"][0]
    assert known["known"].startswith(f"4m = {4 * m} per ballot") and known["agrees"] is True
    assert known["measured"].startswith(f"{4 * m} in 1 ballot")
    assert s["known"][1]["measured"] == "2" and s["known"][1]["agrees"] is True
    assert s["headline"] == (f"P1 got v1 chosen in 2 round trips and {4 * m} messages: a majority of "
                             f"{m // 2 + 1} acceptors accepted it.")


def test_a_proposer_shows_preparing_accepting_chosen_and_an_acceptor_promised_then_accepted():
    trace = run(proposers=1, starts="P1@0")
    assert bands(trace, "P1") == [("busy", "preparing"), ("busy", "accepting"), ("done", "chosen")]
    assert bands(trace, "A1") == [("wait", "promised"), ("hold", "accepted")]
    assert {e.get("tag") for e in trace if e["kind"] == "send"} == {"1.1"}  # every arrow carries its ballot


@pytest.mark.parametrize("m, down", [(3, ["A3"]), (5, ["A1", "A4"]), (7, ["A2", "A5", "A7"])])
def test_a_crashed_minority_of_acceptors_still_lets_a_value_be_chosen(m, down):
    s = summary(crash(*down), proposers=1, acceptors=m, starts="P1@0")
    assert s["chosen"] == "v1" and s["violations"] == [] and s["ballots"] == 1
    assert all(s["accepted"][a] is None for a in down)
    c = len(down)
    assert s["messages_by_label"] == {"PREPARE": m, "PROMISE": m - c, "ACCEPT": m, "ACCEPTED": m - c}
    assert s["known"][0]["agrees"] is True and s["known"][0]["known"].startswith(f"4m - 2c = {4 * m - 2 * c}")
    assert "although" in s["headline"] and "down" in s["headline"]


@pytest.mark.parametrize("m, down", [(3, ["A1", "A3"]), (5, ["A2", "A3", "A4"]), (7, ["A1", "A2", "A3", "A4"])])
def test_a_crashed_majority_of_acceptors_lets_nothing_be_chosen(m, down):
    s = summary(crash(*down), proposers=1, acceptors=m, starts="P1@0", max_ballots=4)
    assert s["chosen"] is None and s["learned"] == {"P1": None} and s["violations"] == []
    assert s["ballots"] == 4 and s["stopped"] == "max_ballots"
    assert "ACCEPT" not in s["messages_by_label"]  # no ballot ever gets a majority of promises
    assert s["headline"].startswith("No value chosen: ") and f"a ballot needs {m // 2 + 1} of {m} acceptors; 4 " \
        "ballots failed." in s["headline"]


@pytest.mark.parametrize("starts", ["P1@0,P2@0", "P1@0,P2@1", "P1@0,P2@2", "P1@4,P2@5"])
def test_dueling_proposers_without_backoff_livelock_until_max_ballots(starts):
    trace = run(starts=starts, backoff="none", max_ballots=10)
    s = trace[-1]["summary"]
    assert s["chosen"] is None and s["learned"] == {"P1": None, "P2": None} and s["violations"] == []
    assert s["ballots"] == 20 and s["ballots_by_proposer"] == {"P1": 10, "P2": 10}
    assert s["stopped"] == "max_ballots" and "ACCEPTED" not in s["messages_by_label"]
    assert s["messages_by_label"]["NACK"] > 20
    assert "livelock" in s["headline"]
    p1 = bands(trace, "P1")  # the duel, on P1's lifeline: preparing, accepting, preempted, over and over
    assert p1[:4] == [("busy", "preparing"), ("busy", "accepting"), ("wait", "preempted"), ("busy", "preparing")]
    assert p1.count(("wait", "preempted")) >= 9


def test_a_preempted_proposer_starts_a_round_above_the_highest_it_heard_of():
    trace = run(starts="P1@0,P2@1", backoff="none", max_ballots=4)
    prepared = [e["tag"] for e in trace if e["kind"] == "send" and e["label"] == "PREPARE" and e["dst"] == "A1"]
    assert prepared == ["1.1", "1.2", "2.1", "3.2", "4.1", "5.2", "6.1", "7.2"]  # P2 heard of 2.1, so 3.2
    preempted = [(e["dst"], e["data"]["ballot"], e["data"]["promised"]) for e in sends(trace, "NACK", "A1")]
    assert preempted[:3] == [("P1", "1.1", "1.2"), ("P1", "1.1", "1.2"), ("P2", "1.2", "2.1")]


@pytest.mark.parametrize("starts", ["P1@0,P2@0", "P1@0,P2@1", "P1@0,P2@2"])
def test_with_random_backoff_dueling_proposers_converge_on_one_value(starts):
    for seed in range(40):
        s = summary(seed=seed, starts=starts, backoff="random", max_ballots=10)
        assert s["chosen"] in ("v1", "v2") and s["stopped"] == "quiescent", seed
        assert set(s["learned"].values()) == {s["chosen"]}, seed
        assert s["violations"] == []


def test_three_proposers_with_random_backoff_converge_too():
    for seed in range(20):
        s = summary(seed=seed, proposers=3, starts="P1@0,P2@1,P3@1", backoff="random")
        assert s["chosen"] is not None and len(set(s["learned"].values())) == 1, seed


@pytest.mark.parametrize("later", [3, 4, 5, 20])
def test_a_later_proposer_adopts_the_value_a_majority_already_accepted(later):
    trace = run(starts=f"P1@0,P2@{later}")
    s = trace[-1]["summary"]
    assert s["chosen"] == "v1" and s["learned"] == {"P1": "v1", "P2": "v1"}
    assert [e["data"]["value"] for e in sends(trace, "ACCEPT", "P2")] == ["v1"] * 3  # never its own v2
    assert s["accepted"] == {a: {"ballot": "1.2", "value": "v1"} for a in ("A1", "A2", "A3")}
    assert "P2 found it accepted in the PROMISEs and proposed v1 too" in s["headline"]
    assert any(r["measured"] == "P2 proposed v1, not v2" and r["agrees"] for r in s["known"])


def test_one_overlapping_acceptor_is_enough_for_the_later_proposer_to_adopt_v1():
    """A3 never got P1's ACCEPT and P2's PREPARE to A1 is lost: of P2's majority (A2, A3) only A2 remembers v1,
    and that is enough, because the highest-numbered accepted value wins."""
    faults = [{"action": "drop", "match": {"label": "ACCEPT", "dst": "A3"}},
              {"action": "drop", "match": {"label": "PREPARE", "dst": "A1", "nth": 2}}]
    trace = run(faults, starts="P1@0,P2@5")
    promises = [e["data"]["accepted"] for e in sends(trace, "PROMISE") if e["dst"] == "P2"]
    assert promises == [{"ballot": "1.1", "value": "v1"}, None]
    assert trace[-1]["summary"]["chosen"] == "v1"
    assert [e["data"]["value"] for e in sends(trace, "ACCEPT", "P2")] == ["v1"] * 3


def test_an_earlier_ballot_arriving_late_is_refused_with_a_nack():
    trace = run(starts="P1@3,P2@0")
    nacks = sends(trace, "NACK")
    assert {(e["src"], e["dst"], e["data"]["ballot"], e["data"]["promised"]) for e in nacks} == {
        (a, "P1", "1.1", "1.2") for a in ("A1", "A2", "A3")}
    s = trace[-1]["summary"]
    assert s["chosen"] == "v2" and s["learned"] == {"P1": "v2", "P2": "v2"}


def random_faults(rng, nodes):
    """A fault script as simulations/faults.py takes it: crashes (some recovered), drops, delays, duplicates."""
    faults = []
    for _ in range(rng.randint(1, 12)):
        action = rng.choice(["crash", "drop", "delay", "duplicate"])
        if action == "crash":
            node, at = rng.choice(nodes), rng.randint(0, 30)
            faults.append({"action": "crash", "node": node, "at": at})
            if rng.random() < 0.7:
                faults.append({"action": "recover", "node": node, "at": at + rng.randint(1, 20)})
            continue
        fault = {"action": action, "match": {"label": rng.choice(LABELS), "nth": rng.randint(1, 6)}}
        if rng.random() < 0.5:
            fault["match"]["dst"] = rng.choice(nodes)
        if action != "drop":
            fault["by"] = rng.randint(1, 12)
        faults.append(fault)
    if rng.random() < 0.3:
        faults.append({"action": "loss", "rate": round(rng.random() * 0.3, 2)})
    return faults


def test_paxos_never_chooses_two_values_over_300_seeds_of_crashes_drops_delays_and_duplicates():
    outcomes = set()
    for seed in range(300):
        rng = random.Random(seed)
        k, m = rng.randint(1, 3), rng.randint(3, 7)
        params = {"proposers": k, "acceptors": m, "backoff": rng.choice(["none", "random"]),
                  "starts": ",".join(f"P{i}@{rng.randint(0, 6)}" for i in range(1, k + 1)),
                  "max_ballots": rng.randint(3, 15)}
        nodes = PAXOS.node_ids(PAXOS.parse(params)[0])
        trace = PAXOS.run(params, seed, random_faults(rng, nodes))
        s = trace[-1]["summary"]
        assert s["violations"] == [], (seed, params)
        learned = {v for v in s["learned"].values() if v is not None}
        assert learned <= {s["chosen"]}, (seed, params)  # whoever learned a value learned the chosen one
        final = [e for e in trace if e["kind"] == "check" and e["name"] == SAFETY]
        assert final[-1]["ok"] is True
        outcomes.add(s["chosen"])
    assert {None, "v1", "v2", "v3"} <= outcomes  # the sample is not blind: every outcome occurs


def test_the_safety_check_reads_the_acceptors_votes_on_every_accepted():
    """Break phase 2a (a proposer ignores what its PROMISEs report) and the live check goes red at the
    ACCEPTED that completes a second majority."""
    from simulations.scenarios import paxos

    class Reckless(paxos.Proposer):
        def propose(self):
            self.promises = {a: None for a in self.promises}
            super().propose()

    class Broken(Paxos):
        def setup(self, sim, params):
            nodes = super().setup(sim, params)
            return [Reckless(n.index, n.ledger, n.start_at) if isinstance(n, paxos.Proposer) else n for n in nodes]

    trace = Broken().run({"starts": "P1@0,P2@5"})
    red = [e for e in trace if e["kind"] == "check" and e["name"] == SAFETY and not e["ok"]]
    assert red and red[0]["detail"] == "v1 and v2 were all chosen, each by a majority in some ballot"
    assert trace[red[0]["seq"] - 1]["kind"] == "send" and trace[red[0]["seq"] - 1]["label"] == "ACCEPTED"
    assert trace[-1]["summary"]["violations"] == [SAFETY]


def test_a_proposer_not_listed_in_starts_never_proposes():
    s = summary(proposers=3, starts="P2@0")
    assert s["ballots_by_proposer"] == {"P1": 0, "P2": 1, "P3": 0} and s["chosen"] == "v2"
    assert summary(starts="")["ballots"] == 0


def test_the_default_is_two_proposers_five_ticks_apart_and_three_acceptors():
    params, _ = PAXOS.parse({})
    assert params == {"proposers": 2, "acceptors": 3, "starts": "P1@0,P2@5", "backoff": "none", "max_ballots": 10}
    assert PAXOS.parse({"proposers": 3})[0]["starts"] == "P1@0,P2@5,P3@10"


def test_same_inputs_give_an_identical_trace():
    faults = [{"action": "duplicate", "match": {"label": "PROMISE", "nth": 2}, "by": 2}] + crash("A2", at=3)
    args = dict(proposers=3, acceptors=5, starts="P1@0,P2@1,P3@2", backoff="random")
    assert json.dumps(run(faults, 7, **args)) == json.dumps(run(faults, 7, **args))


@pytest.mark.parametrize("params, field, message", [
    ({"proposers": 0}, "proposers", "at least 1"), ({"proposers": 4}, "proposers", "at most 3"),
    ({"acceptors": 2}, "acceptors", "at least 3"), ({"acceptors": 8}, "acceptors", "at most 7"),
    ({"starts": "P3@0"}, "starts", "P3 is not a proposer (P1..P2)"),
    ({"starts": "P1@0,P1@4"}, "starts", "P1 is listed twice"),
    ({"starts": "P1@9999"}, "starts", "at most tick 500"),
    ({"starts": "P1 at noon"}, "starts", "wrong form"), ({"starts": "A1@0"}, "starts", "wrong form"),
    ({"backoff": "exponential"}, "backoff", "none, random"),
    ({"max_ballots": 0}, "max_ballots", "at least 1"), ({"max_ballots": 31}, "max_ballots", "at most 30"),
])
def test_bad_params_are_refused_naming_the_field(params, field, message):
    with pytest.raises(ParamError) as e:
        PAXOS.parse(params)
    assert field in e.value.errors and message in e.value.errors[field]


def test_the_choose_two_values_challenge_resists_a_sample_of_scripts_within_its_budget():
    from challenges.catalog import CHALLENGES

    ch = next(c for c in CHALLENGES if c["slug"] == "choose-two-values")
    assert not ch["possible"] and ch["goal"] == {"invariant": SAFETY}
    params, _ = PAXOS.parse(ch["params"])
    nodes = PAXOS.node_ids(params)
    outcomes = set()
    for sample in range(300):
        rng = random.Random(sample)
        script = [f for f in random_faults(rng, nodes) if f["action"] in ch["kinds"]][:ch["max_faults"]]
        s = PAXOS.run(ch["params"], ch["seed"], script)[-1]["summary"]
        assert s["violations"] == [], script
        outcomes.add(s["chosen"])
    assert outcomes == {None, "v1", "v2"}  # the faults do change the outcome: the sample is not blind
