"""The worked example in docs/adding-a-scenario.md runs as printed and shows its published result."""
import re
import types
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[2] / "docs" / "adding-a-scenario.md"


@pytest.fixture(scope="module")
def receipts():
    text = DOC.read_text()
    code = re.search(r"## A worked example.*?```python\n(.*?)```", text, re.S).group(1)
    assert 80 <= len(code.splitlines()) <= 120  # about a hundred lines
    module = types.ModuleType("receipts")
    exec(compile(code, str(DOC), "exec"), module.__dict__)
    return module.Receipts()


def summary_of(scenario, **params):
    trace = scenario.run(params, 0)
    return trace, trace[-1]["summary"]


def test_the_example_sends_one_receipt_per_order_in_a_calm_run(receipts):
    _, summary = summary_of(receipts)
    assert summary["receipts"] == {"order-1": 1, "order-2": 1, "order-3": 1} and not summary["violations"]


def test_a_lost_ack_is_redelivered_and_the_idempotent_mailer_skips_it(receipts):
    trace, summary = summary_of(receipts, lose_ack=True)
    assert summary["redeliveries"] == 1 and summary["receipts"]["order-1"] == 1 and not summary["violations"]
    assert summary["known"][0]["agrees"] is True


def test_without_dedupe_the_redelivery_sends_a_second_receipt_and_the_invariant_goes_red_there(receipts):
    trace, summary = summary_of(receipts, lose_ack=True, dedupe=False)
    assert summary["receipts"]["order-1"] == 2 and summary["violations"] == ["one_receipt_per_order"]
    red = next(e for e in trace if e["kind"] == "check" and not e["ok"])
    second = [e for e in trace if e["kind"] == "deliver" and e["dst"] == "Mailer"][-1]
    assert red["t"] == second["t"] and red["detail"] == "order-1 got 2 receipts."


def test_the_relay_publishes_on_its_poll_grid(receipts):
    trace, _ = summary_of(receipts, poll_ms=25)
    assert [e["t"] for e in trace if e["kind"] == "send" and e["src"] == "Shop"] == [25, 25, 50]
