"""Single-decree Paxos (Lamport, "Paxos Made Simple", 2001): at most one value is ever chosen, whatever the
proposers and failures do; progress needs one proposer to be left alone long enough."""
import re

from ..engine import Node
from ..params import Param
from ..scenario import Invariant, Scenario, faulted, known_row, plural, refuse, violation_clause, words

PHASE_TIMEOUT = 4  # ticks a proposer waits for a majority in one phase: two round trips
BACKOFF = 8  # a preempted proposer with random backoff waits 1..BACKOFF ticks
MAX_START = 500
START = r"P(\d{1,2})\s*@\s*(\d{1,4})"
SAFETY = "at most one value chosen"


def ballot_text(ballot):
    """A ballot (round, proposer index) as the diagram shows it: "round.index"."""
    return f"{ballot[0]}.{ballot[1]}"


def half(ticks):
    """Ticks as round trips (two message delays each): a whole number when it is one."""
    return ticks // 2 if ticks % 2 == 0 else ticks / 2


def ballot_of(text):
    round_, index = text.split(".")
    return int(round_), int(index)


class Ledger:
    """What an observer outside the system sees: the acceptors' votes, the ballots started and the value chosen."""

    def __init__(self, params):
        self.acceptors = [f"A{i}" for i in range(1, params["acceptors"] + 1)]
        self.proposers = [f"P{i}" for i in range(1, params["proposers"] + 1)]
        self.majority = params["acceptors"] // 2 + 1
        self.backoff, self.max_ballots = params["backoff"], params["max_ballots"]
        self.ballots = 0
        self.chosen = None  # (value, ballot, t) of the first value a majority accepted in one ballot
        self.preemptions = 0
        self.adoptions = []  # (proposer, value) for each phase 2a that took another proposer's accepted value

    def chosen_values(self, sim):
        """Every value a majority of acceptors accepted in one same ballot, read from the acceptors' own votes."""
        votes = {}
        for a in self.acceptors:
            for vote in sim.nodes[a].votes:
                votes[vote] = votes.get(vote, 0) + 1
        return {vote: count for vote, count in votes.items() if count >= self.majority}

    def after_accept(self, sim):
        chosen = self.chosen_values(sim)
        values = sorted({value for _, value in chosen})
        if self.chosen is None and values:
            ballot, value = next(iter(chosen))
            self.chosen = (value, ballot, sim.now)
            voters = [a for a in self.acceptors if (ballot, value) in sim.nodes[a].votes]
            sim.note(f"{value} is chosen: {words(voters)} accepted it in ballot {ballot_text(ballot)}, a majority of "
                     f"{len(self.acceptors)}. No other value can be chosen from now on.")
        sim.check(SAFETY, len(values) <= 1, f"{words(values)} were all chosen, each by a majority in some ballot")


class Acceptor(Node):
    """Promises the highest ballot it has seen and accepts a proposal unless it promised a higher ballot.

    Its promise and its vote are on stable storage: a crash loses neither."""

    def __init__(self, id, ledger):
        super().__init__(id)
        self.ledger = ledger
        self.promised = None  # the highest ballot promised
        self.promisee = None  # who holds that promise
        self.accepted = None  # (ballot, value) of the highest-numbered proposal accepted
        self.votes = set()  # every (ballot, value) this acceptor ever accepted

    def on_start(self):
        self.show()

    def show(self):
        accepted = self.accepted
        phase = None
        if self.promised is not None:
            phase = "accepted" if accepted and accepted[0] == self.promised else "promised"
        self.set_state(phase=phase, promised=ballot_text(self.promised) if self.promised else "-",
                       accepted=f"{accepted[1]} in {ballot_text(accepted[0])}" if accepted else "-")

    def on_message(self, msg):
        ballot = ballot_of(msg.data["ballot"])
        tag = msg.data["ballot"]
        if msg.label == "PREPARE":
            if self.promised is None or ballot > self.promised:
                self.tell_preempted(msg.src, ballot)
                self.promised, self.promisee = ballot, msg.src
                self.show()
                self.promise(msg.src, ballot)
            elif ballot == self.promised:
                self.promise(msg.src, ballot)  # a duplicate PREPARE gets the same answer
            else:
                self.nack(msg.src, ballot)
        elif msg.label == "ACCEPT":
            if self.promised is None or ballot >= self.promised:
                value = msg.data["value"]
                self.promised, self.promisee = ballot, msg.src
                self.accepted = (ballot, value)
                self.votes.add(self.accepted)
                self.show()
                self.send(msg.src, "ACCEPTED", {"ballot": tag, "value": value}, tag=tag)
                self.ledger.after_accept(self.sim)
            else:
                self.nack(msg.src, ballot)

    def promise(self, dst, ballot):
        accepted = self.accepted and {"ballot": ballot_text(self.accepted[0]), "value": self.accepted[1]}
        self.send(dst, "PROMISE", {"ballot": ballot_text(ballot), "accepted": accepted}, tag=ballot_text(ballot))

    def nack(self, dst, ballot):
        self.send(dst, "NACK", {"ballot": ballot_text(ballot), "promised": ballot_text(self.promised)},
                  tag=ballot_text(ballot))

    def tell_preempted(self, src, ballot):
        """Tell the holder of a promise this acceptor has not yet acted on that a higher ballot overrides it,
        as Lamport suggests a proposer be informed so that it abandons its proposal."""
        old = self.promised
        if old is not None and self.promisee != src and not (self.accepted and self.accepted[0] == old):
            self.send(self.promisee, "NACK", {"ballot": ballot_text(old), "promised": ballot_text(ballot)},
                      tag=ballot_text(old))


class Proposer(Node):
    """Runs ballots: PREPARE to every acceptor, ACCEPT once a majority promised, and learns the value once a
    majority answered ACCEPTED. A ballot number is (round, own index), so no two proposers ever share one."""

    def __init__(self, index, ledger, start_at):
        super().__init__(f"P{index}")
        self.index, self.ledger, self.start_at = index, ledger, start_at
        self.value = f"v{index}"
        self.round = 0  # the highest round seen or used, on stable storage so that a ballot is never reused
        self.ballot = None
        self.phase = "idle"
        self.promises = {}
        self.accepts = set()
        self.proposal = None
        self.started = 0
        self.started_at = None  # when the current ballot began
        self.learned = None
        self.learned_at = None
        self.timer = None

    def on_start(self):
        self.set_state(phase="idle", ballot="-", ballots=0, value="-")
        if self.start_at is not None:
            self.set_timer(self.start_at, "start")

    def on_timer(self, label, data):
        if label == "start":
            self.begin()
        elif label == "backoff over" and self.phase == "preempted":
            self.begin()
        elif label == "phase timeout" and data == self.ballot and self.phase in ("preparing", "accepting"):
            self.timer = None
            self.abandon(f"{self.id} heard no majority for ballot {ballot_text(self.ballot)} in time")

    def wait(self, after, label):
        if self.timer:
            self.timer.cancel()
        self.timer = self.set_timer(after, label, self.ballot)

    def begin(self):
        ledger = self.ledger
        if self.learned is not None:
            return
        if self.started >= ledger.max_ballots:
            self.give_up()
            return
        self.round += 1
        self.ballot = (self.round, self.index)
        self.started += 1
        ledger.ballots += 1
        self.promises, self.accepts, self.proposal = {}, set(), None
        self.started_at = self.now
        self.phase = "preparing"
        tag = ballot_text(self.ballot)
        self.set_state(phase="preparing", ballot=tag, ballots=self.started, value="-")
        for a in ledger.acceptors:
            self.send(a, "PREPARE", {"ballot": tag}, tag=tag)
        self.wait(PHASE_TIMEOUT, "phase timeout")

    def on_message(self, msg):
        ballot = ballot_of(msg.data["ballot"])
        if msg.label == "NACK":
            self.round = max(self.round, ballot_of(msg.data["promised"])[0])
            if ballot == self.ballot and self.phase in ("preparing", "accepting"):
                self.ledger.preemptions += 1
                self.abandon(f"{msg.src} promised ballot {msg.data['promised']}")
        elif ballot != self.ballot:
            return
        elif msg.label == "PROMISE" and self.phase == "preparing":
            self.promises[msg.src] = msg.data["accepted"]
            if len(self.promises) == self.ledger.majority:
                self.propose()
        elif msg.label == "ACCEPTED" and self.phase == "accepting":
            self.accepts.add(msg.src)
            if len(self.accepts) == self.ledger.majority:
                self.learn()

    def propose(self):
        """Phase 2a: the value of the highest-numbered proposal any promise reported, else its own."""
        reported = [a for a in self.promises.values() if a]
        tag = ballot_text(self.ballot)
        if reported:
            highest = max(reported, key=lambda a: ballot_of(a["ballot"]))
            self.proposal = highest["value"]
            if self.proposal != self.value:
                self.ledger.adoptions.append((self.id, self.proposal))
                self.note(f"Of the promises from {words(sorted(self.promises))}, the highest-numbered accepted "
                          f"proposal is {self.proposal} in ballot {highest['ballot']}, so {self.id} must propose "
                          f"{self.proposal}, not its own {self.value}.")
        else:
            self.proposal = self.value
        self.phase = "accepting"
        self.set_state(phase="accepting", value=self.proposal)
        for a in self.ledger.acceptors:
            self.send(a, "ACCEPT", {"ballot": tag, "value": self.proposal}, tag=tag)
        self.wait(PHASE_TIMEOUT, "phase timeout")

    def learn(self):
        self.learned, self.learned_at = self.proposal, self.now
        self.phase = "chosen"
        if self.timer:
            self.timer.cancel()
            self.timer = None
        self.set_state(phase="chosen", value=self.learned)

    def abandon(self, why):
        """Drop the current ballot and start a higher one, at once or after a random wait; narrate the first."""
        if self.timer:
            self.timer.cancel()
            self.timer = None
        self.phase = "preempted"
        self.set_state(phase="preempted")
        if self.started >= self.ledger.max_ballots:
            self.give_up()
            return
        wait = self.sim.rng.randint(1, BACKOFF) if self.ledger.backoff == "random" else 0
        if self.started == 1:
            then = f"waits {plural(wait, 'tick')} before a higher one" if wait else "starts a higher one at once"
            self.note(f"{why}: {self.id} abandons ballot {ballot_text(self.ballot)} and {then}.")
        if wait:
            self.set_timer(wait, "backoff over")
        else:
            self.begin()

    def give_up(self):
        """Out of ballots: the run stops here, so a livelock ends instead of running forever."""
        self.phase = "gave up"
        self.set_state(phase="gave up")
        self.sim.finish("max_ballots", f"{self.id} has started max_ballots = {self.ledger.max_ballots} ballots "
                                       f"without learning a chosen value, so the run stops.")

    def on_crash(self):
        self.timer = None
        if self.phase in ("preparing", "accepting", "preempted"):
            self.phase = "crashed"

    def on_recover(self):
        if self.learned is None and self.phase == "crashed":
            self.begin()
        elif self.phase == "idle" and self.start_at is not None:
            self.set_timer(max(0, self.start_at - self.now), "start")


class Paxos(Scenario):
    slug = "paxos"
    title = "Paxos (single decree)"
    summary_text = ("Proposers ask a majority of acceptors to promise, then to accept one value: only one is ever "
                    "chosen.")
    teaches = ("Why two majorities always overlap, why a proposer must adopt an accepted value, and how dueling "
               "proposers can livelock.")
    problem = (
        "Proposers P1..Pk want acceptors A1..Am to choose one value; Pi proposes vi. A ballot n = round.i has two "
        "phases. Phase 1: Pi sends PREPARE n; an acceptor that promised nothing higher promises n and answers "
        "PROMISE with the highest-numbered proposal it has accepted, if any. Phase 2: with promises from a "
        "majority, Pi sends ACCEPT (n, v), where v is the value of the highest-numbered proposal those promises "
        "reported, or vi if none did; an acceptor accepts unless it promised a higher ballot, and answers "
        "ACCEPTED. A value is chosen once a majority accepted it in one ballot; Pi learns it from a majority of "
        "ACCEPTED. An acceptor refuses a lower ballot with NACK, and also sends NACK to the holder of a promise it "
        "had not yet acted on when a higher PREPARE overrides it. A NACKed proposer starts a higher ballot at "
        "once, or after a random wait with backoff = random; one that hears no majority within "
        f"{PHASE_TIMEOUT} ticks does the same. Proposers not listed in starts never propose. Promises and votes "
        "survive an acceptor's crash.")
    theory = (
        "Safety: at most one value is ever chosen, with any number of proposers and despite crashes, losses, "
        "delays and duplicates (Lamport's P2), because any two majorities share an acceptor and phase 2a makes "
        "every higher ballot propose the value already chosen. One uncontested proposer needs 2 round trips and "
        "4m messages with m acceptors: m PREPARE, m PROMISE, m ACCEPT and m ACCEPTED. Any majority of acceptors "
        "suffices, so up to (m-1)/2 may crash. Progress is not guaranteed: two proposers can preempt each other "
        "forever (FLP, 1985, says no deterministic asynchronous algorithm avoids this); Paxos makes progress once "
        "one distinguished proposer runs alone, which randomised backoff approximates.")
    source = ("Lamport, 'Paxos Made Simple', ACM SIGACT News 32(4), 2001; Lamport, 'The Part-Time Parliament', "
              "ACM TOCS 16(2), 1998; Fischer, Lynch and Paterson, JACM 32(2), 1985.")
    params = (
        Param("proposers", "int", 2, "number of proposers P1..Pk; Pi proposes the value vi", 1, 3),
        Param("acceptors", "int", 3, "number of acceptors A1..Am; a majority is m/2 + 1, rounded down", 3, 7),
        Param("starts", "text", lambda p: ",".join(f"P{i}@{5 * (i - 1)}" for i in range(1, p["proposers"] + 1)),
              "first ballot of each proposer, proposer@tick (P1@0,P2@5); one not listed never proposes",
              pattern=rf"(?:{START}(?:\s*,\s*{START})*)?", max_length=60),
        Param("backoff", "choice", "none", "what a preempted proposer does: start a higher ballot at once (none) "
              "or after a random wait of 1..8 ticks (random)", choices=("none", "random")),
        Param("max_ballots", "int", 10, "ballots each proposer may start; the run stops when one runs out, so a "
              "livelock ends", 1, 30),
    )
    bands = {"phase": {"preparing": ("busy", "preparing"), "accepting": ("busy", "accepting"),
                       "preempted": ("wait", "preempted"), "chosen": ("done", "chosen"), "gave up": "fail",
                       "promised": ("wait", "promised"), "accepted": ("hold", "accepted")}}
    invariants = (
        Invariant(SAFETY, "No two different values are each accepted by a majority of acceptors in some ballot."),
    )

    def nodes(self, params):
        return [f"P{i}" for i in range(1, params["proposers"] + 1)] + [
            f"A{i}" for i in range(1, params["acceptors"] + 1)]

    @staticmethod
    def starts(params):
        """Proposer index -> the tick it starts its first ballot."""
        return {int(index): int(at) for index, at in re.findall(START, params["starts"])}

    def validate(self, params):
        k, seen = params["proposers"], set()
        for index, at in re.findall(START, params["starts"]):
            index, at = int(index), int(at)
            if not 1 <= index <= k:
                refuse("starts", f"P{index} is not a proposer (P1..P{k})")
            if index in seen:
                refuse("starts", f"P{index} is listed twice")
            if at > MAX_START:
                refuse("starts", f"P{index} starts at {at}; a start must be at most tick {MAX_START}")
            seen.add(index)

    def setup(self, sim, params):
        ledger = Ledger(params)
        starts = self.starts(params)
        return [Proposer(i, ledger, starts.get(i)) for i in range(1, params["proposers"] + 1)] + [
            Acceptor(a, ledger) for a in ledger.acceptors]

    # -- the outcome --------------------------------------------------------
    @staticmethod
    def ledger(sim):
        return sim.nodes["A1"].ledger

    def summary(self, sim, params):
        ledger, m = self.ledger(sim), params["acceptors"]
        proposers = [sim.nodes[p] for p in ledger.proposers]
        acceptors = [sim.nodes[a] for a in ledger.acceptors]
        learners = [p for p in proposers if p.learned is not None]
        first = min(learners, key=lambda p: (p.learned_at, p.index)) if learners else None
        return {
            "chosen": ledger.chosen[0] if ledger.chosen else None,
            "chosen_ballot": ballot_text(ledger.chosen[1]) if ledger.chosen else None,
            "chosen_at": ledger.chosen[2] if ledger.chosen else None,
            "ballots": ledger.ballots,
            "ballots_by_proposer": {p.id: p.started for p in proposers},
            "learned": {p.id: p.learned for p in proposers},
            "accepted": {a.id: {"ballot": ballot_text(a.accepted[0]), "value": a.accepted[1]} if a.accepted else None
                         for a in acceptors},
            "round_trips": half(first.learned_at - first.started_at) if first else None,
            "majority": ledger.majority,
            "theory": {"messages_uncontested": 4 * m, "prepare": m, "promise": m, "accept": m, "accepted": m,
                       "round_trips_uncontested": 2, "majority": ledger.majority,
                       "crashes_tolerated": (m - 1) // 2},
        }

    @staticmethod
    def crashed_acceptors(sim):
        return [n.id for n in sim.nodes.values() if isinstance(n, Acceptor) and not n.alive]

    def headline(self, sim, params):
        s, sent, ledger = sim.summary, sim.network.sent, self.ledger(sim)
        broken = violation_clause(sim)
        if broken:
            return f"Two values were chosen: {broken}."
        started = [p for p, n in s["ballots_by_proposer"].items() if n]
        down = self.crashed_acceptors(sim)
        if not started:
            return "Nobody proposed: starts lists no proposer, so no value is chosen."
        if s["chosen"] is None:
            if params["acceptors"] - len(down) < ledger.majority:
                return (f"No value chosen: {words(down)} {'is' if len(down) == 1 else 'are'} down, and a ballot "
                        f"needs {ledger.majority} of {params['acceptors']} acceptors; {plural(s['ballots'], 'ballot')} "
                        f"failed.")
            if len(started) > 1 and ledger.preemptions:
                return (f"No value chosen after {plural(s['ballots'], 'ballot')}: {words(started)} kept preempting "
                        f"each other (livelock) until the ballot limit stopped the run.")
            return f"No value chosen after {plural(s['ballots'], 'ballot')} and {plural(sent, 'message')}."
        value, ballot, at = s["chosen"], s["chosen_ballot"], s["chosen_at"]
        adopters = sorted({p for p, v in ledger.adoptions if v == value})
        if s["ballots"] == 1:
            extra = f", although {words(down)} {'is' if len(down) == 1 else 'are'} down" if down else ""
            return (f"{started[0]} got {value} chosen in {plural(s['round_trips'] or 0, 'round trip')} and "
                    f"{plural(sent, 'message')}{extra}: a majority of {ledger.majority} acceptors accepted it.")
        adopted = f", and {words(adopters)} then proposed {value} too" if adopters else ""
        if ledger.preemptions:
            how = "; random backoff broke the duel" if params["backoff"] == "random" else ""
            return (f"P{ballot.split('.')[1]}'s ballot {ballot} got {value} chosen at t={at} after "
                    f"{plural(ledger.preemptions, 'preempted ballot')}{how}{adopted}.")
        if adopters:
            return (f"P{ballot.split('.')[1]}'s ballot {ballot} got {value} chosen at t={at}, and {words(adopters)} "
                    f"found it accepted in the PROMISEs and proposed {value} too, so it stayed chosen.")
        return (f"P{ballot.split('.')[1]}'s ballot {ballot} got {value} chosen at t={at}, "
                f"{plural(s['ballots'], 'ballot')} in all.")

    def known(self, sim, params):
        s, m, sent, ledger = sim.summary, params["acceptors"], sim.network.sent, self.ledger(sim)
        labels = s["messages_by_label"]
        ballots = s["ballots"]
        counts = ", ".join(f"{labels.get(label, 0)} {label}" for label in ("PREPARE", "PROMISE", "ACCEPT", "ACCEPTED"))
        nacks = labels.get("NACK", 0)
        measured = f"{sent} in {plural(ballots, 'ballot')} ({counts}{f', {nacks} NACK' if nacks else ''})"
        down = self.down_from_start(sim)
        if down is None:
            down, faults = 0, faulted(sim)
        else:
            faults = ""
        per_ballot = 4 * m - 2 * down
        if down:
            known = (f"4m - 2c = {per_ballot} per ballot with c = {down} down from the start: {m} PREPARE, "
                     f"{m - down} PROMISE, {m} ACCEPT, {m - down} ACCEPTED")
        else:
            known = f"4m = {per_ballot} per ballot: {m} PREPARE, {m} PROMISE, {m} ACCEPT, {m} ACCEPTED"
        timed_out = sum(e["kind"] == "timer" and e["label"] == "phase timeout" for e in sim.trace)
        if faults:
            agrees, assumes = None, f"no failure; {faults}"
        elif nacks or timed_out:
            ended = [plural(n, what) for n, what in ((nacks, "NACK"), (timed_out, "timeout")) if n]
            agrees, assumes = None, f"an uncontested proposer; here {words(ended)} ended ballots"
        elif not ballots:
            agrees, assumes = None, "a proposer that starts; here nobody did"
        else:
            agrees, assumes = sent == per_ballot * ballots, None
        rows = [known_row("messages for one uncontested ballot", known, measured, agrees, assumes)]
        if s["round_trips"] is not None and not nacks and not timed_out:
            rows.append(known_row("round trips for an uncontested proposer to learn the value",
                                  "2 (PREPARE/PROMISE, ACCEPT/ACCEPTED)", f"{s['round_trips']:g}",
                                  s["round_trips"] == 2 if agrees else None, assumes))
        if ledger.adoptions:
            rows.append(known_row("value a later ballot proposes", "the value of the highest-numbered proposal its "
                                  "PROMISEs report, so a chosen value stays chosen (phase 2a)",
                                  words(sorted({f"{p} proposed {v}, not v{p[1:]}" for p, v in ledger.adoptions})),
                                  True))
        chosen = self.chosen_words(sim)
        rows.append(known_row("values chosen", "at most one, whatever proposers, crashes, losses and duplicates "
                                               "do (P2, Lamport 2001)", chosen, SAFETY not in sim.violations))
        down = self.crashed_acceptors(sim)
        if down:
            up = m - len(down)
            ok = s["chosen"] is not None or up < ledger.majority
            rows.append(known_row("acceptors a ballot needs", f"a majority: {ledger.majority} of {m}, so "
                                  f"{(m - 1) // 2} may crash", f"{up} of {m} up at the end; {chosen}",
                                  True if ok else None, None if ok else "enough ballots and no contest"))
        elif ledger.preemptions and len([n for n in s["ballots_by_proposer"].values() if n]) > 1:
            rows.append(known_row("progress with several proposers", "not guaranteed: dueling proposers can "
                                  "preempt each other forever (FLP 1985); one proposer left alone finishes",
                                  f"{chosen} after {plural(ballots, 'ballot')}", True))
        return rows

    @staticmethod
    def down_from_start(sim):
        """How many acceptors the fault script crashed at t=0 for good, when that is all it did; else None."""
        faults = [e["fault"] for e in sim.trace if e["kind"] == "fault"]
        crashed = {f.get("node") for f in faults if f["action"] == "crash" and f.get("at") == 0}
        if all(f["action"] == "crash" and f.get("at") == 0 and f["node"].startswith("A") for f in faults):
            return len(crashed)
        return None

    @staticmethod
    def chosen_words(sim):
        s = sim.summary
        if s["chosen"] is None:
            return "none chosen"
        return f"one: {s['chosen']} (ballot {s['chosen_ballot']}, t={s['chosen_at']})"
