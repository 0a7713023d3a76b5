"""Raft (Ongaro & Ousterhout 2014): one leader per term, majority commit of current-term entries, stale leaders
deposed by terms, lagging followers repaired by nextIndex back-off, and the five safety properties under any
schedule of crashes and partitions."""
import itertools
import json
import random

import pytest

from simulations.params import ParamError
from simulations.scenarios.raft import Raft, Server

RAFT = Raft()
INVARIANTS = {"election safety", "log matching", "leader completeness", "state machine safety", "leader append-only"}
LEADER_CRASH = [{"action": "crash", "node": "S3", "at": 530}, {"action": "recover", "node": "S3", "at": 1000}]
OLD_LEADER_CUT_OFF = [{"action": "partition", "groups": [["S3", "S1", "client"], ["S2", "S4", "S5"]], "at": 300,
                       "until": 900}]
LAGGING_S5 = [{"action": "crash", "node": "S5", "at": 250}, {"action": "crash", "node": "S3", "at": 700},
              {"action": "recover", "node": "S5", "at": 1100}]


def run(faults=None, seed=0, **params):
    return RAFT.run(params, seed, faults)


def simulation(params, seed=0, faults=None):
    """A finished Simulation, for what only the referee knows (who stood in which term)."""
    params, faults = RAFT.parse(params, faults)
    sim = RAFT.simulate(params, seed, faults)
    sim.run()
    return sim


def states(trace, node, since=0, until=None):
    return [e["state"] for e in trace if e["kind"] == "state" and e["node"] == node and e["t"] >= since
            and (until is None or e["t"] < until)]


def bands(trace, node):
    return [(e["band"]["tone"], e["band"]["label"]) if e["band"] else None
            for e in trace if e["kind"] == "state" and e["node"] == node and "band" in e]


def sends(trace, label, **where):
    return [e for e in trace if e["kind"] == "send" and e["label"] == label
            and all(e.get(k) == v for k, v in where.items())]


def test_default_run_elects_exactly_one_leader_and_commits_the_commands_in_order_on_all_servers():
    trace = run()
    s = trace[-1]["summary"]
    assert s["violations"] == [] and s["stopped"] == "quiescent"
    assert [x["term"] for x in s["leaders"]] == [1] and s["max_term"] == 1 and s["elections"] == 1
    assert s["committed"] == ["a", "b", "c"]
    assert s["commit_index"] == {f"S{i}": 3 for i in range(1, 6)}
    assert set(s["logs"].values()) == {"1:a 1:b 1:c"}
    assert len(trace) < 2000
    leader = s["leaders"][0]["node"]
    assert s["headline"] == f"{leader} won term 1 and committed a, b and c on all 5 servers."
    assert all(row["agrees"] for row in s["known"])
    assert {e["name"] for e in trace if e["kind"] == "check"} == INVARIANTS


@pytest.mark.parametrize("n", range(3, 10))
def test_an_uncontested_election_and_each_entry_cost_2_n_minus_1_messages(n):
    for seed in range(20):
        sim = simulation({"n": n}, seed)
        s = sim.summary
        if len(sim.ledger.candidacies[1]) == 1:
            break
    assert s["election_messages"] == 2 * (n - 1) == s["theory"]["election_messages"]
    assert s["messages_per_entry"] == 2 * (n - 1) == s["theory"]["messages_per_entry"]
    assert [row["agrees"] for row in s["known"]] == [True, True, True]
    assert s["known"][1]["measured"] == f"{2 * (n - 1)} in term 1"


def test_a_follower_redirects_the_client_to_the_leader():
    trace = run()
    leader = trace[-1]["summary"]["leaders"][0]["node"]
    assert leader != "S1"  # the client tries S1 first
    first = sends(trace, "Request")[0]
    assert first["dst"] == "S1"
    redirect = sends(trace, "Redirect")[0]
    assert redirect["src"] == "S1" and redirect["data"] == {"leader": leader}
    assert [e["dst"] for e in sends(trace, "Request")[1:]] == [leader] * 3
    assert [e["data"]["command"] for e in sends(trace, "OK")] == ["a", "b", "c"]


def test_the_leader_and_candidates_show_their_term_in_their_band():
    trace = run(seed=2)  # S1 and S3 both stand in term 1
    assert ("busy", "candidate t1") in bands(trace, "S3")
    assert bands(trace, "S1") == [("busy", "candidate t1"), ("hold", "leader t1")]


def test_the_run_stops_one_heartbeat_after_everything_is_applied_instead_of_beating_forever():
    trace = run()
    applied = max(e["t"] for e in trace if e["kind"] == "state" and e["state"]["commit_index"] == 3)
    beats = [e["t"] for e in trace if e["kind"] == "timer" and e["label"] == "heartbeat"]
    assert trace[-1]["t"] - applied <= 2 * 50 + 2 * 10
    assert beats[-1] > applied and beats[-1] - applied <= 50


def test_a_leader_crash_brings_a_new_leader_in_a_higher_term_and_loses_no_committed_entry():
    trace = run(LEADER_CRASH)
    s = trace[-1]["summary"]
    assert s["violations"] == []
    old, new = s["leaders"]
    assert old == {"term": 1, "node": "S3", "t": 180} and new["term"] > 1 and new["node"] != "S3"
    committed_before = max(e["state"]["commit_index"] for e in trace if e["kind"] == "state" and e["t"] <= 530)
    assert committed_before >= 1
    assert s["committed"] == ["a", "b", "c"]
    for log in s["logs"].values():  # the new leader wrote a no-op to commit what it inherited
        assert log.split()[:committed_before] == ["1:a", "1:b"][:committed_before]
        assert log.split()[-1] == "2:c" and "2:-" in log
    assert states(trace, "S3", since=1000)[0] == {"role": "follower", "term": 1, "log": "1:a 1:b", "log_len": 2,
                                                  "commit_index": 0}  # persistent state survived, volatile did not
    assert s["headline"] == ("S3 won term 1 at t=180, leader S3 crashed at t=530 and S4 won term 2 at t=752; a, b "
                             "and c are committed on all 5 servers.")


def test_a_split_vote_is_resolved_in_a_later_term_by_randomized_timeouts():
    sim = simulation({"n": 4}, seed=2)
    s = sim.summary
    assert len(sim.ledger.candidacies[1]) == 3  # three candidates in term 1: nobody gets 3 of 4 votes
    assert [x["term"] for x in s["leaders"]] == [2] and s["elections"] == 2
    assert s["committed"] == ["a", "b", "c"] and s["violations"] == []
    assert s["headline"].startswith("The vote for term 1 split and S1 won term 2 at t=377")
    assert s["known"][1]["measured"] == "6 in term 2" and s["known"][1]["agrees"] is True  # term 2 went uncontested


def test_nearly_equal_timeouts_split_every_vote_while_randomized_ones_elect_a_leader():
    for seed in range(5):
        narrow = run(seed=seed, n=4, election_timeout_min=150, election_timeout_max=152)[-1]["summary"]
        assert narrow["leaders"] == [] and narrow["elections"] > 20 and narrow["stopped"] == "horizon"
        assert narrow["violations"] == [] and narrow["headline"].endswith("every vote split.")
        wide = run(seed=seed, n=4)[-1]["summary"]
        assert wide["elections"] <= 2 and wide["committed"] == ["a", "b", "c"] and wide["violations"] == []


def test_an_old_leader_in_a_minority_cannot_commit_and_steps_down_on_heal_losing_its_uncommitted_entry():
    trace = run(OLD_LEADER_CUT_OFF)
    s = trace[-1]["summary"]
    assert s["violations"] == []
    old, new = s["leaders"]
    assert old["node"] == "S3" and new["term"] == 2 and new["node"] in ("S2", "S4", "S5") and new["t"] < 900
    cut_off = states(trace, "S3", since=300, until=900)
    assert any(x["log"] == "1:a" and x["role"] == "leader" for x in cut_off)  # it took the client's command...
    assert all(x["commit_index"] == 0 for x in cut_off)  # ...but could never commit it
    after = states(trace, "S3", since=900)
    assert after[0]["role"] == "follower" and after[0]["term"] == 2  # the first message of term 2 deposes it
    assert after[-1]["log"] == "2:a 2:b 2:c"  # its term-1 entry was overwritten by the new leader's
    assert "S3 stepped down at t=945 and S1 and S3 dropped uncommitted 1:a" in s["headline"]
    assert s["committed"] == ["a", "b", "c"] and set(s["commit_index"].values()) == {3}


def test_a_lagging_follower_is_caught_up_by_backing_off_next_index():
    trace = run(LAGGING_S5)
    s = trace[-1]["summary"]
    assert s["violations"] == []
    leader = s["leaders"][-1]["node"]
    probes = [(e["data"]["prev"], e.get("tag")) for e in sends(trace, "AppendEntries", src=leader, dst="S5")
              if e["t"] >= 1100]
    tried = [prev for prev, _ in probes[:probes.index((0, "n=1")) + 1]]
    assert tried[0] == 3 and tried[-1] == 0 and {"n=3", "n=2", "n=1"} <= {tag for _, tag in probes}
    refused = [e for e in sends(trace, "AppendEntries reply", src="S5") if e["t"] >= 1100 and not e["data"]["ok"]]
    assert len(refused) >= 3
    assert states(trace, "S5")[-1]["log"] == "1:a 1:b 1:c" and s["commit_index"]["S5"] == 3


def random_faults(rng, n):
    servers = [f"S{i}" for i in range(1, n + 1)]
    faults = []
    for _ in range(rng.randint(1, 6)):
        at = rng.randint(0, 1500)
        if rng.random() < 0.5:
            node = rng.choice(servers)
            faults.append({"action": "crash", "node": node, "at": at})
            if rng.random() < 0.8:
                faults.append({"action": "recover", "node": node, "at": at + rng.randint(10, 600)})
        else:
            nodes = servers + ["client"]
            rng.shuffle(nodes)
            cut = rng.randint(1, len(nodes) - 1)
            faults.append({"action": "partition", "groups": [nodes[:cut], nodes[cut:]], "at": at,
                           "until": at + rng.randint(10, 800)})
    return faults


def test_raft_safety_holds_under_random_crash_and_partition_schedules():
    endings, recovered = {}, 0
    for seed in range(200):
        n = 3 + seed % 7
        trace = run(random_faults(random.Random(seed), n), seed=seed, n=n)
        s = trace[-1]["summary"]
        assert s["violations"] == [], (seed, s["violations"])
        assert 20 < len(s["headline"]) <= 180 and ". " not in s["headline"], s["headline"]
        per_term = [x["term"] for x in s["leaders"]]
        assert len(per_term) == len(set(per_term)), seed
        endings[s["stopped"]] = endings.get(s["stopped"], 0) + 1
        recovered += s["committed"] == ["a", "b", "c"]
    assert recovered > 150 and endings.get("quiescent", 0) > 150


class CarelessServer(Server):
    """Grants a vote without checking that the candidate's log is up to date."""

    def on_request_vote(self, src, data):
        granted = data["term"] == self.term and self.voted_for in (None, src)
        if granted:
            self.voted_for = src
            self.reset_election()
        self.send(src, "RequestVote reply", {"term": self.term, "granted": granted})


class CarelessRaft(Raft):
    def setup(self, sim, params):
        nodes = super().setup(sim, params)
        servers = self.servers(params)
        return [CarelessServer(s, servers, params) for s in servers] + nodes[len(servers):]


def test_without_the_up_to_date_vote_rule_the_checks_catch_a_leader_missing_committed_entries():
    careless = CarelessRaft()
    broken = set()
    for seed in range(60):
        n = 3 + seed % 7
        params, faults = careless.parse({"n": n}, random_faults(random.Random(seed), n))
        broken |= set(careless.simulate(params, seed, faults).run()[-1]["summary"]["violations"])
    assert {"leader completeness", "state machine safety"} <= broken


def test_same_inputs_give_the_same_trace():
    assert json.dumps(run(OLD_LEADER_CUT_OFF, seed=4)) == json.dumps(run(OLD_LEADER_CUT_OFF, seed=4))


def test_a_majority_down_stops_at_the_horizon_with_nothing_committed():
    trace = run([{"action": "crash", "node": "S1", "at": 0}, {"action": "crash", "node": "S2", "at": 0}], n=3)
    s = trace[-1]["summary"]
    assert s["stopped"] == "horizon" and s["committed"] == [] and s["leaders"] == []
    assert s["end_time"] <= RAFT.horizon(RAFT.parse({"n": 3})[0], [])
    assert s["headline"].startswith("No server won an election")


def test_three_crashes_of_five_stall_raft_and_no_two_do():
    s = run([{"action": "crash", "node": f"S{i}", "at": 0} for i in (1, 2, 3)])[-1]["summary"]
    assert s["stalled"] is True and s["committed"] == []
    for a, b in itertools.combinations(range(1, 6), 2):
        for at in (0, 300, 450):
            s = run([{"action": "crash", "node": f"S{a}", "at": at}, {"action": "crash", "node": f"S{b}", "at": at}])
            assert s[-1]["summary"]["stalled"] is False, (a, b, at)


@pytest.mark.parametrize("raw, field", [
    ({"election_timeout_min": 300, "election_timeout_max": 150}, "election_timeout_max"),
    ({"heartbeat": 5, "requests": 12, "request_every": 2000, "n": 9}, "heartbeat"),
    ({"n": 10}, "n"),
    ({"n": 2}, "n"),
])
def test_bad_or_runaway_parameters_are_refused_with_the_field(raw, field):
    with pytest.raises(ParamError) as e:
        RAFT.parse(raw, [])
    assert field in e.value.errors


def test_no_requests_ends_after_the_election():
    s = run(requests=0)[-1]["summary"]
    assert s["committed"] == [] and len(s["leaders"]) == 1 and s["stopped"] == "quiescent"
    assert s["end_time"] < 500
