import pytest

from simulations.params import ParamError
from simulations.scenarios.payment_gateway import PaymentGateway

DAY_MS = 86_400_000


def run(params=None, faults=None, seed=1):
    trace = PaymentGateway().run(params or {}, seed, faults)
    return trace, trace[-1]["summary"]


def sends(trace, label, src=None, dst=None):
    return [e for e in trace if e["kind"] == "send" and e["label"] == label
            and src in (None, e["src"]) and dst in (None, e["dst"])]


def red(trace, name="at_most_once_charge"):
    return [e for e in trace if e["kind"] == "check" and e["name"] == name and not e["ok"]]


def test_a_healthy_checkout_charges_each_order_once_at_the_primary():
    trace, summary = run({"payments": 3})
    assert summary["charges"] == 3
    assert summary["charged_amount"] == 3 * 2500
    assert summary["attempts"] == 3
    assert summary["retry_delays"] == []
    assert summary["outcomes"] == {"order-1": "paid", "order-2": "paid", "order-3": "paid"}
    assert {e["dst"] for e in sends(trace, "CHARGE", src="PaymentManager")} == {"Primary"}
    assert summary["violations"] == [] and summary["stopped"] == "quiescent"
    assert trace[-2] == {**trace[-2], "kind": "check", "name": "at_most_once_charge", "ok": True}


def test_lost_response_with_idempotency_key_is_replayed_not_charged_again():
    trace, summary = run({"lose_response": True})
    lost = [e for e in trace if e["kind"] == "drop" and e["reason"] == "loss"]
    assert len(lost) == 1 and lost[0]["dst"] == "Checkout"
    retries = sends(trace, "CHARGE", src="Checkout")
    assert [r["data"]["key"] for r in retries] == ["key-order-1", "key-order-1"]
    assert retries[1]["t"] - retries[0]["t"] == 1000 + summary["retry_delays"][0]  # client timeout, then backoff
    replay = sends(trace, "200 OK", src="Primary")[-1]
    assert replay["data"] == {"fwd": 2, "payment": "order-1", "charge": "ch_P1", "replayed": True}
    assert summary["charges"] == 1 and summary["charged_amount"] == 2500 and summary["replayed"] == 1
    assert summary["outcomes"] == {"order-1": "paid"}
    assert not red(trace)


def test_lost_response_without_idempotency_charges_twice_and_the_invariant_goes_red():
    trace, summary = run({"lose_response": True, "idempotency": False})
    assert all("key" not in e["data"] for e in sends(trace, "CHARGE"))
    assert summary["charges"] == 2 and summary["charged_amount"] == 5000
    assert summary["charges_by_payment"] == {"order-1": 2}
    assert summary["violations"] == ["at_most_once_charge"]
    broken = red(trace)[0]
    second_charge = [e for e in trace if e["kind"] == "timer" and e["label"] == "authorised"][1]
    assert broken["seq"] == second_charge["seq"] + 1 and broken["t"] == second_charge["t"]
    assert "order-1 charged 2 times" in broken["detail"]


@pytest.mark.parametrize("error,idempotency", [("503", True), ("500", False)])
@pytest.mark.parametrize("jitter", ["none", "full", "equal", "decorrelated"])
def test_server_errors_are_retried_with_backoff_within_the_formula_bounds(error, idempotency, jitter):
    trace, summary = run({"gateway_error": error, "error_count": 3, "jitter": jitter, "idempotency": idempotency},
                         seed=7)
    label = "500 Server Error" if error == "500" else "503 Unavailable"
    bounds = summary["theory"]["delay_bounds"]
    delays = summary["retry_delays"]
    assert len(delays) == 3 and summary["attempts"] == 4
    assert all(low <= d <= high for d, (low, high) in zip(delays, bounds))
    errors = [e for e in trace if e["kind"] == "deliver" and e["dst"] == "Checkout"]
    charges = sends(trace, "CHARGE", src="Checkout")
    assert len(sends(trace, label, dst="Checkout")) == 3
    assert [c["t"] - e["t"] for e, c in zip(errors, charges[1:])] == delays
    assert summary["charges"] == 1 and summary["outcomes"] == {"order-1": "paid"}
    assert not red(trace)


def test_formula_bounds_are_brookers():
    _, none = run({"jitter": "none", "base_ms": 100, "cap_ms": 300, "max_attempts": 5})
    _, full = run({"jitter": "full", "base_ms": 100, "cap_ms": 2000})
    _, equal = run({"jitter": "equal", "base_ms": 100, "cap_ms": 2000})
    _, decorrelated = run({"jitter": "decorrelated", "base_ms": 100, "cap_ms": 2000, "max_attempts": 5})
    assert none["theory"]["delay_bounds"] == [[100, 100], [200, 200], [300, 300], [300, 300]]
    assert full["theory"]["delay_bounds"] == [[0, 100], [0, 200], [0, 400]]
    assert equal["theory"]["delay_bounds"] == [[50, 100], [100, 200], [200, 400]]
    assert decorrelated["theory"]["delay_bounds"] == [[100, 300], [100, 900], [100, 2000], [100, 2000]]


def test_no_jitter_doubles_the_wait_up_to_the_cap():
    _, summary = run({"gateway_error": "503", "error_count": 4, "jitter": "none", "base_ms": 100, "cap_ms": 300,
                      "max_attempts": 5})
    assert summary["retry_delays"] == [100, 200, 300, 300]
    assert summary["charges"] == 1


def test_decorrelated_jitter_grows_from_the_previous_wait():
    for seed in range(20):
        _, summary = run({"gateway_error": "503", "error_count": 5, "jitter": "decorrelated", "max_attempts": 6},
                         seed=seed)
        delays = summary["retry_delays"]
        previous = [100] + delays[:-1]
        assert all(100 <= d <= min(2000, 3 * p) for d, p in zip(delays, previous))


def test_a_500_is_saved_under_its_key_and_replayed_to_the_retry_not_run_again():
    # Stripe: "Subsequent requests with the same key return the same result, including 500 errors."
    trace, summary = run({"gateway_error": "500", "error_count": 1})
    first, retry = sends(trace, "500 Server Error", src="Primary")
    assert "replayed" not in first["data"] and retry["data"] == {"fwd": 2, "replayed": True}
    assert [e["data"]["key"] for e in sends(trace, "CHARGE", src="Checkout")] == ["key-order-1"] * 2
    assert not [e for e in trace if e["kind"] == "timer" and e["label"] == "authorised"]  # never run again
    assert summary["replayed_errors"] == 1 and summary["charges"] == 0 and summary["attempts"] == 2
    assert summary["outcomes"] == {"order-1": "failed"} and len(summary["retry_delays"]) == 1
    assert "replayed it to the retry" in summary["headline"]


def test_without_a_key_a_500_is_simply_run_again():
    _, summary = run({"gateway_error": "500", "error_count": 1, "idempotency": False})
    assert summary["replayed_errors"] == 0 and summary["charges"] == 1 and summary["outcomes"] == {"order-1": "paid"}


def test_a_503_refuses_the_request_before_it_runs_so_nothing_is_saved_and_the_retry_runs():
    trace, summary = run({"gateway_error": "503", "error_count": 1})
    assert summary["replayed_errors"] == 0 and summary["charges"] == 1 and summary["outcomes"] == {"order-1": "paid"}
    assert "replayed" not in sends(trace, "200 OK", src="Primary")[0]["data"]


def test_a_retry_that_changes_the_amount_under_the_same_key_is_refused():
    # Stripe: "The idempotency layer compares incoming parameters to those of the original request and errors
    # if they're not the same."
    trace, summary = run({"lose_response": True, "retry_amount": 3000})
    first, retry = sends(trace, "CHARGE", src="Checkout")
    assert (first["data"]["amount"], retry["data"]["amount"]) == (2500, 3000)
    assert first["data"]["key"] == retry["data"]["key"] == "key-order-1"
    assert len(sends(trace, "400 Idempotency Error", src="Primary")) == 1
    assert summary["idempotency_errors"] == 1 and summary["outcomes"] == {"order-1": "rejected"}
    assert summary["charges"] == 1 and summary["charged_amount"] == 2500 and not red(trace)
    assert "changed the amount to 3000" in summary["headline"]


def test_without_a_key_a_retry_with_another_amount_is_a_second_charge():
    _, summary = run({"lose_response": True, "retry_amount": 3000, "idempotency": False})
    assert summary["charges"] == 2 and summary["charged_amount"] == 5500
    assert summary["violations"] == ["at_most_once_charge"]


def test_gateway_timeout_is_answered_504_and_retried_with_the_same_key():
    trace, summary = run({"gateway_error": "timeout", "error_count": 1})
    assert len(sends(trace, "504 Gateway Timeout", src="PaymentManager", dst="Checkout")) == 1
    first, second = sends(trace, "CHARGE", src="PaymentManager")
    assert first["dst"] == second["dst"] == "Primary"
    assert summary["charges"] == 1 and summary["attempts"] == 2
    assert summary["theory"]["gateway_read_timeout_ms"] == 500


def test_a_client_gives_up_after_max_attempts_with_the_outcome_unknown():
    trace, summary = run({"gateway_error": "503", "error_count": 10, "max_attempts": 3})
    assert summary["attempts"] == 3 and len(summary["retry_delays"]) == 2
    assert summary["charges"] == 0 and summary["outcomes"] == {"order-1": "failed"}
    assert any("gives up after 3 attempts" in e.get("text", "") for e in trace)


def test_same_key_with_other_parameters_is_an_idempotency_error():
    trace, summary = run({"payments": 2, "reuse_key": True})
    refused = sends(trace, "400 Idempotency Error", src="PaymentManager", dst="Checkout")
    assert len(refused) == 1
    assert summary["idempotency_errors"] == 1
    assert summary["outcomes"] == {"order-1": "paid", "order-2": "rejected"}
    assert summary["charges"] == 1 and not red(trace)


def test_double_submit_gets_409_while_the_first_request_is_in_flight():
    trace, summary = run({"double_submit": True})
    conflict = sends(trace, "409 Conflict", src="Primary")
    assert len(conflict) == 1
    charged = next(e for e in trace if e["kind"] == "timer" and e["label"] == "authorised")
    assert conflict[0]["t"] < charged["t"]  # the first charge was still running
    assert summary["conflicts"] == 1 and summary["attempts"] == 2
    assert summary["charges"] == 1 and summary["outcomes"] == {"order-1": "paid"}
    assert not red(trace)


def test_double_submit_without_idempotency_charges_twice():
    trace, summary = run({"double_submit": True, "idempotency": False})
    assert summary["charges"] == 2 and summary["conflicts"] == 0
    assert summary["violations"] == ["at_most_once_charge"] and red(trace)


def test_primary_down_fails_over_to_the_fallback_with_one_charge():
    trace, summary = run({"primary_down": True, "payments": 2})
    assert trace[1] == {**trace[1], "kind": "crash", "node": "Primary"}
    assert [e["dst"] for e in sends(trace, "CHARGE", src="PaymentManager")] == ["Fallback", "Fallback"]
    assert summary["failovers"] == 2
    assert summary["charges"] == 2 and summary["charges_by_payment"] == {"order-1": 1, "order-2": 1}
    assert not red(trace)


def test_a_key_stays_with_its_gateway_when_the_primary_dies_mid_charge():
    trace, summary = run({"payments": 2}, [{"action": "crash", "node": "Primary", "at": 50}])
    routed = [(e["data"]["payment"], e["dst"]) for e in sends(trace, "CHARGE", src="PaymentManager")]
    assert routed == [("order-1", "Primary")] * 4 + [("order-2", "Fallback")]
    assert summary["outcomes"] == {"order-1": "failed", "order-2": "paid"}
    assert summary["charges"] == 1 and not red(trace)


def test_recurring_key_is_subscription_and_period():
    trace, summary = run({"recurring": True, "periods": 3})
    keys = [e["data"]["key"] for e in sends(trace, "CHARGE", src="Scheduler")]
    assert keys == ["sub-1:period-1", "sub-1:period-2", "sub-1:period-3"]
    assert sends(trace, "CHARGE", src="Checkout") == []
    assert summary["charges"] == 3 and summary["charged_amount"] == 7500


def test_scheduler_crash_after_charging_does_not_charge_twice_with_idempotency():
    trace, summary = run({"recurring": True, "periods": 2, "scheduler_crash": True})
    assert [e["kind"] for e in trace if e.get("node") == "Scheduler" and e["kind"] in ("crash", "recover")] == [
        "crash", "recover"]
    assert [e["data"]["key"] for e in sends(trace, "CHARGE", src="Scheduler")] == [
        "sub-1:period-1", "sub-1:period-1", "sub-1:period-2"]
    assert summary["replayed"] == 1
    assert summary["charges_by_payment"] == {"sub-1:period-1": 1, "sub-1:period-2": 1}
    assert not red(trace)


def test_scheduler_crash_after_charging_charges_twice_without_idempotency():
    trace, summary = run({"recurring": True, "periods": 2, "scheduler_crash": True, "idempotency": False})
    assert summary["charges_by_payment"] == {"sub-1:period-1": 2, "sub-1:period-2": 1}
    assert red(trace) and summary["violations"] == ["at_most_once_charge"]


def test_a_retry_a_day_later_finds_the_key_expired_and_charges_again():
    trace, summary = run({"late_retry_ms": DAY_MS})
    assert len(trace) < 100  # the idle day is one jump of the clock, not 86 million ticks
    assert summary["expired_keys"] == 1 and summary["charges"] == 2
    broken = red(trace)[0]
    assert broken["t"] > DAY_MS
    assert summary["end_time"] < 2 * DAY_MS and summary["stopped"] == "quiescent"


def test_a_retry_just_within_24_hours_gets_the_saved_response():
    trace, summary = run({"late_retry_ms": DAY_MS - 1000})
    assert summary["expired_keys"] == 0 and summary["replayed"] == 1
    assert summary["charges"] == 1 and not red(trace)


def test_dropping_the_gateway_answer_with_an_engine_fault_is_safe_with_keys():
    faults = [{"action": "drop", "match": {"label": "200 OK", "src": "Primary"}}]
    trace, summary = run({}, faults)
    assert len(sends(trace, "504 Gateway Timeout")) == 1
    assert summary["replayed"] == 1 and summary["charges"] == 1 and not red(trace)
    _, unsafe = run({"idempotency": False}, faults)
    assert unsafe["charges"] == 2 and unsafe["violations"] == ["at_most_once_charge"]


def test_a_checkout_crashing_for_a_day_resumes_with_an_expired_key():
    faults = [{"action": "crash", "node": "Checkout", "at": 10},
              {"action": "recover", "node": "Checkout", "at": DAY_MS + 100}]
    trace, summary = run({}, faults)
    assert summary["expired_keys"] == 1 and summary["charges"] == 2 and red(trace)
    faults[1]["at"] = 3_600_000
    trace, summary = run({}, faults)
    assert summary["replayed"] == 1 and summary["charges"] == 1 and not red(trace)


def test_same_inputs_give_the_same_trace():
    params = {"payments": 3, "gateway_error": "503", "error_count": 2, "lose_response": True,
              "jitter": "decorrelated", "double_submit": True}
    assert run(params, seed=5)[0] == run(params, seed=5)[0]
    assert run(params, seed=5)[1]["retry_delays"] != run(params, seed=6)[1]["retry_delays"]


@pytest.mark.parametrize("params", [
    {"cap_ms": 50, "base_ms": 100},
    {"max_attempts": 11},
    {"payments": 21},
    {"periods": 13},
    {"timeout_ms": 100},
    {"jitter": "random"},
    {"gateway_error": "502"},
    {"reuse_key": True, "payments": 1},
    {"late_retry_ms": 3 * DAY_MS},
])
def test_runaway_or_inconsistent_parameters_are_refused(params):
    with pytest.raises(ParamError):
        PaymentGateway().run(params)


def bands(trace, node):
    """The bands drawn along ``node``'s lifeline, in order: (tone, label) as it starts, None as it ends."""
    return [e["band"] and (e["band"]["tone"], e["band"]["label"])
            for e in trace if e["kind"] == "state" and e["node"] == node and "band" in e]


def test_the_checkout_bands_charging_backoff_and_paid_and_a_double_charge_is_banded_on_the_gateway():
    trace, _ = run({"idempotency": False, "lose_response": True})
    assert bands(trace, "Checkout") == [("busy", "charging"), ("wait", "backoff"), ("busy", "charging"),
                                        ("done", "paid")]
    assert bands(trace, "Primary") == [("fail", "charged twice")]
    assert [e.get("tag") for e in sends(trace, "CHARGE")] == [None, None, "#2", "#2"]
    keyed, _ = run({"idempotency": True, "lose_response": True})
    assert bands(keyed, "Primary") == []


def test_charge_arrows_carry_the_key_tail_first_and_the_attempt_on_a_retry():
    trace, _ = run({"idempotency": True, "lose_response": True})
    assert [e["tag"] for e in sends(trace, "CHARGE", src="Checkout")] == ["k…-1", "#2"]
    reused, _ = run({"payments": 3, "reuse_key": True})
    assert {e["tag"] for e in sends(reused, "CHARGE", src="Checkout")} == {"k…-1"}  # the bug, on every arrow
    assert bands(reused, "Checkout")[-1] == ("fail", "rejected")


def test_outcome_a_lost_response_without_a_key_is_a_double_charge_in_words():
    _, s = run({"idempotency": False, "lose_response": True}, seed=0)
    assert s["headline"].startswith("Charged twice:") and "the retry had no idempotency key" in s["headline"]
    assert "at_most_once_charge is violated" in s["headline"]
    charges = s["known"][0]
    assert charges["measured"] == "2" and charges["agrees"] is None and "sends none" in charges["assumes"]


def test_outcome_the_same_loss_with_a_key_is_one_charge_and_the_theory_agrees():
    _, s = run({"idempotency": True, "lose_response": True}, seed=0)
    assert s["headline"].startswith("order-1 was charged once") and "saved response" in s["headline"]
    assert [(r["measured"], r["agrees"]) for r in s["known"]][0] == ("1", True)
