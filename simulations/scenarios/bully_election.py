"""The bully election (Garcia-Molina 1982): the highest live process always ends up coordinator."""
from ..engine import Node
from ..params import Param
from ..scenario import Invariant, Scenario, faulted, known_row, plural, refuse, violation_clause, words


def rank(node_id):
    return int(node_id[1:])


class Process(Node):
    """Garcia-Molina's textbook form: ELECTION up, OK down, COORDINATOR to everyone lower."""

    def __init__(self, id, n, ok_timeout, coordinator_timeout, detector=False):
        super().__init__(id)
        self.n = n
        self.detector = detector
        self.ok_timeout, self.coordinator_timeout = ok_timeout, coordinator_timeout
        self.leader = f"P{n}"
        self.electing = False
        self.timer = None

    @property
    def higher(self):
        return [f"P{i}" for i in range(rank(self.id) + 1, self.n + 1)]

    @property
    def lower(self):
        return [f"P{i}" for i in range(1, rank(self.id))]

    def on_start(self):
        self.set_state(leader=self.leader, phase="coordinator" if self.leader == self.id else "idle")
        if self.detector:
            coordinator = f"P{self.n}"
            self.note(f"{self.id} notices coordinator {coordinator} is not answering and calls an election.")
            self.start_election(skip=coordinator)

    def start_election(self, skip=None):
        """Challenge every higher process; with none above, bully at once."""
        self.electing = True
        targets = [p for p in self.higher if p != skip]
        if not targets:
            return self.become_coordinator()
        self.set_state(phase="electing")
        for p in targets:
            self.send(p, "ELECTION")
        self.wait("ok timeout", self.ok_timeout)

    def wait(self, label, ticks):
        if self.timer:
            self.timer.cancel()
        self.timer = self.set_timer(ticks, label)

    def become_coordinator(self):
        self.electing = False
        self.leader = self.id
        if self.timer:
            self.timer.cancel()
        self.set_state(leader=self.id, phase="coordinator")
        self.note(f"{self.id} hears no one higher and announces itself coordinator.")
        for p in self.lower:
            self.send(p, "COORDINATOR")

    def on_message(self, msg):
        if msg.label == "ELECTION":
            self.send(msg.src, "OK")
            if not self.electing:
                self.start_election()
        elif msg.label == "OK":
            if self.electing:
                self.set_state(phase="waiting")
                self.wait("coordinator timeout", self.coordinator_timeout)
        elif msg.label == "COORDINATOR":
            if rank(msg.src) < rank(self.id):
                self.start_election()  # a lower process claims to lead: bully it
                return
            self.electing = False
            if self.timer:
                self.timer.cancel()
            self.leader = msg.src
            self.set_state(leader=msg.src, phase="idle")

    def on_timer(self, label, data):
        self.timer = None
        if label == "ok timeout" and self.electing:
            self.become_coordinator()
        elif label == "coordinator timeout" and self.electing:
            self.note(f"{self.id} got OK but no COORDINATOR in time; it starts over.")
            self.start_election()

    def on_crash(self):
        self.timer = None

    def on_recover(self):
        self.electing = False
        self.leader = None
        self.set_state(leader=None, phase="recovered")
        self.note(f"{self.id} recovers and holds an election.")
        self.start_election()


class BullyElection(Scenario):
    slug = "bully-election"
    title = "Bully election"
    summary_text = "Processes elect the highest live id as coordinator after the old one crashes."
    teaches = "How timeouts turn silence into knowledge, and why the bully algorithm costs O(n^2) messages."
    problem = (
        "Processes P1..Pn each have a unique id; the highest live one should coordinate. Pn starts as "
        "coordinator. When a process notices the coordinator is gone it sends ELECTION to every higher process. "
        "A live higher process answers OK and holds its own election. A process that gets no OK in time "
        "announces itself with COORDINATOR to every lower process; one that got OK but no COORDINATOR in time "
        "starts over. A recovered process holds an election, and bullies at once if it is the highest.")
    theory = (
        "With reliable delivery within known bounds (the synchronous model), the highest live id is elected "
        "and every live process names it. The worst case, P1 detecting with Pn crashed, costs n^2 - n - 2 "
        "messages: n-2 + (n-1)(n-2)/2 ELECTION, (n-1)(n-2)/2 OK and n-2 COORDINATOR. The best case, P(n-1) "
        "detecting, costs n-2.")
    source = "Garcia-Molina, 'Elections in a Distributed Computing System', IEEE Trans. Computers C-31(1), 1982."
    params = (
        Param("n", "int", 5, "number of processes", 2, 16),
        Param("detector", "node", "P1", "the process that notices the coordinator is gone",
              choices=lambda p: [f"P{i}" for i in range(1, p["n"] + 1)]),
        Param("crashed", "nodes", lambda p: [f"P{p['n']}"], "processes down at t=0",
              choices=lambda p: [f"P{i}" for i in range(1, p["n"] + 1)]),
        Param("ok_timeout", "int", 3, "ticks to wait for OK (a round trip is 2)", 2, 50),
        Param("coordinator_timeout", "int", 6, "ticks to wait for COORDINATOR after OK", 2, 100),
    )
    bands = {"phase": {"coordinator": "hold", "electing": "busy", "waiting": "wait"}}
    invariants = (
        Invariant("agreement", "At quiescence every live process names the same leader."),
        Invariant("highest_live_leader", "That leader is the highest live id."),
    )

    def nodes(self, params):
        return [f"P{i}" for i in range(1, params["n"] + 1)]

    def validate(self, params):
        if params["detector"] in params["crashed"]:
            refuse("detector", "the detector must be alive at t=0")
        if len(params["crashed"]) >= params["n"]:
            refuse("crashed", "at least one process must be alive")
        if params["coordinator_timeout"] <= params["ok_timeout"]:
            refuse("coordinator_timeout", "must be longer than ok_timeout, or elections never settle")

    def setup(self, sim, params):
        procs = [sim.add(Process(p, params["n"], params["ok_timeout"], params["coordinator_timeout"],
                                 detector=p == params["detector"])) for p in self.nodes(params)]
        for p in params["crashed"]:
            sim.crash(p)
        return procs

    def live(self, sim):
        return [n for n in sim.nodes.values() if n.alive]

    def finish(self, sim, params):
        live = self.live(sim)
        named = {n.leader for n in live}
        highest = max(live, key=lambda n: rank(n.id)).id if live else None
        sim.check("agreement", len(named) == 1,
                  "live processes name different leaders: " + ", ".join(f"{n.id}->{n.leader}" for n in live))
        sim.check("highest_live_leader", named == {highest},
                  f"the highest live process is {highest}, but leaders named are {sorted(map(str, named))}")

    def summary(self, sim, params):
        live = self.live(sim)
        named = {n.leader for n in live}
        n = params["n"]
        worst = params["detector"] == "P1" and params["crashed"] == [f"P{n}"]
        return {
            "leaders": {node.id: node.leader for node in sim.nodes.values()},
            "elected": named.pop() if len(named) == 1 else None,
            "theory": {"worst_case_messages": n * n - n - 2, "best_case_messages": n - 2,
                       "this_is_worst_case": worst},
        }

    def headline(self, sim, params):
        summary, sent = sim.summary, sim.network.sent
        live = self.live(sim)
        highest = max(live, key=lambda node: rank(node.id)).id if live else None
        broken = violation_clause(sim)
        if broken:
            named = sorted({str(node.leader) for node in live}, key=lambda x: (len(x), x))
            return (f"Live processes name {words(named, 'or')} as leader, though the highest live is {highest}; "
                    f"{broken}.")
        elected = summary["elected"]
        back = [e["t"] for e in sim.trace if e["kind"] == "recover" and e["node"] == elected]
        if back:
            return (f"{elected} is leader after {plural(sent, 'message')}: it recovered at t={back[-1]} and, "
                    f"being the highest, bullied its way back.")
        down, n, detector = params["crashed"], params["n"], params["detector"]
        why = f"{detector} noticed {words(down)} gone" if down else f"{detector} called an election"
        case = ""
        if down == [f"P{n}"] and fault_free(sim):
            if detector == "P1":
                case = f"; the worst case for n={n} is {n * n - n - 2}"
            elif detector == f"P{n - 1}":
                case = f"; the best case for n={n} is {n - 2}"
        return f"{elected} is leader after {plural(sent, 'message')}: {why}{case}."

    def known(self, sim, params):
        summary, n, sent = sim.summary, params["n"], sim.network.sent
        worst, best = n * n - n - 2, n - 2
        faults = faulted(sim)
        live = self.live(sim)
        highest = max(live, key=lambda node: rank(node.id)).id if live else None
        one_down = params["crashed"] == [f"P{n}"]
        restarts = any(e["kind"] == "note" and "starts over" in e["text"] for e in sim.trace)
        if faults or not one_down:
            agrees = None
            assumes = (f"only the coordinator P{n} is down and nothing happens mid-run; {faults}" if faults else
                       f"only the coordinator P{n} is down; here {words(params['crashed']) or 'nobody'} "
                       f"{'was' if len(params['crashed']) == 1 else 'were'} down at t=0")
        else:
            agrees, assumes = True, None
        if params["detector"] == "P1" and one_down:
            known, expected = f"{worst} = n²−n−2 (worst case, P1 detects)", sent == worst
        elif params["detector"] == f"P{n - 1}" and one_down:
            known, expected = f"{best} = n−2 (best case, P{n - 1} detects)", sent == best
        else:
            known = f"between {best} = n−2 (best case) and {worst} = n²−n−2 (worst case)"
            expected = best <= sent <= worst
        if agrees:
            agrees = expected
            if not expected or restarts:
                agrees, assumes = None, ("timeouts that outlast every answer (the synchronous model); here a "
                                         "process timed out before an answer came and the election ran again")
        elected = summary["elected"]
        rows = [known_row("messages to elect a leader", known, str(sent), agrees, assumes)]
        leader_agrees = elected == highest
        leader_assumes = None
        if not leader_agrees and (assumes or restarts):
            leader_agrees, leader_assumes = None, assumes or "reliable delivery within known bounds"
        rows.append(known_row("the leader every live process names", f"the highest live id, {highest}",
                              elected or "no single leader", leader_agrees, leader_assumes))
        return rows


def fault_free(sim):
    return not faulted(sim)
