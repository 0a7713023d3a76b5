"""Two-phase commit: atomic, 4n messages without failures, and blocked exactly when the coordinator fails
between the votes and the decision."""
import json

import pytest

from simulations.params import ParamError
from simulations.scenarios.two_phase_commit import LATENCY, LOG_TIME, TwoPhaseCommit

TPC = TwoPhaseCommit()
CRASH_AFTER_VOTES = {"action": "crash", "node": "C", "at": 2 * LATENCY + 2}  # votes in at 10, COMMIT logged at 15


def run(faults=None, seed=0, **params):
    return TPC.run(params, seed, faults)


def summary(faults=None, **params):
    return run(faults, **params)[-1]["summary"]


def bands(trace, node):
    return [(e["band"]["tone"], e["band"]["label"]) if e["band"] else None
            for e in trace if e["kind"] == "state" and e["node"] == node and "band" in e]


def red(trace, name):
    return [e for e in trace if e["kind"] == "check" and e["name"] == name and not e["ok"]]


@pytest.mark.parametrize("n", range(2, 9))
def test_all_yes_commits_everywhere_with_4n_messages(n):
    s = summary(n=n)
    assert s["decision"] == "commit" and not s["blocked"] and s["violations"] == []
    assert s["outcomes"] == {f"P{i}": "committed" for i in range(1, n + 1)}
    assert s["messages_sent"] == 4 * n == s["theory"]["messages_without_failure"]
    assert s["messages_by_label"] == {"PREPARE": n, "VOTE": n, "COMMIT": n, "ACK": n}
    assert s["known"][0]["agrees"] is True and s["known"][1]["agrees"] is True


def test_a_committed_participant_shows_prepared_then_committed_and_c_collects_logs_commits():
    trace = run()
    assert bands(trace, "P1") == [("busy", "prepared"), ("done", "committed")]
    assert bands(trace, "C") == [("busy", "collecting"), ("busy", "logging"), ("done", "committed")]


def test_one_no_vote_aborts_everywhere_still_with_4n_messages():
    trace = run(votes="P2=no")
    s = trace[-1]["summary"]
    assert s["decision"] == "abort" and s["violations"] == [] and not s["blocked"]
    assert s["outcomes"] == {"P1": "aborted", "P2": "aborted", "P3": "aborted"}
    assert s["messages_by_label"] == {"PREPARE": 3, "VOTE": 3, "ABORT": 3, "ACK": 3}
    assert bands(trace, "P2") == [("fail", "aborted")]  # a no voter aborts at once, on its own
    assert "P2 voted no" in s["headline"]


def test_coordinator_crash_after_the_votes_blocks_every_yes_voter():
    trace = run([CRASH_AFTER_VOTES])
    s = trace[-1]["summary"]
    assert s["blocked"] is True and s["decision"] is None
    assert s["outcomes"] == {"P1": "in_doubt", "P2": "in_doubt", "P3": "in_doubt"}
    assert s["violations"] == []  # atomicity holds: nobody decided
    for p in ("P1", "P2", "P3"):
        assert bands(trace, p) == [("busy", "prepared"), ("wait", "in doubt"), ("fault", "blocked")]
    assert s["messages_by_label"]["DECISION?"] == 6 and s["messages_by_label"]["UNCERTAIN"] == 6
    assert s["headline"].startswith("P1, P2 and P3 voted yes and are blocked: C crashed at t=12")
    assert s["known"][1]["agrees"] is True


def test_after_the_coordinator_recovers_everyone_decides_the_same():
    trace = run([CRASH_AFTER_VOTES, {"action": "recover", "node": "C", "at": 200}])
    s = trace[-1]["summary"]
    assert not s["blocked"] and s["violations"] == []
    assert s["decision"] == "abort"  # no COMMIT record in C's log: nobody can have committed, so C aborts
    assert set(s["outcomes"].values()) == {"aborted"}
    decided = [e["t"] for e in trace if e["kind"] == "state" and e.get("band") == {"tone": "fail", "label": "aborted"}]
    assert min(decided) > 200
    assert "blocked until C recovered at t=200" in s["headline"]


@pytest.mark.parametrize("at", range(1, 2 * LATENCY + LOG_TIME + 1))
def test_2pc_blocks_exactly_when_the_coordinator_fails_between_votes_and_decision(at):
    s = summary([{"action": "crash", "node": "C", "at": at}])
    assert s["blocked"] is True and s["violations"] == []


@pytest.mark.parametrize("at", [2 * LATENCY + LOG_TIME + 1, 2 * LATENCY + LOG_TIME + LATENCY, 100])
def test_a_crash_once_the_decision_is_sent_does_not_block(at):
    s = summary([{"action": "crash", "node": "C", "at": at}])
    assert s["blocked"] is False and s["decision"] == "commit" and set(s["outcomes"].values()) == {"committed"}


def test_a_no_vote_prevents_blocking_a_peer_that_voted_no_answers_abort():
    s = summary([CRASH_AFTER_VOTES], votes="P3=no")
    assert not s["blocked"] and s["decision"] == "abort" and s["violations"] == []
    labels = s["messages_by_label"]  # P1 and P2 are uncertain to each other; P3 answers both ABORT
    assert labels["DECISION?"] == 4 and labels["UNCERTAIN"] == 2 and labels["ABORT"] == 2


def test_crash_before_prepare_reaches_anyone_everyone_aborts_unilaterally():
    """C crashes at t=0, before it sends PREPARE: nobody voted, so each may abort on its own after
    decision_timeout. Here the model aborts everywhere and nobody blocks."""
    s = summary([{"action": "crash", "node": "C", "at": 0}])
    assert s["messages_sent"] == 0 and s["decision"] == "abort" and not s["blocked"]
    assert set(s["outcomes"].values()) == {"aborted"} and s["violations"] == []


def test_a_participant_that_never_got_prepare_aborts_and_tells_the_yes_voters():
    """PREPARE to P2 is lost and C crashes after the others voted: P2 never voted, aborts on its own and
    answers ABORT when P1 and P3 ask, so nobody is blocked."""
    trace = run([{"action": "drop", "match": {"label": "PREPARE", "dst": "P2"}}, CRASH_AFTER_VOTES])
    s = trace[-1]["summary"]
    assert not s["blocked"] and s["decision"] == "abort" and s["violations"] == []
    answers = [e for e in trace if e["kind"] == "send" and e["src"] == "P2" and e["label"] == "ABORT"]
    assert {e["dst"] for e in answers} == {"P1", "P3"}


def test_a_lost_commit_is_learned_from_a_peer():
    s = summary([{"action": "drop", "match": {"label": "COMMIT", "dst": "P1"}}], decision_timeout=10)
    assert s["outcomes"]["P1"] == "committed" and s["violations"] == []


def test_aborting_on_a_timeout_breaks_the_promise_of_a_yes_vote_and_atomicity():
    """The tempting fix, a yes voter that aborts when it hears nothing, decides alone: with a timeout shorter
    than the decision takes, every participant aborts while C has logged COMMIT."""
    faults = [{"action": "delay", "match": {"label": "COMMIT", "dst": "P1"}, "by": 100}]
    trace = run(faults, on_timeout="abort", decision_timeout=10)
    s = trace[-1]["summary"]
    assert s["violations"] == ["atomicity", "no_unilateral_decision"]
    assert red(trace, "no_unilateral_decision")[0]["detail"].startswith("P1 voted yes and decided ABORT")
    assert s["outcomes"]["P1"] == "aborted" and s["decision"] is None  # C committed, the participants aborted
    assert s["headline"] == ("P1, P2 and P3 aborted, while C decided COMMIT: atomicity and no_unilateral_decision "
                             "are violated, first at t=15.")
    safe = summary(faults, decision_timeout=10)  # asking the peers instead: P1 learns COMMIT from them
    assert safe["violations"] == [] and safe["outcomes"]["P1"] == "committed"


def test_same_inputs_give_an_identical_trace():
    faults = [CRASH_AFTER_VOTES, {"action": "recover", "node": "C", "at": 200}]
    assert json.dumps(run(faults, seed=3, n=5)) == json.dumps(run(faults, seed=3, n=5))


@pytest.mark.parametrize("params, field", [
    ({"n": 1}, "n"), ({"n": 9}, "n"), ({"votes": "P4=no"}, "votes"), ({"votes": "P2=maybe"}, "votes"),
    ({"votes": "P2=no,P2=yes"}, "votes"), ({"decision_timeout": 0}, "decision_timeout"),
    ({"decision_timeout": 100000}, "decision_timeout"), ({"on_timeout": "guess"}, "on_timeout"),
])
def test_out_of_bounds_params_are_refused(params, field):
    with pytest.raises(ParamError) as e:
        TPC.parse(params)
    assert field in e.value.errors
