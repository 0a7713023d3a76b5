"""The Two Generals: no finite chain of acknowledgements over a lossy channel makes attack safe."""
import random
from ..engine import Node
from ..params import Param
from ..scenario import Invariant, Scenario, faulted, known_row, violation_clause


class General(Node):
    """Sends the next chain message once the previous one arrives; attacks iff it got all addressed to it."""

    def __init__(self, id, scenario_params):
        super().__init__(id, label=f"General {id}")
        self.rounds = scenario_params["rounds"]
        self.messengers = scenario_params["messengers"]
        self.first = id == "A"
        self.received = set()

    @property
    def other(self):
        return "B" if self.first else "A"

    def addressed_to_me(self):
        return {i for i in range(1, self.rounds + 1) if (i % 2 == 0) == self.first}

    def on_start(self):
        self.set_state(received=0, plan="attack" if self.will_attack() else "retreat")
        if self.first:
            self.note("A proposes: attack at dawn. Each copy is carried by a messenger who may be captured.")
            self.send_chain(1)

    def send_chain(self, i):
        label = "ATTACK AT DAWN" if i == 1 else f"ACK {i - 1}"
        for copy in range(1, self.messengers + 1):
            self.send(self.other, label, {"i": i, "copy": copy})

    def on_message(self, msg):
        i = msg.data["i"]
        if i in self.received:
            return  # a later copy of a message already in hand
        self.received.add(i)
        self.set_state(received=len(self.received), plan="attack" if self.will_attack() else "retreat")
        if i < self.rounds:
            self.send_chain(i + 1)

    def will_attack(self):
        return self.addressed_to_me() <= self.received


class TwoGenerals(Scenario):
    slug = "two-generals"
    title = "Two Generals"
    summary_text = "Two armies must attack together, but every messenger may be captured."
    teaches = "Why no protocol over an unreliable channel can guarantee agreement, and how retries only buy odds."
    problem = (
        "Generals A and B camp on either side of a valley held by the enemy. They win only if they attack "
        "at the same dawn. A sends 'attack at dawn' by messenger; B acknowledges, A acknowledges the "
        "acknowledgement, and so on for R messages, each sent only after the previous one arrives. A general "
        "attacks if and only if it received every chain message addressed to it.")
    theory = (
        "No finite protocol guarantees coordination: the last message of any chain can be lost, and its sender "
        "cannot tell. With each message sent by k messengers, each captured with probability p, a message gets "
        "through with q = 1 - p^k. Then P(coordinated) = q^R, P(lone attack) = (1 - q) q^(R-1), and "
        "P(both retreat) = 1 - q^(R-1).")
    source = ("Akkoyunlu, Ekanadham and Huber, 'Some constraints and tradeoffs in the design of network "
              "communications' (SOSP 1975); Gray, 'Notes on Data Base Operating Systems' (1978).")
    params = (
        Param("rounds", "int", 3, "length R of the acknowledgement chain", 1, 10),
        Param("loss", "float", 0.3, "probability a messenger is captured", 0, 0.95),
        Param("messengers", "int", 1, "copies sent of each message", 1, 5),
    )
    bands = {"plan": {"attack": ("hold", "attacks")}}
    invariants = (
        Invariant("no_lone_attack", "Never does one general attack alone (safety)."),
    )

    def nodes(self, params):
        return [("A", "General A"), ("B", "General B")]

    def setup(self, sim, params):
        sim.network.loss = params["loss"]
        return [General("A", params), General("B", params)]

    def odds(self, params):
        q = 1 - params["loss"] ** params["messengers"]
        r = params["rounds"]
        return {"q": q, "coordinated": q ** r, "lone_attack": (1 - q) * q ** (r - 1),
                "both_retreat": 1 - q ** (r - 1)}

    def outcome(self, sim):
        a, b = sim.nodes["A"].will_attack(), sim.nodes["B"].will_attack()
        return a, b, "coordinated" if a and b else ("lone_attack" if a or b else "both_retreat")

    def finish(self, sim, params):
        a, b, outcome = self.outcome(sim)
        sim.emit("note", text=f"Dawn. A {'attacks' if a else 'retreats'}, B {'attacks' if b else 'retreats'}.")
        sim.check("no_lone_attack", outcome != "lone_attack",
                  f"{'A' if a else 'B'} attacks alone: the last message of the chain was lost.")

    def summary(self, sim, params):
        a, b, outcome = self.outcome(sim)
        odds = self.odds(params)
        return {
            "a_attacks": a,
            "b_attacks": b,
            "outcome": outcome,
            "chain_delivered": max(sim.nodes["A"].received | sim.nodes["B"].received, default=0),
            "theory": {
                "q": round(odds["q"], 6),
                "p_coordinated": round(odds["coordinated"], 6),
                "p_lone_attack": round(odds["lone_attack"], 6),
                "p_both_retreat": round(odds["both_retreat"], 6),
            },
            "estimate": self.estimate(params, sim.seed),
        }

    @staticmethod
    def label(i):
        return "ATTACK AT DAWN" if i == 1 else f"ACK {i - 1}"

    def lost(self, sim, i):
        """How chain message ``i`` was lost, in words: "was captured", "was dropped by hand"..."""
        ids = {e["msg"] for e in sim.trace if e["kind"] == "send" and e["data"]["i"] == i}
        reasons = {e["reason"] for e in sim.trace if e["kind"] == "drop" and e["msg"] in ids}
        if reasons == {"loss"}:
            return f"was captured{' with all its copies' if len(ids) > 1 else ''}"
        if "manual" in reasons:
            return "was dropped by hand"
        if "partition" in reasons:
            return "was cut off by a partition"
        return "never arrived"

    def headline(self, sim, params):
        summary, r = sim.summary, params["rounds"]
        got = summary["chain_delivered"]
        if summary["outcome"] == "lone_attack":
            who = "A" if summary["a_attacks"] else "B"
            return (f"{who} attacked alone: the last message of the chain, {self.label(r)}, {self.lost(sim, r)} "
                    f"and {who} could not tell; {violation_clause(sim)}.")
        if summary["outcome"] == "both_retreat":
            return (f"Both generals retreat: message {got + 1} of {r}, {self.label(got + 1)}, "
                    f"{self.lost(sim, got + 1)}, so neither got every message it needed; safe, but no attack.")
        last = "A" if r % 2 else "B"
        arrived = f"all {r} messages of the chain arrived" if r > 1 else "the one message arrived"
        return f"A and B attack together: {arrived}, yet {last}, who sent the last, cannot know it did."

    def known(self, sim, params):
        summary, theory = sim.summary, sim.summary["theory"]
        p, k, r = params["loss"], params["messengers"], params["rounds"]
        lone = "A" if summary["a_attacks"] else "B"
        outcome = {"coordinated": "both attacked together", "both_retreat": "both retreated",
                   "lone_attack": f"{lone} attacked alone"}[summary["outcome"]]
        est = summary["estimate"]

        def three(a, b, c):
            return " / ".join(f"{round(x, 3):g}" for x in (a, b, c))

        measured = f"this run: {outcome}"
        faults = faulted(sim)
        if faults:
            agrees = None
            assumes = (f"only random loss, each messenger captured with probability p = {p:g}; {faults}"
                       + (" by hand" if "dropped" in faults else ""))
        elif p == 0:
            agrees, assumes = summary["outcome"] == "coordinated", None
        else:
            measured += (f"; {est['trials']} simulated chains: "
                         f"{three(est['coordinated'], est['lone_attack'], est['both_retreat'])}")
            agrees, assumes = None, "odds over many runs: a single run is one draw"
        rows = [known_row("odds: attack together / one alone / both retreat",
                          f"{three(theory['p_coordinated'], theory['p_lone_attack'], theory['p_both_retreat'])}, "
                          f"from q = 1 − p^k = {round(theory['q'], 3):g} (p = {p:g}, k = {k}) and R = {r} messages",
                          measured, agrees, assumes)]
        last, sender = self.label(r), "A" if r % 2 else "B"
        measured = {"lone_attack": f"{lone} attacked alone: it sent {last} and never learned it was lost",
                    "coordinated": f"both attacked, but {sender} sent {last} and got no word back",
                    "both_retreat": "both retreated: the chain broke before its last message"}[summary["outcome"]]
        rows.append(known_row("a protocol that guarantees a joint attack",
                              "none exists: the last message can always be lost, and its sender cannot tell",
                              measured, True))
        return rows

    def estimate(self, params, seed, trials=2000):
        """Outcome frequencies over many seeded chains, to set beside the exact odds.

        A chain survives its first r-1 messages with probability q^(r-1) and all r with q^r, so one uniform
        draw per chain says how it ended.
        """
        rng = random.Random(seed)
        q = 1 - params["loss"] ** params["messengers"]
        whole, all_but_last = q ** params["rounds"], q ** (params["rounds"] - 1)  # whole <= all_but_last
        coordinated = lone = 0
        draw = rng.random
        for _ in range(trials):
            u = draw()
            if u < all_but_last:
                if u < whole:
                    coordinated += 1
                else:
                    lone += 1
        return {"trials": trials, "coordinated": coordinated / trials, "lone_attack": lone / trials,
                "both_retreat": (trials - coordinated - lone) / trials}
