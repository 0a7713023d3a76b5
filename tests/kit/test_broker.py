"""The broker's guarantees: at-most-once loses, at-least-once redelivers until acked, then dead-letters."""
from simulations.engine import Node
from simulations.kit.broker import AT_MOST_ONCE, Broker, ack
from simulations.kit.retry import RetryPolicy

from .stage import play, sent


class Producer(Node):
    def on_start(self):
        self.send("Broker", "OrderPlaced", {"order": 1})


class Consumer(Node):
    def __init__(self, id, acks=True):
        super().__init__(id)
        self.acks, self.seen = acks, []

    def on_message(self, msg):
        self.seen.append((msg.label, msg.data["order"]))
        if self.acks:
            ack(self, msg)


def cast(delivery="at-least-once", acks=True, dead_letter_after=None, confirm=False):
    def make():
        broker = Broker(delivery=delivery, redelivery=RetryPolicy(10, 40, attempts=4),
                        dead_letter_after=dead_letter_after, confirm=confirm)
        broker.subscribe("OrderPlaced", "Billing").subscribe("OrderPlaced", "Shipping")
        return [Producer("Producer"), broker, Consumer("Billing", acks), Consumer("Shipping", acks)]
    return make


def test_a_published_message_fans_out_to_every_subscriber_once_when_acked():
    sim = play(cast())
    assert sim.nodes["Billing"].seen == sim.nodes["Shipping"].seen == [("OrderPlaced", 1)]
    assert [e["dst"] for e in sent(sim, "OrderPlaced", src="Broker")] == ["Billing", "Shipping"]
    assert sim.nodes["Broker"].unacked == {} and sim.nodes["Broker"].redeliveries == 0


def test_at_least_once_redelivers_a_lost_delivery_after_the_retry_delay():
    sim = play(cast(), faults=[{"action": "drop", "match": {"label": "OrderPlaced", "dst": "Billing"}}])
    assert sim.nodes["Billing"].seen == [("OrderPlaced", 1)]
    first, again = sent(sim, "OrderPlaced", dst="Billing")
    assert again["t"] - first["t"] == 10 and again["tag"] == "#2"
    assert first["data"] == {"order": 1, "delivery": 1} and again["data"] == {"order": 1, "delivery": 1,
                                                                               "redelivered": True}


def test_a_lost_ack_gives_the_consumer_a_duplicate():
    sim = play(cast(), faults=[{"action": "drop", "match": {"label": "ACK", "src": "Billing"}}])
    assert sim.nodes["Billing"].seen == [("OrderPlaced", 1)] * 2


def test_at_most_once_loses_a_dropped_delivery_for_good():
    sim = play(cast(AT_MOST_ONCE, acks=False),
               faults=[{"action": "drop", "match": {"label": "OrderPlaced", "dst": "Billing"}}])
    assert sim.nodes["Billing"].seen == [] and sim.nodes["Shipping"].seen == [("OrderPlaced", 1)]
    assert len(sent(sim, "OrderPlaced", src="Broker")) == 2


def test_a_message_never_acked_is_dead_lettered_after_n_deliveries():
    sim = play(cast(acks=False, dead_letter_after=3))
    broker = sim.nodes["Broker"]
    assert len(sent(sim, "OrderPlaced", dst="Billing")) == 3
    assert [(t[0], t[1]) for t in broker.dead_letters] == [("Billing", "OrderPlaced"), ("Shipping", "OrderPlaced")]
    assert [e["t"] for e in sent(sim, "OrderPlaced", dst="Billing")] == [1, 11, 31]  # 10, then 20
    assert broker.state == {"unacked": 0, "dead_letters": 2}


def test_a_publisher_confirm_answers_the_producer():
    sim = play(cast(confirm=True))
    assert [(e["src"], e["dst"]) for e in sent(sim, "PUBACK")] == [("Broker", "Producer")]


def test_unacked_messages_survive_a_broker_crash_and_are_redelivered_on_recovery():
    sim = play(cast(acks=True), faults=[
        {"action": "drop", "match": {"label": "OrderPlaced", "dst": "Shipping"}},
        {"action": "crash", "node": "Broker", "at": 3}, {"action": "recover", "node": "Broker", "at": 100}])
    assert sim.nodes["Shipping"].seen == [("OrderPlaced", 1)]
    assert sent(sim, "OrderPlaced", dst="Shipping")[-1]["t"] == 100
