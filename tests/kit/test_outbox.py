"""The outbox: a row is written with the change, the relay publishes it on its next poll, a crash repeats it."""
from simulations.engine import Node
from simulations.kit.outbox import Outbox, Relay

from .stage import play, sent


class Service(Node):
    """Writes a change and its event at the given times; its relay polls every ``period``."""

    def __init__(self, id, writes, period, mark_on_publish=True):
        super().__init__(id)
        self.writes, self.outbox = writes, Outbox()
        self.relay = Relay(self, self.outbox, period, self.publish, mark_on_publish)

    def on_start(self):
        self.relay.start()
        for at, event in self.writes:
            self.set_timer(at, "write", event)

    def on_recover(self):
        self.relay.start()

    def publish(self, row):
        self.send("Consumer", "Event", {"event": row.event})

    def on_timer(self, label, data):
        if not self.relay.on_timer(label):
            self.outbox.add(data)


class Consumer(Node):
    def __init__(self, id):
        super().__init__(id)
        self.seen = []

    def on_message(self, msg):
        self.seen.append((self.now, msg.data["event"]))


def test_the_relay_publishes_each_row_at_the_next_poll_on_its_grid():
    sim = play(lambda: [Service("Service", [(3, "e1"), (25, "e2"), (26, "e3")], period=10), Consumer("Consumer")])
    assert [(e["t"], e["data"]["event"]) for e in sent(sim, "Event")] == [(10, "e1"), (30, "e2"), (30, "e3")]
    polls = [e["t"] for e in sim.trace if e["kind"] == "timer" and e["label"] == "poll outbox"]
    assert polls == [10, 30]  # an idle relay is not drawn polling an empty table


def test_the_lag_from_commit_to_publish_is_at_most_one_period():
    for period in (1, 7, 50):
        writes = [(t, f"e{t}") for t in (1, 13, 14, 99)]
        sim = play(lambda: [Service("Service", writes, period), Consumer("Consumer")])
        lags = [e["t"] - int(e["data"]["event"][1:]) for e in sent(sim, "Event")]
        assert all(0 <= lag <= period for lag in lags), (period, lags)


class Confirming(Service):
    """Marks a row only when the consumer confirms it."""

    def __init__(self, id, writes, period):
        super().__init__(id, writes, period, mark_on_publish=False)

    def publish(self, row):
        self.send("Consumer", "Event", {"event": row.event, "row": row.id})

    def on_message(self, msg):
        self.outbox.mark(msg.data["row"])


class ConfirmingConsumer(Consumer):
    def on_message(self, msg):
        super().on_message(msg)
        self.send(msg.src, "CONFIRM", {"row": msg.data["row"]})


def test_a_relay_crash_between_publishing_and_marking_publishes_the_row_again():
    crash = [{"action": "crash", "node": "Service", "at": 11}, {"action": "recover", "node": "Service", "at": 15}]
    sim = play(lambda: [Confirming("Service", [(1, "e1")], period=10), ConfirmingConsumer("Consumer")], faults=crash)
    assert [t for t, _ in sim.nodes["Consumer"].seen] == [11, 26]  # at 10, and again at the poll at 25
    assert sim.nodes["Service"].outbox.unpublished() == []
    calm = play(lambda: [Confirming("Service", [(1, "e1")], period=10), ConfirmingConsumer("Consumer")])
    assert [t for t, _ in calm.nodes["Consumer"].seen] == [11]


class Querying(Node):
    """A relay that reads the table through messages, as a polling publisher queries its database."""

    def __init__(self, id, outbox, period):
        super().__init__(id)
        self.relay = Relay(self, outbox, period)
        self.relay.poll = lambda: self.send("DB", "READ OUTBOX")

    def on_start(self):
        self.relay.start()

    def on_timer(self, label, data):
        self.relay.on_timer(label)

    def on_message(self, msg):
        row = self.relay.outbox.rows[msg.data["row"] - 1]
        if row.id not in self.relay.held:
            self.relay.took(row)
            self.relay.outbox.mark(row.id)


class Database(Node):
    def __init__(self, id, outbox):
        super().__init__(id)
        self.outbox = outbox

    def on_start(self):
        self.set_timer(3, "commit")

    def on_timer(self, label, data):
        self.outbox.add("e1")

    def on_message(self, msg):
        for row in self.outbox.unpublished():
            self.send(msg.src, "OUTBOX", {"row": row.id})


def queried(period, faults=()):
    def make():
        outbox = Outbox()
        return [Querying("Relay", outbox, period), Database("DB", outbox)]
    return play(make, delay=2, faults=faults)


def test_a_relay_that_queries_calls_off_its_next_poll_once_it_has_every_row():
    sim = queried(10)
    assert [e["t"] for e in sent(sim, "READ OUTBOX")] == [10]
    assert [e["t"] for e in sim.trace if e["kind"] == "timer"] == [3, 10]  # no idle tick at 20


def test_a_query_left_unanswered_is_asked_again_at_the_next_poll():
    sim = queried(10, faults=[{"action": "drop", "match": {"label": "READ OUTBOX"}}])
    assert [e["t"] for e in sent(sim, "READ OUTBOX")] == [10, 20]
    assert sim.nodes["DB"].outbox.unpublished() == []
