"""The transactional outbox and its polling relay.

Chris Richardson, *Microservices Patterns* (2018), ch. 3, "Transactional outbox" and "Polling publisher": a
service writes the event into an outbox table in the same local transaction as the business change, so both
or neither are stored; a relay polls the table every ``period`` ticks, publishes the rows not yet published
and then marks them. A relay that crashes between publishing and marking publishes the row again on its next
poll: the outbox gives at-least-once delivery, and consumers deduplicate.

The relay polls on the grid ``start + k * period``. A poll that would find nothing is not drawn: it changes
nothing, and polling an empty table for ever would keep a run from ending. A row written while the relay is
idle is picked up at the next point of the grid, exactly when a relay polling without pause would find it.
"""


class Row:
    __slots__ = ("id", "event", "published")

    def __init__(self, id, event):
        self.id, self.event, self.published = id, event, False


class Outbox:
    """The outbox table: durable, written only inside the business transaction (``add``)."""

    def __init__(self):
        self.rows = []
        self.relays = []

    def add(self, event):
        row = Row(len(self.rows) + 1, event)
        self.rows.append(row)
        for relay in self.relays:
            relay.wake()
        return row

    def unpublished(self):
        return [row for row in self.rows if not row.published]

    def mark(self, row_id):
        self.rows[row_id - 1].published = True


class Relay:
    """Polls ``outbox`` from ``node`` every ``period`` ticks and calls ``publish(row)`` for each unpublished row.

    Route the node's timers through ``on_timer`` and call ``start`` from its ``on_start`` and ``on_recover``.
    ``mark_on_publish`` marks a row as soon as it is handed over; otherwise call ``outbox.mark`` on confirm.
    """

    LABEL = "poll outbox"

    def __init__(self, node, outbox, period, publish, mark_on_publish=True):
        if period < 1:
            raise ValueError("period must be at least one tick")
        self.node, self.outbox, self.period, self.publish = node, outbox, period, publish
        self.mark_on_publish = mark_on_publish
        self.origin = 0
        self.timer = None
        self.polls = 0
        outbox.relays.append(self)

    def start(self):
        self.origin, self.timer = self.node.now, None
        self.wake()

    def wake(self):
        """Arm the next poll on the grid, unless one is armed or the relay is down."""
        if self.node.alive and self.timer is None and self.node.sim is not None:
            behind = (self.node.now - self.origin) % self.period
            self.timer = self.node.set_timer(self.period - behind, self.LABEL)

    def on_timer(self, label):
        if label != self.LABEL:
            return False
        self.timer = None
        self.polls += 1
        for row in self.outbox.unpublished():
            self.publish(row)
            if self.mark_on_publish:
                self.outbox.mark(row.id)
        if self.outbox.unpublished():
            self.wake()
        return True
