"""Durable coffee-shop workflow: Temporal's retry policy, timeouts, replay, idempotency and the saga refund."""
import pytest

from simulations.params import ParamError
from simulations.scenarios.coffee_shop import CoffeeShop

SHOP = CoffeeShop()
NETWORK = 5
TERMINALS = {"WorkflowExecutionCompleted", "WorkflowExecutionFailed", "WorkflowExecutionCanceled"}
INVARIANTS = {"history_contiguous", "no_rerun_on_replay", "one_terminal_event", "charged_implies_delivered_or_refunded"}
HAPPY_HISTORY = (["WorkflowExecutionStarted", "WorkflowTaskScheduled", "WorkflowTaskStarted", "WorkflowTaskCompleted"]
                 + ["ActivityTaskScheduled", "ActivityTaskStarted", "ActivityTaskCompleted", "WorkflowTaskScheduled",
                    "WorkflowTaskStarted", "WorkflowTaskCompleted"] * 4
                 + ["WorkflowExecutionCompleted"])


def run(faults=None, seed=0, **params):
    return SHOP.run(params, seed, faults)


def summary(faults=None, **params):
    return run(faults, **params)[-1]["summary"]


def crash(node, at, recover=None):
    faults = [{"action": "crash", "node": node, "at": at}]
    if recover is not None:
        faults.append({"action": "recover", "node": node, "at": recover})
    return faults


def history_notes(trace):
    return [e for e in trace if e["kind"] == "note" and e.get("panel") == "History"]


def notes(trace):
    return [e["text"] for e in trace if e["kind"] == "note" and "panel" not in e]


def red_checks(trace):
    return [e for e in trace if e["kind"] == "check" and not e["ok"]]


def test_the_happy_path_writes_temporals_29_event_history():
    s = summary()
    assert s["status"] == "Completed"
    assert s["history"] == HAPPY_HISTORY and s["history_length"] == 29
    assert s["attempts"] == {"ProcessPayment": 1, "PrepareBeverage": 1, "UpdateInventory": 1, "NotifyCustomer": 1}
    assert (s["charges"], s["refunded"], s["delivered"]) == (1, False, True)
    assert s["violations"] == [] and s["replays"] == 0


def test_the_history_panel_shows_event_id_then_temporal_type_growing_with_the_run():
    trace = run()
    shown = history_notes(trace)
    assert [e["text"].split()[0] for e in shown] == [str(i) for i in range(1, 30)]
    assert "5 ActivityTaskScheduled ProcessPayment" in [e["text"] for e in shown]
    assert all(e["node"] == "Temporal" for e in shown)
    assert [e["t"] for e in shown] == sorted(e["t"] for e in shown) and shown[0]["t"] < shown[-1]["t"]


def test_the_temporal_node_state_stays_small():
    states = [e["state"] for e in run() if e["kind"] == "state" and e["node"] == "Temporal"]
    assert states[-1] == {"history": 29, "status": "Completed"}
    assert {"history": 1, "status": "Running"} in states


def test_lifelines_are_the_customer_the_server_and_five_workers():
    nodes = run()[0]["nodes"]
    assert [n["id"] for n in nodes] == ["Customer", "Temporal", "Workflow", "Payment", "Barista", "Inventory",
                                        "Notification"]
    assert [n["group"] for n in nodes] == ["client", "service"] + ["worker"] * 5


def test_the_page_cites_temporals_documentation():
    assert "Retry Polic" in SHOP.source and "Activity failures" in SHOP.source and "Event History" in SHOP.source
    assert SHOP.tick == "one millisecond" and SHOP.slug == "coffee-shop"


def test_defaults_are_temporals_documented_retry_policy():
    defaults = {p["name"]: p["default"] for p in SHOP.schema()}
    assert defaults["initial_interval_ms"] == 1000 and defaults["backoff"] == 2.0
    assert defaults["maximum_interval_ms"] == 100 * defaults["initial_interval_ms"]
    assert defaults["maximum_attempts"] == 0
    assert summary()["theory"]["first_retry_delays_ms"] == [1000, 2000, 4000, 8000, 16000, 32000, 64000,
                                                           100000, 100000, 100000]


def test_default_retry_delays_are_1_2_4_seconds():
    s = summary(fail_activity="ProcessPayment", failures=3)
    assert s["retry_delays_ms"] == {"ProcessPayment": [1000, 2000, 4000]} == s["theory"]["retry_delays_ms"]
    assert s["attempts"]["ProcessPayment"] == 4
    assert s["status"] == "Completed" and s["charges"] == 1 and s["violations"] == []


def test_retries_leave_no_trace_in_the_history_but_the_last_started_attempt():
    trace = run(fail_activity="ProcessPayment", failures=3)
    s = trace[-1]["summary"]
    assert s["history"] == HAPPY_HISTORY
    assert "6 ActivityTaskStarted ProcessPayment (attempt 4)" in [e["text"] for e in history_notes(trace)]
    assert any("Retry 3 in 4000 ms" in text for text in notes(trace))


def test_the_maximum_interval_caps_the_exponential_backoff():
    s = summary(fail_activity="UpdateInventory", failures=5, maximum_interval_ms=3000)
    assert s["retry_delays_ms"] == {"UpdateInventory": [1000, 2000, 3000, 3000, 3000]}
    assert s["theory"]["retry_delays_ms"] == s["retry_delays_ms"]


def test_a_backoff_coefficient_of_three_from_half_a_second():
    s = summary(fail_activity="NotifyCustomer", failures=3, initial_interval_ms=500, backoff=3.0)
    assert s["retry_delays_ms"] == {"NotifyCustomer": [500, 1500, 4500]} == s["theory"]["retry_delays_ms"]


def test_exhausted_attempts_fail_the_activity_and_the_saga_refunds():
    s = summary(fail_activity="PrepareBeverage", failures=3, maximum_attempts=2)
    assert s["attempts"]["PrepareBeverage"] == 2 and s["retry_delays_ms"] == {"PrepareBeverage": [1000]}
    assert "ActivityTaskFailed" in s["history"] and s["status"] == "Failed"
    assert (s["charges"], s["refunded"], s["delivered"]) == (1, True, False)
    assert s["violations"] == []


def test_a_non_retryable_failure_is_not_retried_and_the_refund_compensates():
    trace = run(fail_activity="PrepareBeverage", non_retryable=True)
    s = trace[-1]["summary"]
    assert s["attempts"]["PrepareBeverage"] == 1 and s["retry_delays_ms"] == {}
    shown = [e["text"] for e in history_notes(trace)]
    assert "13 ActivityTaskFailed PrepareBeverage (espresso machine jammed, non-retryable)" in shown
    assert "17 ActivityTaskScheduled RefundPayment" in shown
    assert s["history"][-1] == "WorkflowExecutionFailed" and s["status"] == "Failed"
    assert (s["charges"], s["refunded"], s["delivered"]) == (1, True, False)
    assert s["violations"] == []


def test_a_payment_that_fails_for_good_has_nothing_to_refund():
    s = summary(fail_activity="ProcessPayment", non_retryable=True)
    assert s["status"] == "Failed" and s["charges"] == 0 and not s["refunded"]
    assert "RefundPayment" not in s["attempts"]


def test_a_workflow_worker_crash_replays_without_rerunning_completed_activities():
    trace = run(crash("Workflow", 1000, recover=2000))
    s = trace[-1]["summary"]
    assert s["replays"] == 1 and s["status"] == "Completed"
    assert s["history"] == HAPPY_HISTORY
    assert s["attempts"] == {"ProcessPayment": 1, "PrepareBeverage": 1, "UpdateInventory": 1, "NotifyCustomer": 1}
    assert s["side_effects"]["ProcessPayment"] == 1 and s["side_effects"]["PrepareBeverage"] == 1
    assert any(t.startswith("Replay") and "ProcessPayment, PrepareBeverage already completed" in t
               for t in notes(trace))
    assert s["violations"] == []
    assert [e for e in trace if e["kind"] == "send" and e["label"] == "WorkflowTask"][2]["data"] == {"events": [1, 15]}


def test_a_workflow_task_sent_to_a_dead_worker_times_out_then_is_replayed():
    s = summary(crash("Workflow", 1000, recover=5000))
    assert "WorkflowTaskTimedOut" in s["history"] and s["history_length"] == 32
    assert s["replays"] == 1 and s["status"] == "Completed"
    assert s["history"].count("ActivityTaskScheduled") == 4 and s["violations"] == []


def test_an_activity_worker_crash_without_idempotency_charges_twice_and_the_invariant_goes_red():
    trace = run(crash("Payment", 100, recover=1000))
    s = trace[-1]["summary"]
    assert s["attempts"]["ProcessPayment"] == 2 and s["retry_delays_ms"] == {"ProcessPayment": [1000]}
    assert s["charges"] == 2 and s["delivered"] and not s["refunded"]
    assert s["violations"] == ["charged_implies_delivered_or_refunded"]
    red = red_checks(trace)[0]
    assert red["name"] == "charged_implies_delivered_or_refunded" and red["t"] == s["closed_at_ms"]
    assert red["seq"] < trace[-1]["seq"] - len(INVARIANTS)


def test_an_activity_worker_crash_with_idempotency_charges_once():
    s = summary(crash("Payment", 100, recover=1000), idempotent=True)
    assert s["attempts"]["ProcessPayment"] == 2
    assert s["charges"] == 1 and s["violations"] == []


def test_a_barista_crash_after_pouring_makes_a_second_latte_unless_idempotent():
    s = summary(crash("Barista", 2000, recover=2500))
    assert s["side_effects"]["PrepareBeverage"] == 2 and s["charges"] == 1 and s["violations"] == []
    assert summary(crash("Barista", 2000, recover=2500), idempotent=True)["side_effects"]["PrepareBeverage"] == 1


def test_a_lost_completion_report_also_repeats_the_charge():
    faults = [{"action": "drop", "match": {"label": "RespondActivityTaskCompleted", "src": "Payment"}}]
    s = summary(faults)
    assert s["charges"] == 2 and "charged_implies_delivered_or_refunded" in s["violations"]
    assert summary(faults, idempotent=True)["violations"] == []


def test_a_heartbeat_timeout_detects_a_dead_barista_long_before_start_to_close():
    faults = crash("Barista", 1000, recover=1200)
    fast = [e for e in run(faults, heartbeat_ms=1000) if e["kind"] == "timer" and e["node"] == "Temporal"]
    slow = [e for e in run(faults) if e["kind"] == "timer" and e["node"] == "Temporal"]
    assert (fast[0]["label"], fast[0]["t"]) == ("heartbeat timeout PrepareBeverage", 1235)
    assert (slow[0]["label"], slow[0]["t"]) == ("start-to-close timeout PrepareBeverage", 10235)


def test_schedule_to_close_bounds_the_activity_with_all_its_retries():
    trace = run(fail_activity="PrepareBeverage", failures=10, schedule_to_close_ms=5000)
    s = trace[-1]["summary"]
    assert any(e["text"].endswith("ActivityTaskTimedOut PrepareBeverage (ScheduleToClose timeout)")
               for e in history_notes(trace))
    assert s["status"] == "Failed" and s["refunded"] and s["violations"] == []


def sends(trace, label, activity):
    return [e for e in trace if e["kind"] == "send" and e["label"] == label and e["data"]["activity"] == activity]


def test_temporal_stops_retrying_when_the_next_retry_would_start_after_the_schedule_to_close_deadline():
    # Retry Policies: "Temporal stops retrying when the next retry would exceed the schedule-to-close timeout";
    # the server's nextBackoffInterval returns RETRY_STATE_TIMEOUT as soon as now + interval is past expiration.
    trace = run(fail_activity="PrepareBeverage", failures=10, schedule_to_close_ms=5000)
    s = trace[-1]["summary"]
    # scheduled at t=235, so the deadline is t=5235; attempt 2 runs at 2745 and its failure lands at 4255,
    # when retry 2 (2 s) would start at 6255: the activity times out then, a second before the deadline
    timed_out = next(e for e in history_notes(trace) if "ActivityTaskTimedOut PrepareBeverage" in e["text"])
    assert timed_out["text"] == "13 ActivityTaskTimedOut PrepareBeverage (ScheduleToClose timeout)"
    assert timed_out["t"] == 4255
    assert s["schedule_to_close_timeouts"] == {
        "PrepareBeverage": {"at_ms": 4255, "deadline_ms": 5235, "next_attempt_ms": 6255}}
    assert [e["t"] for e in sends(trace, "ActivityTask", "PrepareBeverage")] == [235, 2745]
    assert not any(e["kind"] == "timer" and e["label"].startswith("schedule-to-close") for e in trace)
    assert s["attempts"]["PrepareBeverage"] == 2 and s["retry_delays_ms"] == {"PrepareBeverage": [1000]}
    assert s["status"] == "Failed" and s["refunded"] and s["violations"] == []
    assert "would start at t=6255, after the schedule-to-close deadline t=5235" in " ".join(notes(trace))
    row = next(r for r in s["known"] if r["quantity"] == "when PrepareBeverage timed out")
    assert row["agrees"] is True and "timed out at t=4255" in s["headline"]


def test_quicker_failures_fit_more_retries_before_the_deadline_cuts_them_off():
    s = summary(fail_activity="PrepareBeverage", failures=10, schedule_to_close_ms=5000, attempt_ms=0)
    assert s["retry_delays_ms"] == {"PrepareBeverage": [1000, 2000]} and s["attempts"]["PrepareBeverage"] == 3
    assert s["schedule_to_close_timeouts"] == {
        "PrepareBeverage": {"at_ms": 3265, "deadline_ms": 5235, "next_attempt_ms": 7265}}


def test_a_deadline_that_passes_during_an_attempt_times_it_out_at_the_deadline():
    trace = run(fail_activity="PrepareBeverage", failures=10, schedule_to_close_ms=5000, attempt_ms=2500)
    s = trace[-1]["summary"]
    assert s["schedule_to_close_timeouts"] == {
        "PrepareBeverage": {"at_ms": 5235, "deadline_ms": 5235, "next_attempt_ms": None}}
    fired = [e for e in trace if e["kind"] == "timer" and e["label"] == "schedule-to-close timeout PrepareBeverage"]
    assert [e["t"] for e in fired] == [5235]
    assert any("attempt 2: that attempt is over (NotFound)" in t for t in notes(trace))


def test_an_attempt_ms_of_zero_fails_the_attempt_as_soon_as_the_worker_takes_it():
    trace = run(fail_activity="PrepareBeverage", failures=1, attempt_ms=0)
    tasks = sends(trace, "ActivityTask", "PrepareBeverage")
    failed = sends(trace, "RespondActivityTaskFailed", "PrepareBeverage")
    assert tasks[0]["t"] + NETWORK == failed[0]["t"] == 240
    assert tasks[1]["t"] == failed[0]["t"] + NETWORK + 1000


def failing_for(activity, **params):
    """How long after the worker took the first attempt its failure report went out."""
    trace = run(fail_activity=activity, failures=1, **params)
    taken = sends(trace, "ActivityTask", activity)[0]["t"] + NETWORK
    return sends(trace, "RespondActivityTaskFailed", activity)[0]["t"] - taken


def test_how_long_a_failing_attempt_runs_is_a_parameter_defaulting_to_when_its_effect_would_happen():
    assert failing_for("PrepareBeverage") == 1500 and failing_for("ProcessPayment") == 0
    assert failing_for("ProcessPayment", attempt_ms=400) == 400 and failing_for("PrepareBeverage", attempt_ms=0) == 0


@pytest.mark.parametrize("attempt_ms", [0, 700, 1500, 2999])
def test_history_length_and_retry_delays_do_not_depend_on_how_long_an_attempt_runs(attempt_ms):
    s = summary(fail_activity="PrepareBeverage", failures=3, attempt_ms=attempt_ms)
    assert s["history"] == HAPPY_HISTORY and s["history_length"] == 29
    assert s["retry_delays_ms"] == {"PrepareBeverage": [1000, 2000, 4000]} == s["theory"]["retry_delays_ms"]
    assert s["attempts"]["PrepareBeverage"] == 4 and s["side_effects"]["PrepareBeverage"] == 1


def test_a_failing_attempt_slower_than_start_to_close_times_out_instead():
    trace = run(fail_activity="UpdateInventory", failures=1, attempt_ms=5000, start_to_close_ms=4000)
    s = trace[-1]["summary"]
    assert not sends(trace, "RespondActivityTaskFailed", "UpdateInventory")
    assert any(e["kind"] == "timer" and e["label"] == "start-to-close timeout UpdateInventory" for e in trace)
    assert s["retry_delays_ms"] == {"UpdateInventory": [1000]} and s["status"] == "Completed"


def test_a_start_to_close_shorter_than_the_work_times_out_every_attempt():
    s = summary(start_to_close_ms=1000, maximum_attempts=3)
    assert s["attempts"]["PrepareBeverage"] == 3 and "ActivityTaskTimedOut" in s["history"]
    assert s["status"] == "Failed" and s["refunded"] and s["violations"] == []


def test_unlimited_attempts_stop_at_a_practical_cap_and_say_so():
    trace = run(start_to_close_ms=1000)
    s = trace[-1]["summary"]
    assert s["attempts"]["PrepareBeverage"] == 20 == s["theory"]["attempt_limit"]
    assert s["retry_delays_ms"]["PrepareBeverage"] == s["theory"]["retry_delays_ms"]["PrepareBeverage"]
    assert any("forever" in t and "20 attempts" in t for t in notes(trace))
    assert s["stopped"] == "quiescent" and s["status"] == "Failed"


def test_a_cancel_signal_before_the_coffee_is_made_cancels_with_a_refund():
    trace = run(cancel_at_ms=1000)
    s = trace[-1]["summary"]
    assert s["status"] == "Canceled" and s["history"][-1] == "WorkflowExecutionCanceled"
    assert "WorkflowExecutionSignaled" in s["history"] and "ActivityTaskCancelRequested" in s["history"]
    assert (s["charges"], s["refunded"], s["delivered"]) == (1, True, False)
    assert s["violations"] == []
    assert "12 WorkflowExecutionSignaled (CancelOrder)" in [e["text"] for e in history_notes(trace)]


def test_a_cancel_reaches_a_heartbeating_barista_who_stops_before_pouring():
    s = summary(cancel_at_ms=1000, heartbeat_ms=1000)
    assert "ActivityTaskCanceled" in s["history"] and s["side_effects"]["PrepareBeverage"] == 0
    assert s["status"] == "Canceled" and s["refunded"]


def test_a_cancel_after_the_coffee_is_made_is_declined():
    s = summary(cancel_at_ms=3300)
    assert "WorkflowExecutionSignaled" in s["history"]
    assert s["status"] == "Completed" and not s["refunded"] and s["delivered"]


def test_a_cancel_after_the_workflow_closed_is_rejected_and_not_written():
    s = summary(cancel_at_ms=5000)
    assert "WorkflowExecutionSignaled" not in s["history"] and s["history_length"] == 29


def test_a_get_status_query_is_answered_and_never_written_to_the_history():
    trace = run(query_at_ms=1000)
    s = trace[-1]["summary"]
    assert s["query"] == "waiting for PrepareBeverage"
    assert [e["dst"] for e in trace if e["kind"] == "send" and e["label"] == "QueryResult"] == ["Customer"]
    assert s["history"] == HAPPY_HISTORY
    assert not any("Query" in e["text"] for e in history_notes(trace))


def test_a_query_to_a_restarted_worker_is_answered_by_replay():
    s = summary(crash("Workflow", 1000, recover=1500), query_at_ms=2000)
    assert s["query"] == "waiting for PrepareBeverage" and s["replays"] >= 1 and s["history"] == HAPPY_HISTORY


def test_a_temporal_server_crash_loses_nothing_durable():
    s = summary(crash("Temporal", 1000, recover=2000))
    assert s["status"] == "Completed" and s["history"] == HAPPY_HISTORY and s["violations"] == []


def test_polls_lost_to_a_partition_are_renewed_when_the_long_poll_expires():
    everyone = ["Customer", "Workflow", "Payment", "Barista", "Inventory", "Notification"]
    trace = run([{"action": "partition", "groups": [["Temporal"], everyone], "at": 12, "until": 5000}])
    s = trace[-1]["summary"]
    assert s["status"] == "Completed" and "WorkflowTaskTimedOut" in s["history"] and s["violations"] == []
    renewals = [e for e in trace if e["kind"] == "timer" and e["label"] == "long poll expired"]
    assert renewals and renewals[0]["t"] == 60_000


def test_a_server_that_never_returns_leaves_nothing_started():
    trace = run(crash("Temporal", 0))
    s = trace[-1]["summary"]
    assert s["status"] == "NotStarted" and s["history"] == [] and s["stopped"] == "quiescent"
    assert s["messages_by_label"]["StartWorkflowExecution"] == 5


def test_a_worker_that_never_returns_leaves_the_order_running_not_broken():
    trace = run(crash("Barista", 1000))
    s = trace[-1]["summary"]
    assert s["status"] == "Running" and s["violations"] == []
    assert not TERMINALS & set(s["history"])
    assert any(t.startswith("The order is still Running") for t in notes(trace))


@pytest.mark.parametrize("params, faults", [
    ({}, None),
    ({"fail_activity": "PrepareBeverage", "non_retryable": True}, None),
    ({"cancel_at_ms": 1000}, None),
    ({"cancel_at_ms": 3482}, None),
    ({"fail_activity": "NotifyCustomer", "failures": 2, "cancel_at_ms": 3500, "query_at_ms": 3400}, None),
    ({}, crash("Workflow", 300, recover=12_000)),
    ({"idempotent": True}, crash("Payment", 100, recover=1000)),
    ({}, [{"action": "duplicate", "match": {"label": "RespondWorkflowTaskCompleted"}},
          {"action": "duplicate", "match": {"label": "RespondActivityTaskCompleted"}}]),
])
def test_every_closed_run_has_exactly_one_terminal_event(params, faults):
    trace = run(faults, **params)
    s = trace[-1]["summary"]
    assert sum(kind in TERMINALS for kind in s["history"]) == 1
    assert s["history"][-1] in TERMINALS
    final = {e["name"]: e["ok"] for e in trace if e["kind"] == "check"}
    assert set(final) == INVARIANTS and all(final.values())


def test_a_signal_racing_the_final_workflow_task_makes_temporal_refuse_the_close():
    s = summary(cancel_at_ms=3482)
    assert "WorkflowTaskFailed" in s["history"] and s["history"][-1] == "WorkflowExecutionCompleted"


def test_the_same_inputs_give_the_same_trace():
    faults = crash("Payment", 100, recover=1000) + crash("Workflow", 4000, recover=4100)
    params = {"fail_activity": "UpdateInventory", "failures": 2, "query_at_ms": 2000, "heartbeat_ms": 500}
    assert run(faults, seed=7, **params) == run(faults, seed=7, **params)


@pytest.mark.parametrize("params, field", [
    ({"maximum_interval_ms": 500}, "maximum_interval_ms"),
    ({"initial_interval_ms": 50}, "initial_interval_ms"),
    ({"backoff": 0.5}, "backoff"),
    ({"maximum_attempts": 21}, "maximum_attempts"),
    ({"failures": 11}, "failures"),
    ({"fail_activity": "RefundPayment"}, "fail_activity"),
    ({"attempt_ms": -1}, "attempt_ms"),
    ({"heartbeat_ms": 50}, "heartbeat_ms"),
    ({"heartbeat_ms": 20_000}, "heartbeat_ms"),
    ({"start_to_close_ms": 600_001}, "start_to_close_ms"),
    ({"maximum_interval_ms": 600_000, "initial_interval_ms": 60_000}, "maximum_interval_ms"),
])
def test_bad_or_runaway_setups_are_refused_with_the_field_named(params, field):
    with pytest.raises(ParamError) as e:
        run(**params)
    assert field in e.value.errors


def test_a_long_policy_is_accepted_once_attempts_are_bounded():
    s = summary(maximum_interval_ms=600_000, initial_interval_ms=60_000, maximum_attempts=3)
    assert s["theory"]["first_retry_delays_ms"][:3] == [60_000, 120_000, 240_000]


def bands(trace, node):
    """The bands drawn along ``node``'s lifeline, in order: (tone, label) as it starts, None as it ends."""
    return [e["band"] and (e["band"]["tone"], e["band"]["label"])
            for e in trace if e["kind"] == "state" and e["node"] == node and "band" in e]


def test_temporal_bands_running_backoff_and_completed_and_retried_tasks_carry_their_attempt():
    trace = run(fail_activity="PrepareBeverage", failures=3)
    assert bands(trace, "Temporal") == [("busy", "Running"), ("wait", "backoff")] * 3 + [
        ("busy", "Running"), ("done", "Completed")]
    tasks = [e for e in trace if e["kind"] == "send" and e["label"] == "ActivityTask"
             and e["data"]["activity"] == "PrepareBeverage"]
    assert [e.get("tag") for e in tasks] == [None, "#2", "#3", "#4"]
    assert bands(trace, "Customer") == [("wait", "waiting"), ("done", "coffee ready"), ("done", "Completed")]


def test_a_worker_crash_mid_charge_bands_the_double_charge_on_payment():
    trace = run(crash("Payment", 100, 1000), idempotent=False)
    assert bands(trace, "Payment") == [("fail", "charged twice")]
    assert bands(trace, "Temporal")[-1] == ("done", "Completed")
    assert bands(run(crash("Payment", 100, 1000), idempotent=True), "Payment") == []


def test_a_failed_order_ends_in_a_fail_band():
    trace = run(fail_activity="PrepareBeverage", non_retryable=True)
    assert bands(trace, "Temporal")[-1] == ("fail", "Failed") and bands(trace, "Customer")[-1] == ("fail", "Failed")


def test_outcome_the_retry_after_a_crash_mid_charge_charges_twice_without_an_idempotency_key():
    s = summary(crash("Payment", 100, recover=1000), idempotent=False)
    assert s["headline"].startswith("Charged twice:") and "no idempotency key" in s["headline"]
    assert "charged_implies_delivered_or_refunded is violated" in s["headline"]
    charges = next(r for r in s["known"] if r["quantity"] == "charges for one latte")
    assert charges["measured"] == "2" and "at least once" in charges["known"]


def test_outcome_retries_wait_as_the_retry_policy_says():
    s = summary(fail_activity="PrepareBeverage", failures=3)
    assert s["headline"] == ("The latte was delivered: PrepareBeverage failed 3 times and was retried after "
                             "1 s, 2 s and 4 s.")
    waits = s["known"][0]
    assert waits["measured"] == "PrepareBeverage: 1 s, 2 s and 4 s" and waits["agrees"] is True
