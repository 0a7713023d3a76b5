"""The gossip problem: 2n-4 calls let n people share n secrets; rounds and random calls trade calls for time."""
import math

from ..engine import Node
from ..params import Param
from ..scenario import Invariant, Scenario, faulted, known_row, plural, refuse, some, violation_clause

ROUND_TICKS = 3  # the CALL, the REPLY, hanging up
MODES = ("optimal", "parallel", "epidemic", "push")
RUMOUR = "P1"


def rank(person):
    return int(person[1:])


class Secrets(list):
    """What someone knows, as the trace shows it (a list in rank order, P1 first) and as people compare it: a
    bitmask, bit i-1 for Pi. Set unions and the list rebuilt from all 64 ids on every call took a fifth of a
    64-person run's time."""
    __slots__ = ("mask",)


def byte_table(k):
    """For each value of byte k of a mask, the persons its bits name (P8k+1..P8k+8), in order: the lists for
    the values below 2^b, then the same with person b appended (built at import, so kept cheap)."""
    lists = [[]]
    for b in range(8):
        person = f"P{8 * k + b + 1}"
        lists += [known + [person] for known in lists]
    return lists


BYTES = [byte_table(k) for k in range(8)]


def spell(mask):
    """The Secrets a mask stands for, eight persons at a time (n is at most 64)."""
    secrets, k = Secrets(), 0
    secrets.mask = mask
    while mask:
        secrets += BYTES[k][mask & 255]
        mask >>= 8
        k += 1
    return secrets


def bit(person):
    return 1 << (rank(person) - 1)


RUMOUR_BIT = bit(RUMOUR)
RUMOUR_ONLY = spell(RUMOUR_BIT)  # what a push CALL carries


def log2_ceil(n):
    return (n - 1).bit_length()


def min_calls(n):
    return {2: 1, 3: 3}.get(n, 2 * n - 4)


def optimal_schedule(n):
    """Rounds of calls (caller, callee): P5..Pn phone P1, P1..P4 exchange in two rounds, P1 phones back."""
    if n < 4:
        return [[(1, 2)], [(2, 3)], [(1, 3)]][:min_calls(n)]
    outer = range(5, n + 1)
    return [[(i, 1)] for i in outer] + [[(1, 2), (3, 4)], [(1, 3), (2, 4)]] + [[(1, i)] for i in outer]


def hypercube(n):
    return [[(i + 1, (i ^ bit) + 1) for i in range(n) if i < i ^ bit] for bit in (1 << k for k in range(log2_ceil(n)))]


def parallel_schedule(n):
    """Disjoint calls per round: hypercube for 2^k, Knödel's schedule for even n, fold-in/fold-out for odd n."""
    d = log2_ceil(n)
    if n == 1 << d:
        return hypercube(n)
    if n % 2 == 0:
        h = n // 2
        return [[(j + 1, h + (j + (1 << r) - 1) % h + 1) for j in range(h)] for r in range(d)]
    m = 1 << (d - 1)
    fold = [(i, i - m) for i in range(m + 1, n + 1)]
    return [fold] + hypercube(m) + [[(b, a) for a, b in fold]]


SCHEDULES = {"optimal": optimal_schedule, "parallel": parallel_schedule}


def parallel_min_rounds(n):
    return log2_ceil(n) + n % 2


class Person(Node):
    """Knows a set of secrets; answers a CALL with what it knew, then adds what the caller brought (push: no answer)."""

    def __init__(self, id, exchange):
        super().__init__(id)
        self.exchange = exchange
        self.knows = spell(bit(id))  # replaced on change, never mutated, so messages and state may share it

    def on_start(self):
        self.set_state(knows=self.knows, known=1, **self.done())

    def done(self):
        """The ``done`` state key once this person has reached the goal; cleared if a crash makes it forget."""
        if self.exchange.push:
            done = "heard it" if self.knows.mask & RUMOUR_BIT else None
        else:
            done = "knows all" if self.knows.mask == self.exchange.everything else None
        return {"done": done} if done or "done" in self.state else {}

    def call(self, other, round):
        secrets = RUMOUR_ONLY if self.exchange.push else self.knows
        return self.send(other, "CALL", {"round": round, "secrets": secrets})

    def on_message(self, msg):
        if msg.label == "CALL" and not self.exchange.push:
            knew = self.knows
            self.send(msg.src, "REPLY", {"round": msg.data["round"], "secrets": knew})
            self.exchange.answered(msg.id, knew.mask)
        self.learn(msg.data["secrets"].mask)

    def learn(self, mask):
        if mask & ~self.knows.mask:
            self.remember(self.knows.mask | mask)

    def remember(self, mask):
        lost = self.knows.mask & ~mask
        if lost:
            self.check("knowledge_monotone", False, f"{self.id} no longer knows "
                       f"{', '.join(spell(lost))}: what it learned was lost in the crash.")
        self.knows = spell(mask)
        self.set_state(knows=self.knows, known=mask.bit_count(), **self.done())

    def on_recover(self):
        self.note(f"{self.id} is back, but knows only its own secret: what it heard was kept in memory only.")
        self.remember(bit(self.id))


class Call:
    __slots__ = ("caller", "callee", "sent", "reply")

    def __init__(self, caller, callee, sent):
        self.caller, self.callee, self.sent, self.reply = caller, callee, sent, None


class Exchange:
    """The telephone exchange of one run: places each round's calls at once and audits them when it ends."""

    def __init__(self, sim, params):
        self.sim = sim
        self.mode, self.n = params["mode"], params["n"]
        self.push = self.mode == "push"
        make = SCHEDULES.get(self.mode)
        self.schedule = make(self.n) if make else None
        self.last_round = len(self.schedule) if self.schedule else params["max_rounds"]
        self.ids = [f"P{i}" for i in range(1, self.n + 1)]
        self.everything = (1 << self.n) - 1  # the mask of all n secrets
        self.people = [Person(id, self) for id in self.ids]
        self.round = self.calls = 0
        self.completed_in = None
        self.open = {}  # CALL message id -> Call, for the current round

    def complete(self):
        if self.push:
            return all(p.knows.mask & RUMOUR_BIT for p in self.people)
        return all(p.knows.mask == self.everything for p in self.people)

    def begin(self):
        self.round += 1
        self.open = {}
        for caller, callee in self.pairs():
            msg = caller.call(callee.id, self.round)
            self.open[msg] = Call(caller, callee, caller.knows.mask)
            self.calls += 1
        self.sim.schedule(ROUND_TICKS, self.end)

    def pairs(self):
        people, rng = self.people, self.sim.rng
        if self.schedule:
            for a, b in self.schedule[self.round - 1]:
                a, b = people[a - 1], people[b - 1]
                if a.alive or b.alive:
                    yield (a, b) if a.alive else (b, a)
            return
        callers = [p for p in people if p.alive and (not self.push or p.knows.mask & RUMOUR_BIT)]
        for caller in callers:
            k = rng.randrange(self.n - 1)
            yield caller, people[k + (k >= rank(caller.id) - 1)]

    def answered(self, msg_id, knew):
        call = self.open.get(msg_id)
        if call:
            call.reply = knew

    def end(self):
        for call in self.open.values():
            if call.reply is not None:
                self.audit(call)
        if self.completed_in is None and self.complete():
            self.completed_in = self.round
            goal = f"the rumour {RUMOUR}" if self.push else f"all {self.n} secrets"
            fewest = (": the fewest calls possible" if self.mode == "optimal" and self.calls == min_calls(self.n)
                      else ": the fewest rounds possible" if self.mode == "parallel"
                      and self.round == parallel_min_rounds(self.n) else "")
            self.sim.note(f"Round {self.round}: everyone knows {goal}, after {self.calls} "
                          f"call{'s' if self.calls > 1 else ''}{fewest}.")
            if not self.schedule:
                return
        if self.round < self.last_round:
            self.begin()
        elif not self.schedule and self.completed_in is None:
            goal = f"the rumour {RUMOUR}" if self.push else "everything"
            self.sim.note(f"The round cap ({self.last_round}) is reached and not everyone knows {goal}.")

    def audit(self, call):
        brought = call.sent | call.reply
        for who, why in ((call.caller, "its REPLY did not arrive within the round"), (call.callee, "it forgot them")):
            missing = brought & ~who.knows.mask
            if missing:
                return self.sim.check("call_symmetric", False,
                                      f"Round {self.round}: {call.caller.id} called {call.callee.id}, but {who.id} "
                                      f"does not know {', '.join(spell(missing))}: {why}.")


class Gossip(Scenario):
    slug = "gossip"
    title = "The gossip problem"
    summary_text = "n people, n secrets, a telephone: how few calls, and how few rounds, until everyone knows all?"
    teaches = ("Why 2n-4 calls are the minimum, why parallel rounds need at least log2 n, and why random "
               "gossip spreads in O(log n) rounds yet a single lost call can leave someone in the dark.")
    problem = (
        "Persons P1..Pn each know one secret (P3's secret is called P3). They talk by telephone: in a call the "
        "caller's CALL carries everything the caller knows, the callee answers with a REPLY carrying everything "
        "it knew, and both hang up knowing the union. The goal is that everyone knows all n secrets. Modes: "
        "'optimal' places the fewest calls, one after another; 'parallel' runs rounds in which each person is "
        "in at most one call; 'epidemic' (push-pull) has every person call a random other person each round; "
        "'push' spreads a single rumour, P1's secret: whoever knows it calls a random person and tells it, and "
        "there the goal is that everyone knows P1's secret. Calls of a round happen at once.")
    theory = (
        "For n >= 4 exactly 2n-4 calls are needed (n=2 needs 1, n=3 needs 3). A schedule: P5..Pn each call P1; "
        "P1-P2 and P3-P4 talk, then P1-P3 and P2-P4, after which P1..P4 know everything; P1 calls P5..Pn back. "
        "In a parallel round the holders of any secret at most double, so at least ceil(log2 n) rounds are "
        "needed: the hypercube schedule (round k pairs persons whose numbers minus one differ in bit k) meets "
        "this when n is a power of two, Knödel's schedule for every even n, and odd n needs one round more "
        "(fold the extra persons in, hypercube, fold them out). Random calls need no schedule and finish in "
        "O(log n) rounds with high probability: push spreads one rumour in about log2 n + ln n rounds, push-pull "
        "in about log3 n, and push-pull exchanging everything brings all n secrets to everyone in O(log n). "
        "In push mode complete means everyone knows the one rumour, P1's secret. A round is three ticks: the "
        "CALL, the REPLY, hanging up.")
    source = (
        "Tijdeman, 'On a telephone problem', Nieuw Archief voor Wiskunde 19 (1971); Baker and Shostak, "
        "'Gossips and telephones', Discrete Mathematics 2 (1972); Hajnal, Milner and Szemerédi, 'A cure for the "
        "telephone disease', Canadian Mathematical Bulletin 15 (1972); Knödel, 'New gossips and telephones', "
        "Discrete Mathematics 13 (1975); Frieze and Grimmett, 'The shortest-path problem for graphs with random "
        "arc-lengths', Discrete Applied Mathematics 10 (1985); Pittel, 'On spreading a rumor', SIAM J. Applied "
        "Mathematics 47 (1987); Karp, Schindelhauer, Shenker and Vöcking, 'Randomized rumor spreading', FOCS 2000.")
    params = (
        Param("n", "int", 6, "number of persons (at most 32 in optimal and parallel modes)", 2, 64),
        Param("mode", "choice", "optimal", "who calls whom: a fixed schedule or random partners", choices=MODES),
        Param("max_rounds", "int", lambda p: 4 * log2_ceil(p["n"]) + 10,
              "round cap for the random modes (epidemic, push)", 1, 100),
    )
    bands = {"done": {"knows all": "done", "heard it": "done"}}
    invariants = (
        Invariant("knowledge_monotone", "Nobody ever forgets a secret."),
        Invariant("call_symmetric", "After a call both sides know the same: everything either side brought to it."),
        Invariant("complete", "At the end everyone knows all n secrets (in push mode: P1's rumour)."),
    )

    def nodes(self, params):
        return [f"P{i}" for i in range(1, params["n"] + 1)]

    def validate(self, params):
        if params["mode"] in ("optimal", "parallel") and params["n"] > 32:
            refuse("n", f"at most 32 in {params['mode']} mode (up to 64 in epidemic and push modes)")

    def setup(self, sim, params):
        exchange = Exchange(sim, params)
        sim.schedule(0, self.first_round, sim, exchange)
        return exchange.people

    def first_round(self, sim, exchange):
        n, mode = exchange.n, exchange.mode
        if mode == "optimal":
            core = "P1-P2 and P3-P4 talk, then P1-P3 and P2-P4"
            outer = "P5" if n == 5 else f"P5..P{n}"
            sim.note({2: "One call, and both know both secrets.",
                      3: "P1-P2, P2-P3, P1-P3: with three people two calls always leave someone out.",
                      4: f"{core}: 4 calls."}.get(n, f"{outer} {'phones' if n == 5 else 'each phone'} P1; {core}, "
                                                     f"after which P1..P4 know everything; P1 phones {outer} back: "
                                                     f"{min_calls(n)} calls."))
        elif mode == "parallel":
            m = 1 << (log2_ceil(n) - 1)
            how = ("the hypercube: in round k each person talks to the one whose number minus one differs in bit k"
                   if n & (n - 1) == 0 else "Knödel's schedule" if n % 2 == 0
                   else f"a fold: P{m + 1}..P{n} first call into P1..P{n - m}, P1..P{m} gossip on a hypercube, "
                        f"and the first round is repeated at the end")
            sim.note(f"Every round each person is in at most one call, following {how}.")
        elif mode == "epidemic":
            sim.note("Each round every person calls someone at random and both swap everything they know.")
        elif mode == "push":
            sim.note(f"Only {RUMOUR} knows the rumour. Each round everyone who knows it tells someone at random.")
        exchange.begin()

    def exchange(self, sim):
        return sim.nodes["P1"].exchange

    def finish(self, sim, params):
        exchange = self.exchange(sim)
        if exchange.complete():
            return
        people = exchange.people
        if exchange.push:
            missing = [p.id for p in people if not p.knows.mask & RUMOUR_BIT]
            detail = f"{', '.join(missing)} never heard the rumour {RUMOUR}."
        else:
            lacking = [p for p in people if p.knows.mask != exchange.everything]
            detail = "Not everyone knows everything: " + "; ".join(
                f"{p.id} lacks {', '.join(spell(exchange.everything & ~p.knows.mask))}" for p in lacking[:4]) + (
                "; ..." if len(lacking) > 4 else ".")
        sim.check("complete", False, detail)

    def summary(self, sim, params):
        exchange = self.exchange(sim)
        n, mode = params["n"], params["mode"]
        complete = exchange.complete()
        if mode == "push":
            goal = f"everyone knows the rumour {RUMOUR} (push spreads one secret)"
            theory = {"min_calls": n - 1,
                      "rounds_lower_bound": log2_ceil(n), "expected_rounds": round(math.log2(n) + math.log(n), 2),
                      "round_cap": params["max_rounds"]}
        elif mode == "epidemic":
            theory = {"min_calls": min_calls(n),
                      "push_pull_one_rumour_rounds": round(math.log(n, 3), 2), "round_cap": params["max_rounds"]}
        else:
            theory = {"min_calls": min_calls(n),
                      "rounds_lower_bound": log2_ceil(n), "min_parallel_rounds": parallel_min_rounds(n),
                      "schedule_calls": sum(map(len, exchange.schedule)), "schedule_rounds": len(exchange.schedule)}
        return {
            "mode": mode,
            "goal": goal if mode == "push" else f"everyone knows all {n} secrets",
            "calls": exchange.calls,
            "rounds": exchange.round,
            "complete": complete,
            "completed_in_round": exchange.completed_in,
            "knowledge": {p.id: list(p.knows) for p in exchange.people},
            "theory": theory,
        }

    def headline(self, sim, params):
        summary, n, mode = sim.summary, params["n"], params["mode"]
        calls, rounds = plural(summary["calls"], "call"), summary["completed_in_round"]
        broken = violation_clause(sim)
        if broken:
            if "complete" in sim.violations and broken.startswith("complete"):
                knowledge = summary["knowledge"]
                if mode == "push":
                    missing = [p for p, k in knowledge.items() if RUMOUR not in k]
                    lead = f"{some(missing)} never heard {RUMOUR}'s rumour"
                else:
                    lacking = {p: [s for s in self.ids(n) if s not in k] for p, k in knowledge.items() if len(k) < n}
                    first = next(iter(lacking.values()))
                    same = [p for p, miss in lacking.items() if miss == first]
                    lead = f"{some(same)} never learn {some(first)}"
                why = faulted(sim, "the fault script", most=1) or (f"the round cap of {params['max_rounds']} came first" if mode in ("epidemic", "push")
                                       else "a call failed")
                return f"Not everyone knows everything: {lead}, because {why}; {broken}."
            return f"Someone forgot or missed what a call should have taught them; {broken}."
        if mode == "push":
            return f"Everyone heard {RUMOUR}'s rumour after {plural(rounds, 'round')} of random calls ({calls})."
        if mode == "optimal":
            fewest = summary["calls"] == min_calls(n)
            return (f"Everyone knows all {n} secrets after {calls}"
                    + (f", the fewest possible ({self.calls_formula(n)})." if fewest else "."))
        if mode == "parallel":
            fewest = ", the fewest possible" if rounds == parallel_min_rounds(n) else ""
            return f"Everyone knows all {n} secrets after {plural(rounds, 'parallel round')} ({calls}){fewest}."
        return f"Everyone knows all {n} secrets after {plural(rounds, 'round')} of random calls ({calls})."

    @staticmethod
    def ids(n):
        return [f"P{i}" for i in range(1, n + 1)]

    @staticmethod
    def calls_formula(n):
        return {2: "1 for n=2", 3: "3 for n=3"}.get(n, f"2n−4 = {2 * n - 4}")

    def known(self, sim, params):
        summary, theory, n, mode = sim.summary, sim.summary["theory"], params["n"], params["mode"]
        complete, rounds = summary["complete"], summary["completed_in_round"]
        faults = faulted(sim)
        spoiled = faults or not complete
        assumes = (f"no lost calls and no crashes; {faults}" if faults else
                   "everyone finishes: here not everyone learned everything") if spoiled else None
        calls = f"{summary['calls']}" + ("" if complete else ", and not everyone knows everything")
        rows = []
        if mode == "optimal":
            rows.append(known_row("calls until everyone knows everything", f"{self.calls_formula(n)}, the minimum",
                                  calls, None if spoiled else summary["calls"] == min_calls(n), assumes))
        elif mode == "parallel":
            rows.append(known_row("parallel rounds until everyone knows everything",
                                  f"{parallel_min_rounds(n)} = ⌈log2 n⌉" + (" + 1 for odd n" if n % 2 else "")
                                  + ", the minimum", str(rounds) if complete else f"not done after {summary['rounds']}",
                                  None if spoiled else rounds == parallel_min_rounds(n), assumes))
            rows.append(known_row("calls, at least", f"{self.calls_formula(n)}", calls,
                                  None if spoiled else summary["calls"] >= min_calls(n), assumes))
        else:
            if mode == "push":
                known = f"about log2 n + ln n = {theory['expected_rounds']:g}, on average"
            else:
                known = (f"O(log n) with high probability (push-pull spreads one rumour in about "
                         f"log3 n = {theory['push_pull_one_rumour_rounds']:g})")
            rows.append(known_row("rounds of random calls until done", known,
                                  str(rounds) if complete else f"not done after {summary['rounds']}", None,
                                  assumes or "an average over random runs: one run is one draw"))
        return rows
