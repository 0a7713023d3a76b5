"""Chandy-Lamport distributed snapshots (Chandy and Lamport, 1985): markers on FIFO channels record a global state
that the system could have passed through, money in flight included, without stopping anyone."""
from ..engine import Node
from ..params import Param
from ..scenario import Invariant, Scenario, faulted, known_row, refuse, some, words

LATENCY, JITTER = 1, 4  # a message takes 1 to 5 ticks
MAX_GAP = 3  # ticks between one transfer and the next, drawn from 1..MAX_GAP
CONSERVES = "snapshot conserves money"
CONSISTENT = "consistent cut"


def channel(src, dst):
    return f"{src}->{dst}"


class Ledger:
    """What one run's snapshot recorded, and when each transfer crossed the cut: the scenario's per-run memory."""

    def __init__(self):
        self.after_cut = {}  # TRANSFER id -> True when its sender had recorded before sending it
        self.orphans = []  # (msg id, src, dst, amount) counted as received although sent after the cut
        self.missed = []  # (src, dst, amount) sent before the cut, arriving after the marker on its channel
        self.completed_at = None
        self.total_at_completion = None


class Process(Node):
    """Holds money, sends the transfers it is told to, and takes part in the snapshot.

    On its first marker (or on initiating) it records its balance, sends a MARKER on every outgoing channel
    before anything else, and records every other incoming channel until the marker on it arrives; the
    channel of the first marker is recorded empty."""

    def __init__(self, id, peers, balance, ledger):
        super().__init__(id)
        self.peers = peers
        self.balance = balance
        self.ledger = ledger
        self.recorded = None  # the balance recorded, once it has recorded
        self.awaiting = []  # incoming channels still being recorded, by sender
        self.channels = {}  # sender -> amounts recorded on that channel
        self.received_before_cut = []  # (msg id, src, amount) of transfers received before recording

    def on_start(self):
        self.show()

    def phase(self):
        if self.recorded is None:
            return "idle"
        return "recording" if self.awaiting else "recorded"

    def show(self):
        state = {"balance": self.balance, "snapshot": self.phase()}
        if self.recorded is not None:
            state["recorded"] = self.recorded
            state["markers"] = f"{len(self.peers) - len(self.awaiting)}/{len(self.peers)}"
            caught = [f"{channel(src, self.id)} " + "+".join(f"${a}" for a in amounts)
                      for src, amounts in self.channels.items() if amounts]
            if caught:
                state["in_flight"] = ", ".join(caught)
        self.set_state(**state)

    def transfer(self, dst, amount):
        self.balance -= amount
        msg = self.send(dst, "TRANSFER", {"amount": amount}, tag=f"${amount}")
        self.ledger.after_cut[msg] = self.recorded is not None
        self.show()

    def initiate(self):
        if self.recorded is None:
            self.note(f"{self.id} starts the snapshot: it records {self.balance} and sends a MARKER to everyone.")
            self.record(first=None)

    def record(self, first):
        self.recorded = self.balance
        self.awaiting = [p for p in self.peers if p != first]
        self.channels = {p: [] for p in self.peers}
        self.show()
        for p in self.peers:
            self.send(p, "MARKER")
        ledger = self.ledger
        for msg_id, src, amount in self.received_before_cut:
            if ledger.after_cut.get(msg_id):
                ledger.orphans.append((msg_id, src, self.id, amount))
                self.check(CONSISTENT, False, f"{self.id} recorded a balance that counts ${amount} from {src}, "
                                              f"sent after {src} had recorded")
        self.sim.scenario.after_marker(self.sim)

    def on_message(self, msg):
        if msg.label == "MARKER":
            if self.recorded is None:
                self.note(f"{self.id}'s first MARKER comes from {msg.src}: it records {self.balance}, "
                          f"{channel(msg.src, self.id)} is recorded empty, and it sends its own MARKERs.")
                self.record(first=msg.src)
            elif msg.src in self.awaiting:
                self.awaiting.remove(msg.src)
                self.show()
                self.sim.scenario.after_marker(self.sim)
        elif msg.label == "TRANSFER":
            amount = msg.data["amount"]
            self.balance += amount
            if self.recorded is None:
                self.received_before_cut.append((msg.id, msg.src, amount))
            elif msg.src in self.awaiting:
                self.channels[msg.src].append(amount)
                if self.ledger.after_cut.get(msg.id):
                    self.ledger.orphans.append((msg.id, msg.src, self.id, amount))
                    self.check(CONSISTENT, False, f"{channel(msg.src, self.id)} recorded ${amount} in flight, "
                                                  f"sent after {msg.src} had recorded")
            elif not self.ledger.after_cut.get(msg.id):
                self.ledger.missed.append((msg.src, self.id, amount))
            self.show()


class ChandyLamport(Scenario):
    slug = "chandy-lamport"
    title = "Chandy-Lamport snapshot"
    summary_text = "Processes pass money around while markers record a global state, money in flight included."
    teaches = ("How markers on FIFO channels record a consistent global state without stopping the system, "
               "and why the channels must be FIFO.")
    tick = "one time unit (a message takes 1 to 5)"
    problem = (
        "Processes P1..Pn hold money and keep sending each other TRANSFERs over FIFO channels, one in each "
        "direction between every pair. How much money is there? Nobody can stop the system to count, and a "
        "process that just sent 7 no longer holds it while the receiver does not hold it yet: the 7 is in "
        "flight. Chandy and Lamport's snapshot: an initiator records its balance and sends a MARKER on every "
        "outgoing channel. A process that gets its first MARKER records its balance, records that channel as "
        "empty and sends its own MARKERs before anything else; from then on it records every transfer arriving "
        "on each other incoming channel until the MARKER on that channel arrives. The recorded balances plus "
        "the recorded channels are the snapshot. A transfer moves 1 to balance/5 (never more than the sender holds).")
    theory = (
        "With FIFO channels the recorded global state is consistent: every transfer it counts as received was "
        "sent before its sender recorded, and every transfer sent before and received after the cut is in its "
        "channel's record. It is a state the system could have passed through, so it holds exactly the money in "
        "the system. Each process sends one MARKER on each of its n - 1 outgoing channels: n(n - 1) markers on a "
        "complete graph, whoever initiates and however many initiate at once. Without FIFO a TRANSFER sent after "
        "a MARKER can overtake it and be counted twice.")
    source = ("K. M. Chandy and L. Lamport, 'Distributed Snapshots: Determining Global States of Distributed "
              "Systems', ACM Transactions on Computer Systems 3(1), 1985.")
    params = (
        Param("n", "int", 3, "number of processes, all connected by a channel in each direction", 2, 8),
        Param("balance", "int", 100, "money each process holds at the start", 1, 1000),
        Param("transfers", "int", 8, "TRANSFERs in the whole run (not per process), one every 1 to 3 ticks from "
              "a random process to a random other", 0, 60),
        Param("initiator", "nodes", ["P1"], "who starts the snapshot: P1, or two at once such as P1,P3",
              choices=lambda p: [f"P{i}" for i in range(1, p["n"] + 1)]),
        Param("snapshot_at", "int", 6, "tick at which the initiator(s) start the snapshot", 0, 500),
        Param("fifo", "bool", True, "channels deliver in send order; off: a message may overtake an earlier one"),
    )
    bands = {"snapshot": {"recording": ("busy", "recording"), "recorded": ("done", "recorded")}}
    invariants = (
        Invariant(CONSERVES, "When the snapshot completes, the recorded balances plus the recorded channels "
                             "equal the money in the system."),
        Invariant(CONSISTENT, "Every transfer the snapshot counts as received, by a process or in a channel, "
                              "was sent before its sender recorded."),
    )

    def nodes(self, params):
        return [f"P{i}" for i in range(1, params["n"] + 1)]

    def validate(self, params):
        if not params["initiator"]:
            refuse("initiator", f"name at least one process to start the snapshot (P1..P{params['n']})")

    def setup(self, sim, params):
        sim.network.delay, sim.network.jitter, sim.network.fifo = LATENCY, JITTER, params["fifo"]
        ids = self.nodes(params)
        ledger = Ledger()
        processes = [Process(p, [q for q in ids if q != p], params["balance"], ledger) for p in ids]
        at = 0
        for _ in range(params["transfers"]):
            at += sim.rng.randint(1, MAX_GAP)
            sim.schedule(at, self.transfer, sim, params)
        for p in params["initiator"]:
            sim.schedule(params["snapshot_at"], self.initiate, sim, p)
        return processes

    # -- the run ----------------------------------------------------------------
    @staticmethod
    def processes(sim):
        return list(sim.nodes.values())

    def transfer(self, sim, params):
        """A random live process with money sends part of it to a random other process."""
        able = [p for p in self.processes(sim) if p.alive and p.balance > 0]
        if not able:
            return
        src = sim.rng.choice(able)
        dst = sim.rng.choice(src.peers)
        src.transfer(dst, sim.rng.randint(1, min(src.balance, max(1, params["balance"] // 5))))

    @staticmethod
    def initiate(sim, node_id):
        node = sim.nodes[node_id]
        if node.alive:
            node.initiate()

    def after_marker(self, sim):
        ledger = self.ledger(sim)
        if ledger.completed_at is not None or not all(p.phase() == "recorded" for p in self.processes(sim)):
            return
        ledger.completed_at = sim.now
        ledger.total_at_completion = self.money(sim)
        recorded = self.recorded_total(sim)
        sim.note(f"Every process has a MARKER on every incoming channel: the snapshot is complete and records "
                 f"{recorded}.")
        sim.check(CONSERVES, recorded == ledger.total_at_completion,
                  f"the snapshot records {recorded} while the system holds {ledger.total_at_completion}")

    # -- measuring ----------------------------------------------------------------
    @staticmethod
    def ledger(sim):
        return next(iter(sim.nodes.values())).ledger

    def money(self, sim):
        """The money in the system now: every balance plus every transfer still in flight."""
        flying = sum(m.data["amount"] for m in sim.network.in_flight.values() if m.label == "TRANSFER")
        return sum(p.balance for p in self.processes(sim)) + flying

    def recorded_total(self, sim):
        return sum(p.recorded + sum(map(sum, p.channels.values())) for p in self.processes(sim)
                   if p.recorded is not None)

    def recorded_channels(self, sim):
        return {channel(src, p.id): amounts for p in self.processes(sim) if p.recorded is not None
                for src, amounts in p.channels.items()}

    def summary(self, sim, params):
        n, ledger = params["n"], self.ledger(sim)
        complete = ledger.completed_at is not None
        channels = dict(sorted(self.recorded_channels(sim).items(), key=lambda kv: order(kv[0])))
        recorded = self.recorded_total(sim)
        total = ledger.total_at_completion if complete else self.money(sim)
        return {
            "snapshot": {"processes": {p.id: p.recorded for p in self.processes(sim) if p.recorded is not None},
                         "channels": channels},
            "snapshot_total": recorded,
            "total": total,
            "consistent": complete and recorded == total and not ledger.orphans,
            "complete": complete,
            "completed_at": ledger.completed_at,
            "recorded_in_flight": sum(sum(a) for a in channels.values()),
            "markers": sim.network.by_label.get("MARKER", 0),
            "transfers_sent": sim.network.by_label.get("TRANSFER", 0),
            "theory": {"markers": n * (n - 1), "total": n * params["balance"]},
        }

    # -- the outcome, in words ----------------------------------------------------
    @staticmethod
    def money_lost(sim):
        """Whether a fault took money or a marker out of the system: a drop, a crash or a duplicate."""
        return any(e["kind"] in ("drop", "crash") or e["kind"] == "send" and "dup" in e for e in sim.trace)

    def miscount(self, sim):
        """Why the snapshot counted wrong, in words: the first transfer it counted twice, and the first it missed."""
        ledger = self.ledger(sim)
        twice = [(amount, channel(src, dst)) for _, src, dst, amount in ledger.orphans[:1]]
        missed = [(amount, channel(src, dst)) for src, dst, amount in ledger.missed[:1]]
        if twice and missed:
            return (f"TRANSFER ${twice[0][0]} overtook the MARKER on {twice[0][1]} (counted twice) and "
                    f"${missed[0][0]} fell behind the one on {missed[0][1]} (missed)")
        if twice:
            return f"TRANSFER ${twice[0][0]} overtook the MARKER on {twice[0][1]} and counts twice"
        if missed:
            return f"TRANSFER ${missed[0][0]} fell behind the MARKER on {missed[0][1]} and is not counted"
        return faulted(sim) or "a fault changed the money in the system"

    def headline(self, sim, params):
        s = sim.summary
        who = words(params["initiator"])
        if not s["snapshot"]["processes"]:
            return f"{who} never started the snapshot: {'it was' if len(params['initiator']) == 1 else 'they were'} " \
                   f"down at t={params['snapshot_at']}, so nothing was recorded."
        if s["violations"]:
            cause = self.miscount(sim)
            cause = cause[0].upper() + cause[1:]
            if CONSERVES in s["violations"]:
                return (f"{cause}, so {CONSERVES} is violated: {s['snapshot_total']} recorded, {s['total']} "
                        f"held.")
            if not s["complete"]:
                return f"{cause}, so {CONSISTENT} is violated, and the snapshot never completed."
            return f"{cause}, so {CONSISTENT} is violated although the total, {s['total']}, is right."
        if not s["complete"]:
            missing = [p.id for p in self.processes(sim) if p.phase() != "recorded"]
            cause = faulted(sim) or "a marker never arrived"
            return f"The snapshot never completed: {cause}, so {some(missing)} never got every marker."
        start = f"{who} started the snapshot at t={params['snapshot_at']}"
        if len(params["initiator"]) > 1:
            both = "both" if len(params["initiator"]) == 2 else "all"
            start = f"{who} {both} started at t={params['snapshot_at']}, and their markers made one snapshot"
        flying = s["recorded_in_flight"]
        caught = [ch for ch, amounts in s["snapshot"]["channels"].items() if amounts]
        inflight = f"{flying} of it in flight on {some(caught, 2)}" if flying else "none of it in flight"
        return f"{start}: it records {s['snapshot_total']}, all the money, {inflight}, with {s['markers']} markers."

    def known(self, sim, params):
        s, n = sim.summary, params["n"]
        faults = faulted(sim)
        markers = s["markers"]
        if markers == n * (n - 1):
            agrees, assumes = True, None
        else:
            agrees, assumes = None, f"every process gets a marker and sends its own; here {faults or 'one did not'}"
        rows = [known_row("markers", f"{n * (n - 1)} = n(n - 1): each of the {n} processes sends one MARKER on "
                                     f"each of its {n - 1} outgoing channels", str(markers), agrees, assumes)]
        measured = f"{s['snapshot_total']}, {s['recorded_in_flight']} of it in flight"
        if not s["complete"]:
            agrees, assumes, measured = None, f"every marker arrives; here {faults or 'one did not'}", \
                f"incomplete: {s['snapshot_total']} recorded so far"
        elif not params["fifo"]:
            agrees, assumes = None, "FIFO channels; here fifo is off, so a message may overtake a marker"
        elif self.money_lost(sim):
            agrees, assumes = None, f"reliable channels and processes; here {faults or 'a fault acted'}"
        else:
            agrees, assumes = s["snapshot_total"] == s["total"], None
        rows.append(known_row("money the snapshot records",
                              f"{s['total']} = the money in the system (here n × balance = {n * params['balance']}"
                              f"{'' if s['total'] == n * params['balance'] else ' at the start'})",
                              measured, agrees, assumes))
        return rows


def arrow(send):
    return f"{send['label']} {send['tag']}" if "tag" in send else f"the {send['label']}"


def order(name):
    src, dst = name.split("->")
    return int(src[1:]), int(dst[1:])
