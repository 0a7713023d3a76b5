"""Payment retries with idempotency keys: retrying is only safe when the server can recognise a retry.

Built on the kit: the gateways keep Stripe's idempotency-key store (kit.idempotency), the clients back off with
Brooker's jittered policy (kit.retry), and every hop is a request with a correlation id and a timeout (kit.rpc).
"""
from ..engine import Node
from ..kit.idempotency import DAY_MS as KEY_TTL_MS, KeyStore, Verdict
from ..kit.retry import Backoff, RetryPolicy
from ..kit.rpc import Calls
from ..params import Param
from ..scenario import Invariant, Scenario, known_row, plural, refuse, some, violation_clause

CHARGE_MS = 80  # the card network authorises a charge in this long
HEALTH_MS = 20  # a gateway silent this long after a health check is down
DOUBLE_CLICK_MS = 20
NEXT_PAYMENT_MS = 100
PERIOD_MS = 3000  # one billing period, compressed
RESTART_MS = 500
MAX_TIME = 3 * KEY_TTL_MS  # room for a retry a day later; idle time costs nothing
GATEWAYS = ("Primary", "Fallback")
ERRORS = {"500": "500 Server Error", "503": "503 Unavailable"}
JITTER_TEXT = {"none": "no jitter", "full": "full jitter", "equal": "equal jitter",
               "decorrelated": "decorrelated jitter"}


def charge_tag(attempt, key):
    """One short mark per CHARGE arrow: the attempt number on a retry, else the idempotency key's tail."""
    if attempt and attempt > 1:
        return f"#{attempt}"
    return f"k…{key[-2:]}" if key else None


class Ledger:
    """What the gateways really charged, by logical payment: the world the invariant is checked on."""

    def __init__(self, params):
        self.charges, self.outcomes, self.retry_delays = {}, {}, []
        self.amount = self.attempts = 0
        self.replays = self.replayed_errors = self.conflicts = self.mismatches = self.expired = self.failovers = 0
        self.double_charge = None  # how at_most_once_charge first broke
        self.error = {"kind": params["gateway_error"],
                      "left": params["error_count"] if params["gateway_error"] != "none" else 0}

    def charge(self, payment, amount, gateway, charge):
        times = self.charges[payment] = self.charges.get(payment, 0) + 1
        self.amount += amount
        if times > 1 and self.double_charge is None:
            self.double_charge = f"{payment} charged {times} times: the last by {gateway} as {charge}."
        return times

    def inject(self, kinds):
        """Whether this request gets the injected gateway error, if it is one of ``kinds``."""
        if self.error["left"] > 0 and self.error["kind"] in kinds:
            self.error["left"] -= 1
            return True
        return False


class Gateway(Node):
    """A payment provider with Stripe's idempotency layer. A 503 or a hang refuses the request before it runs,
    so nothing is saved; a 500 fails it after it began, so the 500 is saved under the key and replayed."""

    group = "service"

    def __init__(self, id, alive=True):
        super().__init__(id, label=f"{id} gateway", alive=alive)
        self.keys = KeyStore(KEY_TTL_MS)  # durable: survives a crash
        self.charged = 0

    def on_start(self):
        self.set_state(charges=0, keys=0)

    def on_message(self, msg):
        if msg.label == "HEALTH":
            return self.send(msg.src, "UP")
        data, ledger = msg.data, self.sim.world
        if ledger.inject(("503", "timeout")):
            if ledger.error["kind"] == "timeout":
                return self.note(f"{self.id} hangs on this charge: no answer, nothing charged.")
            return self.send(msg.src, ERRORS["503"], {"fwd": data["fwd"]})
        key = data.get("key")
        if key is not None:
            verdict, entry = self.keys.begin(key, (data["payment"], data["amount"]), self.now)
            if verdict != Verdict.NEW:
                return self.answer_saved(msg, key, verdict, entry)
            if entry.replaced_age is not None:
                ledger.expired += 1
                self.note(f"Key {key} was stored {entry.replaced_age:,} ms ago, over 24 h: it was pruned, so "
                          "this is a new payment.")
            self.set_state(keys=len(self.keys))
        if ledger.inject(("500",)):
            return self.respond(msg.src, key, ERRORS["500"], {"fwd": data["fwd"]})
        self.set_timer(CHARGE_MS, "authorised", {**data, "src": msg.src})

    def answer_saved(self, msg, key, verdict, entry):
        fwd, ledger = {"fwd": msg.data["fwd"]}, self.sim.world
        if verdict == Verdict.MISMATCH:
            ledger.mismatches += 1
            first, amount = entry.fingerprint
            what = first if first != msg.data["payment"] else f"{first} with amount {amount}"
            self.note(f"Key {key} was first used for {what}: other parameters, refused.")
            return self.send(msg.src, "400 Idempotency Error", fwd)
        if verdict == Verdict.IN_FLIGHT:
            ledger.conflicts += 1
            return self.send(msg.src, "409 Conflict", fwd)
        label, body = entry.response
        if label == "200 OK":
            ledger.replays += 1
        else:
            ledger.replayed_errors += 1
            self.note(f"Key {key} holds the {label} of its first request: replayed, not run again.")
        self.send(msg.src, label, {**fwd, **body, "replayed": True})

    def respond(self, dst, key, label, body):
        if key is not None:
            self.keys.finish(key, (label, {k: v for k, v in body.items() if k != "fwd"}))
        self.send(dst, label, body)

    def on_timer(self, label, data):
        payment, amount = data["payment"], data["amount"]
        self.charged += 1
        charge = f"ch_{self.id[0]}{self.charged}"
        times = self.sim.world.charge(payment, amount, self.id, charge)
        self.sim.verify()  # drawn beside the charge that broke it
        if times > 1:
            self.sim.note(f"{payment} is charged again: nothing told {self.id} this request repeats a payment "
                          "already made.")
        self.set_state(charges=self.charged, **({"charged_twice": True} if times > 1 else {}))
        self.respond(data["src"], data.get("key"), "200 OK", {"fwd": data["fwd"], "payment": payment,
                                                                "charge": charge})

    def on_crash(self):
        self.keys.abandon_running()  # the charge in progress is rolled back with its key


class PaymentManager(Node):
    """Routes each charge to the first healthy gateway; a key stays with the gateway that first saw it."""

    label = "Payment manager"
    group = "service"

    def __init__(self, id, params):
        super().__init__(id)
        self.read_timeout = params["timeout_ms"] // 2
        self.lose_response = params["lose_response"]
        self.health = dict.fromkeys(GATEWAYS, "unknown")
        self.pinned = {}  # key -> gateway
        self.calls = Calls(self, field="fwd", timeout_label="read timeout")
        self.queue = []

    def on_start(self):
        self.set_state(**self.health)
        self.broadcast(GATEWAYS, "HEALTH")
        self.probe = self.set_timer(HEALTH_MS, "health check")

    def on_crash(self):
        self.calls.forget()
        self.queue = []

    def on_recover(self):
        for gw in GATEWAYS:
            self.mark(gw, "unknown")
        self.on_start()

    def on_message(self, msg):
        if msg.src in GATEWAYS:
            self.mark(msg.src, "up")
            if msg.label != "UP":
                return self.relay(msg)
            if "unknown" not in self.health.values():
                self.probe.cancel()
                self.flush()
        elif "unknown" in self.health.values():
            self.queue.append(msg)
        else:
            self.route(msg)

    def on_timer(self, label, data):
        if label == "health check":
            for gw in GATEWAYS:
                if self.health[gw] == "unknown":
                    self.mark(gw, "down")
                    self.note(f"{gw} did not answer the health check: new payments go elsewhere.")
            return self.flush()
        call = self.calls.timed_out(label, data)
        if call:
            request = call.context
            self.mark(call.dst, "down")
            stays = f", so key {request['key']} stays with {call.dst}" if request["key"] else ""
            self.note(f"No answer from {call.dst} in {self.read_timeout} ms: the charge may or may not "
                      f"have happened{stays}.")
            self.send(request["client"], "504 Gateway Timeout", {"req": request["req"]})

    def mark(self, gw, health):
        if self.health[gw] != health:
            self.health[gw] = health
            self.set_state(**{gw: health})

    def flush(self):
        queue, self.queue = self.queue, []
        for msg in queue:
            self.route(msg)

    def route(self, msg):
        data = msg.data
        key = data.get("key")
        gw = self.pinned.get(key) or next((g for g in GATEWAYS if self.health[g] == "up"), None)
        if gw is None:
            return self.send(msg.src, ERRORS["503"], {"req": data["req"]})
        if key is not None and key not in self.pinned:
            self.pinned[key] = gw
            if gw != GATEWAYS[0]:
                self.sim.world.failovers += 1
                self.note(f"{GATEWAYS[0]} is down: {data['payment']} fails over to {gw} with key {key}.")
        self.calls.call(gw, "CHARGE", {k: v for k, v in data.items() if k != "req"}, self.read_timeout,
                        context={"client": msg.src, "req": data["req"], "key": key}, tag=msg.tag)

    def relay(self, msg):
        """Pass a gateway's answer back to the client, even one that came after the 504."""
        call = self.calls.answered(msg) or self.calls.late(msg)
        if call is None:
            return
        data = {**msg.data, "req": call.context["req"]}
        del data["fwd"]
        sent = self.send(call.context["client"], msg.label, data)
        if self.lose_response and msg.label == "200 OK" and not data.get("replayed"):
            self.lose_response = False
            self.sim.network.lose(sent)
            self.sim.note(f"The 200 OK for {data['payment']} is lost on its way back: the money is taken, "
                          f"but {call.context['client']} cannot know it.")


class PaymentClient(Node):
    """Charges its payments one after another, retrying with capped exponential backoff and jitter."""

    group = "client"

    def __init__(self, id, params, jobs):
        super().__init__(id)
        self.jobs = jobs
        self.idempotency = params["idempotency"]
        self.policy = RetryPolicy(params["base_ms"], params["cap_ms"], params["max_attempts"], 2, params["jitter"])
        self.timeout, self.amount = params["timeout_ms"], params["amount"]
        self.retry_amount = params["retry_amount"] or params["amount"]
        self.double_submit = params["double_submit"]
        self.late_retry = params["late_retry_ms"]
        self.late = None  # the request id of the late retry
        self.index = 0  # the first payment not yet settled; durable, survives a crash
        self.backoff = Backoff(self.policy)
        self.calls = Calls(self, field="req", timeout_label="client timeout")
        self.retry = None

    @property
    def job(self):
        return self.jobs[self.index] if self.index < len(self.jobs) else (None, None)

    def on_start(self):
        if self.jobs:
            self.begin()

    def begin(self):
        self.backoff = Backoff(self.policy)
        self.set_state(payment=self.job[0], attempt=0, status="charging")
        self.attempt()
        if self.double_submit and self.index == 0:
            self.double_submit = False
            self.set_timer(DOUBLE_CLICK_MS, "double submit")

    def attempt(self, retry=True, job=None):
        payment, key = job or self.job
        self.sim.world.attempts += 1
        tries = self.backoff.attempt() if retry else None
        if retry:
            self.set_state(attempt=tries, status="charging")
        data = {"payment": payment, "amount": self.retry_amount if tries and tries > 1 else self.amount}
        if self.idempotency:
            data["key"] = key
        return self.calls.call("PaymentManager", "CHARGE", data, self.timeout, tag=charge_tag(tries, data.get("key")))

    def on_message(self, msg):
        call = self.calls.answered(msg)
        if msg.data["req"] == self.late:
            return self.late_answer(msg)
        if msg.label == "200 OK":
            if msg.data["payment"] == self.job[0]:
                if msg.data.get("replayed"):
                    self.note(f"Saved response replayed for {msg.data['payment']}: charge {msg.data['charge']}, "
                              "not charged again.")
                self.paid(msg)
            return
        if call is None:
            return  # an answer to a request already given up on
        if msg.label == "400 Idempotency Error":
            return self.settle("rejected")
        if msg.data.get("replayed"):
            self.note(f"The {msg.label} is the saved response under this key: retrying with it cannot succeed.")
            return self.settle("failed")
        if self.calls:
            return self.note(f"{msg.label}: another request for {self.job[0]} is still in flight; wait for it.")
        self.back_off(msg.label)

    def on_timer(self, label, data):
        if self.calls.timed_out(label, data):
            if data == self.late:
                return self.note("The late retry gets no answer.")
            if not self.calls:
                self.back_off(f"No answer in {self.timeout} ms")
        elif label == "double submit":
            if self.calls:
                self.note("The customer clicks Pay again: the same payment is submitted twice.")
                self.attempt(retry=False)
        elif label == "backoff":
            self.retry = None
            self.attempt()
        elif label == "next":
            self.begin()
        elif label == "late retry":
            self.note(f"{self.late_retry:,} ms later, {data[0]} is submitted again, exactly as before.")
            self.late = self.attempt(retry=False, job=data).id

    def late_answer(self, msg):
        if msg.label != "200 OK":
            return self.note(f"The late retry gets {msg.label}.")
        if msg.data.get("replayed"):
            return self.note(f"The late retry gets the saved response {msg.data['charge']}: no new charge.")
        self.note(f"The late retry is charged anew as {msg.data['charge']}.")

    def back_off(self, why):
        if self.backoff.exhausted:
            return self.settle("failed")
        wait = self.backoff.next_delay(self.sim.rng)
        self.sim.world.retry_delays.append(wait)
        self.set_state(status="backoff")
        jitter = JITTER_TEXT[self.policy.jitter]
        self.note(f"{why}: retry {self.backoff.attempts} of {self.job[0]} in {wait} ms ({jitter}).")
        self.retry = self.set_timer(wait, "backoff")

    def paid(self, msg):
        self.settle("paid")

    def settle(self, outcome):
        if self.retry:
            self.retry.cancel()
        self.retry = None
        self.calls.cancel_all()
        self.sim.world.outcomes[self.job[0]] = outcome
        self.set_state(status=outcome)
        if outcome == "failed":
            self.note(f"{self.job[0]} gives up after {self.backoff.attempts} attempts: whether it was charged is "
                      "unknown until someone reconciles with the gateways.")
        if outcome == "paid" and self.index == 0 and self.late_retry:
            self.set_timer(self.late_retry, "late retry", self.job)
        self.index += 1
        if self.index < len(self.jobs):
            self.set_timer(self.gap(), "next")

    def gap(self):
        return NEXT_PAYMENT_MS

    def on_crash(self):
        self.retry = None
        self.calls.forget()

    def on_recover(self):
        if self.index < len(self.jobs):
            key = " with its stored key" if self.idempotency else ""
            self.note(f"{self.id} restarts and resumes {self.job[0]}{key}.")
            self.begin()


class Checkout(PaymentClient):
    """A shop's checkout: one key per order, stored with the order before the first attempt."""


class Scheduler(PaymentClient):
    """Bills a subscription each period; the key is subscription and period, so a re-run reuses it."""

    def __init__(self, id, params, jobs):
        super().__init__(id, params, jobs)
        self.crash_after_charge = params["scheduler_crash"]

    def paid(self, msg):
        if self.crash_after_charge:
            self.crash_after_charge = False
            self.crash_and_restart(RESTART_MS, f"The scheduler crashes after {msg.data['payment']} was charged, "
                                               "before recording it: on restart it runs the period again.")
            return
        self.settle("paid")

    def gap(self):
        return max(1, self.index * PERIOD_MS - self.now)


class PaymentGateway(Scenario):
    slug = "payment-gateway"
    version = 2  # issue #13: the semantics made exact change some traces
    max_time = MAX_TIME
    title = "Payment gateway: retries and idempotency keys"
    summary_text = "A checkout retries charges through primary and fallback gateways without charging twice."
    teaches = ("Why a timeout leaves a payment's outcome unknown, how idempotency keys make retries safe, "
               "and how jittered exponential backoff spreads the retries out.")
    problem = (
        "A Checkout charges orders through a Payment manager, which sends each charge to the Primary gateway, "
        "or to the Fallback gateway when a health check finds the Primary down. Responses get lost, gateways "
        "answer 500 or 503 or hang, customers click Pay twice, and a recurring-billing Scheduler may crash "
        "after a charge but before it records it. Each time the client cannot know whether money moved, so it "
        "retries after a backoff. With idempotency on, every logical payment carries one key (the order, or "
        "subscription and period) and the gateway saves the response under it: a retry with the same key and "
        "parameters gets the saved response, other parameters get 400, a retry while the first is still "
        "running gets 409. A key stays with the gateway that first saw it, since another provider would not "
        "know it.")
    theory = (
        "Without a way to recognise retries, at-least-once delivery plus a non-idempotent charge means some "
        "payments are charged twice; an idempotency key makes the charge idempotent, so a retry is harmless "
        "for as long as the key is kept (24 hours at Stripe: a retry a day later is a new payment). Retries "
        "wait min(cap, base*2^k) before retry k+1 with no jitter; full jitter draws from [0, that], equal "
        "jitter from [half, all of it], decorrelated jitter from [base, 3 * previous wait], capped. Jitter "
        "keeps clients that failed together from retrying together. Stripe saves the first response under a "
        "key whatever it is, a 500 included, and replays it to every retry with that key: the 500 here fails "
        "the charge after it began, so a retry gets the same 500 back; the 503 and the hang refuse the request "
        "before it runs, so nothing is saved and a retry runs afresh. A retry that changes the amount under the "
        "same key is refused with 400.")
    source = ("Stripe, 'Idempotent requests' (docs.stripe.com/api/idempotent_requests: 'Subsequent requests "
              "with the same key return the same result, including 500 errors') and 'Advanced error handling' "
              "(docs.stripe.com/error-low-level); "
              "Marc Brooker, 'Exponential Backoff And Jitter', AWS Architecture Blog, 2015.")
    tick = "one millisecond"
    params = (
        Param("idempotency", "bool", True, "send one idempotency key per logical payment"),
        Param("max_attempts", "int", 4, "attempts per payment, the first included", 1, 10),
        Param("base_ms", "int", 100, "backoff base (ms)", 1, 5000),
        Param("cap_ms", "int", 2000, "backoff cap (ms)", 1, 60000),
        Param("jitter", "choice", "full", "how the wait is randomised", choices=("none", "full", "equal",
                                                                                  "decorrelated")),
        Param("timeout_ms", "int", 1000, "client timeout (ms); the payment manager waits half of it", 200, 10000),
        Param("amount", "int", 2500, "amount of each payment (cents)", 1, 1_000_000),
        Param("retry_amount", "int", 0, "amount a retry sends (cents; 0: the same amount): a changed request "
              "under the same key is refused", 0, 1_000_000),
        Param("payments", "int", 1, "orders the Checkout pays", 1, 20),
        Param("recurring", "bool", False, "the Scheduler bills a subscription instead of the Checkout"),
        Param("periods", "int", 3, "billing periods the Scheduler charges", 1, 12),
        Param("lose_response", "bool", False, "the response to the first successful charge is lost"),
        Param("gateway_error", "choice", "none", "what the first error_count charge attempts get (a 500 is saved "
              "under the key and replayed; a 503 or a hang is not)", choices=("none", "500", "503", "timeout")),
        Param("error_count", "int", 1, "how many charge attempts get the gateway error", 0, 20),
        Param("double_submit", "bool", False, "the first payment is submitted twice, 20 ms apart"),
        Param("primary_down", "bool", False, "the primary gateway is down from the start"),
        Param("scheduler_crash", "bool", False, "the Scheduler crashes after its first charge, before recording it"),
        Param("reuse_key", "bool", False, "bug: every order reuses the first order's key"),
        Param("late_retry_ms", "int", 0, "the first payment is sent again this long after it was paid, with its "
              "key (0: never; keys expire after 86400000)", 0, 2 * KEY_TTL_MS),
    )
    bands = {"charged_twice": {True: ("fail", "charged twice")},
             "status": {"charging": "busy", "backoff": "wait", "paid": "done", "failed": "fail",
                        "rejected": "fail"}}
    invariants = (
        Invariant("at_most_once_charge", "Each logical payment is charged at most once.",
                  lambda ledger: ledger.double_charge, each_step=False),  # verified at each charge
    )

    def nodes(self, params):
        return [("Checkout", "Checkout", "client"), ("PaymentManager", "Payment manager", "service"),
                ("Primary", "Primary gateway", "service"), ("Fallback", "Fallback gateway", "service"),
                ("Scheduler", "Scheduler", "client")]

    def validate(self, params):
        if params["cap_ms"] < params["base_ms"]:
            refuse("cap_ms", "must be at least base_ms")
        if params["reuse_key"] and (params["recurring"] or params["payments"] < 2):
            refuse("reuse_key", "needs the Checkout with at least 2 payments")

    def world(self, params):
        return Ledger(params)

    def setup(self, sim, params):
        sim.network.delay, sim.network.jitter = 3, 2
        orders = [f"order-{i}" for i in range(1, params["payments"] + 1)]
        checkout_jobs = [] if params["recurring"] else [
            (order, "key-order-1" if params["reuse_key"] else f"key-{order}") for order in orders]
        periods = [f"sub-1:period-{k}" for k in range(1, params["periods"] + 1)] if params["recurring"] else []
        return [Checkout("Checkout", params, checkout_jobs), PaymentManager("PaymentManager", params),
                Gateway("Primary", alive=not params["primary_down"]), Gateway("Fallback"),
                Scheduler("Scheduler", params, [(p, p) for p in periods])]

    def summary(self, sim, params):
        ledger = sim.world
        policy = RetryPolicy(params["base_ms"], params["cap_ms"], params["max_attempts"], 2, params["jitter"])
        logical = params["periods"] if params["recurring"] else params["payments"]
        return {
            "charges": sum(ledger.charges.values()),
            "charged_amount": ledger.amount,
            "attempts": ledger.attempts,
            "retry_delays": ledger.retry_delays,
            "charges_by_payment": dict(sorted(ledger.charges.items())),
            "outcomes": ledger.outcomes,
            "replayed": ledger.replays,
            "replayed_errors": ledger.replayed_errors,
            "conflicts": ledger.conflicts,
            "idempotency_errors": ledger.mismatches,
            "expired_keys": ledger.expired,
            "failovers": ledger.failovers,
            "theory": {
                "logical_payments": logical,
                "max_charges": logical,
                "max_amount": logical * params["amount"],
                "delay_bounds": [list(policy.bounds(k)) for k in range(1, params["max_attempts"])],
                "key_ttl_ms": KEY_TTL_MS,
                "gateway_read_timeout_ms": params["timeout_ms"] // 2,
            },
        }

    def headline(self, sim, params):
        summary = sim.summary
        broken = violation_clause(sim)
        outcomes, by_payment = summary["outcomes"], summary["charges_by_payment"]
        twice = [p for p, count in by_payment.items() if count > 1]
        if twice:
            p = some(twice)
            if summary["expired_keys"]:
                why = f"{p} was sent again after its idempotency key had expired"
            elif not params["idempotency"]:
                why = (f"the response to {p}'s charge was lost and the retry had no idempotency key"
                       if params["lose_response"] else
                       f"the Scheduler crashed before recording {p} and billed it again with no idempotency key"
                       if params["scheduler_crash"] else f"{p} was submitted twice with no idempotency key"
                       if params["double_submit"] else f"a retry of {p} had no idempotency key")
            else:
                why = f"a retry of {p} was not recognised as one"
            return f"Charged twice: {why}" + (f"; {broken}." if broken else ".")
        paid = [p for p, o in outcomes.items() if o == "paid"]
        rejected = [p for p, o in outcomes.items() if o == "rejected"]
        failed = [p for p, o in outcomes.items() if o == "failed"]
        if rejected and params["reuse_key"]:
            return (f"{some(rejected)} {'was' if len(rejected) == 1 else 'were'} rejected with 400: "
                    f"{'it' if len(rejected) == 1 else 'they'} reused order-1's idempotency key with other parameters.")
        if rejected:
            taken = " though the first attempt's charge stands" if summary["charges"] else ""
            return (f"{some(rejected)} was refused with 400{taken}: its retry changed the amount to "
                    f"{params['retry_amount']} under the same idempotency key.")
        if failed and summary["replayed_errors"]:
            return (f"{some(failed)} failed for good: the gateway saved its 500 under the idempotency key and "
                    "replayed it to the retry instead of running the charge again.")
        if failed:
            return (f"{some(failed)} gave up after {plural(params['max_attempts'], 'attempt')}: whether money moved "
                    f"is unknown until someone reconciles with the gateways.")
        who = paid[0] if len(paid) == 1 else "Both payments" if len(paid) == 2 else f"All {len(paid)} payments"
        once = "was charged once" if len(paid) == 1 else "were charged once each"
        if summary["replayed"] and params["lose_response"]:
            return (f"{who} {once}: its response was lost, and the retry with the same idempotency key got the "
                    f"saved response.")
        if summary["replayed"]:
            return f"{who} {once}: a repeat carried the same idempotency key and got the saved response."
        if summary["failovers"]:
            return f"{who} {once} through the Fallback gateway, the Primary being down."
        if summary["conflicts"]:
            return f"{who} {once}: the second click got 409 while the first charge was still running."
        delays = summary["retry_delays"]
        if delays:
            errors = params["gateway_error"]
            kind = {"timeout": "timeouts", "500": "500s", "503": "503s"}.get(errors, "errors")
            jitter = "no jitter" if params["jitter"] == "none" else f"{params['jitter']} jitter"
            return (f"{who} {once} after {plural(len(delays), 'retry', 'retries')} on {kind}, waiting "
                    f"{some(delays, 4)} ms ({jitter}).")
        return f"{who} {once}, each on the first attempt." if len(paid) > 1 else f"{who} {once}, on the first attempt."

    def known(self, sim, params):
        summary, theory = sim.summary, sim.summary["theory"]
        logical = theory["logical_payments"]
        most = max(summary["charges_by_payment"].values(), default=0)
        if not params["idempotency"]:
            agrees, assumes = None, "an idempotency key on every payment; this run sends none"
        elif params["reuse_key"]:
            agrees, assumes = None, "one key per payment; here every order reuses the first order's key"
        elif summary["expired_keys"]:
            agrees, assumes = None, "a retry while the key is kept (24 hours); here the late retry came after it expired"
        else:
            agrees, assumes = most <= 1, None
        rows = [known_row("charges per payment", "at most 1 with an idempotency key", str(most), agrees, assumes)]
        delays = summary["retry_delays"]
        bounds = theory["delay_bounds"]
        if delays and bounds:
            jitter = params["jitter"]
            how = {"none": "min(cap, base·2^k)", "full": "random between 0 and min(cap, base·2^k)",
                   "equal": "random between half and all of min(cap, base·2^k)",
                   "decorrelated": "random between base and 3 × the previous wait, capped"}[jitter]
            used = bounds[:len(delays)]
            single = logical == 1 and not params["double_submit"] and not params["late_retry_ms"]
            if single and len(delays) <= len(bounds):
                ok = all(lo <= d <= hi for d, (lo, hi) in zip(delays, used))
                known = f"{how}: " + ", ".join(f"{lo}–{hi}" if lo != hi else f"{lo}" for lo, hi in used) + " ms"
            else:
                lo, hi = min(b[0] for b in bounds), max(b[1] for b in bounds)
                ok = all(lo <= d <= hi for d in delays)
                known = f"{how}: between {lo} and {hi} ms"
            rows.append(known_row("waits before the retries", known, ", ".join(map(str, delays)) + " ms", ok))
        return rows
