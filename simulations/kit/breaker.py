"""A circuit breaker: closed, open, half-open.

Michael Nygard, *Release It!* (2007), "Circuit Breaker"; Martin Fowler, "CircuitBreaker" (2014): *closed*
passes calls and counts consecutive failures; ``threshold`` of them *open* it, and an open breaker fails calls
at once without touching the remote service; after ``reset_after`` ticks the next call is let through as a
trial (*half-open*): ``probes`` successes close it, one failure opens it again for another ``reset_after``.
Its state is drawn as a band along its owner's lifeline (``BANDS``, under the state key ``breaker``).
"""
CLOSED, OPEN, HALF_OPEN = "closed", "open", "half-open"
BANDS = {"breaker": {OPEN: ("fault", "breaker open"), HALF_OPEN: ("wait", "half-open")}}


class CircuitBreaker:
    def __init__(self, threshold=3, reset_after=1000, probes=1, node=None, key="breaker"):
        if threshold < 1 or reset_after < 0 or probes < 1:
            raise ValueError("need threshold >= 1, reset_after >= 0 and probes >= 1")
        self.threshold, self.reset_after, self.probes = threshold, reset_after, probes
        self.node, self.key = node, key  # the node whose state (and band) shows the breaker
        self.state = CLOSED
        self.failures = self.successes = 0
        self.opened_at = None
        self.trials = 0  # calls let through while half-open and not yet answered
        self.rejected = 0
        self.transitions = []  # (time, state): the breaker's history

    def allow(self, now):
        """May a call go out now? An open breaker half-opens once ``reset_after`` has passed."""
        self.refresh(now)
        if self.state == CLOSED:
            return True
        if self.state == HALF_OPEN and self.trials < self.probes:
            self.trials += 1
            return True
        self.rejected += 1
        return False

    def refresh(self, now):
        """Half-open now if ``reset_after`` has passed since it opened: for an owner that wakes on a timer to show
        the breaker half-open when it becomes so (and to send a trial then), not only at its next call."""
        if self.state == OPEN and now - self.opened_at >= self.reset_after:
            self._become(HALF_OPEN, now)

    def success(self, now):
        if self.state == HALF_OPEN:
            self.successes += 1
            self.trials = max(0, self.trials - 1)
            if self.successes >= self.probes:
                self._become(CLOSED, now)
        self.failures = 0

    def failure(self, now):
        if self.state == HALF_OPEN:
            return self._become(OPEN, now)
        if self.state == CLOSED:
            self.failures += 1
            if self.failures >= self.threshold:
                self._become(OPEN, now)

    def _become(self, state, now):
        self.state = state
        self.transitions.append((now, state))
        self.failures = self.successes = self.trials = 0
        if state == OPEN:
            self.opened_at = now
        if self.node is not None:
            self.node.set_state(**{self.key: state})
