"""Choreography vs orchestration: one order saga, run by events on a broker or by a workflow that owns it."""
from ..engine import Node
from ..params import Param
from ..scenario import Invariant, Scenario, faulted, known_row, plural, violation_clause, words

GAP_MS = 20  # between two orders
SUBSCRIBERS = {
    "OrderPlaced": ("Payment",),
    "PaymentCharged": ("Inventory",),
    "StockReserved": ("Shipping",),
    "InventoryFailed": ("Payment",),
    "OrderShipped": ("Notification", "Orders"),
    "PaymentRefunded": ("Notification", "Orders"),
}
EVENT_FOR = {"Charged": "PaymentCharged", "Reserved": "StockReserved", "OutOfStock": "InventoryFailed",
             "Shipped": "OrderShipped", "Refunded": "PaymentRefunded"}
FINAL = {"OrderShipped": "completed", "PaymentRefunded": "cancelled",
         "OrderCompleted": "completed", "OrderCancelled": "cancelled"}
FORWARD = (("Payment", "Charge"), ("Inventory", "Reserve"), ("Shipping", "Ship"), ("Notification", "Notify"))
UNDO = {"Reserve": ("Inventory", "Release"), "Charge": ("Payment", "Refund")}
RESULT = {"Charge": "Charged", "Reserve": "Reserved", "Ship": "Shipped", "Notify": "Notified",
          "Refund": "Refunded", "Release": "Released"}
ACTIVITIES_WORST_CASE = 6  # charge, reserve, ship, then release, refund, notify


class World:
    """What really happened, whatever any service believes: the card network, the warehouse, the order book."""

    def __init__(self, params):
        self.mode = params["mode"]
        self.acks = params["delivery"] == "at-least-once"
        self.idempotency = params["idempotency"]
        self.downtime = params["downtime_ms"]
        self.lose = params["fault"] == "lost_event"
        self.crash = params["fault"] == "consumer_crash"
        self.placed, self.final = {}, {}
        self.charges, self.refunds, self.shipped, self.notified = {}, {}, set(), {}
        self.provider_keys = set()  # idempotency keys the card network has seen; outlives any crash
        self.redeliveries = self.dead_letters = self.activity_retries = 0

    def progress(self, order):
        done = [step for step, did in (("charged", self.charges.get(order)), ("shipped", order in self.shipped),
                                       ("refunded", self.refunds.get(order))) if did]
        return ", ".join(done) or "nothing done"

    def lose_if_due(self, sim, msg_id, label):
        """The lost_event fault: the first payment result vanishes on the wire."""
        if self.lose and label in ("PaymentCharged", "Charged") and msg_id is not None:
            self.lose = False
            sim.network.lose(msg_id)
            sim.note(f"The {label} message is lost on its way to the "
                     f"{'Broker' if label == 'PaymentCharged' else 'Orchestrator'}.")


class Service(Node):
    """One step of the saga, whoever asks: the broker delivering an event or the orchestrator calling an activity."""

    group = "service"

    def __init__(self, id, world):
        super().__init__(id)
        self.world = world

    def on_message(self, msg):
        order = msg.data["order"]
        result = self.handle(msg.label, order, msg.data)
        if result is None:
            return  # crashed before committing: no answer, no ack
        answer, fresh = result
        if msg.src == "Orchestrator":
            self.world.lose_if_due(self.sim, self.send("Orchestrator", answer, {"order": order}), answer)
            return
        event = EVENT_FOR.get(answer)
        if fresh and event:
            self.world.lose_if_due(self.sim, self.send("Broker", event, {"order": order}), event)
        if self.world.acks:
            self.send("Broker", "ack", {"event": msg.label, "order": order})


class Payment(Service):
    """Charges through a card network that honours idempotency keys (when Payment sends one)."""

    def __init__(self, id, world):
        super().__init__(id, world)
        self.committed, self.refunded = set(), set()

    def on_start(self):
        self.set_state(charged=0, refunded=0)

    def handle(self, label, order, data):
        if label in ("OrderPlaced", "Charge"):
            return self.charge(order)
        return self.refund(order)

    def charge(self, order):
        world = self.world
        if order in self.committed:
            return "Charged", False
        if world.idempotency and order in world.provider_keys:
            self.note(f"The card network recognises idempotency key {order} and returns the first charge.")
        else:
            world.provider_keys.add(order)
            n = world.charges[order] = world.charges.get(order, 0) + 1
            self.check("at_most_one_charge", n <= 1,
                       f"{order} charged {n} times: the retry repeated a charge whose commit was lost")
            if n > 1:
                self.set_state(charged_twice=True)
        if world.crash:
            world.crash = False
            self.note(f"Charges {order}, then crashes before committing or answering.")
            self.sim.crash(self.id)
            self.sim.schedule(world.downtime, self.sim.recover, self.id)
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
        self.set_state(shipped=0)

    def handle(self, label, order, data):
        if order in self.world.shipped:
            return "Shipped", False
        self.world.shipped.add(order)
        self.set_state(shipped=len(self.world.shipped))
        return "Shipped", True


class Notification(Service):
    def on_start(self):
        self.set_state(sent=0)

    def handle(self, label, order, data):
        outcome = data.get("outcome") or FINAL[label]
        if self.world.notified.get(order) == outcome:
            return "Notified", False
        self.world.notified[order] = outcome
        self.set_state(sent=len(self.world.notified))
        return "Notified", True


class Orders(Node):
    """Places the orders and learns their fate; it knows nothing of the steps in between."""

    group = "service"

    def __init__(self, world, count):
        super().__init__("Orders")
        self.world, self.count = world, count
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
        self.show()
        for i in range(self.count):
            self.set_timer(i * GAP_MS, "place order", f"O{i + 1}")

    def on_timer(self, label, order):
        self.world.placed[order] = self.now
        self.pending.add(order)
        self.show()
        if self.world.mode == "choreography":
            self.send("Broker", "OrderPlaced", {"order": order})
        else:
            self.send("Orchestrator", "StartOrder", {"order": order})

    def on_message(self, msg):
        order = msg.data["order"]
        if order in self.pending:
            state = FINAL[msg.label]
            self.pending.discard(order)
            self.done[state] += 1
            self.world.final[order] = (state, self.now)
            self.show()
        if msg.src == "Broker" and self.world.acks:
            self.send("Broker", "ack", {"event": msg.label, "order": order})


class Broker(Node):
    """Routes each event to its subscribers; at-least-once keeps it until acked and redelivers, at-most-once forgets."""

    group = "broker"

    def __init__(self, world, timeout, retries):
        super().__init__("Broker")
        self.world, self.timeout, self.retries = world, timeout, retries
        self.unacked = {}  # (consumer, event, order) -> [deliveries so far, timer]; durable

    def on_start(self):
        if self.world.mode != "choreography":
            self.set_state(idle=True)
        else:
            self.set_state(unacked=0, dead_letters=0)

    def on_message(self, msg):
        order = msg.data["order"]
        if msg.label == "ack":
            entry = self.unacked.pop((msg.src, msg.data["event"], order), None)
            if entry:
                entry[1].cancel()
                self.set_state(unacked=len(self.unacked))
            return
        for consumer in SUBSCRIBERS[msg.label]:
            self.deliver((consumer, msg.label, order), 1)

    def deliver(self, key, n):
        consumer, event, order = key
        self.send(consumer, event, {"order": order} if n == 1 else {"order": order, "redelivery": n - 1},
                  tag=f"#{n}" if n > 1 else None)
        if self.world.acks:
            if key in self.unacked:
                self.unacked[key][1].cancel()
            self.unacked[key] = [n, self.set_timer(self.timeout, "redeliver", key)]
            self.set_state(unacked=len(self.unacked))

    def on_timer(self, label, key):
        n = self.unacked[key][0]
        if n > self.retries:
            del self.unacked[key]
            self.world.dead_letters += 1
            self.set_state(unacked=len(self.unacked), dead_letters=self.world.dead_letters)
            self.note(f"{key[1]} for {key[2]} unacked after {n} deliveries: parked in the dead-letter queue.")
            return
        self.world.redeliveries += 1
        self.note(f"No ack from {key[0]} for {key[1]} ({key[2]}) within {self.timeout} ms: redelivering.")
        self.deliver(key, n + 1)

    def on_recover(self):
        for key in list(self.unacked):
            self.deliver(key, self.unacked[key][0])


class Workflow:
    __slots__ = ("order", "plan", "step", "attempt", "timer", "started", "refused", "outcome", "done")

    def __init__(self, order):
        self.order, self.plan, self.step, self.attempt = order, FORWARD, 0, 1
        self.timer, self.started, self.refused, self.outcome, self.done = None, set(), None, "completed", False


class Orchestrator(Node):
    """Runs each order as a durable workflow: activities with a timeout and retries, compensations in reverse."""

    group = "service"

    def __init__(self, world, timeout, retries):
        super().__init__("Orchestrator")
        self.world, self.timeout, self.retries = world, timeout, retries
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
        service, activity = flow.plan[flow.step]
        if msg.src != service or msg.label not in (RESULT[activity], "OutOfStock"):
            return  # the answer to an attempt already given up on
        flow.timer.cancel()
        self.history(order, f"{activity} completed: {msg.label}")
        if msg.label == "OutOfStock":
            flow.refused = activity
            return self.compensate(flow, "inventory is out of stock")
        self.next_step(flow)

    def dispatch(self, flow):
        service, activity = flow.plan[flow.step]
        flow.started.add(activity)
        data = {"order": flow.order}
        if flow.attempt > 1:
            data["attempt"] = flow.attempt
        if activity == "Notify":
            data["outcome"] = flow.outcome
        self.history(flow.order, f"{activity} scheduled (attempt {flow.attempt})")
        self.send(service, activity, data, tag=f"#{flow.attempt}" if flow.attempt > 1 else None)
        flow.timer = self.set_timer(self.timeout, "activity timeout", flow.order)

    def next_step(self, flow):
        flow.step += 1
        flow.attempt = 1
        if flow.step < len(flow.plan):
            return self.dispatch(flow)
        flow.done = True
        self.history(flow.order, f"WorkflowCompleted: {flow.outcome}")
        self.send("Orders", "OrderCompleted" if flow.outcome == "completed" else "OrderCancelled",
                  {"order": flow.order})
        self.show()

    def on_timer(self, label, order):
        flow = self.flows[order]
        service, activity = flow.plan[flow.step]
        self.history(order, f"{activity} timed out after {self.timeout} ms")
        if flow.attempt <= self.retries:
            flow.attempt += 1
            self.world.activity_retries += 1
            key = ", with the same idempotency key" if self.world.idempotency else ""
            self.note(f"{service} did not answer {activity} for {order} in {self.timeout} ms: retry "
                      f"{flow.attempt - 1} of {self.retries}{key}.")
            return self.dispatch(flow)
        if activity == "Notify":
            self.note(f"Notification for {order} failed for good; the order stands, the customer is not told.")
            return self.next_step(flow)
        if flow.outcome == "completed":
            return self.compensate(flow, f"{service} gave no answer after {self.retries} retries")
        flow.outcome, flow.done = "stuck", True
        self.note(f"Compensation {activity} for {order} failed for good: the order needs a human.")
        self.show()

    def compensate(self, flow, why):
        undo = [UNDO[a] for a in ("Reserve", "Charge") if a in flow.started and a != flow.refused]
        flow.plan = tuple(undo) + (("Notification", "Notify"),)
        flow.outcome, flow.step = "cancelled", -1
        self.note(f"{flow.order}: {why}. The Orchestrator compensates: "
                  + ", ".join(a for _, a in undo) + (" then " if undo else "") + "Notify.")
        self.next_step(flow)

    def show(self):
        outcomes = [f.outcome for f in self.flows.values() if f.done]
        self.set_state(running=len(self.flows) - len(outcomes), completed=outcomes.count("completed"),
                       cancelled=outcomes.count("cancelled"))

    def on_recover(self):
        open_flows = [f for f in self.flows.values() if not f.done]
        if open_flows:
            self.note("The Orchestrator replays its history and resumes " +
                      ", ".join(f"{f.order} at {f.plan[f.step][1]}" for f in open_flows) + ".")
        for flow in open_flows:
            self.dispatch(flow)


class ChoreographyVsOrchestration(Scenario):
    slug = "choreography-vs-orchestration"
    title = "Choreography vs orchestration"
    summary_text = "The same order saga run by events on a broker, or by a workflow that owns every order."
    teaches = ("Who owns an order when something goes wrong: in a choreography nobody does, so a lost event strands "
               "it; an orchestrator times out, retries and compensates.")
    problem = (
        "An order needs four steps: Payment charges the card, Inventory reserves the item, Shipping ships it, "
        "Notification tells the customer; if the item is out of stock the charge must be refunded. In "
        "choreography each service listens on the Broker for the event before its step and publishes its own "
        "(OrderPlaced, PaymentCharged, StockReserved or InventoryFailed, OrderShipped or PaymentRefunded). In "
        "orchestration the Orchestrator runs each order as a workflow and calls each service as an activity with "
        "a timeout and retries, compensating in reverse on failure. Both modes share the same services and faults: "
        "open them side by side on the same seed.")
    theory = (
        "A saga is a sequence of local transactions, each with a compensating transaction that semantically undoes "
        "it; if step k fails, compensations run for steps k-1..1 (Garcia-Molina and Salem). Compensations and "
        "retries are only safe when every step is idempotent. In choreography the saga's state lives only in the "
        "events in flight: a broker with acks gives at-least-once delivery to consumers, but an event lost before "
        "the broker, or dropped by an at-most-once broker, leaves the order stuck with no one to notice. An "
        "orchestrator owns every order: within about 6 x (retries + 1) x timeout_ms each one is completed, "
        "compensated, or escalated to a human because a compensation itself kept failing.")
    source = ("Garcia-Molina and Salem, 'Sagas' (SIGMOD 1987); Chris Richardson, 'Pattern: Saga', "
              "microservices.io, and 'Microservices Patterns' (Manning 2018), ch. 4.")
    tick = "one millisecond"
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

    def setup(self, sim, params):
        sim.network.delay, sim.network.jitter = 3, 2
        world = World(params)
        timeout, retries = params["timeout_ms"], params["retries"]
        stock = 0 if params["fault"] == "out_of_stock" else params["orders"]
        nodes = [Orders(world, params["orders"]), Broker(world, timeout, retries),
                 Orchestrator(world, timeout, retries), Payment("Payment", world),
                 Inventory("Inventory", world, stock), Shipping("Shipping", world),
                 Notification("Notification", world)]
        for i in range(params["orders"]):
            sim.schedule(i * GAP_MS + params["deadline_ms"], self.audit, sim, world, f"O{i + 1}")
        sim.note("Choreography: each service reacts to the event before its step; the order's progress lives only "
                 "in the events in flight." if world.mode == "choreography" else
                 "Orchestration: the Orchestrator holds each order as a workflow and calls each service in turn.")
        return nodes

    def audit(self, sim, world, order):
        """At an order's deadline: is it final, and is every charge matched by a shipment or a refund?"""
        final = order in world.final
        sim.nodes["Orders"].overdue(order)
        unmatched = world.charges.get(order) and order not in world.shipped and not world.refunds.get(order)
        if not final and "order_final_within_bound" not in sim.violations:
            sim.note(f"Deadline for {order}: still not final ({world.progress(order)}), and {self.owner(sim, order)}.")
        sim.check("order_final_within_bound", final,
                  f"{order}, placed at t={world.placed.get(order)}, is not final at its deadline t={sim.now} "
                  f"({world.progress(order)})")
        sim.check("charge_implies_shipped_or_refunded", not unmatched,
                  f"{order} was charged but neither shipped nor refunded by t={sim.now}")

    def owner(self, sim, order):
        if sim.nodes["Orders"].world.mode == "choreography":
            return "nobody owns it: every service is waiting for an event"
        flow = sim.nodes["Orchestrator"].flows.get(order)
        if flow is None:
            return "the Orchestrator never received it"
        return "its workflow has escalated it to a human" if flow.done else "its workflow is still retrying"

    def summary(self, sim, params):
        world = sim.nodes["Orders"].world
        orders = [f"O{i + 1}" for i in range(params["orders"])]
        states = {o: world.final[o][0] if o in world.final else "stuck" for o in orders}
        other = "orchestration" if params["mode"] == "choreography" else "choreography"
        budget = (params["retries"] + 1) * params["timeout_ms"]
        return {
            "order_states": states,
            "stuck": sum(s == "stuck" for s in states.values()),
            "charges": sum(world.charges.values()),
            "refunds": sum(world.refunds.values()),
            "shipped": len(world.shipped),
            "notifications": len(world.notified),
            "redeliveries": world.redeliveries,
            "dead_letters": world.dead_letters,
            "activity_retries": world.activity_retries,
            "final_at_ms": {o: world.final[o][1] - world.placed[o] for o in orders if o in world.final},
            "compare_with": {**params, "mode": other},
            "theory": {
                "owner": "nobody" if params["mode"] == "choreography" else "the Orchestrator",
                "delivery": params["delivery"] if params["mode"] == "choreography" else "retried activities",
                "activity_budget_ms": budget,
                "orchestration_bound_ms": ACTIVITIES_WORST_CASE * budget,
            },
        }

    def headline(self, sim, params):
        summary, world = sim.summary, sim.nodes["Orders"].world
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
        finals = summary["final_at_ms"]
        slowest = max(finals.values(), default=0)
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
                   if mode == "orchestration" else "the lost event was sent again")
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
        summary, theory, world = sim.summary, sim.summary["theory"], sim.nodes["Orders"].world
        stuck = summary["stuck"]
        faults = faulted(sim)
        finals = summary["final_at_ms"]
        if params["mode"] == "choreography":
            row = known_row("who notices a stuck order", "nobody: the order's state lives only in the events in flight",
                            f"{plural(stuck, 'order')} stuck, and nobody noticed" if stuck else
                            "no order got stuck, so there was nothing to notice", True if stuck else None)
        else:
            bound = theory["orchestration_bound_ms"]
            measured = (f"{plural(stuck, 'order')} still not final" if stuck else
                        f"every order final, the slowest after {max(finals.values(), default=0)} ms")
            ok = not stuck and max(finals.values(), default=0) <= bound
            row = known_row("who notices a stuck order",
                            f"the Orchestrator: every order final within about 6 × (retries + 1) × timeout = {bound} ms",
                            measured, None if faults and not ok else ok,
                            f"services that come back; {faults}" if faults and not ok else None)
        rows = [row]
        most = max(world.charges.values(), default=0)
        if params["idempotency"]:
            rows.append(known_row("charges per order", "at most 1 when every step is idempotent", str(most),
                                  most <= 1))
        else:
            rows.append(known_row("charges per order", "at most 1 when every step is idempotent", str(most), None,
                                  "idempotent steps; here Payment sends no idempotency key"))
        return rows
