"""Event-driven services: a transactional outbox and an idempotent consumer keep a projection right.

Built on the kit: the relay is a polling publisher over the outbox table (kit.outbox), the broker delivers in
order, at least once, with publisher confirms (kit.broker), and re-sends wait on a capped exponential policy
(kit.retry). The relay polls every ``poll_ms``; the network delay, its jitter and when notes are written are
parameters, so the lag and a note for a user not yet projected can be set up exactly.
"""
from ..engine import Node
from ..kit.broker import Broker
from ..kit.outbox import Outbox, Relay
from ..kit.retry import RetryPolicy
from ..params import Param
from ..scenario import Invariant, Scenario, faulted, known_row, plural, some, violation_clause, words

CREATE_GAP_MS = 10
DELETE_AFTER_MS = 200
RETRIES = RetryPolicy(initial=100, cap=1000)  # publishers re-send, and the broker redelivers, after 100, 200, 400...
RESTART_MS = 300
CLIENT_TIMEOUT_MS = 150
CLIENT_TRIES = 5
HOPS_OUTBOX = 5  # commit, then READ OUTBOX -> OUTBOX -> broker -> notes service -> notes database
HOPS_DIRECT = 4  # commit -> COMMITTED -> broker -> notes service -> notes database
DELETED = "u1"


def retry_tag(attempt):
    """The arrow tag of a re-sent message: its attempt number, from the second on."""
    return f"#{attempt}" if attempt > 1 else None


class Metrics:
    """Ground truth seen from outside: commit times and how often each event took effect (the run's world)."""

    def __init__(self):
        self.committed = {}  # event id -> commit time
        self.effects = {}  # event id -> times applied
        self.lags = {}  # event id -> ms from commit to the projection update
        self.published = 0
        self.duplicates = self.stale = self.accepted = self.rejected = self.welcomes = 0
        self.applied_twice = None  # how effect_at_most_once first broke

    def took_effect(self, event, now):
        times = self.effects[event["id"]] = self.effects.get(event["id"], 0) + 1
        if times == 1:
            self.lags[event["id"]] = now - self.committed[event["id"]]
        elif self.applied_twice is None:
            self.applied_twice = f"{event['type']} {event['id']} for {event['user']} took effect {times} times."
        return times


class Client(Node):
    """Creates users, writes notes for them a little later, and deletes one user if asked.

    User requests are retried until answered: the user database makes them idempotent.
    """

    group = "client"

    def __init__(self, id, params):
        super().__init__(id)
        self.users, self.notes, self.notes_after = params["users"], params["notes"], params["notes_after_ms"]
        self.delete_user = params["delete_user"] or params["reorder"]
        self.waiting = {}  # (label, user) -> [tries so far, retry timer]
    def on_start(self):
        for i in range(self.users):
            self.set_timer(i * CREATE_GAP_MS, "create", f"u{i + 1}")

    def request(self, label, user):
        waiting = self.waiting.setdefault((label, user), [0, None])
        waiting[0] += 1
        self.send("UserService", label, {"user": user}, tag=retry_tag(waiting[0]))
        if waiting[0] < CLIENT_TRIES:
            waiting[1] = self.set_timer(CLIENT_TIMEOUT_MS, "no answer", (label, user))

    def on_timer(self, label, data):
        if label == "create":
            self.request("CreateUser", data)
        elif label == "delete":
            self.request("DeleteUser", data)
        elif label == "no answer":
            if data in self.waiting:
                self.request(*data)
        elif label == "notes":
            for k in range(1, self.notes + 1):
                self.send("NotesService", "CreateNote", {"user": data, "note": f"{data}-note{k}"})

    def on_message(self, msg):
        if msg.src != "UserService":
            return
        user = msg.data["user"]
        waiting = self.waiting.pop(("CreateUser" if msg.label == "201 Created" else "DeleteUser", user), None)
        if waiting is None:
            return
        if waiting[1]:
            waiting[1].cancel()
        if msg.label == "201 Created":
            if self.notes:
                self.set_timer(self.notes_after, "notes", user)
            if self.delete_user and user == DELETED:
                self.set_timer(DELETE_AFTER_MS, "delete", user)

    def on_crash(self):
        self.waiting = {}


class Publisher(Node):
    """Publishes events to the broker in order, one at a time, re-sending until the broker confirms."""

    def __init__(self, id, label=None):
        super().__init__(id, label=label)
        self.pending = []
        self.timer = None
        self.tries = 0

    def publish(self, event):
        self.pending.append(event)
        if len(self.pending) == 1:
            self.publish_head()

    def publish_head(self):
        event = self.pending[0]
        self.sim.world.published += 1
        self.tries += 1
        self.send("Broker", event["type"], {"event": event}, tag=retry_tag(self.tries))
        self.timer = self.set_timer(RETRIES.delay(self.tries, self.sim.rng), "publish timeout")
        self.set_state(retrying=self.tries > 1)

    def on_timer(self, label, data):
        if label == "publish timeout" and self.pending:
            self.publish_head()

    def confirmed(self, msg):
        """The event the broker just confirmed, or None for a stale confirm."""
        if not self.pending or self.pending[0]["id"] != msg.data["event"]["id"]:
            return None
        self.timer.cancel()
        self.tries = 0
        self.set_state(retrying=False)
        return self.pending.pop(0)

    def next(self):
        if self.pending:
            self.publish_head()

    def on_crash(self):
        self.pending, self.timer, self.tries = [], None, 0
        self.set_state(retrying=False)


class UserService(Publisher):
    """Commits users to its own database; without the outbox it then publishes the event itself."""

    group = "service"

    def __init__(self, id, params):
        super().__init__(id, label="User service")
        self.outbox = params["outbox"]
        self.crash_before_publish = params["crash_before_publish"]

    def on_message(self, msg):
        if msg.label in ("CreateUser", "DeleteUser"):
            op = "create" if msg.label == "CreateUser" else "delete"
            self.send("UserDB", "TX", {"op": op, "user": msg.data["user"], "outbox": self.outbox,
                                       "client": msg.src})
        elif msg.label == "COMMITTED":
            self.committed(msg.data)
        elif msg.label == "ACK" and self.confirmed(msg):
            self.next()

    def committed(self, data):
        event = data["event"]
        self.send(data["client"], "201 Created" if data["op"] == "create" else "200 Deleted", {"user": data["user"]})
        if event is None:
            return
        if self.crash_before_publish:
            self.crash_before_publish = False
            fate = ("the event is safe in the outbox, committed with the user" if self.outbox else
                    "with two separate writes, the event is lost")
            self.crash_and_restart(RESTART_MS, f"The user service crashes after committing {event['user']} and "
                                               f"before publishing {event['type']} {event['id']}: {fate}.")
        elif not self.outbox:
            self.publish(event)


class UserDB(Node):
    """The user service's database: users, and with the outbox an outbox table written in the same transaction."""

    label = "User DB"
    group = "database"

    def __init__(self, id, outbox):
        super().__init__(id)
        self.outbox = outbox
        self.users = {}  # user -> {"version", "active"}
        self.seq = 0

    def on_start(self):
        self.set_state(knows=[], outbox=0)

    def on_message(self, msg):
        if msg.label == "TX":
            self.transaction(msg)
        elif msg.label == "READ OUTBOX":
            for row in self.outbox.unpublished():
                self.send(msg.src, "OUTBOX", {"event": row.event, "row": row.id})
        elif msg.label == "MARK PUBLISHED":
            self.outbox.mark(msg.data["row"])
            self.show()

    def transaction(self, msg):
        data = msg.data
        user, op = data["user"], data["op"]
        row = self.users.get(user)
        event = None
        if (op == "create") != bool(row and row["active"]):
            version = row["version"] + 1 if row else 1
            self.users[user] = {"version": version, "active": op == "create"}
            self.seq += 1
            event = {"id": f"e{self.seq}", "type": "UserCreated" if op == "create" else "UserDeleted",
                     "user": user, "version": version}
            self.sim.world.committed[event["id"]] = self.now
            if data["outbox"]:
                self.outbox.add(event)
            self.show()
        self.send(msg.src, "COMMITTED", {"op": op, "user": user, "event": event, "client": data["client"]})

    def active(self):
        return sorted((u for u, row in self.users.items() if row["active"]), key=lambda u: int(u[1:]))

    def show(self):
        self.set_state(knows=self.active(), outbox=len(self.outbox.unpublished()))


class OutboxRelay(Publisher):
    """A polling publisher: every poll_ms it reads the outbox rows it does not hold yet, publishes them one by one
    and marks each row published only after the broker confirms it."""

    group = "service"

    def __init__(self, id, outbox, params):
        super().__init__(id, label="Outbox relay")
        self.relay = Relay(self, outbox, params["poll_ms"])
        self.relay.poll = lambda: self.send("UserDB", "READ OUTBOX")
        self.crash_after_publish = params["relay_crash_after_publish"] and params["outbox"]

    def on_start(self):
        self.relay.start()

    def on_recover(self):
        self.relay.start()

    def on_timer(self, label, data):
        if not self.relay.on_timer(label):
            super().on_timer(label, data)

    def on_message(self, msg):
        if msg.label == "OUTBOX":
            row = self.relay.outbox.rows[msg.data["row"] - 1]
            if row.id not in self.relay.held:
                self.relay.took(row)
                self.publish(msg.data["event"])
        elif msg.label == "ACK":
            event = self.confirmed(msg)
            if event is None:
                return
            if self.crash_after_publish:
                self.crash_after_publish = False
                self.crash_and_restart(RESTART_MS, f"The relay crashes after the broker confirmed {event['id']}, "
                                                   "before marking its outbox row published: after it restarts, its "
                                                   "next poll publishes the row again.")
                return
            row = next(r for r in self.relay.outbox.rows if r.event["id"] == event["id"])
            self.send("UserDB", "MARK PUBLISHED", {"id": event["id"], "row": row.id})
            self.next()


class EventBroker(Broker):
    """A durable queue delivering in order, at least once; with reorder it holds u1's UserCreated until after its
    UserDeleted, as if it had taken a slower path."""

    def __init__(self, id, params):
        super().__init__(id, redelivery=RETRIES, confirm="ACK", ordered=True, alive=not params["broker_down_ms"])
        self.hold = params["reorder"]
        for topic in ("UserCreated", "UserDeleted"):
            self.subscribe(topic, "NotesService")

    def held(self, delivery):
        event = delivery.data["event"]
        return self.hold and event["type"] == "UserCreated" and event["user"] == DELETED

    def hand_over(self, number, delivery):
        event = delivery.data["event"]
        if self.hold and event["type"] == "UserDeleted" and event["user"] == DELETED:
            self.hold = False
            self.sim.note(f"The broker delivers UserDeleted for {DELETED} before its UserCreated, which took "
                          "a slower path.")
        super().hand_over(number, delivery)

    def on_recover(self):
        self.note("The broker is back; it delivers what it holds and accepts publishes again.")
        super().on_recover()


class NotesService(Node):
    """Consumes user events into its own database and serves notes for the users that projection knows."""

    label = "Notes service"
    group = "service"

    def __init__(self, id, params):
        super().__init__(id)
        self.crash_before_ack = params["consumer_crash_before_ack"]

    def on_message(self, msg):
        if msg.label in ("UserCreated", "UserDeleted"):
            self.send("NotesDB", "APPLY", {"event": msg.data["event"], "delivery": msg.data["delivery"]})
        elif msg.label in ("APPLIED", "DUPLICATE", "STALE"):
            if msg.label == "APPLIED" and self.crash_before_ack:
                self.crash_before_ack = False
                self.crash_and_restart(RESTART_MS, f"The notes service applied {msg.data['id']} and crashes before "
                                                   "acknowledging it: the broker will deliver it again.")
                return
            self.send("Broker", "ACK", {"delivery": msg.data["delivery"]})
        elif msg.label == "CreateNote":
            self.send("NotesDB", "INSERT NOTE", {**msg.data, "client": msg.src})
        elif msg.label in ("NOTE SAVED", "NO SUCH USER"):
            status = "201 Created" if msg.label == "NOTE SAVED" else "404 Unknown user"
            self.send(msg.data["client"], status, {"note": msg.data["note"]})


class NotesDB(Node):
    """The notes database: notes, the users projection and, with dedupe, processed event ids and versions."""

    label = "Notes DB"
    group = "database"

    def __init__(self, id, dedupe):
        super().__init__(id)
        self.dedupe = dedupe
        self.users = {}  # user -> {"version", "active"}; an inactive row is a tombstone
        self.processed = set()
        self.notes = []

    def on_start(self):
        self.set_state(knows=[], notes=0)

    def on_message(self, msg):
        if msg.label == "APPLY":
            event = msg.data["event"]
            self.send(msg.src, self.apply(event), {"id": event["id"], "delivery": msg.data["delivery"]})
        elif msg.label == "INSERT NOTE":
            self.insert_note(msg)

    def apply(self, event):
        user, version = event["user"], event["version"]
        row = self.users.get(user)
        if self.dedupe:
            if event["id"] in self.processed:
                self.sim.world.duplicates += 1
                self.note(f"{event['id']} was already processed: ignored.")
                return "DUPLICATE"
            self.processed.add(event["id"])
            if row and row["version"] >= version:
                self.sim.world.stale += 1
                self.note(f"{event['type']} v{version} for {user} is older than what is known (v{row['version']}, "
                          f"{'active' if row['active'] else 'tombstone'}): ignored.")
                return "STALE"
        if event["type"] == "UserCreated":
            self.users[user] = {"version": version, "active": True}
            self.notes.append((user, "welcome"))
            self.sim.world.welcomes += 1
        elif self.dedupe:
            self.users[user] = {"version": version, "active": False}
        elif self.users.pop(user, None) is None:
            self.note(f"UserDeleted for {user}, a user it never heard of: nothing to delete, nothing remembered.")
        self.took_effect(event)
        return "APPLIED"

    def took_effect(self, event):
        times = self.sim.world.took_effect(event, self.now)
        self.sim.verify()  # drawn beside the second effect
        if times > 1:
            self.sim.note(f"{event['id']} took effect again: {event['user']} now has {times} welcome notes.")
            self.set_state(applied_twice=True)
        self.set_state(knows=self.projection(), notes=len(self.notes))

    def insert_note(self, msg):
        data = msg.data
        row = self.users.get(data["user"])
        if row and row["active"]:
            self.notes.append((data["user"], data["note"]))
            self.sim.world.accepted += 1
            self.set_state(notes=len(self.notes))
            label = "NOTE SAVED"
        else:
            self.sim.world.rejected += 1
            if self.sim.world.rejected == 1:
                self.sim.note(f"A note for {data['user']} is refused: the projection does not know "
                              f"{data['user']}, at least not yet.")
            label = "NO SUCH USER"
        self.send(msg.src, label, {"note": data["note"], "client": data["client"]})

    def projection(self):
        return sorted((u for u, row in self.users.items() if row["active"]), key=lambda u: int(u[1:]))


class EventDrivenNotes(Scenario):
    slug = "event-driven-notes"
    version = 2  # issue #13: the semantics made exact change some traces
    title = "Event-driven users and notes"
    summary_text = "A notes service keeps a projection of users from events: outbox, relay, broker, dedupe."
    teaches = ("Why writing to a database and publishing an event are two writes that can split, how the "
               "transactional outbox joins them, and why at-least-once delivery needs an idempotent consumer.")
    problem = (
        "A User service and a Notes service each own a database and talk only through a message broker. "
        "Creating a user commits it to the User DB; the Notes service learns of it from a UserCreated event, "
        "keeps a local projection of users and accepts notes only for users it knows. Without the outbox the "
        "User service commits and then publishes, two writes a crash can split. With it, the event is an "
        "outbox row committed in the same transaction, and a relay polling the table every poll_ms publishes "
        "it, marking the row only once the broker confirms. The broker delivers each event until it is "
        "acknowledged; the consumer may crash before acknowledging, the relay may crash after publishing, events "
        "may arrive out of order and the broker may be down.")
    theory = (
        "With the outbox every committed change is published at least once, so the projection converges to "
        "the active users once the system is quiet: eventual consistency, after a lag of up to one poll "
        "period plus five network hops (the poll's query and answer, publish, delivery, apply), plus any "
        "broker downtime. At-least-once means duplicates: an idempotent consumer records each "
        "processed event id in the same transaction as its effect and skips ids it has seen, and a per-user "
        "version (with a tombstone for deleted users) makes a late UserCreated harmless. Exactly-once "
        "delivery is not on offer; exactly-once effect is.")
    source = ("Chris Richardson, 'Pattern: Transactional outbox', 'Pattern: Polling publisher' and 'Pattern: "
              "Idempotent Consumer', microservices.io; Richardson, 'Microservices Patterns' (Manning, 2018), ch. 3.")
    tick = "one millisecond"
    params = (
        Param("users", "int", 3, "users the client creates", 1, 20),
        Param("outbox", "bool", True, "commit an outbox row with each change; a relay publishes it"),
        Param("dedupe", "bool", True, "the consumer skips processed event ids and stale versions"),
        Param("delete_user", "bool", False, "user u1 is deleted 200 ms after it was created"),
        Param("notes", "int", 1, "notes the client writes per user, notes_after_ms after creating it", 0, 5),
        Param("notes_after_ms", "int", 100, "the client writes a user's notes this long after it was created (ms)",
              0, 10000),
        Param("poll_ms", "int", 10, "the relay polls the outbox every this many ms", 1, 1000),
        Param("delay_ms", "int", 2, "network delay of every message (ms)", 1, 1000),
        Param("jitter_ms", "int", 1, "extra random delay per message, 0 to this (ms)", 0, 100),
        Param("crash_before_publish", "bool", False, "the user service crashes between its first commit and publish"),
        Param("relay_crash_after_publish", "bool", False,
              "the relay crashes after its first publish is confirmed, before marking the row"),
        Param("consumer_crash_before_ack", "bool", False,
              "the notes service crashes after applying its first event, before acknowledging it"),
        Param("reorder", "bool", False, "u1 is deleted, and its UserDeleted is delivered before its UserCreated"),
        Param("broker_down_ms", "int", 0, "the broker is down from the start for this long (ms)", 0, 10000),
    )
    bands = {"applied_twice": {True: ("fail", "applied twice")},
             "retrying": {True: ("wait", "retrying")}, "redelivering": {True: ("wait", "redelivering")}}
    invariants = (
        Invariant("projection_consistent", "At quiescence the notes projection equals the active users."),
        Invariant("effect_at_most_once", "Each event takes effect at most once.",
                  lambda metrics: metrics.applied_twice, each_step=False),  # verified at each effect
    )

    def nodes(self, params):
        return [("Client", "Client", "client"), ("UserService", "User service", "service"),
                ("UserDB", "User DB", "database"), ("Relay", "Outbox relay", "service"),
                ("Broker", "Broker", "broker"), ("NotesService", "Notes service", "service"),
                ("NotesDB", "Notes DB", "database")]

    def world(self, params):
        return Metrics()

    def setup(self, sim, params):
        sim.network.delay, sim.network.jitter = params["delay_ms"], params["jitter_ms"]
        outbox = Outbox()
        if params["broker_down_ms"]:
            sim.schedule(params["broker_down_ms"], sim.recover, "Broker")
        return [Client("Client", params), UserService("UserService", params), UserDB("UserDB", outbox),
                OutboxRelay("Relay", outbox, params), EventBroker("Broker", params),
                NotesService("NotesService", params), NotesDB("NotesDB", params["dedupe"])]

    def finish(self, sim, params):
        active, projection = sim.nodes["UserDB"].active(), sim.nodes["NotesDB"].projection()
        missing = [u for u in active if u not in projection]
        extra = [u for u in projection if u not in active]
        detail = "; ".join(part for part in (
            f"projection misses {', '.join(missing)}" if missing else "",
            f"projection still has deleted {', '.join(extra)}" if extra else "") if part)
        sim.note(f"All quiet. Active users: {', '.join(active) or 'none'}; the notes projection: "
                 f"{', '.join(projection) or 'none'}.")
        sim.check("projection_consistent", not missing and not extra, detail)

    def summary(self, sim, params):
        metrics = sim.world
        hops = HOPS_OUTBOX if params["outbox"] else HOPS_DIRECT
        poll = params["poll_ms"] if params["outbox"] else 0
        active, projection = sim.nodes["UserDB"].active(), sim.nodes["NotesDB"].projection()
        hop = sim.network.delay
        duplicates = params["relay_crash_after_publish"] and params["outbox"] or params["consumer_crash_before_ack"]
        return {
            "users_active": active,
            "projection": projection,
            "consistent": active == projection,
            "lag_ms": max(metrics.lags.values(), default=None),
            "lag_by_event": metrics.lags,
            "duplicates_ignored": metrics.duplicates,
            "stale_ignored": metrics.stale,
            "notes_accepted": metrics.accepted,
            "notes_rejected": metrics.rejected,
            "welcome_notes": metrics.welcomes,
            "events_committed": len(metrics.committed),
            "events_published": metrics.published,
            "redeliveries": sim.nodes["Broker"].redeliveries,
            "effects": dict(metrics.effects),
            "theory": {
                "hops": hops,
                "poll_ms": poll,
                "min_lag_ms": hops * hop,
                "max_lag_ms_without_faults": poll + hops * (hop + sim.network.jitter),
                "broker_down_ms": params["broker_down_ms"],
                "converges": (params["outbox"] or not params["crash_before_publish"]) and (
                    params["dedupe"] or not params["reorder"]),
                "duplicates_expected": duplicates,
                "effects_at_most_once": params["dedupe"] or not duplicates,
            },
        }

    def headline(self, sim, params):
        summary = sim.summary
        broken = violation_clause(sim)
        active, projection = summary["users_active"], summary["projection"]
        twice = [e for e, count in summary["effects"].items() if count > 1]
        if twice:
            why = ("the relay crashed after publishing and published it again" if params["relay_crash_after_publish"]
                   else "the Notes service crashed before its ack and the broker redelivered"
                   if params["consumer_crash_before_ack"] else "it was delivered twice")
            event = "Event" if len(twice) == 1 else "Events"
            return f"{event} {some(twice, 2)} took effect twice: {why}, with no dedupe" + (
                f"; {broken}." if broken else ".")
        missing = [u for u in active if u not in projection]
        extra = [u for u in projection if u not in active]
        if missing:
            why = ("the User service crashed between commit and publish, and with no outbox the event was lost"
                   if params["crash_before_publish"] and not params["outbox"] else
                   faulted(sim, "the fault script", most=1) or "its event never arrived")
            return f"Notes never heard of {some(missing)}: {why}" + (f"; {broken}." if broken else ".")
        if extra:
            return (f"The notes projection still has deleted {words(extra)}: a late UserCreated revived it, as no "
                    f"version was checked" + (f"; {broken}." if broken else "."))
        if broken:
            return f"The projection matches the active users, but {broken}."
        users = plural(len(active), "active user")
        if params["crash_before_publish"] and params["outbox"]:
            return (f"All {users} reached the notes projection: the User service crashed before publishing, but "
                    f"the relay published the event from the outbox.")
        if summary["duplicates_ignored"]:
            return (f"The notes projection matches the {users}: a duplicate event was recognised by its id and "
                    f"skipped.")
        if summary["stale_ignored"]:
            return f"The notes projection matches the {users}: a late, stale event was ignored by its version."
        lag = summary["lag_ms"]
        after = f" after at most {lag} ms of lag" if lag is not None else ""
        return f"The notes projection matches the {users}{after}, each event applied once."

    def known(self, sim, params):
        summary, theory = sim.summary, sim.summary["theory"]
        active, projection = summary["users_active"], summary["projection"]
        faults = faulted(sim)
        missing = [u for u in active if u not in projection]
        extra = [u for u in projection if u not in active]
        measured = ("equals the active users" + (f" ({words(active)})" if active else "") if not missing and not extra
                    else "; ".join(part for part in (f"misses {words(missing)}" if missing else "",
                                                     f"still has deleted {words(extra)}" if extra else "") if part))
        if faults:
            agrees, assumes = None, f"no faults beyond the parameters; {faults}"
        elif theory["converges"]:
            agrees, assumes = active == projection, None
        else:
            agrees = None
            assumes = ("an outbox, or no crash between commit and publish; here the User service crashed there "
                       "with no outbox" if params["crash_before_publish"] and not params["outbox"] else
                       "versions checked by the consumer; here dedupe is off and events arrive out of order")
        rows = [known_row("the notes projection once all is quiet",
                          "equals the active users (eventual consistency)", measured, agrees, assumes)]
        most = max(summary["effects"].values(), default=0)
        rows.append(known_row("effects per event", "at most 1 with an idempotent consumer (exactly-once effect)",
                              str(most), most <= 1 if params["dedupe"] else None,
                              None if params["dedupe"] else "a consumer that skips seen event ids; here dedupe is off"))
        lag, down = summary["lag_ms"], params["broker_down_ms"]
        known = (f"at least {theory['min_lag_ms']} ms = {theory['hops']} hops of {sim.network.delay} ms"
                 + (f", and up to {theory['poll_ms']} ms more waiting for the relay's next poll"
                    if theory["poll_ms"] else "")
                 + (f", and events committed while the broker is down wait up to {down} ms more" if down else "")
                 + "; queueing behind earlier events adds more")
        if lag is None:
            rows.append(known_row("slowest event, from commit to the projection", known,
                                  "no event reached the projection", None,
                                  "events reach the Notes service; none did here"))
        else:
            rows.append(known_row("slowest event, from commit to the projection", known, f"{lag} ms",
                                  lag >= theory["min_lag_ms"]))
        return rows
