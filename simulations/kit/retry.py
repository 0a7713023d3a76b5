"""Capped exponential backoff with jitter.

Marc Brooker, "Exponential Backoff And Jitter", AWS Architecture Blog, 2015: the ceiling before retry k is
``min(cap, initial * factor^(k-1))``; *full* jitter waits a random time in [0, ceiling], *equal* jitter keeps
half and randomises the other half, *decorrelated* jitter grows from the previous wait:
``min(cap, random(initial, previous * 3))``. Jitter keeps clients that failed together from retrying together.
Times are whole ticks; every draw comes from the run's seeded rng.
"""
from dataclasses import dataclass

JITTERS = ("none", "full", "equal", "decorrelated")
FORMULAS = {"none": "min(cap, initial·factor^(k-1))",
            "full": "random between 0 and min(cap, initial·factor^(k-1))",
            "equal": "random between half and all of min(cap, initial·factor^(k-1))",
            "decorrelated": "random between initial and 3 × the previous wait, capped"}


@dataclass(frozen=True)
class RetryPolicy:
    """``attempts`` counts the first try; retry k (from 1) waits ``delay(k, rng, previous)``."""

    initial: int
    cap: int
    attempts: int = 4
    factor: float = 2
    jitter: str = "none"

    def __post_init__(self):
        if self.jitter not in JITTERS:
            raise ValueError(f"jitter must be one of {', '.join(JITTERS)}")
        if self.initial < 0 or self.cap < self.initial or self.factor < 1 or self.attempts < 1:
            raise ValueError("need 0 <= initial <= cap, factor >= 1 and attempts >= 1")
        object.__setattr__(self, "_ceilings", {})  # k -> ceiling(k), worked out once: brokers ask per delivery

    def ceiling(self, k):
        """The un-jittered wait before retry k: the exponential, capped."""
        top = self._ceilings.get(k)
        if top is None:
            try:
                grown = self.initial * self.factor ** (k - 1)
            except OverflowError:
                top = self.cap
            else:
                top = min(self.cap, round(grown))
            self._ceilings[k] = top
        return top

    def delay(self, k, rng, previous=None):
        """The wait before retry k; decorrelated jitter grows from ``previous`` (the last wait, else initial)."""
        top = self.ceiling(k)
        if self.jitter == "none":
            return top
        if self.jitter == "full":
            return rng.randint(0, top)
        if self.jitter == "equal":
            return top // 2 + rng.randint(0, top - top // 2)
        previous = self.initial if previous is None else previous
        return min(self.cap, rng.randint(self.initial, max(self.initial, previous * 3)))

    def bounds(self, k):
        """(shortest, longest) wait ``delay(k, ...)`` can return, whatever the rng draws."""
        top = self.ceiling(k)
        if self.jitter == "none":
            return top, top
        if self.jitter == "full":
            return 0, top
        if self.jitter == "equal":
            return top // 2, top
        return self.initial, min(self.cap, self.initial * 3 ** k)

    def gives_up(self, attempts_made):
        return attempts_made >= self.attempts


class Backoff:
    """One caller's retries under a policy: counts the attempts and remembers the last wait."""

    def __init__(self, policy):
        self.policy = policy
        self.attempts = 0
        self.last = None
        self.waits = []

    def attempt(self):
        self.attempts += 1
        return self.attempts

    @property
    def exhausted(self):
        return self.policy.gives_up(self.attempts)

    def next_delay(self, rng):
        """The wait before the next attempt (call after a failed one)."""
        self.last = self.policy.delay(self.attempts, rng, self.last)
        self.waits.append(self.last)
        return self.last
