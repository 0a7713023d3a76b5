"""Microservice order flow: HTTP calls with client timeouts, circuit breakers, compensation, an outbox, a queue.

Michael Nygard, *Release It!* (2nd ed. 2018), "Integration Points", "Timeouts" and "Circuit Breaker": a
dependency that is down either refuses the connection at once (its host answers the connect with a reset, one
round trip) or hangs (nothing answers, and the caller learns only from its own timeout), so how soon a breaker
opens depends on which (``down_mode``). Martin Fowler, "CircuitBreaker" (2014): closed, open, half-open. Chris
Richardson, microservices.io and *Microservices Patterns* ch. 3: the transactional outbox (without it a crash
between commit and publish loses the event) and the idempotent consumer (``dedupe``: at-least-once delivery
redelivers, and a consumer that does not remember what it handled acts twice).
"""
from ..engine import Node
from ..kit.breaker import BANDS, CLOSED, OPEN, CircuitBreaker
from ..kit.broker import Broker, ack
from ..kit.outbox import Outbox, Relay
from ..kit.retry import RetryPolicy
from ..kit.rpc import Calls
from ..params import Param
from ..scenario import Invariant, Scenario, faulted, known_row, plural, refuse, violation_clause

DEPENDENCIES = ("UserService", "ProductService", "InventoryService", "PaymentService")
STEPS = (("UserService", "ValidateUser"), ("ProductService", "GetProduct"),
         ("InventoryService", "Reserve"), ("PaymentService", "Pay"))
UNDO = {"Reserve": ("InventoryService", "Release"), "Pay": ("PaymentService", "Refund")}
PRICE = 25
RESTART_MS = 200  # OrderService is back this long after relay_crash
RELAY_POLL_MS = 5  # the relay polls the outbox table this often
REDELIVERIES = 5  # the relay and the queue give up on a message after this many sends
COMPENSATION_ATTEMPTS = 3
SEVERITY = (CLOSED, "half-open", OPEN)
MAX_FLAPPING_MS = 3_600_000
DOWN_MODES = ("refuse", "hang")
ANSWERS = {"ValidateUser": "UserOK", "GetProduct": "Product", "Pay": "Paid", "Refund": "Refunded",
           "Reserve": "Reserved", "Release": "Released"}


def flapping_ms(params):
    """Worst case: every owed compensation spends all its attempts as a failing half-open trial, one per cycle."""
    return 2 * params["orders"] * COMPENSATION_ATTEMPTS * (params["open_timeout"] + params["timeout_ms"])


class Books:
    """The world the invariants read: the warehouse, the payment provider, the order table, the notifications."""

    def __init__(self, params):
        self.initial = self.available = params["stock"]
        self.holds = {}  # order -> units held in the warehouse
        self.charges = {}  # order -> amount charged and not refunded
        self.orders = {}  # order -> Order: OrderService's durable table
        self.releasing = set()  # orders whose Release is sent or owed
        self.rejected = []  # orders rejected, in order: only their holds can leak
        self.notified = {}  # order -> notifications the customer got
        self.doubled = []  # orders notified more than once
        self.enqueued = set()  # orders whose OrderCreated reached the Queue
        self.lost = []  # orders whose OrderCreated died with OrderService's memory
        self.lose_payment, self.relay_crash = params["lose_payment_response"], params["relay_crash"]
        self.ended = False  # at the end a release still owed no longer counts as on its way

    def stock(self):
        """(reserved, sold, leaked orders): a hold for a rejected order is leaked unless a release is on its way."""
        reserved = sold = 0
        leaked = []
        for order, units in self.holds.items():
            status = self.orders[order].status
            if status == "confirmed":
                sold += units
            elif status == "pending" or (order in self.releasing and not self.ended):
                reserved += units
            else:
                leaked.append(order)
        return reserved, sold, leaked

    def stock_leak(self):
        if not self.rejected or not any(o in self.holds and (self.ended or o not in self.releasing) for o in self.rejected):
            return None
        reserved, sold, leaked = self.stock()
        return (f"available {self.available} + reserved {reserved} + sold {sold} = "
                f"{self.available + reserved + sold}, not {self.initial}: "
                f"{sum(self.holds[o] for o in leaked)} units still held for rejected {', '.join(leaked)}")

    def unresolved(self):
        orders = self.orders.values()
        problems = [f"{o.id} is still pending" for o in orders if o.status == "pending"]
        problems += [f"{o.id} was rejected but {what}" for o in orders if o.status == "rejected"
                     for what, bad in (("holds stock", o.id in self.holds), ("was charged", o.id in self.charges))
                     if bad]
        return "; ".join(problems[:5]) + (" ..." if len(problems) > 5 else "")

    def notify(self, order):
        self.notified[order] = self.notified.get(order, 0) + 1
        if self.notified[order] == 2:
            self.doubled.append(order)

    def twice(self):
        doubled = self.doubled
        return doubled and (f"{doubled[0]} was notified {self.notified[doubled[0]]} times: the Queue delivered "
                            "OrderCreated again and NotificationService, without dedupe, acted again.")

    def lost_orders(self):
        if not self.ended:
            return self.lost
        return self.lost + [o.id for o in self.orders.values() if o.status == "confirmed"
                            and o.id not in self.enqueued and o.id not in self.lost]

    def lost_events(self):
        lost = (self.lost or self.ended) and self.lost_orders()
        return lost and (f"OrderCreated for {', '.join(lost)} is lost: committed as confirmed, never published, "
                         "and nothing durable owes it.")


class Dependency(Node):
    """A downstream HTTP service: it acts on arrival and answers one hop later (plus slow_ms when slow). While
    down in ``refuse`` mode its host is up and resets every connection: the caller hears ``Refused`` at once."""

    group = "service"

    def __init__(self, id, books, slow_ms, alive=True, refusing=False):
        super().__init__(id, alive=alive)
        self.books, self.slow_ms, self.refusing = books, slow_ms, refusing

    def on_start(self):
        if self.refusing:
            self.set_state(refusing=True)
        self.show()

    def on_recover(self):
        self.show()

    def come_back(self):
        self.refusing = False
        self.set_state(refusing=False)

    def show(self):
        books = self.books
        if self.id == "InventoryService":
            self.set_state(available=books.available, held=books.initial - books.available)
        elif self.id == "PaymentService":
            self.set_state(charged=len(books.charges))

    def on_message(self, msg):
        order = msg.data["order"]
        if self.refusing:
            self.note_once(f"refused {self.id}", f"{self.id} is down but its host is up: the connection is refused "
                           "at once, and the caller knows within a round trip, not after its timeout.")
            return self.send(msg.src, "Refused", {"order": order, "rid": msg.data["rid"]})
        label, extra = self.handle(msg.label, msg.data, order)
        delay = self.sim.network.delay + self.slow_ms if self.slow_ms else None
        msg_id = self.send(msg.src, label, {"order": order, "rid": msg.data["rid"], **extra}, delay)
        if label == "Paid" and self.books.lose_payment:
            self.books.lose_payment = False
            self.sim.network.lose(msg_id)
            self.sim.note(f"PaymentService charged {order}, but its Paid response is lost on the way back.")

    def handle(self, label, data, order):
        books = self.books
        if label == "GetProduct":
            return "Product", {"price": PRICE}
        if label == "Reserve":
            if order not in books.holds:
                if books.available < data["items"]:
                    return "OutOfStock", {}
                books.available -= data["items"]
                books.holds[order] = data["items"]
        elif label == "Release":
            books.available += books.holds.pop(order, 0)
        elif label == "Pay":
            books.charges.setdefault(order, data["amount"])
        elif label == "Refund":
            books.charges.pop(order, None)
        self.show()
        return ANSWERS[label], {}


class Order:
    __slots__ = ("id", "items", "step", "status", "attempted", "amount")

    def __init__(self, id, items):
        self.id, self.items, self.step, self.status, self.attempted, self.amount = id, items, 0, "pending", [], 0


class OrderService(Node):
    """Orchestrates one order over HTTP, each call behind a breaker; commits, then publishes OrderCreated."""

    group = "service"

    def __init__(self, books, params):
        super().__init__("OrderService")
        self.books, self.params = books, params
        self.timeout, self.use_outbox = params["timeout_ms"], params["outbox"]
        self.orders = books.orders
        self.outbox = Outbox()  # durable, written in the order's transaction
        self.row_of = {}  # order -> its outbox row
        self.relay = Relay(self, self.outbox, RELAY_POLL_MS, self.publish, mark_on_publish=False)
        self.owed = {s: [] for s in DEPENDENCIES}  # durable: compensations waiting for their breaker
        self.transitions = []
        self.confirmed = self.rejected = 0
        self.failed_after = None  # how long the first failed call to the dead service took to fail
        self.calls = Calls(self, "rid", "call timeout")
        self.forget()

    def forget(self):
        """What lives in memory only, and is gone after a crash."""
        self.breakers = {s: CircuitBreaker(self.params["breaker_threshold"], self.params["open_timeout"])
                         for s in DEPENDENCIES}
        self.worst = CLOSED  # the state of the worst breaker, the one OrderService's band shows
        self.calls.forget()
        self.publishing = {}  # outbox row id -> [publishes, timer]

    def on_start(self):
        self.relay.start()
        self.show()

    def show(self):
        state = {"breaker": self.worst, "confirmed": self.confirmed, "rejected": self.rejected}
        if self.use_outbox:
            state["outbox"] = len(self.outbox.waiting)
        self.set_state(**state)

    # -- the order ------------------------------------------------------------
    def on_message(self, msg):
        data = msg.data
        if msg.label == "PlaceOrder":
            if data["order"] not in self.orders:
                self.orders[data["order"]] = order = Order(data["order"], data["items"])
                self.advance(order)
            return
        if msg.label == "Enqueued":
            return self.enqueued(data)
        call = self.calls.answered(msg)
        if call is None:
            if msg.label in ("Paid", "Reserved"):
                self.note_once("late", f"{msg.src} answers {msg.label} for {data['order']} after OrderService gave "
                               "up: the side effect happened all the same.")
            return
        order_id, service, label, undo = call.context
        if msg.label == "Refused":
            return self.call_failed(call, "refused")
        self.breaker(service, "success")
        if self.breakers[service].state == CLOSED and self.owed[service]:
            self.pay_debts(service)
        if undo:
            return
        order = self.orders[order_id]
        if msg.label == "OutOfStock":
            order.attempted.remove("Reserve")
            return self.reject(order, "out of stock")
        if msg.label == "Product":
            order.amount = data["price"] * order.items
        order.step += 1
        self.advance(order)

    def advance(self, order):
        if order.step == len(STEPS):
            return self.confirm(order)
        service, label = STEPS[order.step]
        data = {"order": order.id}
        if label == "Reserve":
            data["items"] = order.items
        elif label == "Pay":
            data["amount"] = order.amount
        if not self.call(order.id, service, label, data):
            state = self.breakers[service].state
            self.note_once("fail fast", f"The breaker on {service} is {state}: {order.id} is rejected at once, "
                           "without a call and without waiting for a timeout.")
            return self.reject(order, f"{service} breaker {state}")
        if label in UNDO:
            order.attempted.append(label)

    def confirm(self, order):
        order.status = "confirmed"
        self.confirmed += 1
        if self.use_outbox:
            self.row_of[order.id] = self.outbox.add(order.id)  # in the same transaction as the status
        if self.books.relay_crash:
            self.books.relay_crash = False
            if not self.use_outbox:
                self.books.lost.append(order.id)
            return self.crash_and_restart(RESTART_MS, (
                f"{order.id} is committed as confirmed; OrderService crashes before publishing OrderCreated or "
                "answering the Client. " + ("The event waits in the outbox table." if self.use_outbox else
                                            "Nothing durable records that the event is still owed: it is lost.")))
        if not self.use_outbox:
            self.send("Queue", "OrderCreated", {"order": order.id})
        self.send("Client", "OrderConfirmed", {"order": order.id})
        self.show()

    def reject(self, order, reason):
        order.status = "rejected"
        self.books.rejected.append(order.id)
        self.rejected += 1
        if self.params["compensation"]:
            for label in reversed(order.attempted):
                service, undo = UNDO[label]
                if undo == "Release":
                    self.books.releasing.add(order.id)
                self.undo(order.id, service, undo, 1)
        elif order.attempted:
            self.note_once("leak", f"Compensation is off: {order.id} is rejected but its "
                           f"{' and '.join(order.attempted)} stays in place.")
        self.sim.verify()
        self.send("Client", "OrderRejected", {"order": order.id, "reason": reason})
        self.show()

    # -- calls behind breakers ------------------------------------------------
    def call(self, order, service, label, data, undo=0):
        if not self.breaker(service, "allow"):
            return False
        if self.breakers[service].state == OPEN:
            self.check("open_breaker_sends_nothing", False, f"OrderService called {service} while its breaker was open")
        self.calls.call(service, label, data, self.timeout, (order, service, label, undo),
                        tag=f"#{undo}" if undo > 1 else None)
        return True

    def undo(self, order, service, label, attempt):
        if not self.call(order, service, label, {"order": order}, attempt):
            self.owed[service].append((order, label, attempt))

    def on_timer(self, label, data):
        if self.relay.on_timer(label):
            return
        call = self.calls.timed_out(label, data)
        if call is not None:
            return self.call_failed(call)
        if label == "breaker half-open" and self.breakers[data].state == OPEN:
            self.breaker(data, "refresh")
            self.pay_debts(data)
        elif label == "republish":
            self.republish(data)

    def call_failed(self, call, how="timed out"):
        order, service, label, undo = call.context
        if service == self.params["dead_service"] and self.failed_after is None:
            self.failed_after = self.now - call.sent_at
        self.breaker(service, "failure")
        if not undo:
            return self.reject(self.orders[order], f"{service} {how}")
        if undo >= COMPENSATION_ATTEMPTS:
            return self.note(f"{label} for {order} failed {undo} times: OrderService gives up, a human must "
                             "reconcile it.")
        self.owed[service].append((order, label, undo + 1))

    def pay_debts(self, service):
        owed, self.owed[service] = self.owed[service], []
        for order, label, attempt in owed:
            self.undo(order, service, label, attempt)

    def breaker(self, service, event):
        """Tell ``service``'s breaker of an ``event`` (allow, success, failure, refresh); narrate a move."""
        breaker = self.breakers[service]
        before, answer = breaker.state, getattr(breaker, event)(self.now)
        if breaker.state != before:
            why = {OPEN: f"{self.params['breaker_threshold']} consecutive failures" if before == CLOSED else
                   "the trial call failed", CLOSED: "the trial call succeeded",
                   "half-open": f"{self.params['open_timeout']} ms have passed; the next call is a trial"}
            self.transitions.append({"t": self.now, "service": service, "from": before, "to": breaker.state})
            self.note(f"Breaker on {service}: {before} -> {breaker.state} ({why[breaker.state]}).")
            if breaker.state == OPEN:
                self.set_timer(self.params["open_timeout"], "breaker half-open", service)
            self.worst = max((b.state for b in self.breakers.values()), key=SEVERITY.index)
            self.show()
        return answer

    # -- the outbox relay: at least once, so the queue may see an event twice -
    def publish(self, row):
        sends = self.publishing.get(row.id, [0, None])[0] + 1
        self.send("Queue", "OrderCreated", {"order": row.event}, tag=f"#{sends}" if sends > 1 else None)
        self.publishing[row.id] = [sends, self.set_timer(self.timeout, "republish", row.id)]

    def republish(self, row_id):
        row = self.outbox.rows[row_id - 1]
        if self.publishing[row_id][0] < REDELIVERIES:
            return self.publish(row)
        self.outbox.mark(row_id)
        self.note(f"The relay gives up on OrderCreated for {row.event} after {REDELIVERIES} tries.")
        self.show()

    def enqueued(self, data):
        row = self.row_of.get(data["order"])
        if row and not row.published:
            self.outbox.mark(row.id)
            sending = self.publishing.pop(row.id, None)
            if sending:
                sending[1].cancel()
            self.show()

    def on_recover(self):
        changed = [(s, b.state) for s, b in self.breakers.items() if b.state != CLOSED]
        self.forget()
        pending = [o for o in self.orders.values() if o.status == "pending"]
        unpublished = len(self.outbox.unpublished())
        self.note("OrderService restarts: breakers start closed" +
                  (f", unfinished {', '.join(o.id for o in pending)} are rejected" if pending else "") +
                  (f", the relay finds {unpublished} unpublished outbox row(s)" if unpublished else "") + ".")
        self.transitions += [{"t": self.now, "service": s, "from": state, "to": CLOSED} for s, state in changed]
        for order in pending:
            self.reject(order, "OrderService restarted")
        self.relay.start()
        self.show()


class NotificationService(Node):
    """Tells the customer of each OrderCreated and acks it; with ``dedupe`` it skips the orders it has handled
    (Richardson's idempotent consumer: the handled ids are kept durably, beside the effect)."""

    group = "service"

    def __init__(self, books, dedupe):
        super().__init__("NotificationService")
        self.books, self.dedupe, self.handled = books, dedupe, set()

    def on_start(self):
        self.set_state(sent=sum(self.books.notified.values()))

    def on_message(self, msg):
        order = msg.data["order"]
        if self.dedupe and order in self.handled:
            self.note_once("dedupe", f"OrderCreated for {order} again: already handled, so acknowledged and skipped.")
        else:
            self.handled.add(order)
            self.books.notify(order)
            self.on_start()
        ack(self, msg, "ack")


class Queue(Broker):
    """A durable queue: confirms each publish (Enqueued) and delivers it to NotificationService until acked."""

    def __init__(self, books, timeout):
        super().__init__("Queue", redelivery=RetryPolicy(timeout, timeout, REDELIVERIES, factor=1),
                         dead_letter_after=REDELIVERIES, confirm="Enqueued", ack_label="ack")
        self.books = books
        self.subscribe("OrderCreated", "NotificationService")

    def publish(self, topic, data):
        self.books.enqueued.add(data["order"])
        super().publish(topic, data)


class Client(Node):
    """Sends a stream of orders, each with its own HTTP timeout."""

    group = "client"

    def __init__(self, params):
        super().__init__("Client")
        self.count, self.items, self.interval, self.timeout = (
            params["orders"], params["items"], params["interval_ms"], params["timeout_ms"])
        self.waiting, self.sent_at, self.latencies = {}, {}, []
        self.outcomes = {"confirmed": 0, "rejected": 0, "timed_out": 0}

    def on_start(self):
        self.set_state(**self.outcomes)
        for i in range(self.count):
            self.set_timer(i * self.interval, "new order", f"O{i + 1}")

    def on_timer(self, label, order):
        if label == "new order":
            self.sent_at[order] = self.now
            self.send("OrderService", "PlaceOrder", {"order": order, "items": self.items})
            self.waiting[order] = self.set_timer(self.timeout, "request timeout", order)
            return
        del self.waiting[order]
        self.note_once("client timeout", f"The Client gives up on {order} after {self.timeout} ms, not knowing "
                       "whether it went through. A caller waiting on a slow callee times out in turn: timeouts "
                       "cascade up the chain.")
        self.outcomes["timed_out"] += 1
        self.set_state(**self.outcomes)

    def on_message(self, msg):
        timer = self.waiting.pop(msg.data["order"], None)
        if timer is None:
            return
        timer.cancel()
        outcome = "confirmed" if msg.label == "OrderConfirmed" else "rejected"
        self.outcomes[outcome] += 1
        if outcome == "confirmed":
            self.latencies.append(self.now - self.sent_at[msg.data["order"]])
        self.set_state(**self.outcomes)


class MicroservicesOrder(Scenario):
    slug = "microservices-order"
    version = 2  # down_mode, dedupe, the lost-event invariant; the kit's broker, relay and breaker band
    title = "Microservice order flow"
    summary_text = "An order service calls four services over HTTP, behind circuit breakers, then emits an event."
    teaches = ("How one slow dependency turns into cascading timeouts, how a circuit breaker fails fast instead "
               "(and opens sooner on a service that refuses than on one that hangs), why a failed order must release "
               "what it reserved, why an outbox keeps events from vanishing, and why at-least-once delivery needs a "
               "consumer that deduplicates.")
    problem = (
        "A Client sends a stream of orders to OrderService, which calls UserService (validate the user), "
        "ProductService (price), InventoryService (reserve the items) and PaymentService (charge) one after the "
        "other over HTTP, each call with a client timeout. It then commits the order and publishes OrderCreated "
        "through a Queue to NotificationService. Each dependency sits behind a circuit breaker. A dependency that "
        "is down either refuses the connection at once or hangs until the caller's timeout. When a step fails "
        "the order is rejected and, with compensation on, what was reserved or maybe charged is released or "
        "refunded. With the outbox on, OrderCreated is written in the same transaction as the order and a relay "
        "publishes it; without it, OrderService publishes right after the commit. The Queue delivers at least once; "
        "with dedupe on, NotificationService skips an event it has already handled.")
    theory = (
        "A timeout only bounds waiting; it does not say whether the call took effect. Callers upstream wait at "
        "least as long, so a slow dependency makes every caller time out in turn. A circuit breaker counts "
        "consecutive failures; after breaker_threshold it opens and fails every call at once without sending "
        "anything, after open_timeout it half-opens and lets one trial call through, and a success closes it. "
        "Stock is conserved (available + reserved + sold = initial) only if every rejected order releases its "
        "reservation. A call to a service that refuses fails within a round trip, one to a service that hangs "
        "only at the caller's timeout, so the breaker opens a round trip, or a whole timeout, after its "
        "breaker_threshold-th failing call leaves. Committing "
        "a row and publishing a message are two actions a crash can separate; writing the event to an outbox "
        "table in the same transaction and relaying it at least once closes the gap, and at-least-once delivery "
        "needs a consumer that deduplicates.")
    source = ("Michael Nygard, 'Release It!' (Pragmatic Bookshelf, 2007; 2nd ed. 2018), Stability Patterns: "
              "Circuit Breaker, Timeouts, Integration Points (a refused connection fails fast, a hung one ties the "
              "caller up until its timeout); Martin Fowler, 'CircuitBreaker' (martinfowler.com, 2014); Chris "
              "Richardson, 'Pattern: Transactional outbox', 'Pattern: Idempotent Consumer' and 'Pattern: Saga', "
              "microservices.io.")
    tick = "one millisecond"
    params = (
        Param("orders", "int", 5, "orders in the stream", 1, 50),
        Param("items", "int", 2, "units of stock each order reserves", 1, 10),
        Param("latency_ms", "int", 10, "one-way latency of every hop", 1, 500),
        Param("timeout_ms", "int", 200, "HTTP client timeout of every call (the Client's too)", 10, 10_000),
        Param("breaker_threshold", "int", 3, "consecutive failures that open a breaker", 1, 20),
        Param("open_timeout", "int", 1000, "ms an open breaker waits before letting one trial call through",
              10, 60_000),
        Param("compensation", "bool", True, "release the reservation (and refund a maybe-charged payment) of a "
              "rejected order"),
        Param("outbox", "bool", True, "write OrderCreated to an outbox table in the order's transaction"),
        Param("dedupe", "bool", True, "NotificationService skips an OrderCreated it has already handled "
              "(an idempotent consumer)"),
        Param("stock", "int", 20, "initial units in stock", 0, 1000),
        Param("interval_ms", "int", 100, "ms between two orders of the stream", 1, 5000),
        Param("slow_service", "choice", "none", "a dependency whose answers take slow_ms longer",
              choices=("none",) + DEPENDENCIES),
        Param("slow_ms", "int", 500, "extra delay of the slow service's answers", 0, 10_000),
        Param("dead_service", "choice", "none", "a dependency that is down from the start",
              choices=("none",) + DEPENDENCIES),
        Param("dead_until_ms", "int", 1500, "when the dead service comes back", 1, 60_000),
        Param("down_mode", "choice", "hang", "how the dead service is down: hang (nothing answers; a call fails at "
              "its timeout) or refuse (its host resets the connection; a call fails within a round trip)",
              choices=DOWN_MODES),
        Param("lose_payment_response", "bool", False, "the first Paid response is lost (the charge happened)"),
        Param("relay_crash", "bool", False, "OrderService crashes right after committing the first confirmed "
              f"order, before publishing; it is back {RESTART_MS} ms later"),
    )
    bands = {**BANDS, "refusing": {True: ("fault", "refusing")}}
    invariants = (
        Invariant("stock_conserved", "available + reserved + sold = initial stock: nothing held for a rejected order.",
                  Books.stock_leak),
        Invariant("orders_resolved", "Every order ends confirmed or rejected, a rejected one holding no stock and "
                  "no charge."),
        Invariant("open_breaker_sends_nothing", "No call leaves OrderService through an open breaker."),
        Invariant("notified_at_most_once", "The customer is told of each order at most once, however often the "
                  "Queue delivers OrderCreated.", Books.twice),
        Invariant("order_event_not_lost", "Every confirmed order's OrderCreated reaches the Queue: a crash between "
                  "commit and publish must not lose it.", Books.lost_events),
    )

    def nodes(self, params):
        return [("Client", "Client", "client"), ("OrderService", "OrderService", "service"),
                ("UserService", "UserService", "service"), ("ProductService", "ProductService", "service"),
                ("InventoryService", "InventoryService", "service"), ("PaymentService", "PaymentService", "service"),
                ("Queue", "Queue", "broker"), ("NotificationService", "NotificationService", "service")]

    def validate(self, params):
        if params["timeout_ms"] <= 2 * params["latency_ms"]:
            refuse("timeout_ms", "must be longer than a round trip (2 x latency_ms), or every call times out")
        faulty = params["slow_service"] != "none" or params["dead_service"] != "none"
        if faulty and flapping_ms(params) > MAX_FLAPPING_MS:
            refuse("open_timeout", f"with {params['orders']} orders and a faulty service, retrying owed compensations "
                   "through a flapping breaker could run for hours of simulated time: lower open_timeout or orders")

    def world(self, params):
        return Books(params)

    def setup(self, sim, params):
        sim.network.delay = params["latency_ms"]
        books, dead, until = sim.world, params["dead_service"], params["dead_until_ms"]
        hangs, refuses = dead != "none" and params["down_mode"] == "hang", params["down_mode"] == "refuse"
        slow = {params["slow_service"]: params["slow_ms"]}
        services = [Dependency(s, books, slow.get(s, 0), alive=not (hangs and s == dead),
                               refusing=refuses and s == dead) for s in DEPENDENCIES]
        if dead != "none":
            sim.note(f"{dead} is down until t={until}." if hangs else
                     f"{dead} is down until t={until}; its host is up and refuses every connection at once.")
            back = (sim.recover, dead) if hangs else (services[DEPENDENCIES.index(dead)].come_back,)
            sim.schedule(until, *back)
        if params["slow_service"] != "none":
            sim.note(f"{params['slow_service']} is slow: each answer takes {params['slow_ms']} ms more.")
        return [Client(params), OrderService(books, params), *services, Queue(books, params["timeout_ms"]),
                NotificationService(books, params["dedupe"])]

    def finish(self, sim, params):
        sim.world.ended = True
        problems = sim.world.unresolved()
        sim.check("orders_resolved", not problems, problems)  # only at the end: a run in progress has pending orders

    def summary(self, sim, params):
        service, client, books = sim.nodes["OrderService"], sim.nodes["Client"], sim.world
        reserved, sold, leaked = books.stock()
        latencies = client.latencies
        return {
            "confirmed": service.confirmed,
            "rejected": service.rejected,
            "breaker_transitions": service.transitions,
            "stock": {"available": books.available, "reserved": reserved, "sold": sold},
            "stock_leaked": sum(books.holds[o] for o in leaked),
            "charges_leaked": sum(1 for o in books.charges if books.orders[o].status == "rejected"),
            "notifications": sum(books.notified.values()),
            "notified_twice": sorted(books.doubled),
            "events_lost": books.lost_orders(),
            "client_timeouts": client.outcomes["timed_out"],
            "compensations_owed": sum(len(owed) for owed in service.owed.values()),
            "down_call_failed_after_ms": service.failed_after,
            "mean_confirm_ms": round(sum(latencies) / len(latencies), 1) if latencies else None,
            "theory": {
                "happy_path_ms": 10 * params["latency_ms"],
                "slowest_answer_ms": 2 * params["latency_ms"] + len(STEPS) * params["timeout_ms"],
                "client_gives_up_ms": params["timeout_ms"],
                "down_call_fails_after_ms": (2 * params["latency_ms"] if params["down_mode"] == "refuse"
                                             else params["timeout_ms"]),
                "failures_to_open": params["breaker_threshold"],
                "open_for_ms": params["open_timeout"],
                "initial_stock": params["stock"],
            },
        }

    @staticmethod
    def trouble(params):
        """The faulty dependency and what is wrong with it, in words, or ("", "")."""
        if params["dead_service"] != "none":
            how = "refusing connections" if params["down_mode"] == "refuse" else "down"
            return params["dead_service"], f"{how} until t={params['dead_until_ms']}"
        if params["slow_service"] != "none":
            return params["slow_service"], f"{params['slow_ms']} ms slow"
        return "", ""

    def headline(self, sim, params):
        summary, n = sim.summary, params["orders"]
        broken = violation_clause(sim)
        service, what = self.trouble(params)
        confirmed, rejected = summary["confirmed"], summary["rejected"]
        if broken.startswith("stock_conserved"):
            at = f" at {service}" if service else ""
            return (f"Stock leaked: {plural(rejected, 'order')} failed{at} and, without compensation, "
                    f"{summary['stock_leaked']} units stay reserved; {broken}.")
        crashed = params["relay_crash"] and not sim.world.relay_crash
        if broken.startswith("order_event_not_lost") and crashed and not params["outbox"]:
            return ("OrderService crashed right after committing the first order and, with no outbox, its "
                    f"OrderCreated was lost: no notification went out; {broken}.")
        if broken.startswith("notified_at_most_once"):
            return (f"The Queue delivered OrderCreated again and, with dedupe off, NotificationService told "
                    f"{', '.join(summary['notified_twice'])} twice: {summary['notifications']} notifications for "
                    f"{plural(confirmed, 'order')}; {broken}.")
        if broken:
            return f"{confirmed} of {n} orders confirmed and {rejected} rejected, but {broken}."
        if crashed and params["outbox"]:
            return ("OrderService crashed right after committing the first order, yet the outbox relay still "
                    "published OrderCreated and NotificationService told the customer.")
        moves = summary["breaker_transitions"]
        if moves:
            opened = next(m for m in moves if m["to"] == "open")
            closed = [m for m in moves if m["to"] == "closed"]
            end = f"closed at t={closed[-1]['t']}" if closed else "never closed again"
            return (f"{confirmed} of {n} orders confirmed and {rejected} rejected while {opened['service']} was "
                    f"{what or 'failing'}; its breaker opened at t={opened['t']} and {end}.")
        if rejected:
            why = (f" while {service} was {what}" if service else
                   ": a Paid response was lost, so OrderService timed out and refunded the charge"
                   if params["lose_payment_response"] else
                   ": stock ran out" if summary["stock"]["available"] < params["items"] else "")
            return f"{confirmed} of {n} orders confirmed and {rejected} rejected{why}; no breaker opened."
        mean = summary["mean_confirm_ms"]
        return (f"All {n} orders confirmed" + (f" in {mean:g} ms on average" if mean is not None else "")
                + "; every dependency answered and no breaker opened.")

    def known(self, sim, params):
        summary, theory = sim.summary, sim.summary["theory"]
        faults = faulted(sim)
        service, what = self.trouble(params)
        mean = summary["mean_confirm_ms"]
        rows = []
        known = f"{theory['happy_path_ms']} ms = 10 hops × {params['latency_ms']} ms"
        if mean is None:
            rows.append(known_row("time to confirm an order", known, "no order confirmed in time", None,
                                  "every service answers and OrderService stays up; here "
                                  + (faults or (f"{service} was {what}" if service else "OrderService crashed"))))
        elif service or faults:
            rows.append(known_row("time to confirm an order", known, f"{mean:g} ms on average", None,
                                  "every service answers at once; here "
                                  + (faults or f"{service} was {what}")))
        else:
            rows.append(known_row("time to confirm an order", known, f"{mean:g} ms on average",
                                  mean == theory["happy_path_ms"]))
        stock = summary["stock"]
        total = stock["available"] + stock["reserved"] + stock["sold"]
        measured = f"{stock['available']} + {stock['reserved']} + {stock['sold']} = {total}" + (
            f", {summary['stock_leaked']} held by rejected orders" if summary["stock_leaked"] else "")
        rows.append(known_row("stock: available + reserved + sold",
                              f"{theory['initial_stock']}, the initial stock, if every rejected order releases its "
                              f"reservation", measured,
                              total == theory["initial_stock"] if params["compensation"] else None,
                              None if params["compensation"] else
                              "compensation; this run turns it off, so rejected orders keep their stock"))
        failed_after, fails_after = summary["down_call_failed_after_ms"], theory["down_call_fails_after_ms"]
        if failed_after is not None:
            refuses = params["down_mode"] == "refuse"
            rows.append(known_row(
                f"a call to {service} while it is down fails after",
                f"{fails_after} ms: " + (f"a round trip (2 × {params['latency_ms']} ms), since its host refuses the "
                                         "connection" if refuses else "the caller's timeout, since nothing answers"),
                f"{failed_after} ms", failed_after == fails_after if not faults else None,
                None if not faults else f"no other fault; here {faults}"))
        moves = summary["breaker_transitions"]
        if moves:
            gaps = [b["t"] - a["t"] for a, b in zip(moves, moves[1:]) if a["to"] == "open" and b["to"] == "half-open"]
            shown = "; ".join(f"{m['to']} at t={m['t']}" for m in moves[:4]) + ("; ..." if len(moves) > 4 else "")
            rows.append(known_row(
                "circuit breaker",
                f"opens after {theory['failures_to_open']} consecutive failures, lets one trial through "
                f"{theory['open_for_ms']} ms later, closes when it succeeds",
                shown, all(g == theory["open_for_ms"] for g in gaps)))
        return rows
