"""Microservice order flow: HTTP calls with client timeouts, a circuit breaker, compensation and an outbox."""
from ..engine import Node
from ..params import Param
from ..scenario import Invariant, Scenario, faulted, known_row, plural, refuse, violation_clause, words

DEPENDENCIES = ("UserService", "ProductService", "InventoryService", "PaymentService")
STEPS = (("UserService", "ValidateUser"), ("ProductService", "GetProduct"),
         ("InventoryService", "Reserve"), ("PaymentService", "Pay"))
UNDO = {"Reserve": ("InventoryService", "Release"), "Pay": ("PaymentService", "Refund")}
PRICE = 25
RESTART_MS = 200  # OrderService is back this long after relay_crash
RELAY_POLL_MS = 5  # the relay notices a new outbox row this long after the commit
REDELIVERIES = 5  # the relay and the queue give up on a message after this many sends
COMPENSATION_ATTEMPTS = 3
SEVERITY = ("closed", "half-open", "open")
MAX_FLAPPING_MS = 3_600_000


def flapping_ms(params):
    """Worst case: every owed compensation spends all its attempts as a failing half-open trial, one per cycle."""
    owed = 2 * params["orders"]
    return owed * COMPENSATION_ATTEMPTS * (params["open_timeout"] + params["timeout_ms"])


class Books:
    """The ground truth the invariants read: the warehouse, the payment provider and the order table."""

    def __init__(self, params):
        self.initial = self.available = params["stock"]
        self.holds = {}  # order -> units held in the warehouse
        self.charges = {}  # order -> amount charged and not refunded
        self.orders = {}  # order -> Order: OrderService's durable table
        self.releasing = set()  # orders whose Release is sent or owed
        self.notified = set()
        self.lose_payment = params["lose_payment_response"]
        self.relay_crash = params["relay_crash"]

    def stock(self, strict=False):
        """(reserved, sold, leaked orders): a hold for a rejected order is leaked unless a release is on its way."""
        reserved = sold = 0
        leaked = []
        for order, units in self.holds.items():
            status = self.orders[order].status
            if status == "confirmed":
                sold += units
            elif status == "pending" or (order in self.releasing and not strict):
                reserved += units
            else:
                leaked.append(order)
        return reserved, sold, leaked

    def audit(self, sim, strict=False):
        reserved, sold, leaked = self.stock(strict)
        if leaked:
            units = sum(self.holds[o] for o in leaked)
            sim.check("stock_conserved", False,
                      f"available {self.available} + reserved {reserved} + sold {sold} = "
                      f"{self.available + reserved + sold}, not {self.initial}: {units} units still held for "
                      f"rejected {', '.join(leaked)}")


class Dependency(Node):
    """A downstream HTTP service: it acts on arrival and answers one hop later (plus slow_ms when slow)."""

    group = "service"

    def __init__(self, id, books, slow_ms):
        super().__init__(id)
        self.books, self.slow_ms = books, slow_ms

    def on_message(self, msg):
        label, extra = self.handle(msg.label, msg.data)
        data = {"order": msg.data["order"], "rid": msg.data["rid"], **extra}
        delay = self.sim.network.delay + self.slow_ms if self.slow_ms else None
        msg_id = self.send(msg.src, label, data, delay)
        if label == "Paid" and self.books.lose_payment:
            self.books.lose_payment = False
            self.sim.network.lose(msg_id)
            self.sim.note(f"PaymentService charged {data['order']}, but its Paid response is lost on the way back.")

    def on_recover(self):
        self.on_start()

    def handle(self, label, data):
        raise NotImplementedError


class UserService(Dependency):
    def handle(self, label, data):
        return "UserOK", {}


class ProductService(Dependency):
    def handle(self, label, data):
        return "Product", {"price": PRICE}


class InventoryService(Dependency):
    def on_start(self):
        self.set_state(available=self.books.available, held=sum(self.books.holds.values()))

    def handle(self, label, data):
        books, order = self.books, data["order"]
        if label == "Release":
            books.available += books.holds.pop(order, 0)
            answer = "Released"
        elif order in books.holds:
            return "Reserved", {}
        elif books.available < data["items"]:
            return "OutOfStock", {}
        else:
            books.available -= data["items"]
            books.holds[order] = data["items"]
            books.audit(self.sim)
            answer = "Reserved"
        self.on_start()
        return answer, {}


class PaymentService(Dependency):
    def on_start(self):
        self.set_state(charged=len(self.books.charges))

    def handle(self, label, data):
        books, order = self.books, data["order"]
        if label == "Refund":
            books.charges.pop(order, None)
            answer = "Refunded"
        else:
            books.charges.setdefault(order, data["amount"])
            answer = "Paid"
        self.on_start()
        return answer, {}


class Breaker:
    """Nygard's circuit breaker around one dependency."""

    __slots__ = ("service", "state", "failures", "trial")

    def __init__(self, service):
        self.service, self.state, self.failures, self.trial = service, "closed", 0, False

    def allows(self):
        return self.state == "closed" or (self.state == "half-open" and not self.trial)


class Call:
    __slots__ = ("order", "service", "label", "timer", "undo")

    def __init__(self, order, service, label, timer, undo):
        self.order, self.service, self.label, self.timer, self.undo = order, service, label, timer, undo


class Order:
    __slots__ = ("id", "items", "step", "status", "attempted", "amount")

    def __init__(self, id, items):
        self.id, self.items, self.step, self.status, self.attempted, self.amount = id, items, 0, "pending", [], 0


class OrderService(Node):
    """Orchestrates one order over HTTP, each call behind a breaker; commits, then publishes OrderCreated."""

    group = "service"

    def __init__(self, books, params):
        super().__init__("OrderService")
        self.books = books
        self.timeout, self.threshold = params["timeout_ms"], params["breaker_threshold"]
        self.open_timeout, self.compensation, self.use_outbox = (
            params["open_timeout"], params["compensation"], params["outbox"])
        self.orders = books.orders
        self.outbox = {}  # durable: order -> [last publish time, publishes]
        self.owed = {s: [] for s in DEPENDENCIES}  # durable: compensations waiting for their breaker
        self.transitions = []
        self.confirmed = self.rejected = self.rid = 0
        self.told_fail_fast = self.told_leak = self.told_late = False
        self.forget()

    def forget(self):
        """What lives in memory only, and is gone after a crash."""
        self.breakers = {s: Breaker(s) for s in DEPENDENCIES}
        self.calls = {}
        self.relay_timer = None

    def on_start(self):
        self.show()

    def show(self):
        worst = max((b.state for b in self.breakers.values()), key=SEVERITY.index)
        state = {"breaker": worst, "confirmed": self.confirmed, "rejected": self.rejected}
        if self.use_outbox:
            state["outbox"] = len(self.outbox)
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
            if self.outbox.pop(data["order"], None):
                if not self.outbox and self.relay_timer:
                    self.relay_timer.cancel()
                    self.relay_timer = None
                self.show()
            return
        call = self.calls.pop(data["rid"], None)
        if call is None:
            if msg.label in ("Paid", "Reserved") and not self.told_late:
                self.told_late = True
                self.note(f"{msg.src} answers {msg.label} for {data['order']} after OrderService gave up: "
                          "the side effect happened all the same.")
            return
        call.timer.cancel()
        self.succeeded(call.service)
        if call.undo:
            return
        order = self.orders[call.order]
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
            if not self.told_fail_fast:
                self.told_fail_fast = True
                self.note(f"The breaker on {service} is {self.breakers[service].state}: {order.id} is rejected at "
                          "once, without a call and without waiting for a timeout.")
            return self.reject(order, f"{service} breaker {self.breakers[service].state}")
        if label in UNDO:
            order.attempted.append(label)

    def confirm(self, order):
        order.status = "confirmed"
        self.confirmed += 1
        if self.use_outbox:
            self.outbox[order.id] = [None, 0]  # written in the same transaction as the status
        if self.books.relay_crash:
            self.books.relay_crash = False
            self.note(f"{order.id} is committed as confirmed; OrderService crashes before publishing OrderCreated "
                      "or answering the Client. " + ("The event waits in the outbox table." if self.use_outbox else
                                                     "Nothing durable records that the event is still owed."))
            self.sim.crash(self.id)
            self.sim.schedule(RESTART_MS, self.sim.recover, self.id)
            return
        if self.use_outbox:
            self.wake_relay()
        else:
            self.send("Queue", "OrderCreated", {"order": order.id})
        self.send("Client", "OrderConfirmed", {"order": order.id})
        self.show()

    def reject(self, order, reason):
        order.status = "rejected"
        self.rejected += 1
        if self.compensation:
            for label in reversed(order.attempted):
                service, undo = UNDO[label]
                if undo == "Release":
                    self.books.releasing.add(order.id)
                self.undo(order.id, service, undo, 1)
        elif order.attempted and not self.told_leak:
            self.told_leak = True
            self.note(f"Compensation is off: {order.id} is rejected but its {' and '.join(order.attempted)} "
                      "stays in place.")
        self.books.audit(self.sim)
        self.send("Client", "OrderRejected", {"order": order.id, "reason": reason})
        self.show()

    # -- calls behind breakers ------------------------------------------------
    def call(self, order, service, label, data, undo=0):
        breaker = self.breakers[service]
        if not breaker.allows():
            return False
        if breaker.state == "half-open":
            breaker.trial = True
        self.check("open_breaker_sends_nothing", breaker.state != "open",
                   f"OrderService called {service} while its breaker was open")
        self.rid += 1
        self.send(service, label, {**data, "rid": self.rid}, tag=f"#{undo}" if undo > 1 else None)
        self.calls[self.rid] = Call(order, service, label, self.set_timer(self.timeout, "call timeout", self.rid),
                                    undo)
        return True

    def undo(self, order, service, label, attempt):
        if not self.call(order, service, label, {"order": order}, attempt):
            self.owed[service].append((order, label, attempt))

    def on_timer(self, label, data):
        if label == "call timeout":
            call = self.calls.pop(data)
            self.failed(call.service)
            if call.undo:
                return self.owe(call)
            return self.reject(self.orders[call.order], f"{call.service} timed out")
        if label == "breaker half-open":
            return self.half_open(data)
        self.relay()

    def owe(self, call):
        if call.undo >= COMPENSATION_ATTEMPTS:
            self.note(f"{call.label} for {call.order} failed {call.undo} times: OrderService gives up, "
                      "a human must reconcile it.")
            return
        self.owed[call.service].append((call.order, call.label, call.undo + 1))

    def pay_debts(self, service):
        owed, self.owed[service] = self.owed[service], []
        for order, label, attempt in owed:
            self.undo(order, service, label, attempt)

    def succeeded(self, service):
        breaker = self.breakers[service]
        if breaker.state == "half-open":
            breaker.trial = False
            self.move(breaker, "closed", "the trial call succeeded")
        if breaker.state == "closed":
            breaker.failures = 0
            if self.owed[service]:
                self.pay_debts(service)

    def failed(self, service):
        breaker = self.breakers[service]
        if breaker.state == "half-open":
            breaker.trial = False
            self.move(breaker, "open", "the trial call failed")
        elif breaker.state == "closed":
            breaker.failures += 1
            if breaker.failures >= self.threshold:
                self.move(breaker, "open", f"{breaker.failures} consecutive failures")

    def half_open(self, service):
        breaker = self.breakers[service]
        if breaker.state == "open":
            self.move(breaker, "half-open", f"{self.open_timeout} ms have passed; the next call is a trial")
            self.pay_debts(service)

    def move(self, breaker, to, why):
        self.transitions.append({"t": self.now, "service": breaker.service, "from": breaker.state, "to": to})
        self.note(f"Breaker on {breaker.service}: {breaker.state} -> {to} ({why}).")
        breaker.state = to
        if to == "open":
            self.set_timer(self.open_timeout, "breaker half-open", breaker.service)
        else:
            breaker.failures = 0
        self.show()

    # -- the outbox relay -----------------------------------------------------
    def wake_relay(self):
        if self.relay_timer:
            self.relay_timer.cancel()
        self.relay_timer = self.set_timer(RELAY_POLL_MS, "relay poll")

    def relay(self):
        """Publish every outbox row not acknowledged within a timeout: at-least-once, so duplicates are possible."""
        self.relay_timer = None
        for order, row in list(self.outbox.items()):
            if row[0] is None or self.now - row[0] >= self.timeout:
                if row[1] == REDELIVERIES:
                    del self.outbox[order]
                    self.note(f"The relay gives up on OrderCreated for {order} after {REDELIVERIES} tries.")
                    continue
                row[0], row[1] = self.now, row[1] + 1
                self.send("Queue", "OrderCreated", {"order": order}, tag=f"#{row[1]}" if row[1] > 1 else None)
        if self.outbox:
            due = min(row[0] for row in self.outbox.values()) + self.timeout
            self.relay_timer = self.set_timer(due - self.now, "relay poll")
        self.show()

    def on_recover(self):
        changed = [b for b in self.breakers.values() if b.state != "closed"]
        self.forget()
        pending = [o for o in self.orders.values() if o.status == "pending"]
        self.note("OrderService restarts: breakers start closed" +
                  (f", unfinished {', '.join(o.id for o in pending)} are rejected" if pending else "") +
                  (f", the relay finds {len(self.outbox)} unpublished outbox row(s)" if self.outbox else "") + ".")
        for breaker in changed:
            self.transitions.append({"t": self.now, "service": breaker.service, "from": breaker.state,
                                     "to": "closed"})
        for order in pending:
            self.reject(order, "OrderService restarted")
        for row in self.outbox.values():
            row[0] = None
        if self.outbox:
            self.wake_relay()
        self.show()


class Queue(Node):
    """A durable queue: acknowledges each publish and delivers it to NotificationService until acked."""

    group = "broker"

    def __init__(self, timeout):
        super().__init__("Queue")
        self.timeout = timeout
        self.unacked = {}  # order -> [deliveries, timer]

    def on_message(self, msg):
        order = msg.data["order"]
        if msg.label == "ack":
            entry = self.unacked.pop(order, None)
            if entry:
                entry[1].cancel()
            return
        self.send(msg.src, "Enqueued", {"order": order})
        if order not in self.unacked:
            self.deliver(order, 1)

    def deliver(self, order, n):
        self.send("NotificationService", "OrderCreated", {"order": order}, tag=f"#{n}" if n > 1 else None)
        self.unacked[order] = [n, self.set_timer(self.timeout, "redeliver", order)]

    def on_timer(self, label, order):
        n = self.unacked[order][0]
        if n == REDELIVERIES:
            del self.unacked[order]
            self.note(f"OrderCreated for {order} unacked after {n} deliveries: dead-lettered.")
        else:
            self.deliver(order, n + 1)

    def on_recover(self):
        for order, entry in list(self.unacked.items()):
            self.deliver(order, entry[0])


class NotificationService(Node):
    group = "service"

    def __init__(self, books):
        super().__init__("NotificationService")
        self.books = books

    def on_start(self):
        self.set_state(sent=len(self.books.notified))

    def on_message(self, msg):
        self.books.notified.add(msg.data["order"])
        self.on_start()
        self.send(msg.src, "ack", {"order": msg.data["order"]})


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
        if not self.outcomes["timed_out"]:
            self.note(f"The Client gives up on {order} after {self.timeout} ms, not knowing whether it went through. "
                      "A caller waiting on a slow callee times out in turn: timeouts cascade up the chain.")
        self.outcomes["timed_out"] += 1
        self.set_state(**self.outcomes)

    def on_message(self, msg):
        order = msg.data["order"]
        timer = self.waiting.pop(order, None)
        if timer is None:
            return
        timer.cancel()
        outcome = "confirmed" if msg.label == "OrderConfirmed" else "rejected"
        self.outcomes[outcome] += 1
        if outcome == "confirmed":
            self.latencies.append(self.now - self.sent_at[order])
        self.set_state(**self.outcomes)


class MicroservicesOrder(Scenario):
    slug = "microservices-order"
    title = "Microservice order flow"
    summary_text = "An order service calls four services over HTTP, behind circuit breakers, then emits an event."
    teaches = ("How one slow dependency turns into cascading timeouts, how a circuit breaker fails fast instead, "
               "why a failed order must release what it reserved, and why an outbox keeps events from vanishing.")
    problem = (
        "A Client sends a stream of orders to OrderService, which calls UserService (validate the user), "
        "ProductService (price), InventoryService (reserve the items) and PaymentService (charge) one after the "
        "other over HTTP, each call with a client timeout. It then commits the order and publishes OrderCreated "
        "through a Queue to NotificationService. Each dependency sits behind a circuit breaker. When a step fails "
        "the order is rejected and, with compensation on, what was reserved or maybe charged is released or "
        "refunded. With the outbox on, OrderCreated is written in the same transaction as the order and a relay "
        "publishes it; without it, OrderService publishes right after the commit.")
    theory = (
        "A timeout only bounds waiting; it does not say whether the call took effect. Callers upstream wait at "
        "least as long, so a slow dependency makes every caller time out in turn. A circuit breaker counts "
        "consecutive failures; after breaker_threshold it opens and fails every call at once without sending "
        "anything, after open_timeout it half-opens and lets one trial call through, and a success closes it. "
        "Stock is conserved (available + reserved + sold = initial) only if every rejected order releases its "
        "reservation. Committing a row and publishing a message are two actions a crash can separate; writing "
        "the event to an outbox table in the same transaction and relaying it at least once closes the gap.")
    source = ("Michael Nygard, 'Release It!' (Pragmatic Bookshelf, 2007; 2nd ed. 2018), Stability Patterns: "
              "Circuit Breaker, Timeouts; Martin Fowler, 'CircuitBreaker' (martinfowler.com, 2014); Chris "
              "Richardson, 'Pattern: Transactional outbox' and 'Pattern: Saga', microservices.io.")
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
        Param("stock", "int", 20, "initial units in stock", 0, 1000),
        Param("interval_ms", "int", 100, "ms between two orders of the stream", 1, 5000),
        Param("slow_service", "choice", "none", "a dependency whose answers take slow_ms longer",
              choices=("none",) + DEPENDENCIES),
        Param("slow_ms", "int", 500, "extra delay of the slow service's answers", 0, 10_000),
        Param("dead_service", "choice", "none", "a dependency that is down from the start",
              choices=("none",) + DEPENDENCIES),
        Param("dead_until_ms", "int", 1500, "when the dead service comes back", 1, 60_000),
        Param("lose_payment_response", "bool", False, "the first Paid response is lost (the charge happened)"),
        Param("relay_crash", "bool", False, "OrderService crashes right after committing the first confirmed "
              f"order, before publishing; it is back {RESTART_MS} ms later"),
    )
    bands = {"breaker": {"open": "fault", "half-open": "wait"}}
    invariants = (
        Invariant("stock_conserved", "available + reserved + sold = initial stock: nothing held for a rejected order."),
        Invariant("orders_resolved", "Every order ends confirmed or rejected, a rejected one holding no stock and "
                  "no charge."),
        Invariant("open_breaker_sends_nothing", "No call leaves OrderService through an open breaker."),
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

    def setup(self, sim, params):
        sim.network.delay = params["latency_ms"]
        books = Books(params)
        slow = {params["slow_service"]: params["slow_ms"]}
        kinds = {"UserService": UserService, "ProductService": ProductService,
                 "InventoryService": InventoryService, "PaymentService": PaymentService}
        nodes = [Client(params), OrderService(books, params)]
        nodes += [kinds[s](s, books, slow.get(s, 0)) for s in DEPENDENCIES]
        nodes += [Queue(params["timeout_ms"]), NotificationService(books)]
        dead = params["dead_service"]
        if dead != "none":
            for node in nodes:
                sim.add(node)
            sim.note(f"{dead} is down until t={params['dead_until_ms']}.")
            sim.crash(dead)
            sim.schedule(params["dead_until_ms"], sim.recover, dead)
        if params["slow_service"] != "none":
            sim.note(f"{params['slow_service']} is slow: each answer takes {params['slow_ms']} ms more.")
        return nodes

    def finish(self, sim, params):
        service = sim.nodes["OrderService"]
        books = service.books
        books.audit(sim, strict=True)
        problems = [f"{o.id} is still pending" for o in books.orders.values() if o.status == "pending"]
        problems += [f"{o.id} was rejected but {what}" for o in books.orders.values() if o.status == "rejected"
                     for what, bad in (("holds stock", o.id in books.holds), ("was charged", o.id in books.charges))
                     if bad]
        sim.check("orders_resolved", not problems, "; ".join(problems[:5]) + (" ..." if len(problems) > 5 else ""))

    def summary(self, sim, params):
        service, client = sim.nodes["OrderService"], sim.nodes["Client"]
        books = service.books
        reserved, sold, leaked = books.stock(strict=True)
        latencies = client.latencies
        return {
            "confirmed": service.confirmed,
            "rejected": service.rejected,
            "breaker_transitions": service.transitions,
            "stock": {"available": books.available, "reserved": reserved, "sold": sold},
            "stock_leaked": sum(books.holds[o] for o in leaked),
            "charges_leaked": sum(1 for o in books.charges if books.orders[o].status == "rejected"),
            "notifications": len(books.notified),
            "client_timeouts": client.outcomes["timed_out"],
            "compensations_owed": sum(len(owed) for owed in service.owed.values()),
            "mean_confirm_ms": round(sum(latencies) / len(latencies), 1) if latencies else None,
            "theory": {
                "happy_path_ms": 10 * params["latency_ms"],
                "slowest_answer_ms": 2 * params["latency_ms"] + len(STEPS) * params["timeout_ms"],
                "client_gives_up_ms": params["timeout_ms"],
                "failures_to_open": params["breaker_threshold"],
                "open_for_ms": params["open_timeout"],
                "initial_stock": params["stock"],
            },
        }

    @staticmethod
    def trouble(params):
        """The faulty dependency and what is wrong with it, in words, or ("", "")."""
        if params["dead_service"] != "none":
            return params["dead_service"], f"down until t={params['dead_until_ms']}"
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
        if broken:
            return f"{confirmed} of {n} orders confirmed and {rejected} rejected, but {broken}."
        if params["relay_crash"]:
            if params["outbox"]:
                return ("OrderService crashed right after committing the first order, yet the outbox relay still "
                        "published OrderCreated and NotificationService told the customer.")
            return ("OrderService crashed right after committing the first order and, with no outbox, its "
                    "OrderCreated was never published: no notification went out.")
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
