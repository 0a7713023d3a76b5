"""The Byzantine Generals (Lamport, Shostak and Pease 1982): oral messages need n > 3m, signed ones do not."""
from itertools import permutations

from ..engine import Node
from ..params import Param
from ..scenario import Choice, Invariant, Scenario, faulted, known_row, plural, refuse, violation_clause, words

ATTACK, RETREAT = "ATTACK", "RETREAT"
PLANS = (ATTACK, RETREAT)
STRATEGIES = ("attack", "retreat", "flip", "split", "silent", "random", "chosen")
SAYS = {"A": ATTACK, "R": RETREAT, "-": None}  # an answer of the chosen strategy; "=" passes on the honest value
ANSWER = r"[AR=-]"
MAX_OM_MESSAGES = 1000
LIES = {
    "attack": "it says ATTACK to everyone, whatever it heard",
    "retreat": "it says RETREAT to everyone, whatever it heard",
    "flip": "it passes on the opposite of what it heard",
    "split": "it says ATTACK to odd-numbered lieutenants and RETREAT to even-numbered ones",
    "silent": "it sends nothing, and a missing value counts as RETREAT",
    "random": "it says ATTACK or RETREAT at random, message by message",
    "chosen": "it says what the answers parameter chose for each of its messages",
}


def om_messages(n, m):
    """Every relay chain of OM(m) is one message: the sum over k=1..m+1 of (n-1)(n-2)...(n-k)."""
    total, term = 0, 1
    for k in range(1, m + 2):
        term *= n - k
        total += term
    return total


def majority(values):
    attack = values.count(ATTACK)
    return ATTACK if attack > len(values) - attack else RETREAT


def opposite(plan):
    return RETREAT if plan == ATTACK else ATTACK


class General(Node):
    """A general, loyal or a traitor; a traitor sends what its strategy says instead of the honest value."""

    def __init__(self, id, label, params):
        traitor = id in params["traitors"]
        super().__init__(id, label, "traitor" if traitor else None)
        self.traitor = traitor
        self.strategy = params["strategy"]
        self.crashed = False
        self.counted = False  # loyal and up when the lieutenants decided
        self.decision = None
        self.forged = 0
        self.answers = None  # the traitors' shared Answers, set by the scenario

    @property
    def loyal(self):
        return not self.traitor and not self.crashed

    def on_start(self):
        if self.traitor:
            self.set_state(traitor=self.strategy)
            self.note(f"{self.id} is a traitor: {LIES[self.strategy]}.")

    def on_crash(self):
        self.crashed = True

    def tell(self, dst, honest, path):
        """Send ``honest`` along the relay ``path`` (it ends at ``dst``), or the traitor's lie instead."""
        value = self.answers.give(self, dst, honest, self.lie(honest, dst)) if self.traitor else honest
        if value is None:
            return
        forged = value != honest
        if forged:
            self.forged += 1
        self.send(dst, value, {"round": len(path) - 1, "path": ">".join(path), "forged": forged})

    def lie(self, honest, dst):
        strategy = self.strategy
        if strategy == "silent":
            return None
        if strategy == "flip":
            return opposite(honest)
        if strategy == "split":
            return ATTACK if int(dst[1:]) % 2 else RETREAT
        if strategy == "random":
            return self.sim.rng.choice(PLANS)
        if strategy == "chosen":
            return self.answers.chosen(honest)
        return ATTACK if strategy == "attack" else RETREAT


class Answers:
    """The traitors' messages in the order they are sent, one position each (a silent one too).

    The chosen strategy reads its answers from here; every strategy writes down what it gave, so that a
    search can take any run's answers as its starting point and change one position at a time.
    """

    def __init__(self, text):
        self.script = [part.strip() for part in text.split(",")] if text.strip() else []
        self.given = []  # (sender, dst, honest value, value sent or None), by position

    def chosen(self, honest):
        position = len(self.given)
        pick = self.script[position] if position < len(self.script) else "="
        return honest if pick == "=" else SAYS[pick]

    def give(self, general, dst, honest, value):
        self.given.append((general.id, dst, honest, value))
        return value


class Commander(General):
    """Sends its order in round 1; its signature is what SM(m) lieutenants check."""

    def __init__(self, params):
        super().__init__("C", "Commander", params)
        self.order = params["order"]

    def on_start(self):
        self.set_state(order=self.order)
        super().on_start()

    def command(self, lieutenants):
        for dst in lieutenants:
            self.tell(dst, self.order, ("C", dst))

    def signs(self, value):
        """A loyal commander signs only its order; a traitor shares its key with its fellow traitors."""
        return self.traitor or value == self.order


class Lieutenant(General):
    """Takes a value only in its own round: in the synchronous model a late message is a missing one."""

    def __init__(self, id, params):
        super().__init__(id, f"Lieutenant {id[1:]}", params)
        self.m = params["m"]
        self.others = [f"L{i}" for i in range(1, params["n"]) if f"L{i}" != id]

    def on_message(self, msg):
        path, sent_in = msg.data["path"], msg.data["round"]
        if sent_in != self.now:
            self.note(f"{self.id} ignores {msg.label} via {path}: it missed round {sent_in}, so it counts as missing.")
            return
        self.hear(msg.label, tuple(path.split(">")))


class OralLieutenant(Lieutenant):
    """OM(m): relay every value as commander of the smaller problem, then decide by majority of the sub-results."""

    def __init__(self, id, params):
        super().__init__(id, params)
        self.heard = {}  # relay path (ending here) -> the value that came along it

    def hear(self, value, path):
        if path not in self.heard:
            self.heard[path] = value
            if len(path) == 2:
                self.set_state(heard=value)

    def relay(self, k):
        """Round k+1: pass on the value of every k-hop chain (RETREAT if none came) to those not on it."""
        for middle in permutations(self.others, k - 1):
            path = ("C", *middle, self.id)
            honest = self.heard.get(path, RETREAT)
            for dst in self.others:
                if dst not in middle:
                    self.tell(dst, honest, path + (dst,))

    def outcome(self, chain):
        """This lieutenant's result of OM(m+1-len(chain)) commanded by chain[-1], and what each other relayed."""
        own = self.heard.get(chain + (self.id,), RETREAT)
        if len(chain) > self.m:
            return own, {}
        relayed = {j: self.outcome(chain + (j,))[0] for j in self.others if j not in chain}
        return majority([own, *relayed.values()]), relayed

    def decide(self):
        self.decision, relayed = self.outcome(("C",))
        own = self.heard.get(("C", self.id))
        votes = [f"{own} from C" if own else "nothing from C (RETREAT)"]
        votes += [f"{value} via {j}" if self.m > 1 or ("C", j, self.id) in self.heard else f"nothing via {j} (RETREAT)"
                  for j, value in relayed.items()]
        self.set_state(decision=self.decision)
        self.note(f"{self.id} decides {self.decision}: majority of {', '.join(votes)}; a tie is RETREAT.")


class SignedLieutenant(Lieutenant):
    """SM(m): keep every signed value V; countersign and relay a new one while the chain is short; decide choice(V)."""

    def __init__(self, id, params):
        super().__init__(id, params)
        self.values = []
        self.fresh = []  # (value, path) first seen this round, to relay in the next

    def hear(self, value, path):
        if not self.sim.nodes["C"].signs(value):
            self.note(f"{self.id} rejects {value} via {'>'.join(path)}: C's signature on it is forged.")
            return
        if value not in self.values:
            self.values.append(value)
            self.fresh.append((value, path))
            self.set_state(V=sorted(self.values))

    def relay(self, k):
        """Round k+1: countersign each value first seen in round k and send it to every lieutenant not on its chain."""
        for value, path in self.fresh:
            for dst in self.others:
                if dst not in path:
                    self.tell(dst, value, path + (dst,))
        self.fresh = []

    def decide(self):
        self.decision = self.values[0] if len(self.values) == 1 else RETREAT
        seen = "{" + ", ".join(sorted(self.values)) + "}"
        self.set_state(decision=self.decision)
        self.note(f"{self.id} decides {self.decision}: V = {seen}, and choice(V) is its only value, or RETREAT.")


class Rounds:
    """The synchronous rounds: every send of round k happens at t=k-1, and the lieutenants decide at t=m+1.

    Each step is scheduled after the previous round's sends, so at its tick it runs once they have landed.
    """

    def __init__(self, sim, params, commander, lieutenants):
        self.sim, self.commander, self.lieutenants = sim, commander, lieutenants
        self.m, self.oral = params["m"], params["mode"] == "om"

    def begin(self):
        """Round 1 waits for every general's start at t=0."""
        self.sim.schedule(0, self.step, 1)

    def step(self, k):
        if k > self.m + 1:
            return self.decide()
        if k == 1:
            self.sim.note("Round 1: the commander sends its order to every lieutenant.")
            if self.commander.alive:
                self.commander.command([lieutenant.id for lieutenant in self.lieutenants])
        else:
            self.sim.note(f"Round {k}: each lieutenant relays, as commander of OM({self.m + 1 - k}), every value "
                          f"it got in round {k - 1}." if self.oral else
                          f"Round {k}: each lieutenant countersigns the values it first saw in round {k - 1} and "
                          f"passes them on.")
            for lieutenant in self.lieutenants:
                if lieutenant.alive:
                    lieutenant.relay(k - 1)
        self.sim.schedule(1, self.step, k + 1)

    def decide(self):
        generals = [self.commander, *self.lieutenants]
        for general in generals:
            general.counted = general.loyal
        crashed = [g.id for g in generals if g.crashed and not g.traitor]
        if crashed:
            faults = len(crashed) + sum(g.traitor for g in generals)
            beyond = f" This run has {faults} faults for m = {self.m}: no guarantee holds." if faults > self.m else ""
            self.sim.note(f"{', '.join(crashed)} crashed before the decision: a crash is a fault, counted against m "
                          f"like a silent traitor.{beyond}")
        for lieutenant in self.lieutenants:
            if lieutenant.counted:
                lieutenant.decide()
        decisions, ic1, ic2 = verdict(self.commander, self.lieutenants)
        self.sim.check("IC1", ic1, "loyal lieutenants disagree: " +
                       ", ".join(f"{who} {d}" for who, d in decisions.items()))
        self.sim.check("IC2", ic2, f"the loyal commander ordered {self.commander.order}, but " +
                       ", ".join(f"{who} decided {d}" for who, d in decisions.items() if d != self.commander.order))


def verdict(commander, lieutenants):
    """Decisions of the loyal lieutenants, and whether IC1 and IC2 hold for them."""
    decisions = {lieutenant.id: lieutenant.decision for lieutenant in lieutenants if lieutenant.decision}
    ic1 = len(set(decisions.values())) <= 1
    ic2 = not commander.counted or all(d == commander.order for d in decisions.values())
    return decisions, ic1, ic2


class ByzantineGenerals(Scenario):
    slug = "byzantine-generals"
    title = "Byzantine Generals"
    summary_text = "Loyal generals must agree to attack or retreat although some of them, maybe the commander, lie."
    teaches = ("Why agreement despite liars needs more than three generals per traitor when words can be forged, "
               "and how signatures lift that bound.")
    problem = (
        "A commander C and lieutenants L1..L(n-1) must agree on one plan, ATTACK or RETREAT, by messengers. Some "
        "generals, perhaps the commander, are traitors who lie to split the loyal ones. With oral messages (om), "
        "a relayed value can be changed at will. In OM(m) the commander sends its order; each lieutenant relays "
        "what it got to the others, acting as commander of OM(m-1); each decides by majority, a tie or a missing "
        "value counting as RETREAT. With signed messages (sm), a signed value cannot be changed. In SM(m) each "
        "lieutenant keeps the set V of values it has seen, countersigns and relays a new value while its chain "
        "holds fewer than m+1 signatures, and decides choice(V): the single value in V, otherwise RETREAT. "
        "Rounds are synchronous: round k is sent at t=k-1, and a message that misses its round counts as missing.")
    theory = (
        "Two conditions: IC1, all loyal lieutenants decide the same plan; IC2, if the commander is loyal, every "
        "loyal lieutenant obeys its order. OM(m) guarantees both with at most m traitors whenever n > 3m. When "
        "n <= 3m, no oral-message algorithm guarantees anything: with three generals and one traitor, a lieutenant "
        "cannot tell a lying commander from a lying comrade. OM(m) costs (n-1) + (n-1)(n-2) + ... + "
        "(n-1)(n-2)...(n-m-1) messages, exponential in m; this page draws at most "
        f"{MAX_OM_MESSAGES:,}, so it refuses OM(3) for n >= 8. SM(m) guarantees both with any number of traitors "
        "up to m (given n >= m+2), because nobody can forge a loyal general's signature. A crashed general or a "
        "lost message is one more fault.")
    source = "Lamport, Shostak and Pease, 'The Byzantine Generals Problem', ACM TOPLAS 4(3):382-401, 1982."
    params = (
        Param("n", "int", 4, "number of generals: the commander C and lieutenants L1..L(n-1)", 3, 10),
        Param("m", "int", 1, "traitors the algorithm is built for: OM(m) or SM(m) relays for m rounds", 0, 3),
        Param("mode", "choice", "om", "om: oral messages OM(m); sm: signed messages SM(m)", choices=("om", "sm")),
        Param("order", "choice", ATTACK, "the commander's order", choices=PLANS),
        Param("traitors", "nodes", lambda p: [f"L{p['n'] - 1}"], "the traitors; may include the commander C",
              max=9, choices=lambda p: ["C", *(f"L{i}" for i in range(1, p["n"]))]),
        Param("strategy", "choice", "flip", "how traitors lie: split says ATTACK to odd and RETREAT to even "
              "lieutenants; silent sends nothing; random draws each value; chosen follows answers",
              choices=STRATEGIES),
        Param("answers", "text", "", "with strategy chosen: what the traitors send, message by message in the order "
              "they send: A (ATTACK), R (RETREAT), - (nothing) or = (the honest value), comma-separated; "
              "messages past the list are honest", pattern=rf"(?:{ANSWER}(?:\s*,\s*{ANSWER})*)?", max_length=4000),
    )
    search_kinds = ("choice",)  # the theorem tolerates traitors, not lost messages: a search asks what a traitor can do
    bands = {"traitor": {strategy: ("traitor", "traitor") for strategy in STRATEGIES},
             "decision": {ATTACK: "done", RETREAT: "done"}}
    invariants = (
        Invariant("IC1", "All loyal lieutenants decide the same plan."),
        Invariant("IC2", "If the commander is loyal, every loyal lieutenant obeys its order."),
    )

    def nodes(self, params):
        traitors = params["traitors"]
        return [("C", "Commander", "traitor" if "C" in traitors else None)] + [
            (f"L{i}", f"Lieutenant {i}", "traitor" if f"L{i}" in traitors else None) for i in range(1, params["n"])]

    def validate(self, params):
        n, m = params["n"], params["m"]
        if m > n - 2:
            refuse("m", f"at most n-2 = {n - 2}: a relay chain visits each of the {n - 1} lieutenants once, so "
                        f"further rounds would carry nothing")
        if not set(f"L{i}" for i in range(1, n)) - set(params["traitors"]):
            refuse("traitors", "at least one lieutenant must be loyal, or there is no decision to judge")
        count = om_messages(n, m)
        if params["mode"] == "om" and count > MAX_OM_MESSAGES:
            refuse("m", f"OM({m}) with n = {n} sends {count:,} messages, more than the {MAX_OM_MESSAGES:,} this page "
                        f"draws legibly: the count grows like (n-1)^(m+1). Lower n or m, or sign the messages")

    def setup(self, sim, params):
        commander = Commander(params)
        kind = OralLieutenant if params["mode"] == "om" else SignedLieutenant
        lieutenants = [kind(f"L{i}", params) for i in range(1, params["n"])]
        answers = Answers(params.get("answers", ""))
        for general in (commander, *lieutenants):
            general.answers = answers
        rounds = Rounds(sim, params, commander, lieutenants)
        sim.schedule(0, rounds.begin)
        self.introduce(sim, params)
        return [commander, *lieutenants]

    def choice_points(self, sim):
        """Each message a traitor sends (or withholds) is a choice: ATTACK, RETREAT or nothing."""
        points = []
        for position, (sender, dst, honest, value) in enumerate(sim.nodes["C"].answers.given):
            taken = next(code for code, says in SAYS.items() if says == value)
            points.append(Choice(position, taken, tuple(c for c in SAYS if c != taken),
                                 f"traitor {sender}'s message to {dst} (honest: {honest})",
                                 {"A": "says ATTACK", "R": "says RETREAT", "-": "says nothing"}))
        return points

    def with_choices(self, params, picks):
        answers = ",".join(picks.get(position, "=") for position in range(max(picks) + 1)) if picks else ""
        return {**params, "strategy": "chosen", "answers": answers}

    def introduce(self, sim, params):
        """Say at the outset whether the theorem promises anything for this run."""
        n, m, t = params["n"], params["m"], len(params["traitors"])
        traitors = f"{t} traitor{'' if t == 1 else 's'}"
        if params["mode"] == "om" and n <= 3 * m:
            sim.note(f"n = {n} <= 3m = {3 * m}: with oral messages no guarantee holds. IC1 and IC2 may fail; "
                     f"try the traitors and strategies until you find a run where they do.")
        elif t > m:
            sim.note(f"{traitors}, but {params['mode'].upper()}({m}) is built for at most {m}: no guarantee holds.")
        elif params["mode"] == "om":
            sim.note(f"n = {n} > 3m = {3 * m} and {traitors} <= m: whatever the traitors do, IC1 and IC2 "
                     f"must hold.")
        else:
            sim.note(f"Signed messages and {traitors} <= m = {m}: whatever the traitors do, IC1 and IC2 must "
                     f"hold.")

    def summary(self, sim, params):
        n, m = params["n"], params["m"]
        generals = [sim.nodes["C"], *(sim.nodes[f"L{i}"] for i in range(1, n))]
        decisions, ic1, ic2 = verdict(generals[0], generals[1:])
        t = len(params["traitors"])
        oral = params["mode"] == "om"
        return {
            "decisions": decisions,
            "ic1": ic1,
            "ic2": ic2,
            "rounds": m + 1,
            "traitors": params["traitors"],
            "crashed": [g.id for g in generals if g.crashed],
            "forged": sum(g.forged for g in generals),
            "theory": {
                "om_messages": om_messages(n, m),
                "sm_messages_at_most": (n - 1) * (2 * n - 3),
                "n_gt_3m": n > 3 * m,
                "traitors_within_m": t <= m,
                "guaranteed": t <= m and (n > 3 * m or not oral),
                "condition": "n > 3m and at most m traitors" if oral else "at most m traitors (n >= m+2)",
            },
        }

    def weakness(self, sim, params):
        """Why the theorem promises nothing for this run, in words, or "" when it promises IC1 and IC2."""
        n, m = params["n"], params["m"]
        summary = sim.summary
        faults = len(summary["traitors"]) + len([g for g in summary["crashed"] if g not in summary["traitors"]])
        if params["mode"] == "om" and n <= 3 * m:
            return f"n > 3m; here n={n}, m={m}"
        if faults > m:
            return f"at most m={m} faulty generals; here {faults}, crashes counted"
        extra = faulted(sim)
        if extra:
            return f"no lost or late messages; {extra}"
        return ""

    def headline(self, sim, params):
        summary, m = sim.summary, params["m"]
        algo = f"{params['mode'].upper()}({m})"
        decisions = summary["decisions"]
        traitors = summary["traitors"]
        liars = f"traitor{'s' if len(traitors) > 1 else ''} {words(traitors)}"
        commander_loyal = "C" not in traitors and "C" not in summary["crashed"]
        order = params["order"]
        weak = self.weakness(sim, params)
        why = {True: f"{algo} promises nothing, as n={params['n']} ≤ 3m",
               False: f"there are more faults than m={m}"}[params["mode"] == "om" and params["n"] <= 3 * m] if weak else ""
        if weak and not weak.startswith(("n > 3m", "at most m")):
            why = "messages went missing"
        broken = violation_clause(sim)
        if not decisions:
            return f"No loyal lieutenant decided: {liars} and the crashes left nobody to judge."
        if broken:
            if "IC1" in sim.violations:
                split = "; ".join(f"{words([w for w, d in decisions.items() if d == plan])} {plan}"
                                  for plan in PLANS if plan in decisions.values())
                return f"Loyal lieutenants split ({split}): {liars} lied and {why}; {broken}."
            wrong = [w for w, d in decisions.items() if d != order]
            return (f"{words(wrong)} decide{'s' if len(wrong) == 1 else ''} {opposite(order)} against loyal C's "
                    f"order {order}: {liars} lied and {why}; {broken}.")
        plan = next(iter(decisions.values()))
        who = words(list(decisions)) if len(decisions) > 1 else next(iter(decisions))
        verb = "all decide" if len(decisions) > 2 else "both decide" if len(decisions) == 2 else "decides"
        if not traitors:
            return f"{who} {verb} {plan} as C ordered: with no traitor, {algo} sent {plural(sim.network.sent, 'message')}."
        if weak:
            obeyed = " as loyal C ordered" if commander_loyal else ""
            return f"{who} {verb} {plan}{obeyed}: {liars} did no harm this time, though {why}."
        if not commander_loyal:
            lied = ("the traitor commander C lied" if traitors == ["C"] else
                    f"{liars} lied, the commander among them")
            return f"{who} {verb} {plan} although {lied}: {algo} still makes the loyal agree."
        if params["mode"] == "sm":
            return (f"{who} {verb} {plan} as loyal C ordered: {liars} could not forge C's signature, so "
                    f"{algo} holds with n={params['n']}.")
        return (f"{who} {verb} {plan} as loyal C ordered, although {liars} lied: with n={params['n']} > 3m={3 * m} "
                f"{algo} guarantees it.")

    def known(self, sim, params):
        summary, theory = sim.summary, sim.summary["theory"]
        n, m = params["n"], params["m"]
        oral = params["mode"] == "om"
        held = [name for name in ("IC1", "IC2") if name not in sim.violations]
        measured = ("IC1 and IC2 held" if len(held) == 2 else
                    f"{words(sorted(sim.violations))} violated at t={min(sim.violated_at.values())}")
        weak = self.weakness(sim, params)
        condition = "n > 3m and at most m traitors" if oral else "at most m traitors (n ≥ m+2)"
        rows = [known_row(f"agreement (IC1 and IC2) under {params['mode'].upper()}({m})",
                          f"guaranteed when {condition}", measured,
                          None if weak else len(held) == 2, weak or None)]
        silent = params["strategy"] == "silent" and summary["traitors"]
        fewer = silent or summary["crashed"] or faulted(sim)
        sent = sim.network.sent
        if oral:
            terms, term = [], 1
            for k in range(1, m + 2):
                term *= n - k
                terms.append("·".join(str(n - j) for j in range(1, k + 1)))
            known = f"{theory['om_messages']} = {' + '.join(terms)}"
            agrees = None if fewer else sent == theory["om_messages"]
        else:
            known = f"at most {theory['sm_messages_at_most']} = (n−1)(2n−3)"
            agrees = None if fewer else sent <= theory["sm_messages_at_most"]
        assumes = None
        if fewer:
            assumes = ("every general sends in every round; here "
                       + ("a silent traitor sends nothing" if silent else
                          f"{words(summary['crashed'])} crashed" if summary["crashed"] else "the fault script intervened"))
        rows.append(known_row("messages sent", known, str(sent), agrees, assumes))
        return rows
