"""Nygard's circuit breaker: threshold failures open it, reset_after half-opens it, a probe decides."""
from simulations.engine import Node
from simulations.kit.breaker import BANDS, CLOSED, HALF_OPEN, OPEN, CircuitBreaker

from .stage import play


def test_consecutive_failures_open_the_breaker_and_it_then_fails_fast():
    breaker = CircuitBreaker(threshold=3, reset_after=100)
    for t in (1, 2):
        assert breaker.allow(t)
        breaker.failure(t)
    breaker.success(3)  # consecutive: a success starts the count again
    for t in (4, 5, 6):
        breaker.failure(t)
    assert breaker.state == OPEN and not breaker.allow(50) and breaker.rejected == 1


def test_after_reset_after_one_probe_goes_through_and_its_success_closes_it():
    breaker = CircuitBreaker(threshold=1, reset_after=100)
    breaker.failure(0)
    assert not breaker.allow(99)
    assert breaker.allow(100) and breaker.state == HALF_OPEN
    assert not breaker.allow(101)  # one probe at a time
    breaker.success(102)
    assert breaker.state == CLOSED
    assert breaker.transitions == [(0, OPEN), (100, HALF_OPEN), (102, CLOSED)]


def test_a_failed_probe_opens_it_again_for_another_reset_after():
    breaker = CircuitBreaker(threshold=1, reset_after=100)
    breaker.failure(0)
    breaker.allow(150)
    breaker.failure(160)
    assert breaker.state == OPEN and not breaker.allow(259) and breaker.allow(260)


class Caller(Node):
    def on_start(self):
        self.breaker = CircuitBreaker(threshold=2, reset_after=10, node=self)
        self.set_state(breaker=CLOSED)
        for at in (1, 2, 3, 15, 16):
            self.set_timer(at, "call")

    def on_timer(self, label, data):
        if self.breaker.allow(self.now):
            (self.breaker.failure if self.now < 15 else self.breaker.success)(self.now)


def test_the_breaker_state_is_drawn_as_a_band_on_its_owner():
    sim = play(lambda: [Caller("Caller")], bands=BANDS)
    bands = [(e["t"], e["band"] and e["band"]["label"]) for e in sim.trace if e["kind"] == "state" and "band" in e]
    assert bands == [(2, "breaker open"), (15, "half-open"), (15, None)]


def test_refresh_half_opens_when_reset_after_has_passed_without_spending_the_probe():
    breaker = CircuitBreaker(threshold=1, reset_after=100)
    breaker.failure(0)
    breaker.refresh(99)
    assert breaker.state == OPEN
    breaker.refresh(100)
    assert breaker.state == HALF_OPEN and breaker.allow(130) and not breaker.allow(131)
    assert breaker.transitions == [(0, OPEN), (100, HALF_OPEN)]
