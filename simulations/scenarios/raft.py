"""Raft (Ongaro & Ousterhout, USENIX ATC 2014), Figure 2: leader election with randomized timeouts and log
replication with the AppendEntries consistency check.

Servers are S1..Sn; the client is a node of its own, ``client``, that sends one command at a time to the server it
believes leads (S1 at first) and follows a follower's Redirect. The first command goes out at
election_timeout_max + 10 hops (when a leader is normally in place), the next ones request_every ms apart.

A crash keeps currentTerm, votedFor and the log and loses the rest (role, commitIndex, nextIndex, matchIndex).
A new leader that inherits entries past its commitIndex appends a no-op (shown "-"; the paper's section 8), since
it may commit only entries of its own term. The run stops one heartbeat after every command is committed and
applied by every live server the leader can reach and no scripted fault is still to come; a run that cannot get
there stops at a horizon: the last scripted fault + the first command's time + the commands + 20 election
timeouts.
"""
from ..engine import Node, Simulation
from ..params import Param
from ..scenario import Invariant, Scenario, faulted, known_row, plural, refuse, violation_clause, words

COMMANDS = "abcdefghijkl"
NOOP = "-"
BAND_TERMS = 99  # terms whose band names the term ("leader t3"); later ones say the role alone


def majority(n):
    return n // 2 + 1


def show(log):
    return " ".join(f"{t}:{c}" for t, c in log) or "(empty)"


class Ledger:
    """The referee: sees every server and checks Raft's five safety properties as the run goes."""

    def __init__(self, sim, servers, requests):
        self.sim, self.servers, self.requests = sim, servers, requests
        self.quiet_after = 0  # the last scripted fault: the run goes on at least until then
        self.leaders = []  # {term, node, t}
        self.by_term = {}
        self.candidacies = {}  # term -> candidates
        self.happenings = []  # (t, words): leaders elected, crashed and deposed
        self.stood_at = {}  # term -> when its first candidate stood
        self.dropped = {}  # uncommitted entries a follower deleted -> (first time, followers)
        self.committed = []  # the longest committed prefix of (term, command)
        self.applied = {}  # index -> (term, command)
        self.vote_msgs = {}  # term -> RequestVote and replies sent for it
        self.carrying = 0  # AppendEntries carrying entries, and their replies
        self.halted = False

    def nodes(self):
        return [self.sim.nodes[s] for s in self.servers]

    def elected(self, node):
        sim, term = self.sim, node.term
        sim.check("election safety", self.by_term.get(term, node.id) == node.id,
                  f"{self.by_term.get(term)} and {node.id} both lead term {term}")
        self.by_term[term] = node.id
        self.leaders.append({"term": term, "node": node.id, "t": sim.now})
        self.happenings.append((sim.now, f"{node.id} won term {term} at t={sim.now}"))
        missing = [c for (t, c), mine in zip(self.committed, node.log + [None] * len(self.committed))
                   if (t, c) != mine]
        sim.check("leader completeness", not missing,
                  f"{node.id} leads term {term} without committed {words(missing)}")

    def log_changed(self, node):
        for other in self.nodes():
            if other is node:
                continue
            same = [i for i, (a, b) in enumerate(zip(node.log, other.log)) if a[0] == b[0]]
            if same and node.log[:same[-1] + 1] != other.log[:same[-1] + 1]:
                self.sim.check("log matching", False, f"{node.id} and {other.id} agree on entry {same[-1] + 1}'s "
                                                      f"term but not on the entries before it")

    def applies(self, node, index):
        entry = node.log[index - 1]
        first = self.applied.setdefault(index, entry)
        self.sim.check("state machine safety", first == entry,
                       f"{node.id} applies {entry[0]}:{entry[1]} at {index} where {first[0]}:{first[1]} was applied")
        if index > len(self.committed):
            self.committed = node.log[:index]

    def commands(self):
        return [c for _, c in self.committed if c != NOOP]

    def done(self, leader):
        """Every command committed and applied by every live server the leader reaches, no fault to come."""
        sim = self.sim
        if sim.now < self.quiet_after or len(self.commands()) < self.requests:
            return False
        live = [s for s in self.nodes() if s.alive]
        if leader.term < max(s.term for s in live):
            return False
        reached = [s for s in live if not sim.network.cut(leader.id, s.id)]
        return all(s.commit_index == len(leader.log) for s in reached)

    def halt(self):
        self.halted = True
        for node in self.sim.nodes.values():
            for timer in node.timers.values():
                timer.cancel()
            node.timers.clear()


class Timed(Node):
    """A node with named timers that stop for good once the referee halts the run."""

    def __init__(self, id, label=None, group=None):
        super().__init__(id, label, group)
        self.timers = {}

    def arm(self, name, after):
        self.disarm(name)
        if not self.sim.ledger.halted:
            self.timers[name] = self.set_timer(after, name)

    def disarm(self, name):
        timer = self.timers.pop(name, None)
        if timer:
            timer.cancel()

    def on_crash(self):
        self.timers.clear()


class Server(Timed):
    """One Raft server as Figure 2 specifies it."""

    HANDLERS = {"RequestVote": "on_request_vote", "RequestVote reply": "on_vote", "AppendEntries": "on_append",
                "AppendEntries reply": "on_append_reply", "Request": "on_request"}

    def __init__(self, id, peers, params):
        super().__init__(id)
        self.peers = [p for p in peers if p != id]
        self.p = params
        self.term, self.voted_for, self.log = 0, None, []  # persistent
        self.volatile()

    def volatile(self):
        self.role, self.commit_index, self.leader = "follower", 0, None
        self.votes, self.next_index, self.match_index, self.waiting = set(), {}, {}, set()
        self.led_from = []  # the log as it stood when last published as leader

    @property
    def ledger(self):
        return self.sim.ledger

    def last(self):
        return len(self.log), self.log[-1][0] if self.log else 0

    def publish(self):
        if self.role == "leader":
            self.check("leader append-only", self.log[:len(self.led_from)] == self.led_from,
                       f"{self.id} lost entries while leading term {self.term}")
            self.led_from = list(self.log)
        state = {"role": self.role, "term": self.term, "log": show(self.log), "log_len": len(self.log),
                 "commit_index": self.commit_index}
        if self.role != "follower" and self.term <= BAND_TERMS:
            state["as"] = f"{self.role} t{self.term}"  # the band's label: role and term
        if state != self.state:  # the whole state, so that "as" goes when the server turns follower
            self.state = state
            self.sim.emit_state(self)

    def on_start(self):
        self.publish()
        self.reset_election()

    def reset_election(self):
        self.arm("election timeout", self.sim.rng.randint(self.p["election_timeout_min"],
                                                          self.p["election_timeout_max"]))

    # -- terms and roles ----------------------------------------------------
    def see_term(self, term):
        """Any RPC with a higher term makes this server a follower of that term (step-down)."""
        if term > self.term:
            if self.role == "leader":
                self.note(f"{self.id} sees term {term} and steps down.")
                self.ledger.happenings.append((self.now, f"{self.id} stepped down at t={self.now}"))
            self.term, self.voted_for, self.leader = term, None, None
            self.become("follower")

    def become(self, role):
        if role != "leader":
            self.disarm("heartbeat")
        self.role = role
        self.publish()

    def on_timer(self, label, data):
        self.timers.pop(label, None)
        if label == "election timeout":
            self.stand()
        elif label == "heartbeat":
            self.replicate()
            if self.ledger.done(self):
                self.ledger.halt()

    def stand(self):
        self.term += 1
        self.voted_for, self.votes, self.leader = self.id, {self.id}, None
        self.ledger.candidacies.setdefault(self.term, []).append(self.id)
        self.ledger.stood_at.setdefault(self.term, self.now)
        self.become("candidate")
        self.reset_election()
        count, last_term = self.last()
        for p in self.peers:
            self.count_vote_msg(self.term)
            self.send(p, "RequestVote", {"term": self.term, "last_index": count, "last_term": last_term})

    def count_vote_msg(self, term):
        self.ledger.vote_msgs[term] = self.ledger.vote_msgs.get(term, 0) + 1

    def lead(self):
        self.disarm("election timeout")
        self.leader = self.id
        self.next_index = {p: len(self.log) + 1 for p in self.peers}
        self.match_index = {p: 0 for p in self.peers}
        self.led_from = list(self.log)
        self.become("leader")
        self.ledger.elected(self)
        self.note(f"{self.id} wins term {self.term} with votes from {words(sorted(self.votes))}.")
        if len(self.log) > self.commit_index:
            self.append(NOOP)
        else:
            self.replicate()

    def append(self, command):
        self.log.append((self.term, command))
        self.ledger.log_changed(self)
        self.publish()
        self.replicate()

    def replicate(self):
        """AppendEntries to every follower from its nextIndex (empty: a heartbeat), and the next heartbeat."""
        for p in self.peers:
            self.replicate_to(p)
        self.arm("heartbeat", self.p["heartbeat"])

    # -- messages -----------------------------------------------------------
    def on_message(self, msg):
        data = msg.data or {}
        if "term" in data:
            self.see_term(data["term"])
        getattr(self, self.HANDLERS[msg.label])(msg.src, data)

    def on_request_vote(self, src, data):
        count, last_term = self.last()
        up_to_date = (data["last_term"], data["last_index"]) >= (last_term, count)
        granted = data["term"] == self.term and self.voted_for in (None, src) and up_to_date
        if granted:
            self.voted_for = src
            self.reset_election()
        self.count_vote_msg(data["term"])
        self.send(src, "RequestVote reply", {"term": self.term, "granted": granted})

    def on_vote(self, src, data):
        if self.role != "candidate" or data["term"] != self.term or not data["granted"]:
            return
        self.votes.add(src)
        if len(self.votes) >= majority(len(self.peers) + 1):
            self.lead()

    def on_append(self, src, data):
        entries = [(int(t), c) for t, c in (e.split(":", 1) for e in data["entries"])]
        if entries:
            self.ledger.carrying += 1
        if data["term"] < self.term:
            return self.send(src, "AppendEntries reply", {"term": self.term, "ok": False})
        if self.role != "follower":
            self.become("follower")
        self.leader = src
        self.reset_election()
        prev = data["prev"]
        if prev > len(self.log) or (prev and self.log[prev - 1][0] != data["prev_term"]):
            return self.send(src, "AppendEntries reply", {"term": self.term, "ok": False})
        changed = False
        for i, entry in enumerate(entries, prev + 1):
            if i <= len(self.log) and self.log[i - 1][0] != entry[0]:
                self.ledger.dropped.setdefault(show(self.log[i - 1:]), (self.now, []))[1].append(self.id)
                del self.log[i - 1:]
            if i > len(self.log):
                self.log.append(entry)
                changed = True
        if changed:
            self.ledger.log_changed(self)
        self.commit_to(min(data["commit"], prev + len(entries)))
        self.publish()
        self.send(src, "AppendEntries reply", {"term": self.term, "ok": True, "match": prev + len(entries)})

    def on_append_reply(self, src, data):
        if self.role != "leader" or data["term"] != self.term:
            return
        if not data["ok"]:
            self.next_index[src] = max(1, self.next_index[src] - 1)
            return self.replicate_to(src, backoff=True)
        self.match_index[src] = max(self.match_index[src], data["match"])
        self.next_index[src] = self.match_index[src] + 1
        for index in range(len(self.log), self.commit_index, -1):
            acks = 1 + sum(m >= index for m in self.match_index.values())
            if self.log[index - 1][0] == self.term and acks >= majority(len(self.peers) + 1):
                self.commit_to(index)
                self.publish()
                break

    def replicate_to(self, p, backoff=False):
        nxt = self.next_index[p]
        entries = self.log[nxt - 1:]
        if entries:
            self.ledger.carrying += 1
        self.send(p, "AppendEntries", {"term": self.term, "prev": nxt - 1,
                                       "prev_term": self.log[nxt - 2][0] if nxt > 1 else 0,
                                       "entries": [f"{t}:{c}" for t, c in entries], "commit": self.commit_index},
                  tag=f"n={nxt}" if backoff else None)

    def commit_to(self, index):
        for i in range(self.commit_index + 1, index + 1):
            self.commit_index = i
            self.ledger.applies(self, i)
            command = self.log[i - 1][1]
            if self.role == "leader" and command in self.waiting:
                self.waiting.discard(command)
                self.send("client", "OK", {"command": command})

    def on_request(self, src, data):
        command = data["command"]
        if self.role != "leader":
            return self.send(src, "Redirect", {"leader": self.leader})
        index = next((i for i, (_, c) in enumerate(self.log, 1) if c == command), None)
        if index is not None and index <= self.commit_index:
            return self.send(src, "OK", {"command": command})
        self.waiting.add(command)
        if index is None:
            self.append(command)

    def on_crash(self):
        super().on_crash()
        if self.role == "leader":
            self.ledger.happenings.append((self.now, f"leader {self.id} crashed at t={self.now}"))

    def on_recover(self):
        self.volatile()
        self.note(f"{self.id} restarts with term {self.term} and its log; it forgot what was committed.")
        self.publish()
        self.reset_election()


class Client(Timed):
    """Sends one command at a time; follows a Redirect's hint, or tries the next server when no answer comes."""

    group = "client"

    def __init__(self, servers, params):
        super().__init__("client")
        self.servers, self.p = servers, params
        self.commands = list(COMMANDS[:params["requests"]])
        self.due = self.sent = 0
        self.outstanding, self.target, self.attempt = None, servers[0], 0
        self.retry = params["election_timeout_max"] + 4 * params["latency"]

    def on_start(self):
        first = self.p["election_timeout_max"] + 10 * self.p["latency"]
        for k, command in enumerate(self.commands):
            self.arm(f"command {command}", first + k * self.p["request_every"])

    def on_timer(self, label, data):
        self.timers.pop(label, None)
        if label == "retry":
            self.target = self.servers[(self.servers.index(self.target) + 1) % len(self.servers)]
            self.ask()
        else:
            self.due += 1
            self.pump()

    def pump(self):
        if self.outstanding is None and self.sent < self.due:
            self.outstanding, self.attempt = self.commands[self.sent], 0
            self.sent += 1
            self.ask()

    def ask(self):
        self.attempt += 1
        self.send(self.target, "Request", {"command": self.outstanding},
                  tag=f"#{self.attempt}" if self.attempt > 1 else None)
        self.arm("retry", self.retry)

    def on_message(self, msg):
        if msg.label == "OK" and msg.data["command"] == self.outstanding:
            self.disarm("retry")
            self.target, self.outstanding = msg.src, None
            self.pump()
        elif msg.label == "Redirect" and msg.data["leader"] and self.outstanding:
            self.target = msg.data["leader"]
            self.ask()


class Raft(Scenario):
    slug = "raft"
    title = "Raft consensus"
    summary_text = "Servers elect a leader with randomized timeouts, and the leader replicates a log to a majority."
    teaches = ("How randomized timeouts elect one leader per term, why an entry counts as committed only once a "
               "majority stores it, and how terms depose a stale leader.")
    tick = "one millisecond"
    problem = (
        "Servers S1..Sn keep a replicated log of client commands. Each is a follower, a candidate or a leader, and "
        "time is divided into numbered terms. A follower that hears no leader within its election timeout (drawn "
        "at random, afresh each time) becomes a candidate for the next term and asks for votes with RequestVote; "
        "a server grants one vote per term, only to a candidate whose log is at least as up to date as its own. A "
        "majority makes a leader, which sends AppendEntries: heartbeats, and the client's commands with the "
        "index and term of the entry before them, which a follower must hold or refuse. The leader then backs "
        "off that follower's nextIndex and tries again. An entry of the current term stored on a majority is "
        "committed. Any message with a higher term turns its receiver into a follower. The log shows term:command "
        "entries; '-' is a new leader's no-op.")
    theory = (
        "Raft guarantees election safety (at most one leader per term), leader append-only, log matching (two "
        "logs with an entry of the same index and term are identical up to it), leader completeness (a "
        "committed entry is in the log of every later leader) and state machine safety (no two servers apply "
        "different entries at one index), whatever crashes and partitions do; it stays available while a "
        "majority is up and connected. An uncontested election costs 2(n-1) messages (RequestVote and its "
        "reply to each other server); an entry not batched with others costs 2(n-1) AppendEntries and replies. "
        "Randomized timeouts make split votes rare and short-lived.")
    source = ("Ongaro and Ousterhout, 'In Search of an Understandable Consensus Algorithm', USENIX ATC 2014, "
              "Figure 2 and sections 5.1-5.4 and 8.")
    params = (
        Param("n", "int", 5, "number of servers", 3, 9),
        Param("election_timeout_min", "int", 150, "ms: shortest election timeout (drawn afresh at each reset)",
              10, 5000),
        Param("election_timeout_max", "int", 300, "ms: longest election timeout", 10, 5000),
        Param("heartbeat", "int", 50, "ms between a leader's AppendEntries when it has nothing new", 5, 1000),
        Param("latency", "int", 10, "ms per hop", 1, 200),
        Param("requests", "int", 3, "client commands (a, b, c, ...)", 0, len(COMMANDS)),
        Param("request_every", "int", 100, "ms between client commands; the first goes out at "
              "election_timeout_max + 10 hops", 10, 2000),
    )
    bands = {"as": {**{f"leader t{t}": "hold" for t in range(1, BAND_TERMS + 1)},
                    **{f"candidate t{t}": "busy" for t in range(1, BAND_TERMS + 1)}},
             "role": {"leader": "hold", "candidate": "busy"}}
    invariants = (
        Invariant("election safety", "At most one leader is elected in a given term."),
        Invariant("leader append-only", "A leader never overwrites or deletes entries in its log; it only appends."),
        Invariant("log matching", "Two logs with an entry of the same index and term are identical up to it."),
        Invariant("leader completeness", "An entry committed in a term is in the log of every leader of a later "
                                         "term."),
        Invariant("state machine safety", "No two servers apply different entries at the same index."),
    )
    max_events = 60_000

    def servers(self, params):
        return [f"S{i}" for i in range(1, params["n"] + 1)]

    def nodes(self, params):
        return self.servers(params) + [("client", "client", "client")]

    def validate(self, params):
        lo, hi = params["election_timeout_min"], params["election_timeout_max"]
        if hi < lo:
            refuse("election_timeout_max", f"must be at least election_timeout_min ({lo})")
        span = hi + 10 * params["latency"] + params["requests"] * params["request_every"] + 2 * hi
        if span // params["heartbeat"] * 4 * (params["n"] - 1) > 20_000:
            refuse("heartbeat", f"{span // params['heartbeat']} heartbeat rounds to {params['n'] - 1} followers "
                                f"is too long a run: raise heartbeat or send fewer, closer commands")

    @staticmethod
    def last_fault(faults):
        return max([f.get("until", f.get("at", 0)) for f in faults] + [0])

    def horizon(self, params, faults):
        first = params["election_timeout_max"] + 10 * params["latency"]
        return self.last_fault(faults) + first + params["requests"] * params["request_every"] + \
            20 * params["election_timeout_max"]

    def simulate(self, params, seed=0, faults=()):
        horizon = self.horizon(params, faults)
        sim = Simulation(self, params, seed, faults, max_events=self.max_events, max_time=horizon)
        sim.ledger.quiet_after = self.last_fault(faults)
        sim.horizon = ("horizon", f"Stopped at the horizon, t={horizon}: twenty election timeouts after the last "
                                  f"command and the last scripted fault, not every command was committed everywhere.")
        return sim

    def setup(self, sim, params):
        sim.network.delay = params["latency"]
        servers = self.servers(params)
        sim.ledger = Ledger(sim, servers, params["requests"])
        return [Server(s, servers, params) for s in servers] + [Client(servers, params)]

    # -- the outcome --------------------------------------------------------
    def summary(self, sim, params):
        ledger, n = sim.ledger, params["n"]
        first = ledger.leaders[0]["term"] if ledger.leaders else None
        entries = max((s.commit_index for s in ledger.nodes()), default=0)
        return {
            "leaders": ledger.leaders,
            "max_term": max(s.term for s in ledger.nodes()),
            "elections": len(ledger.candidacies),
            "committed": ledger.commands(),
            "stalled": len(ledger.commands()) < params["requests"] and sim.nodes["client"].alive,
            "commit_index": {s.id: s.commit_index for s in ledger.nodes()},
            "logs": {s.id: show(s.log) for s in ledger.nodes()},
            "election_messages": ledger.vote_msgs.get(first, 0) if first else None,
            "messages_per_entry": round(ledger.carrying / entries, 2) if entries else None,
            "theory": {"election_messages": 2 * (n - 1), "messages_per_entry": 2 * (n - 1),
                       "majority": majority(n)},
        }

    def headline(self, sim, params):
        s, ledger = sim.summary, sim.ledger
        broken = violation_clause(sim)
        if broken:
            return f"Raft's safety broke: {broken}."
        if not s["leaders"]:
            why = "no majority could hear each other" if faulted(sim) else "every vote split"
            return f"No server won an election by t={sim.now}: {why}."
        cmds, wanted = s["committed"], params["requests"]
        what = words(cmds) if len(cmds) <= 4 else f"all {len(cmds)} commands"
        live = [x for x in ledger.nodes() if x.alive]
        where = f"all {params['n']} servers" if len(live) == params["n"] else f"the {len(live)} live servers"
        if len(cmds) < wanted:
            done = (f"only {len(cmds)} of {wanted} commands were committed by t={sim.now}: no leader could reach "
                    f"both a majority and the client")
        else:
            done = f"{what} {'is' if len(cmds) == 1 else 'are'} committed on {where}" if wanted else \
                "no command was sent"
        story = list(ledger.happenings)
        split = sorted(t for t in ledger.candidacies if t not in ledger.by_term and t < s["leaders"][-1]["term"])
        if split:
            story.append((ledger.stood_at[split[0]], f"the vote for term {split[0]} split" if len(split) == 1 else
                          f"{len(split)} votes split"))
        for entries, (t, who) in ledger.dropped.items():
            story.append((t, f"{words(sorted(set(who)))} dropped uncommitted {entries}"))
        story = [text for _, text in sorted(story, key=lambda h: h[0])]
        if len(story) == 1 and len(cmds) == wanted and wanted:
            return f"{story[0].split(' at t=')[0]} and committed {what} on {where}."
        line = f"{words(story)}; {done}."
        if len(line) > 180:
            last = s["leaders"][-1]
            line = f"{len(s['leaders'])} leaders in turn, the last {last['node']} in term {last['term']}; {done}."
        return line[0].upper() + line[1:]

    def known(self, sim, params):
        s, ledger, n = sim.summary, sim.ledger, params["n"]
        faults = faulted(sim)
        per_term = {}
        for x in s["leaders"]:
            per_term[x["term"]] = per_term.get(x["term"], 0) + 1
        most = max(per_term.values(), default=0)
        measured = (f"{most} in term {next(iter(per_term))}" if len(per_term) == 1 else
                    f"at most {most} in each of {len(per_term)} terms with a leader" if per_term else "no leader")
        rows = [known_row("leaders per term", "at most one (election safety)", measured, most <= 1)]
        expected = 2 * (n - 1)
        if s["leaders"]:
            first = s["leaders"][0]["term"]
            contested = len(ledger.candidacies.get(first, [])) > 1
            early = bool(sim.interventions) and any(e["kind"] == "fault" for e in sim.trace
                                                    if e["t"] <= s["leaders"][0]["t"])
            if contested or early:
                agrees = None
                assumes = ("a single candidate with every server up and reachable; here "
                           + ("another server stood in the same term" if contested else f"{faults} first"))
            else:
                agrees, assumes = s["election_messages"] == expected, None
            rows.append(known_row("messages to elect a leader",
                                  f"2(n-1) = {expected}: a RequestVote and its reply per other server",
                                  f"{s['election_messages']} in term {first}", agrees, assumes))
        if s["messages_per_entry"] is not None:
            rtt = 2 * params["latency"]
            if faults:
                agrees, assumes = None, f"no failure; {faults}"
            elif rtt >= params["heartbeat"]:
                agrees, assumes = None, (f"a reply comes back before the next heartbeat; here a round trip "
                                         f"({rtt} ms) is not shorter than heartbeat ({params['heartbeat']} ms)")
            elif params["request_every"] < rtt:
                agrees, assumes = None, "commands not batched; here they come faster than a round trip"
            else:
                agrees, assumes = s["messages_per_entry"] == expected, None
            rows.append(known_row("messages to replicate an entry",
                                  f"2(n-1) = {expected}: AppendEntries carrying it and a reply, per follower",
                                  f"{s['messages_per_entry']:g} per entry ({ledger.carrying} for "
                                  f"{plural(max(s['commit_index'].values()), 'entry', 'entries')})",
                                  agrees, assumes))
        return rows
