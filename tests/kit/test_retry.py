"""Brooker's backoff formulas: each jitter stays within the bounds the policy promises, and none is exact."""
import random

import pytest

from simulations.kit.retry import Backoff, RetryPolicy


def test_no_jitter_doubles_from_initial_up_to_the_cap():
    policy = RetryPolicy(initial=100, cap=300, attempts=5)
    assert [policy.delay(k, random.Random(0)) for k in range(1, 5)] == [100, 200, 300, 300]
    assert [policy.bounds(k) for k in range(1, 5)] == [(100, 100), (200, 200), (300, 300), (300, 300)]


def test_the_factor_need_not_be_two_and_rounds_to_whole_ticks():
    policy = RetryPolicy(initial=1000, cap=100_000, factor=1.5)
    assert [policy.ceiling(k) for k in range(1, 5)] == [1000, 1500, 2250, 3375]
    assert RetryPolicy(initial=1, cap=50, factor=2.0).ceiling(10_000) == 50  # no overflow far out


@pytest.mark.parametrize("jitter,bounds", [
    ("full", [(0, 100), (0, 200), (0, 400), (0, 800)]),
    ("equal", [(50, 100), (100, 200), (200, 400), (400, 800)]),
    ("decorrelated", [(100, 300), (100, 900), (100, 2000), (100, 2000)]),
])
def test_every_jitter_draws_within_its_promised_bounds(jitter, bounds):
    policy = RetryPolicy(initial=100, cap=2000, attempts=5, jitter=jitter)
    assert [policy.bounds(k) for k in range(1, 5)] == bounds
    draws = {k: set() for k in range(1, 5)}
    for seed in range(300):
        rng, backoff = random.Random(seed), Backoff(policy)
        for k in range(1, 5):
            backoff.attempt()
            draws[k].add(backoff.next_delay(rng))
    for k, (low, high) in enumerate(bounds, 1):
        assert low <= min(draws[k]) and max(draws[k]) <= high
        assert len(draws[k]) > 10  # randomised, not a fixed point


def test_decorrelated_jitter_grows_from_the_previous_wait_not_from_the_attempt():
    policy = RetryPolicy(initial=100, cap=10_000, jitter="decorrelated")
    for seed in range(100):
        rng, previous = random.Random(seed), 100
        for k in range(1, 8):
            wait = policy.delay(k, rng, previous)
            assert 100 <= wait <= min(10_000, 3 * previous)
            previous = wait


def test_full_jitter_spreads_clients_that_failed_together():
    policy = RetryPolicy(initial=100, cap=10_000, jitter="full")
    none = RetryPolicy(initial=100, cap=10_000)
    rng = random.Random(1)
    assert len({policy.delay(4, rng) for _ in range(20)}) > 15
    assert len({none.delay(4, rng) for _ in range(20)}) == 1


def test_a_backoff_counts_attempts_and_is_exhausted_at_the_policy_limit():
    backoff = Backoff(RetryPolicy(initial=10, cap=100, attempts=3))
    rng = random.Random(0)
    waits = []
    while True:
        backoff.attempt()
        if backoff.exhausted:
            break
        waits.append(backoff.next_delay(rng))
    assert backoff.attempts == 3 and waits == [10, 20] == backoff.waits


@pytest.mark.parametrize("kw", [{"jitter": "random"}, {"initial": 200, "cap": 100}, {"factor": 0.5},
                                {"attempts": 0}])
def test_a_policy_that_cannot_work_is_refused(kw):
    with pytest.raises(ValueError):
        RetryPolicy(**{"initial": 100, "cap": 1000, **kw})
