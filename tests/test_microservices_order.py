"""Microservice order flow: cascading timeouts, a circuit breaker's cycle, compensation and the outbox."""
import json

import pytest

from simulations.params import ParamError
from simulations.scenarios.microservices_order import MicroservicesOrder

ORDERS = MicroservicesOrder()
NODES = ["Client", "OrderService", "UserService", "ProductService", "InventoryService", "PaymentService", "Queue",
         "NotificationService"]
INVARIANTS = ["stock_conserved", "orders_resolved", "open_breaker_sends_nothing", "notified_at_most_once",
              "order_event_not_lost"]


def run(seed=0, faults=None, **params):
    return ORDERS.run(params, seed, faults)


def summary(faults=None, **params):
    return run(faults=faults, **params)[-1]["summary"]


def red(trace, name):
    return [e for e in trace[:-1] if e["kind"] == "check" and e["name"] == name and not e["ok"]]


def cycle(s):
    return [(x["from"], x["to"]) for x in s["breaker_transitions"]]


def sends(trace, label=None, src=None, dst=None):
    return [e for e in trace if e["kind"] == "send" and label in (None, e["label"])
            and src in (None, e["src"]) and dst in (None, e["dst"])]


def test_nodes_groups_and_invariants_follow_the_contract():
    init = run()[0]
    assert [n["id"] for n in init["nodes"]] == NODES
    groups = {n["id"]: n["group"] for n in init["nodes"]}
    assert groups["Client"] == "client" and groups["Queue"] == "broker" and groups["OrderService"] == "service"
    assert [i["name"] for i in init["invariants"]] == INVARIANTS


def test_happy_path_confirms_every_order_in_ten_hops_and_notifies_each_once():
    s = summary()
    assert s["confirmed"] == 5 and s["rejected"] == 0 and s["notifications"] == 5
    assert s["mean_confirm_ms"] == s["theory"]["happy_path_ms"] == 100
    assert s["stock"] == {"available": 10, "reserved": 0, "sold": 10}
    assert s["breaker_transitions"] == [] and s["client_timeouts"] == 0 and s["violations"] == []


def test_one_order_makes_four_calls_then_one_event():
    s = summary(orders=1)
    assert s["messages_by_label"] == {"PlaceOrder": 1, "ValidateUser": 1, "UserOK": 1, "GetProduct": 1, "Product": 1,
                                      "Reserve": 1, "Reserved": 1, "Pay": 1, "Paid": 1, "OrderConfirmed": 1,
                                      "OrderCreated": 2, "Enqueued": 1, "ack": 1}


def test_breaker_opens_half_opens_and_closes_around_a_dead_dependency_that_comes_back():
    trace = run(orders=20, dead_service="PaymentService", dead_until_ms=1000)
    s = trace[-1]["summary"]
    assert cycle(s) == [("closed", "open"), ("open", "half-open"), ("half-open", "closed")]
    assert [x["t"] for x in s["breaker_transitions"]] == [470, 1470, 1490]
    assert {x["service"] for x in s["breaker_transitions"]} == {"PaymentService"}
    shown = [e["state"]["breaker"] for e in trace if e["kind"] == "state" and e["node"] == "OrderService"]
    assert "open" in shown and "half-open" in shown and shown[-1] == "closed"
    assert s["confirmed"] == 5 and s["rejected"] == 15 and s["violations"] == []


def test_an_open_breaker_sends_nothing_to_its_dependency():
    trace = run(orders=20, dead_service="PaymentService", dead_until_ms=1000)
    notes = [e for e in trace if e["kind"] == "note" and e["text"].startswith("Breaker on PaymentService")]
    opened, half_opened = notes[0]["seq"], notes[1]["seq"]
    assert "closed -> open" in notes[0]["text"] and "open -> half-open" in notes[1]["text"]
    assert not [e for e in sends(trace, src="OrderService", dst="PaymentService") if opened < e["seq"] < half_opened]
    assert trace[-1]["summary"]["violations"] == []


def test_an_open_breaker_fails_fast_so_the_client_stops_timing_out():
    trace = run(orders=20, dead_service="PaymentService", dead_until_ms=1000)
    s = trace[-1]["summary"]
    assert s["client_timeouts"] == 4
    fast = [e for e in sends(trace, "OrderRejected") if "breaker open" in e["data"]["reason"]]
    assert len(fast) == 10 and all(e["t"] % 100 == 70 for e in fast)


def test_a_failed_trial_call_opens_the_breaker_again():
    s = summary(orders=20, dead_service="PaymentService", dead_until_ms=1500)
    assert cycle(s) == [("closed", "open"), ("open", "half-open"), ("half-open", "open"), ("open", "half-open"),
                        ("half-open", "closed")]
    assert s["violations"] == []


def test_cascading_timeouts_without_the_breaker_tripping_when_the_threshold_is_high():
    trace = run(slow_service="InventoryService", slow_ms=300, breaker_threshold=20)
    s = trace[-1]["summary"]
    assert s["breaker_transitions"] == [] and s["client_timeouts"] == 5 and s["rejected"] == 5
    client_gives_up = [e["t"] for e in trace if e["kind"] == "timer" and e["label"] == "request timeout"]
    service_gives_up = [e["t"] for e in sends(trace, "OrderRejected")]
    assert client_gives_up == [200, 300, 400, 500, 600]
    assert service_gives_up == [250, 350, 450, 550, 650]
    assert s["stock"] == {"available": 20, "reserved": 0, "sold": 0} and s["violations"] == []


def test_the_same_slow_dependency_trips_the_default_breaker():
    s = summary(slow_service="InventoryService", slow_ms=300)
    assert cycle(s)[0] == ("closed", "open") and s["client_timeouts"] == 4


def test_compensation_releases_the_stock_of_orders_whose_payment_fails():
    trace = run(dead_service="PaymentService")
    s = trace[-1]["summary"]
    assert len(sends(trace, "Release")) == 5
    assert s["confirmed"] == 0 and s["stock"] == {"available": 20, "reserved": 0, "sold": 0}
    assert s["stock_leaked"] == 0 and s["violations"] == []


def test_without_compensation_a_failed_payment_leaks_its_stock():
    trace = run(dead_service="PaymentService", compensation=False)
    s = trace[-1]["summary"]
    assert not sends(trace, "Release")
    assert s["stock"] == {"available": 10, "reserved": 0, "sold": 0} and s["stock_leaked"] == 10
    assert s["violations"] == ["stock_conserved", "orders_resolved"]
    assert red(trace, "stock_conserved")[0]["t"] == 270


def test_a_lost_payment_response_is_refunded_by_compensation():
    trace = run(lose_payment_response=True)
    s = trace[-1]["summary"]
    assert [(e["src"], e["reason"]) for e in trace if e["kind"] == "drop"] == [("PaymentService", "loss")]
    assert [e["data"]["order"] for e in sends(trace, "Refund")] == ["O1"]
    assert s["confirmed"] == 4 and s["rejected"] == 1 and s["charges_leaked"] == 0 and s["violations"] == []


def test_a_lost_payment_response_without_compensation_keeps_the_money_and_the_stock():
    trace = run(lose_payment_response=True, compensation=False)
    s = trace[-1]["summary"]
    assert s["charges_leaked"] == 1 and s["stock_leaked"] == 2
    assert s["violations"] == ["stock_conserved", "orders_resolved"]
    assert "O1 was rejected but holds stock" in red(trace, "orders_resolved")[0]["detail"]


def test_dropping_the_first_paid_by_hand_is_the_same_lost_response():
    s = summary(faults=[{"action": "drop", "match": {"label": "Paid"}}])
    assert s["rejected"] == 1 and s["charges_leaked"] == 0 and s["violations"] == []


def test_outbox_relay_crash_still_notifies_after_recovery():
    trace = run(relay_crash=True)
    s = trace[-1]["summary"]
    assert [(e["kind"], e["t"]) for e in trace if e["kind"] in ("crash", "recover")] == [("crash", 90),
                                                                                         ("recover", 290)]
    first = sends(trace, "OrderCreated", "OrderService")[0]
    assert first["data"] == {"order": "O1"} and first["t"] == 295
    assert s["confirmed"] == 3 and s["notifications"] == 3 and s["violations"] == []


def test_without_outbox_a_crash_between_commit_and_publish_loses_the_event():
    trace = run(relay_crash=True, outbox=False)
    s = trace[-1]["summary"]
    assert s["confirmed"] == 3 and s["notifications"] == 2
    assert "O1" not in [e["data"]["order"] for e in sends(trace, "OrderCreated")]


def test_without_outbox_the_lost_event_turns_order_event_not_lost_red_at_the_crash():
    """Richardson, 'Transactional outbox': commit and publish are two acts a crash can separate; the loss is a
    violation the moment OrderService dies holding the only record that the event is owed, not silence."""
    trace = run(relay_crash=True, outbox=False)
    crash = next(e for e in trace if e["kind"] == "crash")
    lost = red(trace, "order_event_not_lost")
    assert crash["node"] == "OrderService" and lost[0]["t"] == crash["t"] == 90 and lost[0]["seq"] > crash["seq"]
    assert "O1" in lost[0]["detail"]
    s = trace[-1]["summary"]
    assert s["events_lost"] == ["O1"] and s["violations"] == ["order_event_not_lost"]
    assert s["headline"].startswith("OrderService crashed right after committing the first order and, with no "
                                    "outbox, its OrderCreated was lost")
    outbox = run(relay_crash=True, outbox=True)[-1]["summary"]
    assert outbox["events_lost"] == [] and outbox["violations"] == []


def test_without_outbox_a_dropped_publish_is_never_retried_and_is_flagged_lost():
    drop = [{"action": "drop", "match": {"label": "OrderCreated", "src": "OrderService"}}]
    assert summary(faults=drop, orders=1, outbox=False)["events_lost"] == ["O1"]
    s = summary(faults=drop, orders=1)
    assert s["events_lost"] == [] and s["notifications"] == 1 and s["violations"] == []


def test_a_redelivered_notification_is_sent_once_with_dedupe():
    """Richardson, 'Idempotent Consumer': the Queue redelivers when the ack is lost; a consumer that records what
    it handled skips the copy."""
    trace = run(orders=1, faults=[{"action": "drop", "match": {"label": "ack"}}])
    deliveries = sends(trace, "OrderCreated", src="Queue")
    assert [e.get("tag") for e in deliveries] == [None, "#2"] and deliveries[1]["data"]["redelivered"] is True
    s = trace[-1]["summary"]
    assert s["notifications"] == 1 and s["notified_twice"] == [] and s["violations"] == []


def test_without_dedupe_a_redelivered_notification_is_sent_twice_and_the_invariant_names_it():
    trace = run(orders=1, dedupe=False, faults=[{"action": "drop", "match": {"label": "ack"}}])
    s = trace[-1]["summary"]
    assert s["notifications"] == 2 and s["notified_twice"] == ["O1"] and s["violations"] == ["notified_at_most_once"]
    second = [e for e in trace if e["kind"] == "deliver" and e["dst"] == "NotificationService"][1]
    twice = red(trace, "notified_at_most_once")
    assert twice[0]["t"] == second["t"] == 315 and "O1 was notified 2 times" in twice[0]["detail"]
    assert "dedupe off" in s["headline"]


def test_a_crash_mid_order_rejects_and_compensates_the_unfinished_ones_on_restart():
    trace = run(relay_crash=True, interval_ms=30, orders=3)
    s = trace[-1]["summary"]
    assert s["confirmed"] == 1 and s["rejected"] == 2
    assert [e["t"] for e in sends(trace, "Release")] == [290]
    assert s["stock"]["reserved"] == 0 and s["violations"] == []


def test_out_of_stock_is_a_business_answer_not_a_breaker_failure():
    s = summary(stock=5, breaker_threshold=1)
    assert s["confirmed"] == 2 and s["rejected"] == 3 and s["breaker_transitions"] == []
    assert s["stock"] == {"available": 1, "reserved": 0, "sold": 4} and s["violations"] == []


def test_a_crashed_notification_service_gets_the_event_redelivered_by_the_queue():
    s = summary(orders=1, faults=[{"action": "crash", "node": "NotificationService", "at": 0},
                                  {"action": "recover", "node": "NotificationService", "at": 250}])
    assert s["notifications"] == 1 and s["messages_by_label"]["OrderCreated"] == 3


def test_a_dependency_that_never_comes_back_leaves_nothing_leaked():
    s = summary(orders=10, dead_service="InventoryService", dead_until_ms=60_000)
    assert s["confirmed"] == 0 and s["stock"]["available"] == 20 and s["violations"] == []


def test_fifty_orders_in_a_burst_all_confirm():
    s = summary(orders=50, interval_ms=1, stock=1000)
    assert s["confirmed"] == 50 and s["notifications"] == 50 and s["violations"] == []


def test_same_inputs_give_the_same_trace():
    params = {"orders": 20, "dead_service": "PaymentService", "lose_payment_response": True, "relay_crash": True}
    assert ORDERS.run(params, 3) == ORDERS.run(params, 3)


def test_a_timeout_shorter_than_a_round_trip_is_refused():
    with pytest.raises(ParamError) as e:
        ORDERS.run({"latency_ms": 100, "timeout_ms": 200})
    assert "timeout_ms" in e.value.errors



def test_the_trace_is_plain_json():
    trace = run(orders=20, dead_service="PaymentService", relay_crash=True)
    assert json.loads(json.dumps(trace)) == trace



def test_a_faulty_service_with_a_long_open_timeout_that_could_flap_for_hours_is_refused():
    with pytest.raises(ParamError) as e:
        ORDERS.run({"orders": 50, "open_timeout": 60_000, "dead_service": "PaymentService"})
    assert "open_timeout" in e.value.errors
    assert summary(orders=50, open_timeout=60_000, stock=100)["confirmed"] == 50


@pytest.mark.parametrize("bad", [{"orders": 51}, {"items": 0}, {"latency_ms": 501}, {"breaker_threshold": 21},
                                 {"open_timeout": 10**6}, {"stock": -1}, {"slow_service": "Queue"},
                                 {"dead_service": "OrderService"}, {"dead_until_ms": 10**7}, {"slow_ms": 10**6}])
def test_out_of_bounds_parameters_are_refused(bad):
    with pytest.raises(ParamError):
        ORDERS.run(bad)


def bands(trace, node):
    """The bands drawn along ``node``'s lifeline, in order: (tone, label) as it starts, None as it ends."""
    return [e["band"] and (e["band"]["tone"], e["band"]["label"])
            for e in trace if e["kind"] == "state" and e["node"] == node and "band" in e]


def test_the_breaker_preset_bands_order_service_fault_then_wait_then_nothing():
    trace = run(orders=20, dead_service="PaymentService", dead_until_ms=1000)
    assert bands(trace, "OrderService") == [("fault", "breaker open"), ("wait", "half-open"), None]
    assert {e["tag"] for e in sends(trace, "Refund") if "tag" in e} == {"#2"}  # owed refunds, retried


def test_redelivered_and_republished_events_carry_their_delivery_number():
    assert bands(run(), "OrderService") == []
    trace = run(orders=1, faults=[{"action": "crash", "node": "NotificationService", "at": 0}])
    assert [e.get("tag") for e in sends(trace, "OrderCreated", src="Queue")] == [None, "#2", "#3", "#4", "#5"]


def test_outcome_the_breaker_lesson_says_when_it_opened_and_closed():
    s = summary(orders=20, dead_service="PaymentService", dead_until_ms=1000)
    assert s["headline"] == ("5 of 20 orders confirmed and 15 rejected while PaymentService was down until t=1000; "
                             "its breaker opened at t=470 and closed at t=1490.")
    breaker = s["known"][-1]
    assert breaker["quantity"] == "circuit breaker" and breaker["agrees"] is True


def test_outcome_without_compensation_stock_leaks_and_the_conservation_row_sets_the_theory_aside():
    s = summary(dead_service="PaymentService", compensation=False)
    assert s["headline"].startswith("Stock leaked:") and "stock_conserved is violated at t=270" in s["headline"]
    stock = next(r for r in s["known"] if r["quantity"].startswith("stock"))
    assert stock["agrees"] is None and "compensation" in stock["assumes"] and stock["measured"].endswith("= 10, 10 held by rejected orders")


@pytest.mark.parametrize("timeout_ms", [200, 300])
def test_a_hung_dependency_opens_the_breaker_threshold_timeouts_in_a_refusing_one_threshold_round_trips_in(
        timeout_ms):
    """Nygard, 'Integration Points': a refused connection fails fast, a hung one holds the caller until its
    timeout. UserService is called 1 hop after each order (orders 100 ms apart); the 3rd failure opens the breaker."""
    common = {"dead_service": "UserService", "timeout_ms": timeout_ms, "open_timeout": 5000}
    hang = run(down_mode="hang", **common)
    refuse = run(down_mode="refuse", **common)
    third_call = 2 * 100 + 10
    assert summary(**common)["breaker_transitions"] == hang[-1]["summary"]["breaker_transitions"]  # hang: default
    assert hang[-1]["summary"]["breaker_transitions"][0] == {"t": third_call + timeout_ms, "service": "UserService",
                                                             "from": "closed", "to": "open"}
    assert refuse[-1]["summary"]["breaker_transitions"][0]["t"] == third_call + 2 * 10
    assert refuse[-1]["summary"]["theory"]["down_call_fails_after_ms"] == 20
    assert hang[-1]["summary"]["theory"]["down_call_fails_after_ms"] == timeout_ms
    for trace, ms in ((hang, timeout_ms), (refuse, 20)):
        row = next(r for r in trace[-1]["summary"]["known"] if r["quantity"].startswith("a call to UserService"))
        assert row["measured"] == f"{ms} ms" and row["agrees"] is True


def test_a_refusing_dependency_answers_refused_at_once_so_no_caller_times_out():
    trace = run(dead_service="UserService", down_mode="refuse", dead_until_ms=1000)
    s = trace[-1]["summary"]
    refused = sends(trace, "Refused", src="UserService")
    assert [e["t"] for e in refused] == [20, 120, 220]
    assert [e["data"]["reason"] for e in sends(trace, "OrderRejected")] == ["UserService refused"] * 3 + [
        "UserService breaker open"] * 2
    assert s["client_timeouts"] == 0 and s["messages_dropped"] == 0 and s["violations"] == []
    assert not [e for e in trace if e["kind"] == "crash"]
    assert bands(trace, "UserService") == [("fault", "refusing"), None]
    assert "refusing connections until t=1000" in s["headline"]


def test_a_hung_dependency_swallows_the_calls_and_the_client_times_out_first():
    trace = run(dead_service="UserService", dead_until_ms=1000)
    assert [e["reason"] for e in trace if e["kind"] == "drop"] == ["crashed"] * 4
    assert not sends(trace, "Refused") and trace[-1]["summary"]["client_timeouts"] == 4
