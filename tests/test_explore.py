"""The search finds the counterexample, or covers the bound and says so: the known answers, reproduced."""
import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

import simulations
from simulations.explore import Goal, Search, explore, parse_goal, state_of
from simulations.params import ParamError


def search(slug, goal="invariant", seed=0, faults=None, **budget):
    scenario = simulations.get(slug)
    raw = budget.pop("params", {})
    params, faults = scenario.parse(raw, faults)
    return explore(scenario, params, seed, faults, parse_goal(scenario, goal), **budget)


def replay(result, slug):
    """The run found, re-executed from its set-up alone: an ordinary run."""
    return simulations.get(slug).run(result.params, result.seed, result.faults)


# -- the known answers -----------------------------------------------------------

def test_om1_three_generals_a_traitor_answer_breaks_ic2():
    result = search("byzantine-generals", params={"n": 3, "traitors": "L2", "strategy": "attack"},
                    kinds="choice", max_faults=1)
    assert result.found and result.reached == "IC2" and len(result.perturbations) == 1
    assert result.params["strategy"] == "chosen" and result.params["answers"] == "R"
    assert result.steps == ["traitor L2's message to L1 (honest: ATTACK) says RETREAT"]
    assert replay(result, "byzantine-generals")[-1]["summary"]["violations"] == ["IC2"]


@pytest.mark.parametrize("traitor, messages", [("C", 3), ("L1", 2), ("L2", 2), ("L3", 2)])
def test_om1_four_generals_no_answer_of_one_traitor_breaks_agreement(traitor, messages):
    result = search("byzantine-generals", params={"n": 4, "traitors": traitor}, kinds="choice", max_faults=messages)
    assert not result.found and result.complete
    assert result.runs == result.states == 3 ** messages  # ATTACK, RETREAT or nothing, for each message
    assert result.report().startswith(f"Not broken: all {3 ** messages} runs")


BEYOND_TIMEOUT = "22,40,80"  # T = n(cs_time + 1) + 1 = 21 ticks for the default ring (Le Lann's rotation)


def test_token_ring_without_generations_one_token_late_beyond_the_timeout_breaks_mutual_exclusion():
    result = search("token-ring", "invariant:mutual_exclusion", params={"generations": False}, kinds="delay",
                    delays=BEYOND_TIMEOUT, max_faults=1)
    assert result.found and result.reached == "mutual_exclusion"
    [late] = result.faults
    assert late["action"] == "delay" and late["match"]["label"] == "TOKEN" and late["by"] > 21
    assert "mutual_exclusion" in replay(result, "token-ring")[-1]["summary"]["violations"]


def test_token_ring_with_generations_no_token_late_beyond_the_timeout_breaks_mutual_exclusion():
    result = search("token-ring", "invariant:mutual_exclusion", params={"generations": True}, kinds="delay",
                    delays=BEYOND_TIMEOUT, max_faults=1)
    assert not result.found and result.complete
    assert result.runs == 1 + 20 * 3  # every one of the 20 messages, by each of the three delays


def test_token_ring_without_generations_one_delayed_token_makes_two_valid_tokens():
    result = search("token-ring", "invariant:at most one valid token", params={"generations": False},
                    kinds="delay", max_faults=1)
    assert result.found and result.reached == "at most one valid token"
    [late] = result.faults
    assert late["action"] == "delay" and late["match"]["label"] == "TOKEN"


def test_token_ring_with_generations_no_delayed_token_makes_two_valid_tokens():
    result = search("token-ring", "invariant:at most one valid token", params={"generations": True},
                    kinds="delay", delays="1,4,16,22,64,256", max_faults=1)
    assert not result.found and result.complete and result.runs > 20


def test_token_ring_with_generations_a_token_late_by_less_than_the_timeout_still_puts_two_inside():
    """Found by the search: late past the slack T - L = 3 but within T, the old token is still ahead of its
    replacement, honoured by nodes that have not seen the new generation yet."""
    result = search("token-ring", "invariant:mutual_exclusion", params={"generations": True}, kinds="delay",
                    max_faults=1)
    assert result.found and result.delays == (1, 4, 16, 64, 256)
    assert 3 < result.faults[0]["by"] <= 21


@pytest.mark.parametrize("rounds", range(1, 11))
def test_two_generals_any_number_of_rounds_is_broken_by_one_drop(rounds):
    result = search("two-generals", params={"rounds": rounds, "loss": 0}, kinds="drop", max_faults=1)
    assert result.found and result.reached == "no_lone_attack"
    last = simulations.get("two-generals").label(rounds)
    assert [f["match"]["label"] for f in result.faults] == [last]
    assert replay(result, "two-generals")[-1]["summary"]["outcome"] == "lone_attack"


def test_two_generals_with_random_loss_the_counterexample_is_the_plain_one_a_lost_last_message():
    """Any perturbation also shifts which later messages the random loss takes; a lost message is tried first."""
    result = search("two-generals", max_faults=1)
    assert result.found and [(f["action"], f["match"]["label"]) for f in result.faults] == [("drop", "ACK 2")]


@pytest.mark.parametrize("n", range(3, 8))
def test_bully_elects_the_highest_live_id_under_any_single_crash(n):
    result = search("bully-election", params={"n": n}, kinds="crash", max_faults=1)
    assert not result.found and result.complete and result.runs > n


def test_bully_two_crashes_can_leave_a_dead_leader_named():
    result = search("bully-election", kinds="crash", max_faults=2, max_runs=2000)
    assert result.found and len(result.faults) == 2 and result.reached == "highest_live_leader"


def test_payment_gateway_with_idempotency_keys_never_charges_twice_under_any_single_lost_response():
    result = search("payment-gateway", "invariant:at_most_once_charge", kinds="drop", max_faults=1)
    assert not result.found and result.complete and result.runs == 1 + result.by_depth[1]
    responses = [f for f in simulations.get("payment-gateway").run({}) if f["kind"] == "send" and f["label"] == "200 OK"]
    assert responses and result.by_depth[1] >= len(responses)


def test_payment_gateway_without_keys_one_lost_response_charges_twice():
    result = search("payment-gateway", "invariant:at_most_once_charge", params={"idempotency": False},
                    kinds="drop", max_faults=1)
    assert result.found and result.faults[0]["match"]["label"] == "200 OK"


# -- the search itself -------------------------------------------------------------

def test_a_set_up_already_broken_is_found_with_no_perturbation():
    result = search("byzantine-generals", params={"n": 3})
    assert result.found and result.perturbations == [] and result.runs == 1
    assert result.report() == "Broken: IC2 is violated by the set-up as it is, with no perturbation."


def test_byzantine_search_asks_what_a_traitor_can_do_unless_told_otherwise():
    assert search("byzantine-generals", params={"n": 4}, max_faults=2).kinds == ("choice",)
    assert not search("byzantine-generals", params={"n": 4}, max_faults=2).found
    lost = search("byzantine-generals", params={"n": 4}, kinds="drop", max_faults=1)  # one more fault than m
    assert lost.found and lost.steps == ["drop the 1st ATTACK from C to L1"]


def test_an_outcome_can_be_the_goal():
    result = search("bully-election", "outcome:elected=P3", kinds="crash")
    assert result.found and result.faults == [{"action": "crash", "node": "P4", "at": 1}]
    assert replay(result, "bully-election")[-1]["summary"]["elected"] == "P3"


def test_the_state_is_what_happened_in_order_not_how_the_script_put_it_nor_when():
    scenario = simulations.get("two-generals")
    params, _ = scenario.parse({"loss": 0})

    def state(*faults):
        sim = scenario.simulate(params, 0, list(faults))
        sim.run()
        return state_of(sim)

    loose = {"action": "drop", "match": {"label": "ACK 1", "nth": 1}}
    exact = {"action": "drop", "match": {"label": "ACK 1", "src": "B", "dst": "A", "nth": 1}}
    late = {"action": "delay", "match": {"label": "ACK 1", "nth": 1}, "by": 2}
    assert state(loose) == state(exact) != state()
    assert state(late) == state()  # later, but in the same order: nothing new


def test_runs_that_reach_a_state_already_seen_are_not_grown():
    result = search("two-phase-commit", kinds="delay", delays="1,4", max_faults=2, max_runs=3000)
    assert result.complete and result.states < result.runs / 2  # a delay that reorders nothing makes no new state
    assert result.by_depth[2] < result.by_depth[1] * (result.by_depth[1] - 1) / 2


def test_the_run_budget_stops_the_search_and_the_report_claims_no_more():
    result = search("payment-gateway", max_faults=3, max_runs=50)
    assert result.runs == 50 and result.stopped == "max_runs" and not result.complete and not result.found
    assert "no claim beyond that" in result.report()


def test_the_caller_stops_or_cancels_the_search_and_sees_its_progress():
    scenario = simulations.get("two-phase-commit")
    params, _ = scenario.parse({})
    seen = []
    result = Search(scenario, params, max_faults=2, max_runs=10_000, every=10, progress=seen.append,
                    stop=lambda: "cancelled" if len(seen) >= 3 else None).run()
    assert result.stopped == "cancelled" and result.runs == 30
    assert [s["runs"] for s in seen] == [10, 20, 30] and all(s["states"] <= s["runs"] for s in seen)


@pytest.mark.parametrize("budget, field", [
    ({"goal": "invariant:nope"}, "goal"), ({"goal": "everything"}, "goal"), ({"goal": "outcome:elected"}, "goal"),
    ({"goal": "outcome:nope=1"}, "goal"), ({"kinds": "drop,fire"}, "kinds"), ({"kinds": ""}, "kinds"),
    ({"delays": "0"}, "delays"), ({"delays": "a,b"}, "delays"), ({"max_runs": 0}, "max_runs"),
    ({"max_faults": 7}, "max_faults"), ({"max_runs": True}, "max_runs"),
])
def test_a_bad_search_is_refused_naming_its_field(budget, field):
    with pytest.raises(ParamError) as e:
        search("bully-election", **budget)
    assert field in e.value.errors


def test_a_found_run_names_its_steps_in_words():
    result = search("two-generals", params={"loss": 0}, kinds="drop")
    assert result.steps == ["drop the 1st ACK 2 from A to B"]
    assert result.as_dict()["report"] == ("Broken: no_lone_attack is violated after 1 perturbation: drop the 1st "
                                          "ACK 2 from A to B. Found in 4 runs (4 distinct states).")


def test_the_chosen_strategy_sends_the_answers_given():
    trace = simulations.get("byzantine-generals").run({"n": 4, "traitors": "L3", "strategy": "chosen",
                                                        "answers": "A,-"})
    forged = [(e["dst"], e["label"]) for e in trace if e["kind"] == "send" and e["src"] == "L3"]
    assert forged == [("L1", "ATTACK")]
    with pytest.raises(ParamError):
        simulations.get("byzantine-generals").parse({"answers": "A,maybe"})


def test_the_network_may_deliver_the_next_message_first_and_a_late_round_is_a_missing_value():
    result = search("byzantine-generals", params={"n": 4}, kinds="reorder", max_faults=1)
    assert result.found and result.reached == "IC1"
    assert result.steps == ["deliver the 1st RETREAT from L3 to L1 before the 1st ATTACK from L2 (delayed by 1 tick)"]
    assert result.faults == [{"action": "delay", "match": {"label": "ATTACK", "src": "L2", "dst": "L1", "nth": 1},
                              "by": 1}]


def test_goal_of_a_default_search_is_any_invariant():
    assert parse_goal(simulations.get("two-generals"), "") == Goal("invariant")


# -- the command line --------------------------------------------------------------

def explore_cli(*args):
    out = StringIO()
    call_command("explore", *args, stdout=out)
    return out.getvalue()


@pytest.mark.django_db
def test_cli_prints_the_fault_script_and_saves_the_run_found():
    from runs.models import Run

    out = explore_cli("two-generals", "--set", "loss=0", "--set", "rounds=4", "--goal", "invariant",
                      "--max-faults", "1", "--max-runs", "100", "--kinds", "drop")
    report, script, url = out.splitlines()
    assert report.startswith("Broken: no_lone_attack is violated after 1 perturbation: drop the 1st ACK 3")
    faults = json.loads(script.removeprefix("fault script: "))
    run = Run.objects.get(pk=url.removeprefix("run: /runs/").strip("/"))
    assert run.faults == faults and run.params["rounds"] == 4 and run.summary["violations"] == ["no_lone_attack"]
    assert run.get_absolute_url() == url.removeprefix("run: ")


def test_cli_reports_what_it_covered():
    out = explore_cli("byzantine-generals", "--set", "n=4", "--goal", "invariant", "--kinds", "choice",
                      "--max-faults", "3", "--max-runs", "100")
    assert out.strip() == "Not broken: all 9 runs with up to 3 perturbations (choice) keep every invariant; 9 distinct states."


def test_cli_json_format_without_saving():
    out = json.loads(explore_cli("bully-election", "--goal", "outcome:elected=P3", "--kinds", "crash", "--no-save",
                                 "--format", "json"))
    assert out["found"] and out["faults"] == [{"action": "crash", "node": "P4", "at": 1}] and "url" not in out


@pytest.mark.parametrize("args, reason", [
    (["nope"], "unknown scenario"),
    (["bully-election", "--set", "n=99"], "n: must be at most 16"),
    (["bully-election", "--set", "n"], "--set takes name=value"),
    (["bully-election", "--seed", "x"], "--seed must be a whole number"),
    (["bully-election", "--max-faults", "0"], "--max-faults must be a whole number from 1 to 6"),
    (["bully-election", "--max-runs", "lots"], "--max-runs must be a whole number"),
    (["bully-election", "--seconds", "-1"], "--seconds must be a whole number"),
    (["bully-election", "--goal", "invariant:nope"], "--goal: unknown invariant 'nope'"),
    (["bully-election", "--goal", "win"], "--goal: must be invariant"),
    (["bully-election", "--kinds", "fire"], "--kinds: choose among"),
    (["bully-election", "--delays", "0"], "--delays:"),
    (["bully-election", "--fault", "{oops"], "--fault must be JSON"),
])
def test_cli_bad_arguments_fail_with_a_reason(args, reason):
    with pytest.raises(CommandError) as e:
        explore_cli(*args)
    assert reason in str(e.value)


@pytest.mark.parametrize("slug", list(simulations.SCENARIOS))
def test_every_scenario_can_be_searched_and_a_run_found_replays_as_an_ordinary_run(slug):
    scenario = simulations.get(slug)
    result = search(slug, max_faults=2, max_runs=300)
    assert result.runs <= 300 and 1 <= result.states <= result.runs and result.report()
    if result.found:
        params, faults = scenario.parse(result.params, result.faults)  # the script validates like any other
        summary = scenario.run(params, result.seed, faults)[-1]["summary"]
        assert result.reached in summary["violations"]
