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
        broker = Broker(delivery=delivery, redelivery=RetryPolicy(10, 40), dead_letter_after=dead_letter_after,
                        confirm=confirm and "PUBACK")
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
    assert broker.state == {"unacked": 0, "dead_letters": 2, "redelivering": False}


def test_a_publisher_confirm_answers_the_producer_with_what_it_published():
    sim = play(cast(confirm=True))
    assert [(e["src"], e["dst"], e["data"]) for e in sent(sim, "PUBACK")] == [("Broker", "Producer", {"order": 1})]


def test_without_a_dead_letter_limit_redelivery_goes_on_at_the_capped_wait_until_acked():
    sim = play(cast(), faults=[{"action": "drop", "match": {"label": "OrderPlaced", "dst": "Billing", "nth": n}}
                               for n in range(1, 6)])
    times = [e["t"] for e in sent(sim, "OrderPlaced", dst="Billing")]
    assert [b - a for a, b in zip(times, times[1:])] == [10, 20, 40, 40, 40]
    assert sim.nodes["Billing"].seen == [("OrderPlaced", 1)] and sim.nodes["Broker"].dead_letters == []


class Burst(Node):
    def on_start(self):
        for order in (1, 2, 3):
            self.send("Broker", "OrderPlaced", {"order": order})


class HoldFirst(Broker):
    """Keeps order 1 back until order 3 has been handed over: a reordering on purpose."""

    released = False

    def held(self, delivery):
        return delivery.data["order"] == 1 and not self.released

    def hand_over(self, number, delivery):
        self.released = self.released or delivery.data["order"] == 3
        super().hand_over(number, delivery)


def test_ordered_delivery_hands_one_message_at_a_time_in_publish_order():
    sim = play(lambda: [Burst("Producer"), Broker(ordered=True).subscribe("OrderPlaced", "Billing"),
                        Consumer("Billing")])
    sends = sent(sim, "OrderPlaced", src="Broker")
    assert [e["data"]["order"] for e in sends] == [1, 2, 3]
    acks = [e["t"] for e in sim.trace if e["kind"] == "deliver" and e["src"] == "Billing"]
    assert [e["t"] for e in sends][1:] == acks[:2]  # each waits for the previous ack


def test_a_held_message_is_delivered_after_the_ones_behind_it():
    sim = play(lambda: [Burst("Producer"), HoldFirst(ordered=True).subscribe("OrderPlaced", "Billing"),
                        Consumer("Billing")])
    assert [order for _, order in sim.nodes["Billing"].seen] == [2, 3, 1]


def test_unacked_messages_survive_a_broker_crash_and_are_redelivered_on_recovery():
    sim = play(cast(acks=True), faults=[
        {"action": "drop", "match": {"label": "OrderPlaced", "dst": "Shipping"}},
        {"action": "crash", "node": "Broker", "at": 3}, {"action": "recover", "node": "Broker", "at": 100}])
    assert sim.nodes["Shipping"].seen == [("OrderPlaced", 1)]
    assert sent(sim, "OrderPlaced", dst="Shipping")[-1]["t"] == 100


def test_acks_may_carry_the_label_the_broker_is_told_to_expect():
    class LowercaseAcks(Consumer):
        def on_message(self, msg):
            self.seen.append((msg.label, msg.data["order"]))
            ack(self, msg, label="ack")

    def make():
        broker = Broker(redelivery=RetryPolicy(10, 40), ack_label="ack").subscribe("OrderPlaced", "Billing")
        return [Producer("Producer"), broker, LowercaseAcks("Billing")]
    sim = play(make)
    assert [e["label"] for e in sent(sim, src="Billing")] == ["ack"]
    assert sim.nodes["Billing"].seen == [("OrderPlaced", 1)] and sim.nodes["Broker"].unacked == {}
