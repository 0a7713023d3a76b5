"""A tiny deterministic discrete-event kernel, in the spirit of SimPy's.

Integer virtual time, a queue ordered by (time, priority, insertion order)
and one seeded random stream: the same seed always gives the same schedule.
"""
import heapq
import random

FIRST = 0  # interventions scheduled for a tick run before the tick's own events
NORMAL = 1


class Kernel:
    def __init__(self, seed, void=None):
        self.now = 0
        self.rng = random.Random(seed)
        self.void = void  # void(action, args): an entry that would do nothing, dropped unseen
        self._queue = []
        self._order = 0

    def schedule(self, at, action, *args, priority=NORMAL):
        self._order += 1
        heapq.heappush(self._queue, (at, priority, self._order, action, args))

    def next_time(self):
        """The time of the next entry that is not void, or None when none is left; the void entries at the head
        are dropped without moving the clock."""
        queue, void = self._queue, self.void
        while queue and void is not None and void(queue[0][3], queue[0][4]):
            heapq.heappop(queue)
        return queue[0][0] if queue else None

    def pop(self):
        """Advance the clock to the next entry and return its action and arguments."""
        at, _, _, action, args = heapq.heappop(self._queue)
        self.now = at
        return action, args

    def __len__(self):
        return len(self._queue)
