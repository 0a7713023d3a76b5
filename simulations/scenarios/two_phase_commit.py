"""Two-phase commit (Gray 1978; Bernstein, Hadzilacos & Goodman 1987): atomic, but it blocks when the
coordinator fails between the votes and the decision."""
import re

from ..engine import Node
from ..params import Param
from ..scenario import Invariant, Scenario, faulted, known_row, plural, refuse, violation_clause, words

LATENCY = 5  # ms per hop
LOG_TIME = 5  # ms the coordinator takes to force-write its decision record before sending it
VOTE_TIMEOUT = 4 * LATENCY  # ms the coordinator waits for the votes before it aborts
MAX_RESENDS = 3  # times the coordinator re-sends its decision to a participant that has not acknowledged it
VOTE = r"P(\d{1,2})\s*=\s*(yes|no)"
DECIDED = {"commit": "committed", "abort": "aborted"}


class Coordinator(Node):
    """Sends PREPARE, collects the votes, logs COMMIT only if every vote is yes, sends it, collects the ACKs.

    Its decision record survives a crash; the votes it had collected do not. Recovering with no decision
    record, it aborts (nobody can have committed without that record)."""

    def __init__(self, n):
        super().__init__("C", label="C (coordinator)")
        self.participants = [f"P{i}" for i in range(1, n + 1)]
        self.votes = {}
        self.deciding = None  # the outcome being logged
        self.decision = None  # "commit" | "abort" once logged: durable
        self.acked = set()
        self.resends = 0
        self.timer = None
        self.crashed_undecided = []  # times C crashed after sending PREPARE and before its decision was logged

    def on_start(self):
        self.set_state(phase="collecting", decision=None)
        for p in self.participants:
            self.send(p, "PREPARE")
        self.wait(VOTE_TIMEOUT, "vote timeout")

    def wait(self, after, label):
        if self.timer:
            self.timer.cancel()
        self.timer = self.set_timer(after, label)

    def begin_decision(self, outcome):
        if self.deciding or self.decision:
            return
        self.deciding = outcome
        self.set_state(phase="logging")
        self.wait(LOG_TIME, f"{outcome} logged")

    def on_message(self, msg):
        if msg.label == "VOTE":
            if self.deciding or self.decision:
                return
            self.votes[msg.src] = msg.data["vote"]
            if msg.data["vote"] == "no":
                self.note(f"{msg.src} votes no: C must abort.")
                self.begin_decision("abort")
            elif len(self.votes) == len(self.participants):
                self.begin_decision("commit")
        elif msg.label == "ACK":
            self.acked.add(msg.src)
            if self.acked >= set(self.participants) and self.timer:
                self.timer.cancel()
                self.timer = None
        elif msg.label == "DECISION?" and self.decision:
            self.send(msg.src, self.decision.upper(), {"answer": True})

    def on_timer(self, label, data):
        self.timer = None
        if label == "vote timeout":
            missing = [p for p in self.participants if p not in self.votes]
            self.note(f"No vote from {words(missing)} in time: C aborts.")
            self.begin_decision("abort")
        elif label.endswith("logged"):
            self.decision, self.deciding = self.deciding, None
            self.set_state(phase=DECIDED[self.decision], decision=self.decision)
            self.announce(self.participants)
        elif label == "ack timeout" and self.resends < MAX_RESENDS:
            self.resends += 1
            self.announce([p for p in self.participants if p not in self.acked], tag=f"#{self.resends + 1}")

    def announce(self, to, tag=None):
        for p in to:
            self.send(p, self.decision.upper(), tag=tag)
        if to:
            self.wait(4 * LATENCY, "ack timeout")

    def on_crash(self):
        self.timer = None
        if self.decision is None:
            self.crashed_undecided.append(self.now)
            self.votes, self.deciding = {}, None  # collected in memory only

    def on_recover(self):
        if self.decision:
            self.note(f"C recovers with {self.decision.upper()} in its log and sends it again.")
            self.announce([p for p in self.participants if p not in self.acked], tag="#2")
        else:
            self.note("C recovers with no decision in its log, so nobody can have committed: it aborts.")
            self.begin_decision("abort")


class Participant(Node):
    """Votes when PREPARE comes; a yes vote binds it to wait for the decision, asking its peers when it times out."""

    def __init__(self, id, n, vote, decision_timeout, on_timeout):
        super().__init__(id)
        self.peers = [f"P{i}" for i in range(1, n + 1) if f"P{i}" != id]
        self.planned, self.timeout, self.on_timeout = vote, decision_timeout, on_timeout
        self.vote = None  # durable once cast
        self.decision = None  # durable
        self.how = None  # how it decided: "coordinator", "peer", "voted no", "no prepare", "timeout"
        self.answers = {}
        self.timer = None
        self.blocked_since = None

    def on_start(self):
        self.set_state(vote=None, phase="working")
        self.wait("prepare timeout")

    def wait(self, label, after=None):
        if self.timer:
            self.timer.cancel()
        self.timer = self.set_timer(self.timeout if after is None else after, label)

    def on_message(self, msg):
        label = msg.label
        if label == "PREPARE":
            if self.vote is None and self.decision is None:
                self.vote = self.planned
                if self.vote == "yes":
                    self.set_state(vote="yes", phase="prepared")
                    self.wait("decision timeout")
                else:
                    self.set_state(vote="no")
                    self.decide("abort", "voted no")
            self.send("C", "VOTE", {"vote": self.vote or "no"})
        elif label in ("COMMIT", "ABORT"):
            self.decide(label.lower(), "peer" if msg.src != "C" else "coordinator")
            if msg.src == "C":
                self.send("C", "ACK")
        elif label == "DECISION?":
            if self.decision is None and self.vote is None:
                self.decide("abort", "no prepare")  # it has not voted, so it may still abort on its own
            self.send(msg.src, self.decision.upper() if self.decision else "UNCERTAIN", {"answer": True})
        elif label == "UNCERTAIN" and self.decision is None:
            self.answers[msg.src] = "uncertain"
            if len(self.answers) == len(self.peers):
                self.block()

    def on_timer(self, label, data):
        self.timer = None
        if self.decision is not None:
            return
        if label == "prepare timeout" and self.vote is None:
            self.note(f"{self.id} got no PREPARE in time; it has not voted, so it aborts on its own.")
            self.decide("abort", "no prepare")
        elif label == "decision timeout" and self.vote == "yes":
            if self.on_timeout == "abort":
                self.note(f"{self.id} voted yes, heard no decision and aborts on its own.")
                self.decide("abort", "timeout")
            else:
                self.ask()
        elif label == "answer timeout":
            self.block()

    def ask(self, also=()):
        self.answers = {}
        self.set_state(phase="in_doubt")
        for p in [*also, *self.peers]:
            self.send(p, "DECISION?")
        self.wait("answer timeout")

    def block(self):
        if self.state.get("phase") != "blocked":
            self.blocked_since = self.now
            if self.timer:
                self.timer.cancel()
                self.timer = None
            self.note(f"{self.id} voted yes and nobody it can reach knows the decision: it is blocked.")
            self.set_state(phase="blocked")

    def decide(self, outcome, how):
        if self.decision is not None:
            return
        self.decision, self.how = outcome, how
        if self.timer:
            self.timer.cancel()
            self.timer = None
        self.set_state(phase=DECIDED[outcome])
        self.sim.scenario.after_decision(self.sim, self)

    def on_crash(self):
        self.timer = None

    def on_recover(self):
        if self.decision is not None:
            return
        if self.vote is None:
            self.note(f"{self.id} recovers without having voted, so it aborts.")
            self.decide("abort", "no prepare")
        else:
            self.ask(also=("C",))


class TwoPhaseCommit(Scenario):
    slug = "two-phase-commit"
    title = "Two-phase commit"
    summary_text = "A coordinator asks every participant to vote, then tells them all to commit or to abort."
    teaches = "Why 2PC is atomic, what it costs in messages, and why it blocks when the coordinator fails."
    tick = "one millisecond"
    problem = (
        "One transaction touches participants P1..Pn, and either all of them commit it or all abort. The "
        "coordinator C sends PREPARE; each participant votes yes (it can commit, and promises to wait for the "
        "decision) or no (it aborts at once). C force-writes COMMIT to its log if every vote is yes, else ABORT, "
        "and sends the decision; each participant applies it and answers ACK. A participant that voted yes and "
        "hears nothing for decision_timeout asks the others (cooperative termination): one that knows the "
        "decision tells it, one that has not voted aborts and says so, and if all are uncertain it is blocked. "
        f"Each hop takes {LATENCY} ms and C takes {LOG_TIME} ms to log its decision.")
    theory = (
        "2PC is atomic: no participant commits while another aborts. With n participants and no failure it costs "
        "4n messages: n PREPARE, n VOTE, n COMMIT or ABORT and n ACK (3n without the acknowledgements, which "
        "only let C forget the transaction). It is blocking: if the coordinator fails after every participant "
        "voted yes and before any of them learns the decision, no participant may decide, because the decision "
        "may have been either; they wait until the coordinator recovers. Nonblocking commit needs an extra "
        "phase (3PC, Skeen 1981) or a consensus protocol (Paxos Commit, Gray and Lamport 2006).")
    source = ("Gray, 'Notes on Data Base Operating Systems' (1978); Bernstein, Hadzilacos and Goodman, "
              "'Concurrency Control and Recovery in Database Systems' (1987), ch. 7.")
    params = (
        Param("n", "int", 3, "number of participants", 2, 8),
        Param("votes", "text", "", "who votes no (or yes): P2=no, comma-separated; empty: everyone votes yes",
              pattern=rf"(?:{VOTE}(?:\s*,\s*{VOTE})*)?", max_length=80),
        Param("decision_timeout", "int", 40, "ms a participant that voted yes waits for the decision before it "
              "asks the others", 5, 5000),
        Param("on_timeout", "choice", "ask", "what a participant that voted yes does when it times out: ask the "
              "others (2PC) or abort on its own (unsafe)", choices=("ask", "abort")),
    )
    bands = {"phase": {"collecting": ("busy", "collecting"), "logging": ("busy", "logging"),
                       "prepared": ("busy", "prepared"), "in_doubt": ("wait", "in doubt"),
                       "blocked": ("fault", "blocked"), "committed": "done", "aborted": "fail"}}
    invariants = (
        Invariant("atomicity", "No participant commits while another aborts, and none contradicts C's decision."),
        Invariant("no_unilateral_decision", "A participant that voted yes decides only what C decided, learned "
                                            "from C or from a peer: never alone."),
    )

    def nodes(self, params):
        return [("C", "C (coordinator)")] + [f"P{i}" for i in range(1, params["n"] + 1)]

    @staticmethod
    def planned_votes(params):
        votes = {f"P{i}": "yes" for i in range(1, params["n"] + 1)}
        for index, vote in re.findall(VOTE, params["votes"]):
            votes[f"P{int(index)}"] = vote
        return votes

    def validate(self, params):
        seen = set()
        for index, _ in re.findall(VOTE, params["votes"]):
            index = int(index)
            if not 1 <= index <= params["n"]:
                refuse("votes", f"P{index} is not a participant (P1..P{params['n']})")
            if index in seen:
                refuse("votes", f"P{index} votes twice")
            seen.add(index)

    def setup(self, sim, params):
        sim.network.delay = LATENCY
        votes = self.planned_votes(params)
        return [Coordinator(params["n"])] + [
            Participant(p, params["n"], votes[p], params["decision_timeout"], params["on_timeout"]) for p in votes]

    # -- invariants ---------------------------------------------------------
    def participants(self, sim):
        return [node for node in sim.nodes.values() if node.id != "C"]

    def after_decision(self, sim, node):
        if node.vote == "yes":
            sim.check("no_unilateral_decision", node.how in ("coordinator", "peer"),
                      f"{node.id} voted yes and decided {node.decision.upper()} on its own after a timeout")
        self.check_atomicity(sim)

    def check_atomicity(self, sim):
        decided = {p.id: p.decision for p in self.participants(sim) if p.decision}
        c = sim.nodes["C"].decision
        if c:
            decided = {"C": c, **decided}
        commits = [k for k, v in decided.items() if v == "commit"]
        aborts = [k for k, v in decided.items() if v == "abort"]
        sim.check("atomicity", not (commits and aborts),
                  f"{words(commits)} committed while {words(aborts)} aborted")

    def finish(self, sim, params):
        self.check_atomicity(sim)

    # -- the outcome --------------------------------------------------------
    def decisions(self, sim):
        return {n.decision for n in sim.nodes.values() if n.decision}

    def summary(self, sim, params):
        n = params["n"]
        decided = self.decisions(sim)
        parts = self.participants(sim)
        votes = self.planned_votes(params)
        return {
            "decision": decided.pop() if len(decided) == 1 else None,
            "outcomes": {p.id: DECIDED[p.decision] if p.decision else "in_doubt" for p in parts},
            "blocked": any(p.vote == "yes" and p.decision is None for p in parts),
            "theory": {"messages_without_failure": 4 * n, "prepare": n, "vote": n, "commit_or_abort": n,
                       "ack": n, "blocks_if_coordinator_fails_after_votes": all(v == "yes" for v in votes.values())},
        }

    @staticmethod
    def ever_blocked(sim):
        return [n.id for n in sim.nodes.values() if getattr(n, "blocked_since", None) is not None]

    @staticmethod
    def window_crash(sim):
        """When C crashed after sending PREPARE and before logging its decision, if it did."""
        times = [t for t in sim.nodes["C"].crashed_undecided if any(
            e["kind"] == "send" and e["label"] == "PREPARE" for e in sim.trace)]
        return times[0] if times else None

    def headline(self, sim, params):
        s, sent, n = sim.summary, sim.network.sent, params["n"]
        parts = self.participants(sim)
        broken = violation_clause(sim)
        if broken:
            c = sim.nodes["C"].decision
            names = words(s["violations"])
            first = min(sim.violated_at[name] for name in s["violations"])
            return (f"{self.split(s)}, while C decided {c.upper() if c else 'nothing'}: {names} "
                    f"{'is' if len(s['violations']) == 1 else 'are'} violated, first at t={first}.")
        stuck = [p for p, o in s["outcomes"].items() if o == "in_doubt"]
        crash = self.window_crash(sim)
        if s["blocked"]:
            why = f"C crashed at t={crash} after the votes and before deciding" if crash is not None else \
                "no decision reached them"
            return f"{words(stuck)} voted yes and {'is' if len(stuck) == 1 else 'are'} blocked: {why}, and no peer " \
                   f"knows the outcome."
        blocked = self.ever_blocked(sim)
        if blocked:
            back = [e["t"] for e in sim.trace if e["kind"] == "recover" and e["node"] == "C"]
            done = "committed" if s["decision"] == "commit" else "aborted"
            when = f"C recovered at t={back[-1]} and everyone {done}" if back else f"a peer told them; all {done}"
            cause = f": C had crashed at t={crash}, after the votes and before deciding" if crash is not None else ""
            return (f"{words(blocked)} {'was' if len(blocked) == 1 else 'were'} blocked until {when}{cause}; "
                    f"{plural(sent, 'message')}.")
        no = [p.id for p in parts if p.vote == "no"]
        if s["decision"] == "commit":
            return (f"All {n} participants committed in {plural(sent, 'message')}: every vote was yes, "
                    f"4n = {4 * n} without failures.")
        if no:
            return (f"{words(no)} voted no, so all {n} participants aborted in {plural(sent, 'message')}: one no "
                    f"vote aborts everyone.")
        alone = [p.id for p in parts if p.how == "no prepare"]
        if alone:
            return (f"{words(alone)} never voted and aborted on {'its' if len(alone) == 1 else 'their'} own, so "
                    f"the transaction aborted everywhere in {plural(sent, 'message')}.")
        return f"All {n} participants aborted in {plural(sent, 'message')}: C got no vote from some in time."

    @staticmethod
    def split(s):
        by = {}
        for p, o in s["outcomes"].items():
            by.setdefault(o, []).append(p)
        return "; ".join(f"{words(ps)} {o.replace('_', ' ')}" for o, ps in by.items())

    def known(self, sim, params):
        s, n, sent = sim.summary, params["n"], sim.network.sent
        faults = faulted(sim)
        timed_out = any(e["kind"] == "timer" and e["label"] in ("decision timeout", "vote timeout", "prepare timeout")
                        for e in sim.trace)
        known = f"{4 * n} = 4n: {n} PREPARE, {n} VOTE, {n} {(s['decision'] or 'commit or abort').upper()}, {n} ACK"
        if faults:
            agrees, assumes = None, f"no failure; {faults}"
        elif timed_out:
            agrees, assumes = None, (f"no timeout fires before the decision arrives; here decision_timeout = "
                                     f"{params['decision_timeout']} ms ran out first")
        else:
            agrees, assumes = sent == 4 * n, None
        rows = [known_row("messages to commit or abort", known, str(sent), agrees, assumes)]
        crash = self.window_crash(sim)
        blocked = self.ever_blocked(sim)
        all_yes = all(v == "yes" for v in self.planned_votes(params).values())
        predicted = crash is not None and all_yes and params["on_timeout"] == "ask"
        if blocked:
            measured = f"{words(blocked)} blocked" + (f" after C crashed at t={crash}" if crash is not None else "")
        elif crash is not None:
            measured = f"C crashed at t={crash}, but nobody blocked"
        else:
            measured = "nobody blocked: the decision reached every participant"
        other_faults = any(e["kind"] == "fault" and e["fault"].get("node") not in ("C", None) or
                           e["kind"] == "fault" and e["fault"]["action"] not in ("crash", "recover")
                           for e in sim.trace)
        if bool(blocked) == predicted:
            agrees, assumes = True, None
        else:
            agrees = None
            assumes = ("participants ask each other only when they time out; "
                       + ("here a fault other than C's crash changed the run" if other_faults else
                          "here a no vote or an early abort settled the outcome" if not all_yes or not predicted else
                          "here a timeout fired before the decision arrived"))
        rows.append(known_row("when 2PC blocks",
                              "when C fails after every participant voted yes and before any learns the decision",
                              measured, agrees, assumes))
        return rows
