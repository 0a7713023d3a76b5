"""An idempotency-key store, as Stripe's API keeps one.

Stripe, "Idempotent requests" (docs.stripe.com/api/idempotent_requests): the server "saves the resulting status
code and body of the first request made for any given idempotency key, regardless of whether it succeeds or
fails. Subsequent requests with the same key return the same result, including 500 errors." A request under a
key already used with other parameters is refused ("compares incoming parameters to those of the original
request and errors if they're not the same"), a request while the first is still running is answered 409
Conflict, and keys are pruned once they are at least 24 hours old, after which the same key is a new request.
Failures that stop the request before it executes (validation, a conflict) are not saved.
"""
from dataclasses import dataclass

DAY_MS = 86_400_000


@dataclass
class Entry:
    fingerprint: object
    at: int
    response: object = None  # None while the first request is still running
    replaced_age: int | None = None  # how old the pruned entry this one replaced was


class Verdict:
    NEW, REPLAY, IN_FLIGHT, MISMATCH = "new", "replay", "in flight", "mismatch"


class KeyStore:
    """Keys -> the first request's fingerprint and saved response; durable (a crash keeps finished entries)."""

    def __init__(self, ttl=DAY_MS):
        self.ttl = ttl
        self.entries = {}
        self.expired = 0

    def begin(self, key, fingerprint, now):
        """(verdict, entry): NEW reserves the key for this request; REPLAY carries the saved response."""
        entry, age = self.entries.get(key), None
        if entry is not None and now - entry.at >= self.ttl:
            del self.entries[key]
            self.expired += 1
            entry, age = None, now - entry.at
        if entry is None:
            entry = self.entries[key] = Entry(fingerprint, now, replaced_age=age)
            return Verdict.NEW, entry
        if entry.fingerprint != fingerprint:
            return Verdict.MISMATCH, entry
        if entry.response is None:
            return Verdict.IN_FLIGHT, entry
        return Verdict.REPLAY, entry

    def finish(self, key, response):
        """Save the response of the request that holds ``key``: success or error alike, it is what replays."""
        self.entries[key].response = response

    def abandon_running(self):
        """A crash mid-request rolls back: keys without a saved response are released."""
        for key in [k for k, e in self.entries.items() if e.response is None]:
            del self.entries[key]

    def __len__(self):
        return len(self.entries)
