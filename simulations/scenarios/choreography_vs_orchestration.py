"""Choreography vs orchestration: one order saga, run by events on a broker or by a workflow that owns it.

Garcia-Molina and Salem, "Sagas" (SIGMOD 1987): local steps, each with a compensation run in reverse when a later
step fails. Richardson, *Microservices Patterns* (2018), ch. 4: a choreography reacts to events on a broker, so
the saga's state lives only in the events in flight; an orchestrator owns each saga, times out and retries. Ch. 3,
"Transactional outbox": a producer writes its event in the same local transaction as the change, and a relay
polls the outbox and publishes until the broker confirms, so an event lost on its way to the broker is sent
again (``outbox``). Built on the kit: its broker (acks, redelivery, dead letters, publisher confirms), outbox and
relay, saga steps, and a retry policy for the orchestrator's activity timeouts and the broker's redeliveries.
"""
from ..engine import Node
from ..kit.broker import Broker, ack
from ..kit.outbox import Outbox, Relay
from ..kit.retry import RetryPolicy
from ..kit.saga import Step
from ..params import Param
from ..scenario import Invariant, Scenario, faulted, known_row, plural, violation_clause, words

GAP_MS = 20  # between two orders
POLL_MS = 10  # the outbox relay's poll period
SAGA = (Step("Payment", "Charge", "Refund"), Step("Inventory", "Reserve", "Release"), Step("Shipping", "Ship"),
        Step("Notification", "Notify"))
SUBSCRIBERS = {"OrderPlaced": ("Payment",), "PaymentCharged": ("Inventory",), "StockReserved": ("Shipping",),
               "InventoryFailed": ("Payment",), "OrderShipped": ("Notification", "Orders"),
               "PaymentRefunded": ("Notification", "Orders")}
EVENT_FOR = {"Charged": "PaymentCharged", "Reserved": "StockReserved", "OutOfStock": "InventoryFailed",
             "Shipped": "OrderShipped", "Refunded": "PaymentRefunded"}
FINAL = {"OrderShipped": "completed", "PaymentRefunded": "cancelled",
         "OrderCompleted": "completed", "OrderCancelled": "cancelled"}
RESULT = {"Charge": "Charged", "Reserve": "Reserved", "Ship": "Shipped", "Notify": "Notified",
          "Refund": "Refunded", "Release": "Released"}
PRODUCERS = ("Orders", "Payment", "Inventory", "Shipping")
ACTIVITIES_WORST_CASE = 6  # charge, reserve, ship, then release, refund, notify


def retry_policy(params):
    """The wait for an answer before each retry, the same for the Orchestrator's activities and the Broker's
    redeliveries: timeout_ms every time, retries + 1 attempts in all."""
    timeout = params["timeout_ms"]
    return RetryPolicy(initial=timeout, cap=timeout, attempts=params["retries"] + 1, factor=1)


class World:
    """What really happened, whatever any service believes: the card network, the warehouse, the order book."""

    def __init__(self, params):
        self.mode, self.outbox, self.retry = params["mode"], params["outbox"], retry_policy(params)
        self.acks = params["delivery"] == "at-least-once"
        self.idempotency = params["idempotency"]
        self.lose = params["fault"] == "lost_event"
        self.crash = params["fault"] == "consumer_crash"
        self.placed, self.final = {}, {}
        self.charges, self.refunds, self.shipped, self.notified = {}, {}, set(), {}
        self.provider_keys = set()  # idempotency keys the card network has seen; outlives any crash
        self.activity_retries = self.republished = 0

    def progress(self, order):
        done = [step for step, did in (("charged", self.charges.get(order)), ("shipped", order in self.shipped),
                                       ("refunded", self.refunds.get(order))) if did]
        return ", ".join(done) or "nothing done"

    def at_deadline(self, order, now):
        """How ``order`` breaks its deadline's promises, if it does: (not final, charged but unmatched)."""
        late = order not in self.final and (f"{order}, placed at t={self.placed.get(order)}, is not final at its "
                                            f"deadline t={now} ({self.progress(order)})")
        unmatched = (self.charges.get(order) and order not in self.shipped and not self.refunds.get(order)
                     and f"{order} was charged but neither shipped nor refunded by t={now}")
        return late, unmatched

    def charge(self, order):
        """Take the money; how this charge breaks at_most_one_charge, if it does."""
        n = self.charges[order] = self.charges.get(order, 0) + 1
        return n > 1 and f"{order} charged {n} times: the retry repeated a charge whose commit was lost"

    def lose_if_due(self, sim, msg_id, label):
        """The lost_event fault: the first payment result vanishes on the wire."""
        if label in ("PaymentCharged", "Charged"):
            self.lose = False
            sim.network.lose(msg_id)
            sim.note(f"The {label} message is lost on its way to the "
                     f"{'Broker' if label == 'PaymentCharged' else 'Orchestrator'}.")


class Producer(Node):
    """Publishes events to the Broker: straight onto the wire, or (``outbox``) as a row written with the change,
    which a relay polls and publishes again until the Broker confirms it."""

    group = "service"

    def __init__(self, id, world):
        super().__init__(id)
        self.world, self.retry = world, world.retry
        self.outbox = Outbox() if world.outbox else None
        self.relay = self.outbox and Relay(self, self.outbox, POLL_MS, self.publish, mark_on_publish=False)
        self.tries, self.waiting = {}, {}  # row id -> publishes so far; row id -> confirm timer

    def announce(self, event, order):
        if self.world.outbox:
            self.outbox.add((event, order))
        else:
            sent = self.send("Broker", event, {"order": order})
            if self.world.lose:
                self.world.lose_if_due(self.sim, sent, event)

    def publish(self, row):
        event, order = row.event
        n = self.tries[row.id] = self.tries.get(row.id, 0) + 1
        self.world.republished += n > 1
        sent = self.send("Broker", event, {"order": order, "row": row.id}, tag=f"#{n}" if n > 1 else None)
        if self.world.lose:
            self.world.lose_if_due(self.sim, sent, event)
        self.waiting[row.id] = self.set_timer(self.retry.delay(n, self.sim.rng), "unconfirmed", row.id)

    def confirmed(self, msg):
        row = msg.data["row"]
        self.outbox.mark(row)
        timer = self.waiting.pop(row, None)
        if timer:
            timer.cancel()

    def on_timer(self, label, data):
        if self.relay and self.relay.on_timer(label):
            return
        if label == "unconfirmed":
            del self.waiting[data]
            row, tries = self.outbox.rows[data - 1], self.tries[data]
            if self.retry.gives_up(tries):
                return self.note_once("unconfirmed", f"{row.event[0]} is still unconfirmed after {tries} publishes: "
                                                     "it stays in the outbox until the relay restarts.")
            self.note_once("republish", f"The Broker did not confirm {row.event[0]}: it is still in the outbox, so "
                                        "the relay publishes it again.")
            self.publish(row)

    def on_start(self):
        if self.relay:
            self.relay.start()

    def on_recover(self):
        self.tries, self.waiting = {}, {}
        if self.relay:
            self.relay.start()


class Service(Producer):
    """One step of the saga, whoever asks: the broker delivering an event or the orchestrator calling an activity."""

    def on_message(self, msg):
        if msg.label == "confirm":
            return self.confirmed(msg)
        order = msg.data["order"]
        result = self.handle(msg.label, order, msg.data)
        if result is None:
            return  # crashed before committing: no answer, no ack
        answer, fresh = result
        if msg.src == "Orchestrator":
            sent = self.send("Orchestrator", answer, {"order": order})
            if self.world.lose:
                self.world.lose_if_due(self.sim, sent, answer)
            return
        event = EVENT_FOR.get(answer)
        if fresh and event:
            self.announce(event, order)
        if self.world.acks:
            ack(self, msg, "ack")


class Payment(Service):
    """Charges through a card network that honours idempotency keys (when Payment sends one)."""

    def __init__(self, id, world, downtime):
        super().__init__(id, world)
        self.downtime = downtime
        self.committed, self.refunded = set(), set()

    def on_start(self):
        super().on_start()
        self.set_state(charged=0, refunded=0)

    def handle(self, label, order, data):
        return self.charge(order) if label in ("OrderPlaced", "Charge") else self.refund(order)

    def charge(self, order):
        world = self.world
        if order in self.committed:
            return "Charged", False
        if world.idempotency and order in world.provider_keys:
            self.note(f"The card network recognises idempotency key {order} and returns the first charge.")
        else:
            world.provider_keys.add(order)
            twice = world.charge(order)
            self.check("at_most_one_charge", not twice, twice)
            if twice:
                self.set_state(charged_twice=True)
        if world.crash:
            world.crash = False
            self.crash_and_restart(self.downtime, f"Payment charges {order}, then crashes before committing or "
                                                  "answering.")
            return None
        self.committed.add(order)
        self.set_state(charged=len(self.committed))
        return "Charged", True

    def refund(self, order):
        if order in self.refunded:
            return "Refunded", False
        if self.world.charges.get(order):
            self.world.refunds[order] = 1
        self.refunded.add(order)
        self.set_state(refunded=len(self.refunded))
        return "Refunded", True


class Inventory(Service):
    def __init__(self, id, world, stock):
        super().__init__(id, world)
        self.stock = stock
        self.reserved, self.failed = set(), set()

    def on_start(self):
        super().on_start()
        self.set_state(stock=self.stock, reserved=0)

    def handle(self, label, order, data):
        if label == "Release":
            if order in self.reserved:
                self.reserved.discard(order)
                self.stock += 1
            result = "Released", True
        elif order in self.reserved:
            return "Reserved", False
        elif order in self.failed:
            return "OutOfStock", False
        elif not self.stock:
            self.failed.add(order)
            self.note(f"Out of stock for {order}.")
            return "OutOfStock", True
        else:
            self.stock -= 1
            self.reserved.add(order)
            result = "Reserved", True
        self.set_state(stock=self.stock, reserved=len(self.reserved))
        return result


class Shipping(Service):
    def on_start(self):
        super().on_start()
        self.set_state(shipped=0)

    def handle(self, label, order, data):
        if order in self.world.shipped:
            return "Shipped", False
        self.world.shipped.add(order)
        self.set_state(shipped=len(self.world.shipped))
        return "Shipped", True


class Notification(Service):
    def on_start(self):
        super().on_start()
        self.set_state(sent=0)

    def handle(self, label, order, data):
        outcome = data.get("outcome") or FINAL[label]
        if self.world.notified.get(order) == outcome:
            return "Notified", False
        self.world.notified[order] = outcome
        self.set_state(sent=len(self.world.notified))
        return "Notified", True


class Orders(Producer):
    """Places the orders and learns their fate; it knows nothing of the steps in between."""

    def __init__(self, world, count):
        super().__init__("Orders", world)
        self.count = count
        self.pending = set()
        self.late = set()  # orders past their deadline and still not final
        self.done = {"completed": 0, "cancelled": 0}

    def status(self):
        """One word for the orders so far: stuck beats pending beats cancelled beats completed."""
        if self.late & self.pending:
            return "stuck"
        if self.pending:
            return "pending"
        return "cancelled" if self.done["cancelled"] else "completed" if self.done["completed"] else None

    def show(self):
        self.set_state(pending=len(self.pending), **self.done, status=self.status())

    def overdue(self, order):
        """An order's deadline passed: if it is not final by now, nobody will make it so in time."""
        self.late.add(order)
        self.show()

    def on_start(self):
        super().on_start()
        self.show()
        for i in range(self.count):
            self.set_timer(i * GAP_MS, "place order", f"O{i + 1}")

    def on_timer(self, label, order):
        if label != "place order":
            return super().on_timer(label, order)
        self.world.placed[order] = self.now
        self.pending.add(order)
        self.show()
        if self.world.mode == "choreography":
            self.announce("OrderPlaced", order)
        else:
            self.send("Orchestrator", "StartOrder", {"order": order})

    def on_message(self, msg):
        if msg.label == "confirm":
            return self.confirmed(msg)
        order = msg.data["order"]
        if order in self.pending:
            state = FINAL[msg.label]
            self.pending.discard(order)
            self.done[state] += 1
            self.world.final[order] = (state, self.now)
            self.show()
        if msg.src == "Broker" and self.world.acks:
            ack(self, msg, "ack")


class SagaBroker(Broker):
    """The kit's broker, idle (and saying so) when the Orchestrator drives the saga."""

    def on_start(self):
        if self.sim.world.mode == "choreography":
            super().on_start()
        else:
            self.set_state(idle=True)

    def on_recover(self):
        if self.sim.world.mode == "choreography":
            super().on_recover()


class Workflow:
    __slots__ = ("order", "plan", "step", "attempt", "waited", "timer", "started", "refused", "outcome", "done")

    def __init__(self, order):
        self.order, self.plan, self.step, self.attempt, self.waited = order, SAGA, 0, 0, None
        self.timer, self.started, self.refused, self.outcome, self.done = None, set(), None, "completed", False


class Orchestrator(Node):
    """Runs each order as a durable workflow: activities with a timeout and retries, compensations in reverse."""

    group = "service"

    def __init__(self, world):
        super().__init__("Orchestrator")
        self.world, self.retry = world, world.retry
        self.flows = {}  # the durable history, replayed after a crash

    def on_start(self):
        if self.world.mode != "orchestration":
            self.set_state(idle=True)
        else:
            self.set_state(running=0, completed=0, cancelled=0)

    def history(self, order, text):
        self.sim.emit("note", text=f"{order} {text}", node=self.id, panel="History")

    def on_message(self, msg):
        order = msg.data["order"]
        if msg.label == "StartOrder":
            if order not in self.flows:
                self.flows[order] = flow = Workflow(order)
                self.history(order, "WorkflowStarted")
                self.show()
                self.dispatch(flow)
            return
        flow = self.flows.get(order)
        if flow is None or flow.done:
            return
        step = flow.plan[flow.step]
        if msg.src != step.participant or msg.label not in (RESULT[step.action], "OutOfStock"):
            return  # the answer to an attempt already given up on
        flow.timer.cancel()
        self.history(order, f"{step.action} completed: {msg.label}")
        if msg.label == "OutOfStock":
            flow.refused = step.action
            return self.compensate(flow, "inventory is out of stock")
        self.next_step(flow)

    def dispatch(self, flow, again=False):
        """Send the current activity and wait for it as the retry policy says: a new attempt, or after a crash
        the same attempt again."""
        step = flow.plan[flow.step]
        attempt = flow.attempt = flow.attempt + (not again)
        flow.started.add(step.action)
        data = {"order": flow.order}
        if attempt > 1:
            data["attempt"] = attempt
        if step.action == "Notify":
            data["outcome"] = flow.outcome
        self.history(flow.order, f"{step.action} scheduled (attempt {attempt})")
        self.send(step.participant, step.action, data, tag=f"#{attempt}" if attempt > 1 else None)
        flow.waited = self.retry.delay(attempt, self.sim.rng, flow.waited)
        flow.timer = self.set_timer(flow.waited, "activity timeout", flow.order)

    def next_step(self, flow):
        flow.step, flow.attempt, flow.waited = flow.step + 1, 0, None
        if flow.step < len(flow.plan):
            return self.dispatch(flow)
        flow.done = True
        self.history(flow.order, f"WorkflowCompleted: {flow.outcome}")
        self.send("Orders", "OrderCompleted" if flow.outcome == "completed" else "OrderCancelled",
                  {"order": flow.order})
        self.show()

    def on_timer(self, label, order):
        flow, retries = self.flows[order], self.retry.attempts - 1
        step, waited = flow.plan[flow.step], flow.waited
        self.history(order, f"{step.action} timed out after {waited} ms")
        if not self.retry.gives_up(flow.attempt):
            self.world.activity_retries += 1
            key = ", with the same idempotency key" if self.world.idempotency else ""
            self.note(f"{step.participant} did not answer {step.action} for {order} in {waited} ms: retry "
                      f"{flow.attempt} of {retries}{key}.")
            return self.dispatch(flow)
        if step.action == "Notify":
            self.note(f"Notification for {order} failed for good; the order stands, the customer is not told.")
            return self.next_step(flow)
        if flow.outcome == "completed":
            return self.compensate(flow, f"{step.participant} gave no answer after {retries} retries")
        flow.outcome, flow.done = "stuck", True
        self.note(f"Compensation {step.action} for {order} failed for good: the order needs a human.")
        self.show()

    def compensate(self, flow, why):
        """The steps begun, latest first, undone by their compensations; a refused step changed nothing."""
        undo = [Step(s.participant, s.compensation) for s in reversed(SAGA)
                if s.compensation and s.action in flow.started and s.action != flow.refused]
        flow.plan = tuple(undo) + (SAGA[-1],)
        flow.outcome, flow.step = "cancelled", -1
        self.note(f"{flow.order}: {why}. The Orchestrator compensates: "
                  + ", ".join(s.action for s in undo) + (" then " if undo else "") + "Notify.")
        self.next_step(flow)

    def show(self):
        outcomes = [f.outcome for f in self.flows.values() if f.done]
        self.set_state(running=len(self.flows) - len(outcomes), completed=outcomes.count("completed"),
                       cancelled=outcomes.count("cancelled"))

    def on_recover(self):
        open_flows = [f for f in self.flows.values() if not f.done]
        if open_flows:
            self.note("The Orchestrator replays its history and resumes " +
                      ", ".join(f"{f.order} at {f.plan[f.step].action}" for f in open_flows) + ".")
        for flow in open_flows:
            self.dispatch(flow, again=True)


class ChoreographyVsOrchestration(Scenario):
    slug = "choreography-vs-orchestration"
    title = "Choreography vs orchestration"
    summary_text = "The same order saga run by events on a broker, or by a workflow that owns every order."
    teaches = ("Who owns an order when something goes wrong: in a choreography nobody does, so a lost event strands "
               "it unless producers publish through an outbox; an orchestrator times out, retries and compensates.")
    problem = (
        "An order needs four steps: Payment charges the card, Inventory reserves the item, Shipping ships it, "
        "Notification tells the customer; if the item is out of stock the charge must be refunded. In "
        "choreography each service listens on the Broker for the event before its step and publishes its own "
        "(OrderPlaced, PaymentCharged, StockReserved or InventoryFailed, OrderShipped or PaymentRefunded), "
        "straight onto the wire or through a transactional outbox. In orchestration the Orchestrator runs each "
        "order as a workflow and calls each service as an activity with a timeout and retries, compensating in "
        "reverse on failure. Both modes share the same services and faults: open them side by side on the same seed.")
    theory = (
        "A saga is a sequence of local transactions, each with a compensating transaction that semantically undoes "
        "it; if step k fails, compensations run for steps k-1..1 (Garcia-Molina and Salem). Compensations and "
        "retries are only safe when every step is idempotent. In choreography the saga's state lives only in the "
        "events in flight: a broker with acks gives at-least-once delivery to consumers, but an event lost before "
        "the broker, or dropped by an at-most-once broker, leaves the order stuck with no one to notice. A "
        "transactional outbox closes the first gap: the event is stored with the change and the relay publishes "
        "it until the broker confirms (Richardson, ch. 3). An orchestrator owns every order: within about "
        "6 x (retries + 1) x timeout_ms each one is completed, compensated, or escalated to a human because a "
        "compensation itself kept failing.")
    source = ("Garcia-Molina and Salem, 'Sagas' (SIGMOD 1987); Chris Richardson, 'Pattern: Saga' and 'Pattern: "
              "Transactional outbox', microservices.io, and 'Microservices Patterns' (Manning 2018), ch. 3 and 4.")
    tick = "one millisecond"
    version = 2  # issue #13: on the kit's broker, and producers may publish through an outbox
    params = (
        Param("mode", "choice", "choreography", "who drives the saga: events on a broker, or an orchestrator",
              choices=("choreography", "orchestration")),
        Param("orders", "int", 1, "orders placed, one every 20 ms", 1, 10),
        Param("fault", "choice", "none", "lost_event: the first payment result is lost on the wire; consumer_crash: "
              "Payment crashes after charging, before committing; out_of_stock: the warehouse is empty",
              choices=("none", "lost_event", "consumer_crash", "out_of_stock")),
        Param("deadline_ms", "int", 1000, "every order must be completed or cancelled this long after it is placed",
              100, 60_000),
        Param("timeout_ms", "int", 100, "how long the Orchestrator waits for an activity (and the Broker for an ack)",
              20, 5000),
        Param("retries", "int", 3, "retries per activity (and redeliveries per event) before giving up", 0, 10),
        Param("delivery", "choice", "at-least-once", "at-least-once: the Broker redelivers until acked; "
              "at-most-once: it forgets an event once sent", choices=("at-least-once", "at-most-once")),
        Param("idempotency", "bool", True, "Payment sends the order id as an idempotency key with each charge"),
        Param("downtime_ms", "int", 150, "how long Payment stays down after consumer_crash", 1, 10_000),
        Param("outbox", "bool", False, "choreography: each service writes its event to an outbox in the same "
              "transaction, and a relay polling every 10 ms publishes it until the Broker confirms"),
    )
    bands = {"charged_twice": {True: ("fail", "charged twice")},
             "status": {"stuck": "fault", "pending": "busy", "cancelled": ("fail", "compensated"),
                        "completed": "done"}}
    invariants = (
        Invariant("order_final_within_bound", "Every order is completed or cancelled within deadline_ms."),
        Invariant("charge_implies_shipped_or_refunded", "A charged order is shipped or refunded by its deadline."),
        Invariant("at_most_one_charge", "No order is charged twice."),
    )

    def nodes(self, params):
        return [("Orders", "Orders", "service"), ("Broker", "Broker", "broker"),
                ("Orchestrator", "Orchestrator", "service"), ("Payment", "Payment", "service"),
                ("Inventory", "Inventory", "service"), ("Shipping", "Shipping", "service"),
                ("Notification", "Notification", "service")]

    def world(self, params):
        return World(params)

    def setup(self, sim, params):
        sim.network.delay, sim.network.jitter = 3, 2
        world = sim.world
        broker = SagaBroker(delivery=params["delivery"], redelivery=world.retry, ack_label="ack",
                            dead_letter_after=params["retries"] + 1, confirm="confirm" if params["outbox"] else None)
        for event, consumers in SUBSCRIBERS.items():
            for consumer in consumers:
                broker.subscribe(event, consumer)
        stock = 0 if params["fault"] == "out_of_stock" else params["orders"]
        nodes = [Orders(world, params["orders"]), broker, Orchestrator(world), Payment("Payment", world,
                 params["downtime_ms"]), Inventory("Inventory", world, stock), Shipping("Shipping", world),
                 Notification("Notification", world)]
        for i in range(params["orders"]):
            sim.schedule(i * GAP_MS + params["deadline_ms"], self.audit, sim, f"O{i + 1}")
        sim.note("Choreography: each service reacts to the event before its step; the order's progress lives only "
                 "in the events in flight." if world.mode == "choreography" else
                 "Orchestration: the Orchestrator holds each order as a workflow and calls each service in turn.")
        return nodes

    def audit(self, sim, order):
        """At an order's deadline (a moment, so checked then, not after every step): is it final, and is every
        charge matched by a shipment or a refund?"""
        world = sim.world
        sim.nodes["Orders"].overdue(order)
        late, unmatched = world.at_deadline(order, sim.now)
        if late:
            sim.note_once("deadline", f"Deadline for {order}: still not final ({world.progress(order)}), and "
                                      f"{self.owner(sim, order)}.")
        sim.check("order_final_within_bound", not late, late)
        sim.check("charge_implies_shipped_or_refunded", not unmatched, unmatched)

    def owner(self, sim, order):
        if sim.world.mode == "choreography":
            return "nobody owns it: every service is waiting for an event"
        flow = sim.nodes["Orchestrator"].flows.get(order)
        if flow is None:
            return "the Orchestrator never received it"
        return "its workflow has escalated it to a human" if flow.done else "its workflow is still retrying"

    def summary(self, sim, params):
        world, broker = sim.world, sim.nodes["Broker"]
        orders = [f"O{i + 1}" for i in range(params["orders"])]
        states = {o: world.final[o][0] if o in world.final else "stuck" for o in orders}
        other = "orchestration" if params["mode"] == "choreography" else "choreography"
        policy = world.retry
        budget = policy.attempts * policy.initial
        return {
            "order_states": states,
            "stuck": sum(s == "stuck" for s in states.values()),
            "charges": sum(world.charges.values()),
            "refunds": sum(world.refunds.values()),
            "shipped": len(world.shipped),
            "notifications": len(world.notified),
            "redeliveries": broker.redeliveries,
            "dead_letters": len(broker.dead_letters),
            "activity_retries": world.activity_retries,
            "republished": world.republished,
            "final_at_ms": {o: world.final[o][1] - world.placed[o] for o in orders if o in world.final},
            "compare_with": {**params, "mode": other},
            "theory": {
                "owner": "nobody" if params["mode"] == "choreography" else "the Orchestrator",
                "delivery": params["delivery"] if params["mode"] == "choreography" else "retried activities",
                "retry_delays_ms": [policy.delay(k, None) for k in range(1, policy.attempts)],
                "activity_budget_ms": budget,
                "orchestration_bound_ms": ACTIVITIES_WORST_CASE * budget,
            },
        }

    def headline(self, sim, params):
        summary, world = sim.summary, sim.world
        states, fault, mode = summary["order_states"], params["fault"], params["mode"]
        broken = violation_clause(sim)
        twice = sorted(o for o, count in world.charges.items() if count > 1)
        if twice:
            again = "the redelivered event" if mode == "choreography" else "the retried activity"
            return (f"{words(twice)} {'was' if len(twice) == 1 else 'were'} charged twice: Payment crashed after "
                    f"charging, and {again} charged again with no idempotency key; {broken}.")
        stuck = [o for o, state in states.items() if state == "stuck"]
        if stuck:
            if mode == "choreography":
                why = ("the PaymentCharged event was lost, and in a choreography nobody owns the order"
                       if fault == "lost_event" else "an event went missing, and in a choreography nobody owns the order")
            else:
                why = f"its workflow {self.owner(sim, stuck[0]).split('its workflow ')[-1]}"
            lead = f"{words(stuck[:3])}{' and more' if len(stuck) > 3 else ''} {'is' if len(stuck) == 1 else 'are'} stuck"
            return f"{lead}: {why}" + (f"; {broken}." if broken else ".")
        slowest = max(summary["final_at_ms"].values(), default=0)
        done = [o for o, state in states.items() if state == "completed"]
        cancelled = [o for o, state in states.items() if state == "cancelled"]
        if len(states) == 1:
            order, state = next(iter(states.items()))
            lead = f"{order} {state} in {slowest} ms"
        else:
            lead = (f"{len(done)} orders completed and {len(cancelled)} cancelled" if done and cancelled else
                    f"All {len(states)} orders {'completed' if done else 'cancelled'}")
            lead += f" within {slowest} ms"
        if broken.startswith("order_final_within_bound"):
            return f"{lead}, later than the {params['deadline_ms']} ms deadline; {broken}."
        if fault == "lost_event":
            why = ("the payment result was lost, but the Orchestrator timed out, retried and finished the order"
                   if mode == "orchestration" else "the PaymentCharged event was lost, but it waited in Payment's "
                   "outbox and the relay published it again when the Broker did not confirm")
        elif fault == "consumer_crash":
            again = "the Broker redelivered the event" if mode == "choreography" else "the Orchestrator retried"
            why = f"Payment crashed mid-charge, {again}, and the idempotency key kept it to one charge"
        elif cancelled:
            why = "the item was out of stock, so the saga refunded the charge"
        else:
            why = (f"payment, stock, shipping and notification each ran once, driven by "
                   f"{'events on the Broker' if mode == 'choreography' else 'the Orchestrator'}")
        return f"{lead}: {why}" + (f"; {broken}." if broken else ".")

    def known(self, sim, params):
        summary, theory, world = sim.summary, sim.summary["theory"], sim.world
        stuck, faults, finals = summary["stuck"], faulted(sim), summary["final_at_ms"]
        if params["mode"] == "choreography":
            rows = [known_row("who notices a stuck order", "nobody: the order's state lives only in the events in "
                              "flight", f"{plural(stuck, 'order')} stuck, and nobody noticed" if stuck else
                              "no order got stuck, so there was nothing to notice", True if stuck else None)]
            if params["outbox"]:
                waiting = sum(len(sim.nodes[n].outbox.unpublished()) for n in PRODUCERS)
                rows.append(known_row("events lost before the Broker", "none with a transactional outbox: each stays "
                                      "in the outbox until the Broker confirms it", "0 lost; " + ", ".join(
                                          [f"{plural(world.republished, 'event')} published again"] +
                                          [f"{waiting} still waiting in the outbox"] * bool(waiting)), True))
        else:
            bound = theory["orchestration_bound_ms"]
            measured = (f"{plural(stuck, 'order')} still not final" if stuck else
                        f"every order final, the slowest after {max(finals.values(), default=0)} ms")
            ok = not stuck and max(finals.values(), default=0) <= bound
            rows = [known_row("who notices a stuck order",
                              f"the Orchestrator: every order final within about 6 × (retries + 1) × timeout = "
                              f"{bound} ms", measured, None if faults and not ok else ok,
                              f"services that come back; {faults}" if faults and not ok else None)]
        most = max(world.charges.values(), default=0)
        rows.append(known_row("charges per order", "at most 1 when every step is idempotent", str(most),
                              most <= 1 if params["idempotency"] else None,
                              None if params["idempotency"] else "idempotent steps; here Payment sends no "
                              "idempotency key"))
        return rows
