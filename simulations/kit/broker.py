"""A message broker node: topics, subscriptions, acks, redelivery and a dead-letter queue.

Delivery guarantees as the brokers document them (RabbitMQ, "Consumer Acknowledgements and Publisher
Confirms"; AWS SQS, "Amazon SQS dead-letter queues"): *at-most-once* hands each message to each subscriber
once and forgets it (a loss is final); *at-least-once* keeps it until the subscriber acknowledges, redelivering
after waits that follow a retry policy, so a lost ack yields a duplicate that the consumer must tolerate. A
redelivery carries ``redelivered: true``, as RabbitMQ marks one. After ``dead_letter_after`` deliveries without
an ack a message moves to the dead-letter queue, as SQS's ``maxReceiveCount`` does (None: never). ``ordered``
hands each subscriber one message at a time, the next only once the last is acknowledged (a FIFO queue, or
RabbitMQ with a prefetch of 1); ``held`` lets a scenario keep a message back to reorder them on purpose.

A producer publishes by sending the broker a message whose label is the topic; with ``confirm`` set to a label
the broker confirms each publish with it, echoing the data (a publisher confirm). Messages are durable: after
a crash the broker hands over again what was in flight.
"""
from ..engine import Node
from .retry import RetryPolicy

AT_MOST_ONCE, AT_LEAST_ONCE = "at-most-once", "at-least-once"
ACK = "ACK"


def ack(node, msg, label=ACK):
    """The consumer's side: acknowledge the delivery ``msg`` to the broker that sent it; the ack's message id."""
    return node.send(msg.src, label, {"delivery": msg.data["delivery"]})


class Delivery:
    __slots__ = ("subscriber", "topic", "data", "count", "timer")

    def __init__(self, subscriber, topic, data):
        self.subscriber, self.topic, self.data, self.count, self.timer = subscriber, topic, data, 0, None


class Broker(Node):
    group = "broker"

    def __init__(self, id="Broker", delivery=AT_LEAST_ONCE, redelivery=RetryPolicy(100, 1000), dead_letter_after=None,
                 confirm=None, ordered=False, label=None, alive=True, ack_label=ACK):
        super().__init__(id, label=label, alive=alive)
        if delivery not in (AT_MOST_ONCE, AT_LEAST_ONCE):
            raise ValueError(f"delivery must be {AT_MOST_ONCE} or {AT_LEAST_ONCE}")
        self.delivery, self.redelivery, self.dead_letter_after = delivery, redelivery, dead_letter_after
        self.confirm, self.ordered, self.ack_label = confirm, ordered, ack_label
        self.subscribers = {}  # topic -> node ids, in subscription order
        self.unacked = {}  # delivery id -> Delivery, in publish order
        self.dead_letters = []  # (subscriber, topic, data)
        self.deliveries = self.redeliveries = 0

    def subscribe(self, topic, node_id):
        self.subscribers.setdefault(topic, []).append(node_id)
        return self

    def held(self, delivery):
        """Whether to keep ``delivery`` back for now (ordered mode): override to reorder on purpose."""
        return False

    def on_start(self):
        self.show()

    def show(self):
        self.set_state(unacked=len(self.unacked), dead_letters=len(self.dead_letters),
                       redelivering=self.redeliveries > 0 and any(d.count > 1 for d in self.unacked.values()))

    def on_message(self, msg):
        if msg.label == self.ack_label:
            done = self.unacked.pop(msg.data["delivery"], None)
            if done is not None:
                if done.timer:
                    done.timer.cancel()
                if self.ordered:
                    self.next_for(done.subscriber)
                self.show()
            return
        if self.confirm:
            self.send(msg.src, self.confirm, msg.data)
        self.publish(msg.label, msg.data)

    def publish(self, topic, data):
        """Fan ``data`` out to every subscriber of ``topic``."""
        for subscriber in self.subscribers.get(topic, ()):
            self.deliveries += 1
            delivery = Delivery(subscriber, topic, data)
            if self.delivery == AT_MOST_ONCE:
                self.hand_over(self.deliveries, delivery)
                continue
            self.unacked[self.deliveries] = delivery
            if self.ordered:
                self.next_for(subscriber)
            else:
                self.hand_over(self.deliveries, delivery)
        self.show()

    def next_for(self, subscriber):
        """Ordered mode: hand the subscriber its oldest waiting message, unless one is in flight."""
        if not self.ordered:
            return
        waiting = [(i, d) for i, d in self.unacked.items() if d.subscriber == subscriber]
        if waiting and not any(d.count for _, d in waiting):
            chosen = next(((i, d) for i, d in waiting if not self.held(d)), None)
            if chosen:
                self.hand_over(*chosen)

    def hand_over(self, number, delivery):
        delivery.count += 1
        self.redeliveries += delivery.count > 1
        again = {"redelivered": True} if delivery.count > 1 else {}
        self.send(delivery.subscriber, delivery.topic, {**(delivery.data or {}), "delivery": number, **again},
                  tag=f"#{delivery.count}" if delivery.count > 1 else None)
        if self.delivery == AT_LEAST_ONCE:
            delivery.timer = self.set_timer(self.redelivery.delay(delivery.count, self.sim.rng), "redeliver", number)

    def on_timer(self, label, number):
        delivery = self.unacked.get(number)
        if label != "redeliver" or delivery is None:
            return
        if self.dead_letter_after and delivery.count >= self.dead_letter_after:
            del self.unacked[number]
            self.dead_letters.append((delivery.subscriber, delivery.topic, delivery.data))
            self.note(f"{delivery.topic} to {delivery.subscriber} went unacknowledged {delivery.count} times: "
                      "dead-lettered.")
            self.next_for(delivery.subscriber)
        else:
            self.hand_over(number, delivery)
        self.show()

    def on_recover(self):
        """Hand over again what was in flight (its timers died with the crash), then what waits."""
        for number, delivery in list(self.unacked.items()):
            if delivery.count or not self.ordered:
                self.hand_over(number, delivery)
        for subscriber in dict.fromkeys(d.subscriber for d in self.unacked.values()):
            self.next_for(subscriber)
        self.show()
