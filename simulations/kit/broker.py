"""A message broker node: topics, subscriptions, acks, redelivery and a dead-letter queue.

Delivery guarantees as the brokers document them (RabbitMQ, "Consumer Acknowledgements and Publisher
Confirms"; AWS SQS, "Amazon SQS dead-letter queues"): *at-most-once* hands each message to each subscriber
once and forgets it (a loss is final); *at-least-once* keeps it until the subscriber acknowledges, redelivering
after a timeout that follows a retry policy, so a lost ack yields a duplicate that the consumer must tolerate.
After ``dead_letter_after`` deliveries without an ack the message moves to the dead-letter queue, as SQS's
``maxReceiveCount`` does. A redelivery carries ``redelivered: true``, as RabbitMQ marks one. A producer publishes by sending the broker a message whose label is the topic; the
broker confirms with PUBACK when ``confirm`` is set (a publisher confirm).
"""
from ..engine import Node
from .retry import RetryPolicy

AT_MOST_ONCE, AT_LEAST_ONCE = "at-most-once", "at-least-once"
ACK, PUBACK = "ACK", "PUBACK"


def ack(node, msg):
    """The consumer's side: acknowledge the delivery ``msg`` to the broker that sent it; the ack's message id."""
    return node.send(msg.src, ACK, {"delivery": msg.data["delivery"]})


class Broker(Node):
    group = "broker"

    def __init__(self, id="Broker", delivery=AT_LEAST_ONCE, redelivery=RetryPolicy(100, 1000, attempts=5),
                 dead_letter_after=None, confirm=False, label=None):
        super().__init__(id, label=label)
        if delivery not in (AT_MOST_ONCE, AT_LEAST_ONCE):
            raise ValueError(f"delivery must be {AT_MOST_ONCE} or {AT_LEAST_ONCE}")
        self.delivery, self.redelivery, self.confirm = delivery, redelivery, confirm
        self.dead_letter_after = dead_letter_after or redelivery.attempts
        self.subscribers = {}  # topic -> node ids, in subscription order
        self.unacked = {}  # delivery id -> [subscriber, topic, data, deliveries, timer]
        self.dead_letters = []  # (subscriber, topic, data)
        self.deliveries = self.redeliveries = 0

    def subscribe(self, topic, node_id):
        self.subscribers.setdefault(topic, []).append(node_id)
        return self

    def on_start(self):
        self.set_state(unacked=0, dead_letters=0)

    def on_message(self, msg):
        if msg.label == ACK:
            entry = self.unacked.pop(msg.data["delivery"], None)
            if entry is not None:
                entry[4].cancel()
                self.set_state(unacked=len(self.unacked))
            return
        if self.confirm:
            self.send(msg.src, PUBACK, {"topic": msg.label, **(msg.data or {})})
        self.publish(msg.label, msg.data)

    def publish(self, topic, data):
        """Fan ``data`` out to every subscriber of ``topic``."""
        for subscriber in self.subscribers.get(topic, ()):
            self.deliveries += 1
            entry = [subscriber, topic, data, 0, None]
            if self.delivery == AT_LEAST_ONCE:
                self.unacked[self.deliveries] = entry
            self.hand_over(self.deliveries, entry)
        self.set_state(unacked=len(self.unacked))

    def hand_over(self, delivery, entry):
        entry[3] += 1
        again = {"redelivered": True} if entry[3] > 1 else {}
        self.send(entry[0], entry[1], {**(entry[2] or {}), "delivery": delivery, **again},
                  tag=f"#{entry[3]}" if entry[3] > 1 else None)
        if self.delivery == AT_LEAST_ONCE:
            entry[4] = self.set_timer(self.redelivery.delay(entry[3], self.sim.rng), "redeliver", delivery)

    def on_timer(self, label, delivery):
        entry = self.unacked.get(delivery)
        if label != "redeliver" or entry is None:
            return
        if entry[3] >= self.dead_letter_after:
            del self.unacked[delivery]
            self.dead_letters.append((entry[0], entry[1], entry[2]))
            self.note(f"{entry[1]} to {entry[0]} went unacknowledged {entry[3]} times: dead-lettered.")
            self.set_state(unacked=len(self.unacked), dead_letters=len(self.dead_letters))
            return
        self.redeliveries += 1
        self.hand_over(delivery, entry)

    def on_recover(self):
        """Unacknowledged messages are durable: redeliver them all (their timers died with the crash)."""
        for delivery, entry in list(self.unacked.items()):
            self.hand_over(delivery, entry)
