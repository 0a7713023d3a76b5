"""The token ring (Le Lann 1977): one circulating token gives mutual exclusion, and losing it needs a monitor.

Le Lann's monitor presumes the token lost after one full rotation, every hop's delay and every critical
section, plus one tick: T = n·(hop + cs_time) + 1. "At most one valid token" is checked whenever a token is
made, passed or used, so a false loss without generation numbers is flagged when N0 makes the second token.
"""
import re

from ..engine import Node
from ..params import Param
from ..scenario import Invariant, Scenario, faulted, known_row, plural, refuse, violation_clause, words

ACK_TIMEOUT = 3  # an acknowledgement round trip is 2 ticks
ONE_TOKEN = "at most one valid token"
REQUEST = r"N(\d{1,2})@(\d{1,5})(?:/(\d{1,4}))?"
ITEM = r"N\d{1,2}@\d{1,5}(?:/\d{1,4})?"


class Ring:
    """What an observer outside the ring sees: who is inside, every entry and every request."""

    def __init__(self, params, loss_timeout):
        self.n, self.cs_time, self.rotations = params["n"], params["cs_time"], params["rotations"]
        self.generations, self.ack = params["generations"], params["ack"]
        self.loss_timeout = loss_timeout
        self.newest = 0  # the generation N0 made last: with generations, only a token of it is valid
        self.silences = []  # ticks N0 actually waited without the token before each new one
        self.longest_return = 0  # the most ticks a token took to come back to N0 after leaving it
        self.false_loss = False  # N0 made a token while another valid one existed: possible only without generations
        self.valid_max = 0
        self.inside = {}  # node id -> its open entry
        self.entries = []
        self.requests = []
        self.tokens_generated = 0
        self.last_launch = 0
        self.finished = False  # the token was kept because the rotations were over, not lost for good
        self.told_two_tokens = False

    def valid(self, gen):
        """With generations, a token older than N0's newest is not valid: every node will discard it."""
        return not self.generations or gen == self.newest

    def valid_tokens(self, sim):
        """Every valid token now: a message in flight that the network has not doomed, or the id of its holder."""
        return [m for m in sim.network.in_flight.values()
                if m.label == "TOKEN" and m.fate is None and self.valid(m.data["gen"])] + [
            node for node in self.inside if self.valid(sim.nodes[node].holding)]

    @staticmethod
    def where(token):
        if isinstance(token, str):
            return f"{token} holds one inside its critical section"
        return f"one is in flight {token.src}→{token.dst} (sent at t={token.sent_at})"


class RingNode(Node):
    """Enters the critical section when the token finds it waiting; otherwise passes the token on at once."""

    def __init__(self, id, ring):
        super().__init__(id)
        self.ring = ring
        self.waiting = []
        self.think = None  # ticks after leaving before asking again, or None to ask once
        self.gen = 0  # the highest generation seen
        self.visits = 0
        self.entry = None
        self.holding = None  # the generation of the token held inside the critical section
        self.awaiting = None  # (successor, gen, ack timer) while a pass is unacknowledged
        self.suspected = set()  # successors skipped, so that each is narrated once

    def after(self, node_id):
        return f"N{(int(node_id[1:]) + 1) % self.ring.n}"

    def on_start(self):
        state = {"waiting": bool(self.waiting), "in_cs": False}
        if self.ring.generations:
            state["gen"] = self.gen
        self.set_state(**state)

    def count_tokens(self, what, own=None, new=0):
        """Check, the moment a token is made, passed or used, that no other valid token exists beside it.

        ``own`` is that token (its message id, or the id of the node inside); ``new`` counts one not yet placed.
        """
        ring = self.ring
        if ring.valid_max and len(self.sim.network.in_flight) + len(ring.inside) + new <= 1:
            return False  # one message in flight or one node inside at most: no second token, no new maximum
        tokens = ring.valid_tokens(self.sim)
        count = len(tokens) + new
        ring.valid_max = max(ring.valid_max, count)
        if count > 1:
            others = [ring.where(t) for t in tokens if (t if isinstance(t, str) else t.id) != own]
            self.check(ONE_TOKEN, False, f"{what} at t={self.now} while another valid token exists: "
                       f"{'; '.join(others)}. " + ("Without generation numbers nothing tells them apart."
                                                   if not ring.generations else "Both carry the same generation."))
        return count > 1

    def queue(self, at):
        request = {"node": self.id, "at": at, "served": None}
        self.ring.requests.append(request)
        self.waiting.append(request)

    def ask(self):
        if self.alive:
            self.queue(self.now)
            self.set_state(waiting=True)

    def on_message(self, msg):
        gen = msg.data["gen"]
        if msg.label == "ACK":
            if self.awaiting and self.awaiting[0] == msg.src:
                self.awaiting[2].cancel()
                self.awaiting = None
            self.suspected.discard(msg.src)
            return
        if self.ring.ack:
            self.send(msg.src, "ACK", {"gen": gen})
        if self.ring.generations:
            if gen < self.gen:
                self.note(f"{self.id} discards a stale token of generation {gen}: it has seen generation "
                          f"{self.gen}.")
                return
            if gen > self.gen:
                self.gen = gen
                self.set_state(gen=gen)
        self.take(gen)

    def take(self, gen):
        self.visits += 1
        if self.visits > 2 * self.ring.rotations:
            self.ring.finished = True
            self.set_state(token="kept")
            self.note(f"{self.id} has seen the token {self.visits - 1} times, twice the rotations N0 should "
                      "start, and keeps it: with no live monitor counting, this ends the run.")
        elif self.waiting and self.entry is None:
            self.enter(gen)
        else:
            self.forward(gen)

    def enter(self, gen):
        ring = self.ring
        others = list(ring.inside)
        self.entry = {"node": self.id, "enter": self.now, "exit": None}
        ring.entries.append(self.entry)
        ring.inside[self.id] = self.entry
        for request in self.waiting:
            request["served"] = self.now
        self.waiting = []
        self.set_state(waiting=False, in_cs=True)
        self.holding = gen
        self.count_tokens(f"{self.id} enters the critical section", own=self.id)
        if others:
            self.check("mutual_exclusion", False,
                       f"{self.id} enters the critical section at t={self.now} while {', '.join(others)} "
                       "is inside: two tokens circulate.")
            if not ring.told_two_tokens:
                ring.told_two_tokens = True
                self.note("Two tokens exist: " + (
                    "the one N0 gave up for lost was only late" + (
                        ", and without generation numbers nobody can tell it from its replacement."
                        if not ring.generations else ".")
                    if ring.tokens_generated > 1 else "the token was duplicated on its way."))
        self.set_timer(ring.cs_time, "leave cs", gen)

    def leave(self, gen):
        self.entry["exit"] = self.now
        self.ring.inside.pop(self.id, None)
        self.entry = None
        self.holding = None
        self.set_state(in_cs=False)
        self.forward(gen)
        if self.think:
            self.sim.schedule(self.think, self.ask)

    def forward(self, gen):
        self.hand(self.after(self.id), gen)

    def hand(self, target, gen):
        msg = self.send(target, "TOKEN", {"gen": gen}, tag=f"g{gen}" if self.ring.generations else None)
        self.count_tokens(f"{self.id} passes the token to {target}", own=msg)
        if self.ring.ack:
            if self.awaiting:
                self.awaiting[2].cancel()
            self.awaiting = (target, gen, self.set_timer(ACK_TIMEOUT, "ack timeout"))

    def skip(self):
        """No ACK in time: presume the successor crashed and hand the token to the one after it."""
        target, gen, _ = self.awaiting
        self.awaiting = None
        nxt = self.after(target)
        if nxt == self.id:
            self.note(f"{self.id} hears from nobody and keeps the token.")
            return
        suspect = self.sim.nodes[target]
        if suspect.alive and suspect.waiting:
            self.check("fairness", False,
                       f"{self.id} skips {target}, which is alive and waiting since t={suspect.waiting[0]['at']}: "
                       "its silence looked like a crash.")
        if target not in self.suspected:
            self.suspected.add(target)
            self.note(f"No ACK from {target} within {ACK_TIMEOUT} ticks: {self.id} presumes it crashed and "
                      f"passes the token to {nxt}.")
        self.hand(nxt, gen)

    def on_timer(self, label, data):
        if label == "leave cs":
            self.leave(data)
        elif label == "ack timeout":
            self.skip()

    def on_crash(self):
        self.awaiting = None
        self.holding = None
        if self.entry:
            self.entry["exit"] = self.now
            self.ring.inside.pop(self.id, None)
            self.entry = None
            self.note(f"{self.id} crashes inside the critical section, and the token dies with it.")


class Monitor(RingNode):
    """N0: starts every rotation, and makes a new token (the next generation) when one stays away longer than T."""

    label = "N0 (monitor)"

    def __init__(self, id, ring):
        super().__init__(id, ring)
        self.rotation = 0
        self.loss_timer = None
        self.armed_at = None  # when the loss timer last started counting
        self.stopped = False

    def on_start(self):
        ring = self.ring
        self.set_state(waiting=bool(self.waiting), in_cs=False)
        hop = ACK_TIMEOUT if ring.ack else 1
        self.note(f"N0 is the monitor. A full rotation, every hop and every critical section, takes at most "
                  f"{ring.n}×({hop} + {ring.cs_time}) ticks; if the token is not back T = {ring.n}×({hop} + "
                  f"{ring.cs_time}) + 1 = {ring.loss_timeout} ticks after leaving, N0 declares it lost and makes a "
                  "new one (Le Lann 1977)" + (": with acks a hop may cost an ack timeout of 3." if ring.ack else "."))
        self.generate()

    def generate(self):
        ring = self.ring
        self.gen += 1
        ring.newest = self.gen
        ring.tokens_generated += 1
        ring.false_loss = ring.false_loss or self.count_tokens(f"N0 makes a new token (generation {self.gen})", new=1)
        self.launch(self.gen)

    def launch(self, gen):
        self.rotation += 1
        self.ring.last_launch = self.now
        self.set_state(gen=self.gen, rotation=self.rotation)
        if self.waiting and self.entry is None:
            self.enter(gen)
        else:
            self.forward(gen)

    def forward(self, gen):
        super().forward(gen)
        if self.loss_timer:
            self.loss_timer.cancel()
        self.arm()

    def arm(self):
        self.armed_at = self.now
        self.loss_timer = self.set_timer(self.ring.loss_timeout, "loss timeout")

    def take(self, gen):
        if self.stopped:
            return
        if self.loss_timer:
            self.loss_timer.cancel()
            self.loss_timer = None
            self.ring.longest_return = max(self.ring.longest_return, self.now - self.armed_at)
        if self.rotation >= self.ring.rotations:
            self.stopped = self.ring.finished = True
            self.set_state(rotation="done", token="kept")
            self.note(f"After {self.rotation} rotations N0 keeps the token.")
        else:
            self.launch(gen)

    def on_timer(self, label, data):
        if label != "loss timeout":
            return super().on_timer(label, data)
        self.loss_timer = None
        if self.stopped:
            return
        if self.rotation >= self.ring.rotations:
            self.stopped = True
            self.note(f"The token is gone and all {self.rotation} rotations are used up: N0 stops.")
            return
        silence = self.now - self.armed_at
        self.ring.silences.append(silence)
        self.note(f"No token for {silence} ticks, longer than a full rotation: N0 presumes it lost and makes "
                  f"generation {self.gen + 1}"
                  + ("." if self.ring.generations else ", though with generations off no node will look."))
        self.generate()

    def on_crash(self):
        super().on_crash()
        self.loss_timer = None

    def on_recover(self):
        if not self.stopped:
            self.note("N0 recovers without knowing where the token is and restarts its loss timer.")
            self.arm()


class TokenRing(Scenario):
    slug = "token-ring"
    title = "Token ring"
    version = 2  # #13: the loss timeout became one full rotation plus one, and a second valid token is flagged
    summary_text = "One token circles a ring of processes; only its holder may enter the critical section."
    teaches = ("Why a single token gives mutual exclusion and fairness, and why regenerating a lost one needs "
               "generation numbers: a late token looks exactly like a lost one.")
    problem = (
        "Processes N0..N(n-1) form a logical ring: each passes a single TOKEN to its successor (i+1) mod n. A "
        "process that wants the critical section waits for the token, holds it for cs_time ticks inside, then "
        "passes it on; a process that does not want it passes it at once. N0 is also the monitor: if the token "
        "has not come back within one full rotation (plus a tick), N0 presumes it lost and creates a "
        "new one with the next generation number, and a node that has seen a newer generation discards an older "
        "token. With acknowledged passing, a sender that gets no ACK in time skips its successor.")
    theory = (
        "With one token, mutual exclusion is immediate: only the holder enters. Entries follow ring order, so a "
        "request waits at most one rotation: n hops and n-1 critical sections, L = n + (n-1)*cs_time ticks with "
        "a hop of one tick. A lost token cannot be told from a slow one; Le Lann's monitor times out after one "
        "full rotation, every hop's delay and every critical section, plus one: T = n*(1 + cs_time) + 1 > L "
        "(n*(3 + cs_time) + 1 with acks, room for an ack timeout of 3 at every hop). A token delayed beyond T is "
        "regenerated while still alive (a false loss): without generation numbers two valid tokens exist from "
        "that moment, and two processes can be inside at once; with them, the old generation is no longer valid: "
        "every node that has seen the new one, and the monitor at the latest, discards it (one still running "
        "ahead of its replacement is honoured until then). A crashed process breaks the ring; "
        "acknowledged passing skips it, at the price of mistaking a slow successor for a dead one.")
    source = ("Le Lann, 'Distributed Systems: Towards a Formal Approach', IFIP Congress 1977; the active monitor "
              "of IEEE 802.5 Token Ring; Tanenbaum and van Steen, 'Distributed Systems', the token-ring "
              "mutual exclusion algorithm.")
    params = (
        Param("n", "int", 5, "number of processes in the ring", 2, 16),
        Param("cs_time", "int", 3, "ticks a process stays in the critical section", 1, 10),
        Param("requests", "text", lambda p: ",".join(f"N{i}@0/3" for i in range(1, p["n"])),
              "who asks to enter and when: node@tick, comma-separated (N2@0,N4@0); node@tick/k asks again k "
              "ticks after each exit; empty for nobody",
              pattern=rf"(?:{ITEM}(?:\s*,\s*{ITEM})*)?"),
        Param("rotations", "int", 4, "rotations N0 starts before it keeps the token", 1, 20),
        Param("generations", "bool", True, "number tokens so that a stale one is discarded"),
        Param("ack", "bool", False, "acknowledge each pass and skip a successor that does not answer"),
    )
    search_kinds = ("drop", "delay", "crash")  # a lost, late or crashed holder: what the monitor is there for
    bands = {"in_cs": {True: ("busy", "in CS")}, "token": {"kept": ("hold", "keeps token")},
             "waiting": {True: ("wait", "wants CS")}}
    invariants = (
        Invariant("mutual_exclusion", "At most one process is in the critical section."),
        Invariant(ONE_TOKEN, "At most one valid token exists, in flight or held: checked when a token is made, "
                             "passed or used. With generations, a token older than N0's newest is not valid: the "
                             "first node that has seen the newer one discards it."),
        Invariant("liveness", "Every request is served, unless it came after the last rotation began."),
        Invariant("fairness", "The token serves waiting processes in ring order: it never passes over a live "
                              "process that is waiting."),
    )

    def nodes(self, params):
        return [("N0", "N0 (monitor)")] + [f"N{i}" for i in range(1, params["n"])]

    @staticmethod
    def longest_rotation(params):
        return params["n"] + (params["n"] - 1) * params["cs_time"]

    @staticmethod
    def hop(params):
        """The most a hop may take: one tick, or with acks the ack timeout before the token goes round a node."""
        return ACK_TIMEOUT if params["ack"] else 1

    @classmethod
    def loss_timeout(cls, params):
        """Le Lann (1977): the monitor waits one full rotation, the sum over the ring of each hop's delay and each
        process's critical section, plus one tick, so that a token on time is never presumed lost."""
        return sum(cls.hop(params) + params["cs_time"] for _ in range(params["n"])) + 1

    @staticmethod
    def requests(params):
        """(tick, node index, think ticks or None) for each request written in the ``requests`` parameter."""
        return sorted(((int(at), int(index), int(think) if think else None)
                       for index, at, think in re.findall(REQUEST, params["requests"])), key=lambda r: r[:2])

    def validate(self, params):
        n = params["n"]
        for _, index, think in self.requests(params):
            if index >= n:
                refuse("requests", f"N{index} is not in a ring of {n} (N0..N{n - 1})")
            if think == 0:
                refuse("requests", "the ticks before asking again must be at least 1")

    def setup(self, sim, params):
        ring = Ring(params, self.loss_timeout(params))
        nodes = [Monitor("N0", ring)] + [RingNode(f"N{i}", ring) for i in range(1, params["n"])]
        for at, index, think in self.requests(params):
            node = nodes[index]
            node.think = think or node.think
            if at:
                sim.schedule(at, node.ask)
            else:
                node.queue(0)  # waiting before anything runs, as on_start shows
        return nodes

    def waiting_at_end(self, sim):
        """Requests of live processes still waiting at the end, each with whether it counts as starved.

        A request made after the last rotation began is excused when the run ended by plan; if the token
        was lost for good, every waiting request counts.
        """
        ring = sim.nodes["N0"].ring
        return [(r, not ring.finished or r["at"] <= ring.last_launch) for r in ring.requests
                if r["served"] is None and sim.nodes[r["node"]].alive]

    def finish(self, sim, params):
        starved = [r for r, counts in self.waiting_at_end(sim) if counts]
        sim.check("liveness", not starved,
                  "never served: " + ", ".join(f"{r['node']} (asked at t={r['at']})" for r in starved[:8])
                  + ("..." if len(starved) > 8 else "") + ". No token reached them while they waited.")

    def summary(self, sim, params):
        ring = sim.nodes["N0"].ring
        waits = [r["served"] - r["at"] for r in ring.requests if r["served"] is not None]
        theory = {"longest_rotation": self.longest_rotation(params), "loss_timeout": ring.loss_timeout,
                  "wait_bound": self.longest_rotation(params),
                  "messages_per_rotation": params["n"] * (2 if params["ack"] else 1)}
        if params["ack"]:
            theory["ack_timeout"] = ACK_TIMEOUT
        return {
            "cs_entries": [dict(e) for e in ring.entries],
            "tokens_generated": ring.tokens_generated,
            "max_wait": max(waits, default=0),
            "requests_served": len(waits),
            "waiting_at_end": [{"node": r["node"], "at": r["at"]} for r, _ in self.waiting_at_end(sim)],
            "rotations": sim.nodes["N0"].rotation,
            "valid_tokens_max": ring.valid_max,
            "theory": theory,
        }

    @staticmethod
    def most_inside(entries):
        """The most processes ever inside the critical section at once."""
        moments = sorted([(e["enter"], 1) for e in entries]
                         + [(e["exit"], -1) for e in entries if e["exit"] is not None])
        inside = most = 0
        for _, step in moments:
            inside += step
            most = max(most, inside)
        return most

    def headline(self, sim, params):
        summary = sim.summary
        served, regenerated = summary["requests_served"], summary["tokens_generated"] - 1
        broken = violation_clause(sim)
        first = broken.split(" is violated")[0]
        late = sim.nodes["N0"].ring.false_loss
        if "mutual_exclusion" in sim.violations and first in ("mutual_exclusion", ONE_TOKEN):
            detail = sim.violations["mutual_exclusion"]
            who = detail.split(" enters")[0]
            inside = detail.split("while ")[-1].split(" is inside")[0]
            if first != "mutual_exclusion":
                broken += f", mutual_exclusion at t={sim.violated_at['mutual_exclusion']}"
                why = "N0 replaced a token that was only late" if late else "the token was copied"
            elif regenerated and params["generations"]:
                why = "the late token ran ahead of its replacement and was still honoured"
            else:
                why = "a second token circulates"
            return f"{who} entered the critical section while {inside} was inside: {why}; {broken}."
        if first == ONE_TOKEN:
            why = "N0 replaced a token that was only late" if late else "the token was copied"
            return (f"{why[0].upper()}{why[1:]}: two valid tokens exist, though no two processes were inside "
                    f"together; {broken}.")
        if broken:
            if first == "liveness":
                starved = sorted({w["node"] for w in summary["waiting_at_end"]})
                return (f"{words(starved)} never got the token: the ring broke and nothing brought it back; "
                        f"{broken}.")
            return f"The token passed over a live process that was waiting, as if it had crashed; {broken}."
        requests = plural(served, "request")
        if regenerated:
            if any(e["kind"] == "note" and "discards a stale token" in e["text"] for e in sim.trace):
                return (f"N0 made a new token when the old one was only late, and the stale one was discarded by "
                        f"generation number; {requests} served, one process inside at a time.")
            return (f"The token was lost; N0 made generation {regenerated + 1} after "
                    f"{summary['theory']['loss_timeout']} ticks of silence, and {requests} "
                    f"{'was' if served == 1 else 'were'} served, one process at a time.")
        crashed = params["ack"] and sorted({e["node"] for e in sim.trace if e["kind"] == "crash"})
        if crashed:
            return (f"{words(crashed)} {'is' if len(crashed) == 1 else 'are'} down; with acknowledgements the ring "
                    f"skipped {'it' if len(crashed) == 1 else 'them'} and served {requests}, one at a time.")
        return (f"One token served {requests} in ring order over {summary['rotations']} rotations, one process "
                f"inside at a time; the longest wait was {summary['max_wait']} ticks.")

    def known(self, sim, params):
        summary, theory = sim.summary, sim.summary["theory"]
        ring = sim.nodes["N0"].ring
        most = self.most_inside(summary["cs_entries"])
        regenerated = summary["tokens_generated"] > 1
        faults = faulted(sim)
        most_valid = summary["valid_tokens_max"]
        if ring.false_loss:
            known, agrees = "at most 1 while one token exists; a false loss without generations allows 2", True
        elif most_valid > 1:
            known, agrees = "at most 1 while one token exists; a copied token allows 2", True
        else:
            known, agrees = "at most 1: only the token holder enters", most <= 1
        rows = [known_row("processes inside the critical section at once", known, str(most), agrees)]
        bound = theory["wait_bound"]
        quiet = not faults and not regenerated and not any(e["kind"] == "crash" for e in sim.trace)
        rows.append(known_row(
            "longest wait for the token", f"at most {bound} ticks = n + (n−1)·cs_time, one rotation",
            f"{summary['max_wait']} ticks", summary["max_wait"] <= bound if quiet else None,
            None if quiet else "the token is never lost or late and no process crashes; "
            + (faults or ("N0 had to make a new token" if regenerated else "a process crashed"))))
        timeout, hop = theory["loss_timeout"], self.hop(params)
        formula = (f"T = n·({hop} + cs_time) + 1 = {timeout} ticks: one full rotation, every hop and every critical "
                   "section, plus one (Le Lann 1977)")
        if ring.silences:
            rows.append(known_row("silence before N0 makes a new token", formula,
                                  f"{words(sorted(set(ring.silences)))} ticks, before "
                                  f"{plural(len(ring.silences), 'new token')}",
                                  all(silence == timeout for silence in ring.silences)))
        elif ring.longest_return:
            rows.append(known_row("silence before N0 makes a new token", formula,
                                  f"never reached: the token came back within {ring.longest_return} ticks",
                                  ring.longest_return < timeout))
        else:
            rows.append(known_row("silence before N0 makes a new token", formula, "never reached", None,
                                  "N0 is up to see the token come back"))
        if most_valid > 1 or regenerated:
            known = ("at most 1: a token older than N0's newest generation is not valid" if params["generations"] else
                     "at most 1 after a real loss; 2 from the moment N0 replaces a token that was only late, since "
                     "without generations nothing invalidates it")
            copied = most_valid > 1 and not ring.false_loss
            rows.append(known_row("valid tokens at once", known, str(most_valid), None if copied else True,
                                  "the network never copies a token and no pass is repeated; "
                                  + (faults or "with acks a late token is passed on twice") if copied else None))
        return rows
