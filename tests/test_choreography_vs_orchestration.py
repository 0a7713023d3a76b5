"""Choreography vs orchestration: the same saga and the same fault, a stuck order nobody owns against a retry."""
import json

import pytest

from simulations.kit.retry import RetryPolicy
from simulations.params import ParamError
from simulations.scenarios.choreography_vs_orchestration import POLL_MS, ChoreographyVsOrchestration, retry_policy

SAGA = ChoreographyVsOrchestration()
NODES = ["Orders", "Broker", "Orchestrator", "Payment", "Inventory", "Shipping", "Notification"]
INVARIANTS = ["order_final_within_bound", "charge_implies_shipped_or_refunded", "at_most_one_charge"]


def run(seed=0, faults=None, **params):
    return SAGA.run(params, seed, faults)


def summary(**params):
    return run(**params)[-1]["summary"]


def red(trace, name):
    return [e for e in trace[:-1] if e["kind"] == "check" and e["name"] == name and not e["ok"]]


def sends(trace, label, src=None, dst=None):
    return [e for e in trace if e["kind"] == "send" and e["label"] == label
            and src in (None, e["src"]) and dst in (None, e["dst"])]


@pytest.mark.parametrize("mode", ["choreography", "orchestration"])
def test_both_modes_share_the_node_list_so_two_runs_align_side_by_side(mode):
    init = run(mode=mode)[0]
    assert [n["id"] for n in init["nodes"]] == NODES
    assert {n["id"]: n["group"] for n in init["nodes"]}["Broker"] == "broker"
    assert [i["name"] for i in init["invariants"]] == INVARIANTS


def test_the_unused_coordinator_stays_idle():
    chor, orch = run(mode="choreography"), run(mode="orchestration")
    assert not [e for e in chor if e.get("src") == "Orchestrator" or e.get("dst") == "Orchestrator"]
    assert not [e for e in orch if e.get("src") == "Broker" or e.get("dst") == "Broker"]


def test_the_summary_offers_the_other_mode_on_the_same_parameters():
    s = summary(fault="lost_event", orders=3)
    assert s["compare_with"]["mode"] == "orchestration"
    assert s["compare_with"]["fault"] == "lost_event" and s["compare_with"]["orders"] == 3


def test_choreography_happy_path_is_four_events_each_published_delivered_and_acked():
    s = summary(mode="choreography")
    assert s["order_states"] == {"O1": "completed"} and s["stuck"] == 0
    assert s["charges"] == 1 and s["refunds"] == 0 and s["shipped"] == 1 and s["notifications"] == 1
    assert s["messages_by_label"] == {"OrderPlaced": 2, "PaymentCharged": 2, "StockReserved": 2, "OrderShipped": 3,
                                      "ack": 5}
    assert s["violations"] == []


def test_orchestration_happy_path_is_four_activities_and_a_reply():
    trace = run(mode="orchestration")
    s = trace[-1]["summary"]
    assert s["order_states"] == {"O1": "completed"}
    assert s["messages_by_label"] == {"StartOrder": 1, "Charge": 1, "Charged": 1, "Reserve": 1, "Reserved": 1,
                                      "Ship": 1, "Shipped": 1, "Notify": 1, "Notified": 1, "OrderCompleted": 1}
    history = [e["text"] for e in trace if e["kind"] == "note" and e.get("panel") == "History"]
    assert history[0] == "O1 WorkflowStarted" and history[-1] == "O1 WorkflowCompleted: completed"


@pytest.mark.parametrize("mode", ["choreography", "orchestration"])
def test_ten_orders_all_complete_with_one_charge_each(mode):
    s = summary(mode=mode, orders=10)
    assert set(s["order_states"].values()) == {"completed"}
    assert s["charges"] == 10 and s["shipped"] == 10 and s["violations"] == []


def test_lost_event_strands_the_choreographed_order_with_nobody_owning_it():
    trace = run(mode="choreography", fault="lost_event")
    s = trace[-1]["summary"]
    lost = [e for e in trace if e["kind"] == "drop"]
    assert [(e["src"], e["dst"], e["reason"]) for e in lost] == [("Payment", "Broker", "loss")]
    assert s["order_states"] == {"O1": "stuck"} and s["stuck"] == 1
    assert s["charges"] == 1 and s["shipped"] == 0 and s["refunds"] == 0
    assert s["violations"] == ["order_final_within_bound", "charge_implies_shipped_or_refunded"]
    assert red(trace, "order_final_within_bound")[0]["t"] == 1000
    assert red(trace, "charge_implies_shipped_or_refunded")[0]["t"] == 1000
    assert any("nobody owns it" in e["text"] for e in trace if e["kind"] == "note")


def test_lost_event_orchestration_times_out_retries_and_completes():
    trace = run(mode="orchestration", fault="lost_event")
    s = trace[-1]["summary"]
    assert [(e["src"], e["dst"]) for e in trace if e["kind"] == "drop"] == [("Payment", "Orchestrator")]
    timeouts = [e for e in trace if e["kind"] == "timer" and e["label"] == "activity timeout"]
    assert [e["t"] for e in timeouts] == [104]
    assert len(sends(trace, "Charge")) == 2 and s["activity_retries"] == 1
    assert s["order_states"] == {"O1": "completed"} and s["charges"] == 1
    assert s["violations"] == []


def test_dropping_the_payment_charged_event_by_hand_is_the_same_lost_event():
    trace = run(mode="choreography", faults=[{"action": "drop", "match": {"label": "PaymentCharged"}}])
    assert trace[-1]["summary"]["order_states"] == {"O1": "stuck"}
    assert red(trace, "order_final_within_bound")


def test_a_lost_delivery_after_the_broker_is_redelivered_at_least_once():
    trace = run(mode="choreography", faults=[{"action": "drop", "match": {"label": "PaymentCharged", "src": "Broker"}}])
    s = trace[-1]["summary"]
    assert s["redeliveries"] == 1 and s["order_states"] == {"O1": "completed"} and s["violations"] == []


@pytest.mark.parametrize("mode", ["choreography", "orchestration"])
def test_out_of_stock_is_compensated_by_a_refund(mode):
    s = summary(mode=mode, fault="out_of_stock")
    assert s["order_states"] == {"O1": "cancelled"}
    assert s["charges"] == 1 and s["refunds"] == 1 and s["shipped"] == 0 and s["notifications"] == 1
    assert s["violations"] == []


def test_choreography_compensates_through_an_inventory_failed_event_that_payment_refunds():
    trace = run(mode="choreography", fault="out_of_stock")
    labels = [(e["src"], e["label"]) for e in trace if e["kind"] == "send" and e["dst"] == "Broker"
              and e["label"] != "ack"]
    assert labels == [("Orders", "OrderPlaced"), ("Payment", "PaymentCharged"), ("Inventory", "InventoryFailed"),
                      ("Payment", "PaymentRefunded")]


def test_orchestration_compensates_with_a_refund_activity_then_notifies():
    trace = run(mode="orchestration", fault="out_of_stock")
    activities = [e["label"] for e in trace if e["kind"] == "send" and e["src"] == "Orchestrator"]
    assert activities == ["Charge", "Reserve", "Refund", "Notify", "OrderCancelled"]


def test_losing_the_inventory_failed_event_leaves_the_charge_unrefunded():
    trace = run(mode="choreography", fault="out_of_stock",
                faults=[{"action": "drop", "match": {"label": "InventoryFailed", "src": "Inventory"}}])
    s = trace[-1]["summary"]
    assert s["order_states"] == {"O1": "stuck"} and s["refunds"] == 0
    assert "charge_implies_shipped_or_refunded" in s["violations"]


def test_consumer_crash_before_commit_is_redelivered_by_an_at_least_once_broker():
    trace = run(mode="choreography", fault="consumer_crash")
    s = trace[-1]["summary"]
    assert [e["t"] for e in trace if e["kind"] in ("crash", "recover")] == [8, 158]
    deliveries = sends(trace, "OrderPlaced", "Broker", "Payment")
    assert [e["t"] for e in deliveries] == [4, 104, 204]
    assert s["redeliveries"] == 2 and s["order_states"] == {"O1": "completed"}
    assert s["charges"] == 1 and s["violations"] == []


def test_consumer_crash_with_an_at_most_once_broker_loses_the_order():
    trace = run(mode="choreography", fault="consumer_crash", delivery="at-most-once")
    s = trace[-1]["summary"]
    assert not sends(trace, "ack") and s["redeliveries"] == 0
    assert s["order_states"] == {"O1": "stuck"}
    assert s["violations"] == ["order_final_within_bound", "charge_implies_shipped_or_refunded"]


def test_consumer_crash_orchestration_retries_until_payment_is_back():
    trace = run(mode="orchestration", fault="consumer_crash")
    s = trace[-1]["summary"]
    assert [e["t"] for e in sends(trace, "Charge")] == [4, 104, 204]
    assert s["activity_retries"] == 2 and s["order_states"] == {"O1": "completed"}
    assert s["charges"] == 1 and s["violations"] == []


@pytest.mark.parametrize("mode", ["choreography", "orchestration"])
def test_without_an_idempotency_key_the_retry_charges_twice(mode):
    trace = run(mode=mode, fault="consumer_crash", idempotency=False)
    s = trace[-1]["summary"]
    assert s["charges"] == 2 and s["violations"] == ["at_most_one_charge"]
    assert red(trace, "at_most_one_charge")[0]["t"] == 208


def test_orchestration_compensates_when_payment_stays_down_past_the_retries():
    trace = run(mode="orchestration", fault="consumer_crash", downtime_ms=250, retries=1)
    s = trace[-1]["summary"]
    assert s["order_states"] == {"O1": "cancelled"} and s["refunds"] == 1 and s["violations"] == []
    assert [e["label"] for e in trace if e["kind"] == "send" and e["src"] == "Orchestrator"] == [
        "Charge", "Charge", "Refund", "Refund", "Notify", "OrderCancelled"]


def test_orchestration_that_gives_up_on_a_compensation_still_misses_the_deadline():
    trace = run(mode="orchestration", fault="consumer_crash", downtime_ms=3000, deadline_ms=5000)
    s = trace[-1]["summary"]
    assert s["order_states"] == {"O1": "stuck"}
    assert red(trace, "order_final_within_bound")[0]["t"] == 5000
    assert any("escalated it to a human" in e["text"] for e in trace if e["kind"] == "note")


def test_a_deadline_shorter_than_the_retries_turns_the_bound_red_even_when_the_order_completes():
    trace = run(mode="orchestration", fault="consumer_crash", deadline_ms=150)
    s = trace[-1]["summary"]
    assert s["order_states"] == {"O1": "completed"} and s["final_at_ms"] == {"O1": 241}
    assert s["violations"] == ["order_final_within_bound", "charge_implies_shipped_or_refunded"]
    assert red(trace, "order_final_within_bound")[0]["t"] == 150


def test_an_orchestrator_crash_replays_history_and_resumes_the_workflow():
    s = summary(mode="orchestration", faults=[{"action": "crash", "node": "Orchestrator", "at": 10},
                                              {"action": "recover", "node": "Orchestrator", "at": 200}])
    assert s["order_states"] == {"O1": "completed"} and s["charges"] == 1 and s["violations"] == []


def test_theory_budget_and_bound():
    s = summary(mode="orchestration", timeout_ms=50, retries=2)
    assert s["theory"]["activity_budget_ms"] == 150 and s["theory"]["orchestration_bound_ms"] == 900
    assert summary(mode="choreography")["theory"]["owner"] == "nobody"


@pytest.mark.parametrize("mode", ["choreography", "orchestration"])
def test_same_inputs_give_the_same_trace(mode):
    params = {"mode": mode, "orders": 6, "fault": "consumer_crash"}
    assert SAGA.run(params, 7) == SAGA.run(params, 7)



def test_the_trace_is_plain_json():
    trace = run(mode="orchestration", fault="out_of_stock", orders=3)
    assert json.loads(json.dumps(trace)) == trace


@pytest.mark.parametrize("bad", [{"orders": 11}, {"orders": 0}, {"fault": "meteor"}, {"mode": "both"},
                                 {"deadline_ms": 10**7}, {"timeout_ms": 1}, {"retries": 50},
                                 {"downtime_ms": 10**6}])
def test_out_of_bounds_parameters_are_refused(bad):
    with pytest.raises(ParamError):
        SAGA.run(bad)


def bands(trace, node):
    """The bands drawn along ``node``'s lifeline, in order: (tone, label) as it starts, None as it ends."""
    return [e["band"] and (e["band"]["tone"], e["band"]["label"])
            for e in trace if e["kind"] == "state" and e["node"] == node and "band" in e]


def test_a_lost_event_leaves_the_choreographed_order_stuck_while_orchestration_completes_it():
    chor = run(mode="choreography", fault="lost_event")
    assert bands(chor, "Orders") == [("busy", "pending"), ("fault", "stuck")]
    orch = run(mode="orchestration", fault="lost_event")
    assert bands(orch, "Orders") == [("busy", "pending"), ("done", "completed")]
    retried = [e for e in orch if e["kind"] == "send" and "tag" in e]
    assert [(e["label"], e["tag"]) for e in retried] == [("Charge", "#2")]


def test_compensation_ends_in_a_fail_band_and_a_double_charge_is_banded_on_payment():
    assert bands(run(mode="orchestration", fault="out_of_stock"), "Orders")[-1] == ("fail", "compensated")
    trace = run(mode="choreography", fault="consumer_crash", idempotency=False)
    assert bands(trace, "Payment") == [("fail", "charged twice")]
    assert [e["tag"] for e in sends(trace, "OrderPlaced", src="Broker")[1:]] == ["#2", "#3"]


def test_outcome_a_lost_event_strands_the_choreographed_order_and_nobody_notices():
    s = summary(mode="choreography", fault="lost_event")
    assert s["headline"].startswith("O1 is stuck: the PaymentCharged event was lost")
    assert "order_final_within_bound is violated at t=1000" in s["headline"]
    owner = s["known"][0]
    assert owner["known"].startswith("nobody") and owner["agrees"] is True


def test_outcome_the_orchestrator_retries_the_same_loss_within_its_bound():
    s = summary(mode="orchestration", fault="lost_event")
    assert s["headline"].startswith("O1 completed in") and "retried" in s["headline"]
    owner = s["known"][0]
    assert "2400 ms" in owner["known"] and owner["agrees"] is True


# -- issue #13: the outbox fixes the lost event; orchestration retries follow the retry policy ---------------------

def test_a_lost_event_strands_the_choreographed_order_without_an_outbox_and_completes_with_one():
    stuck = summary(mode="choreography", fault="lost_event", outbox=False)
    assert stuck["order_states"] == {"O1": "stuck"} and stuck["republished"] == 0
    trace = run(mode="choreography", fault="lost_event", outbox=True)
    s = trace[-1]["summary"]
    assert [(e["src"], e["dst"], e["reason"]) for e in trace if e["kind"] == "drop"] == [("Payment", "Broker", "loss")]
    first, again = sends(trace, "PaymentCharged", src="Payment")
    assert again["t"] - first["t"] == 100 and again["tag"] == "#2" and "tag" not in first
    assert s["order_states"] == {"O1": "completed"} and s["republished"] == 1
    assert s["charges"] == 1 and s["shipped"] == 1 and s["notifications"] == 1 and s["violations"] == []
    assert bands(trace, "Orders") == [("busy", "pending"), ("done", "completed")]


def test_with_the_outbox_each_event_leaves_on_the_relays_poll_and_is_confirmed_by_the_broker():
    trace = run(mode="choreography", outbox=True)
    s = trace[-1]["summary"]
    published = [e for e in trace if e["kind"] == "send" and e["dst"] == "Broker" and e["label"] != "ack"]
    assert [e["label"] for e in published] == ["OrderPlaced", "PaymentCharged", "StockReserved", "OrderShipped"]
    assert all(e["t"] % POLL_MS == 0 for e in published)
    assert [e["dst"] for e in sends(trace, "confirm")] == ["Orders", "Payment", "Inventory", "Shipping"]
    assert s["order_states"] == {"O1": "completed"} and s["republished"] == 0 and s["violations"] == []
    assert sends(trace, "StockReserved", src="Broker")[0]["data"] == {"order": "O1", "row": 1, "delivery": 3}


def test_the_outbox_publishes_again_whatever_event_is_dropped_before_the_broker():
    trace = run(mode="choreography", fault="out_of_stock", outbox=True,
                faults=[{"action": "drop", "match": {"label": "InventoryFailed", "src": "Inventory"}}])
    s = trace[-1]["summary"]
    assert s["order_states"] == {"O1": "cancelled"} and s["refunds"] == 1 and s["violations"] == []
    assert [e.get("tag") for e in sends(trace, "InventoryFailed", src="Inventory")] == [None, "#2"]


def test_the_outbox_row_is_committed_with_the_charge_so_a_crash_before_the_poll_still_publishes_after_restart():
    trace = run(mode="choreography", outbox=True, faults=[{"action": "crash", "node": "Payment", "at": 18},
                                                          {"action": "recover", "node": "Payment", "at": 300}])
    s = trace[-1]["summary"]
    assert [e["t"] for e in sends(trace, "PaymentCharged", src="Payment")] == [300 + POLL_MS]
    assert s["order_states"] == {"O1": "completed"} and s["charges"] == 1 and s["violations"] == []


def test_the_outbox_tells_in_the_headline_and_the_known_rows_that_no_event_was_lost():
    s = summary(mode="choreography", fault="lost_event", outbox=True)
    assert s["headline"].startswith("O1 completed in") and "outbox" in s["headline"]
    row = next(r for r in s["known"] if r["quantity"] == "events lost before the Broker")
    assert row["measured"] == "0 lost; 1 event published again" and row["agrees"] is True


def test_the_outbox_changes_nothing_in_orchestration():
    plain, with_outbox = run(mode="orchestration", fault="lost_event"), run(mode="orchestration", fault="lost_event",
                                                                            outbox=True)
    assert [e for e in plain if e["kind"] not in ("init", "end")] == [
        e for e in with_outbox if e["kind"] not in ("init", "end")]


def test_orchestration_retries_use_the_retry_policy_with_the_timeout_as_every_wait():
    assert retry_policy({"timeout_ms": 100, "retries": 3}) == RetryPolicy(initial=100, cap=100, attempts=4, factor=1)
    assert summary(mode="orchestration")["theory"]["retry_delays_ms"] == [100, 100, 100]
    trace = run(mode="orchestration", fault="consumer_crash", downtime_ms=3000, timeout_ms=50, retries=2)
    charges = [e["t"] for e in sends(trace, "Charge")]
    timeouts = [e["t"] for e in trace if e["kind"] == "timer" and e["label"] == "activity timeout"]
    assert charges == [4, 54, 104] and timeouts[:3] == [54, 104, 154]
    assert [b - a for a, b in zip(charges, timeouts)] == [50, 50, 50]
    assert trace[-1]["summary"]["activity_retries"] >= 2


@pytest.mark.parametrize("timeout_ms, retries", [(20, 0), (100, 3), (250, 10)])
def test_the_retry_policy_waits_exactly_timeout_ms_before_each_of_the_retries(timeout_ms, retries):
    policy = retry_policy({"timeout_ms": timeout_ms, "retries": retries})
    assert policy.attempts == retries + 1
    assert [policy.delay(k, None) for k in range(1, retries + 1)] == [timeout_ms] * retries
    assert all(policy.bounds(k) == (timeout_ms, timeout_ms) for k in range(1, retries + 1))


def test_the_relay_stops_republishing_after_the_policys_attempts_and_the_row_waits_in_the_outbox():
    trace = run(mode="choreography", outbox=True, retries=2, faults=[{"action": "crash", "node": "Broker", "at": 5}])
    s = trace[-1]["summary"]
    assert [e["t"] for e in sends(trace, "OrderPlaced", src="Orders")] == [10, 110, 210]
    assert s["stopped"] == "quiescent" and s["order_states"] == {"O1": "stuck"}
    assert s["known"][1]["measured"] == "0 lost; 2 events published again, 1 still waiting in the outbox"
