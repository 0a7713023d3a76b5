"""The transactional outbox and its polling relay.

Chris Richardson, *Microservices Patterns* (2018), ch. 3, "Transactional outbox" and "Polling publisher": a
service writes the event into an outbox table in the same local transaction as the business change, so both
or neither are stored; a relay polls the table every ``period`` ticks, publishes the rows not yet published
and then marks them. A relay that crashes between publishing and marking publishes the row again after it
restarts: the outbox gives at-least-once delivery, and consumers deduplicate.

The relay polls on the grid ``start + k * period``, but a poll that would bring it nothing new is not drawn:
it would change nothing, and polling an empty table for ever would keep a run from ending. So the relay sleeps
while every unpublished row is one it already holds, and a row written meanwhile is picked up at the next
point of the grid, exactly when a relay polling without pause would find it. A row handed over is the
publisher's to retry until it is confirmed; a restarted relay remembers nothing and takes every unmarked row
again.
"""


class Row:
    __slots__ = ("id", "event", "published")

    def __init__(self, id, event):
        self.id, self.event, self.published = id, event, False


class Outbox:
    """The outbox table: durable, written only inside the business transaction (``add``)."""

    def __init__(self):
        self.rows = []
        self.waiting = {}  # id -> row not yet published, in insertion order: a poll costs what is unpublished
        self.relays = []

    def add(self, event):
        row = Row(len(self.rows) + 1, event)
        self.rows.append(row)
        self.waiting[row.id] = row
        for relay in self.relays:
            relay.wake()
        return row

    def unpublished(self):
        return list(self.waiting.values())

    def mark(self, row_id):
        self.rows[row_id - 1].published = True
        self.waiting.pop(row_id, None)


class Relay:
    """Polls ``outbox`` from ``node`` every ``period`` ticks and hands each new unpublished row to ``publish``.

    Route the node's timers through ``on_timer`` and call ``start`` from its ``on_start`` and ``on_recover``.
    ``mark_on_publish`` marks a row as soon as it is handed over; otherwise call ``outbox.mark`` on confirm.
    A relay that reads the table through messages overrides ``poll`` and calls ``took`` for each row it gets.
    """

    LABEL = "poll outbox"

    def __init__(self, node, outbox, period, publish=None, mark_on_publish=True):
        if period < 1:
            raise ValueError("period must be at least one tick")
        self.node, self.outbox, self.period, self.publish = node, outbox, period, publish
        self.mark_on_publish = mark_on_publish
        self.origin = 0
        self.timer = None
        self.held = set()  # ids of the rows this relay has taken since it (re)started
        self.polls = 0
        outbox.relays.append(self)

    def start(self):
        self.origin, self.timer, self.held = self.node.now, None, set()
        self.wake()

    def new_rows(self):
        return [row for row in self.outbox.unpublished() if row.id not in self.held]

    def wake(self):
        """Arm the next poll on the grid, unless one is armed, the relay is down or nothing new waits."""
        if self.node.alive and self.timer is None and self.node.sim is not None and self.new_rows():
            behind = (self.node.now - self.origin) % self.period
            self.timer = self.node.set_timer(self.period - behind, self.LABEL)

    def on_timer(self, label):
        if label != self.LABEL:
            return False
        self.timer = None
        self.polls += 1
        self.poll()
        self.wake()  # a query still unanswered at the next tick is asked again
        return True

    def poll(self):
        for row in self.new_rows():
            self.took(row)
            self.publish(row)
            if self.mark_on_publish:
                self.outbox.mark(row.id)

    def took(self, row):
        """The relay has ``row`` now; once it has every unpublished row, the next poll is called off."""
        self.held.add(row.id)
        if self.timer is not None and not self.new_rows():
            self.timer.cancel()
            self.timer = None
