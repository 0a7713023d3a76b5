"""What the engine gives the kit: a per-run world, nodes that start down, note_once, invariants on the world."""
from simulations.engine import Node
from simulations.scenario import Invariant

from .stage import play


class Account:
    def __init__(self):
        self.balance = 10


class Spender(Node):
    def on_start(self):
        for at in (1, 2, 3):
            self.set_timer(at, "spend")

    def on_timer(self, label, data):
        self.sim.world.balance -= 4
        self.note_once("spend", "Spending without looking at the balance.")


NON_NEGATIVE = Invariant("non_negative", "The balance never goes below zero.",
                         lambda world: world.balance < 0 and f"the balance is {world.balance}")


def test_each_run_gets_a_fresh_world_that_nodes_and_invariants_read():
    first = play(lambda: [Spender("Spender")], world=Account, invariants=[NON_NEGATIVE])
    second = play(lambda: [Spender("Spender")], world=Account, invariants=[NON_NEGATIVE])
    assert first.world is not second.world and first.world.balance == second.world.balance == -2


def test_a_world_invariant_is_flagged_at_the_step_that_breaks_it_and_reported_at_the_end():
    sim = play(lambda: [Spender("Spender")], world=Account, invariants=[NON_NEGATIVE])
    red = [e for e in sim.trace if e["kind"] == "check" and not e["ok"]]
    assert [(e["t"], e["detail"]) for e in red] == [(3, "the balance is -2"), (3, "the balance is -2")]
    assert sim.summary["violations"] == ["non_negative"]


class SpenderThenWaiter(Spender):
    """Breaks the balance at t=3, then has one more step at t=4; ``verifies`` makes it check the world itself."""

    verifies = False

    def on_start(self):
        super().on_start()
        self.set_timer(4, "wait")

    def on_timer(self, label, data):
        if label == "spend":
            super().on_timer(label, data)
            if self.verifies:
                self.sim.verify()


class VerifyingSpender(SpenderThenWaiter):
    verifies = True


def first_red_check(sim):
    return next((e["t"], e["detail"]) for e in sim.trace if e["kind"] == "check" and not e["ok"])


def test_an_invariant_checked_by_its_scenario_is_drawn_where_the_scenario_verifies_not_after_each_step():
    by_scenario = Invariant(NON_NEGATIVE.name, NON_NEGATIVE.text, NON_NEGATIVE.violation, each_step=False)
    each_step = play(lambda: [SpenderThenWaiter("Spender")], world=Account, invariants=[NON_NEGATIVE])
    verified = play(lambda: [VerifyingSpender("Spender")], world=Account, invariants=[by_scenario])
    forgotten = play(lambda: [SpenderThenWaiter("Spender")], world=Account, invariants=[by_scenario])
    assert first_red_check(each_step) == first_red_check(verified) == (3, "the balance is -2")
    assert first_red_check(forgotten) == (4, "the balance is -2")  # only the end of the run looked
    assert each_step.summary["violations"] == forgotten.summary["violations"] == ["non_negative"]


def test_a_broken_world_invariant_is_not_evaluated_again():
    looked_at = []

    def violation(world):
        looked_at.append(world.balance)
        return NON_NEGATIVE.violation(world)

    play(lambda: [SpenderThenWaiter("Spender")], world=Account,
         invariants=[Invariant("non_negative", NON_NEGATIVE.text, violation)])
    assert looked_at[-1] == -2 and looked_at.count(-2) == 1


def test_note_once_narrates_a_lesson_once():
    sim = play(lambda: [Spender("Spender")], world=Account)
    assert [e["text"] for e in sim.trace if e["kind"] == "note"] == ["Spending without looking at the balance."]


class Echo(Node):
    def on_start(self):
        self.send("Down", "HELLO")

    def on_recover(self):
        self.note("back")


def test_a_node_that_starts_down_is_drawn_crashed_from_the_start_and_can_be_recovered():
    sim = play(lambda: [Echo("Up"), Echo("Down", alive=False)], faults=[{"action": "recover", "node": "Down",
                                                                         "at": 5}])
    assert [(e["kind"], e.get("node")) for e in sim.trace[1:2]] == [("crash", "Down")]
    drop = next(e for e in sim.trace if e["kind"] == "drop")
    assert drop["reason"] == "crashed"
    assert [e["text"] for e in sim.trace if e["kind"] == "note"] == ["back"]
    assert not [e for e in sim.trace if e["kind"] == "send" and e["src"] == "Down"]  # it never started


class Fragile(Node):
    def on_start(self):
        self.set_timer(2, "work")
        self.set_timer(5, "late work")

    def on_timer(self, label, data):
        if label == "work":
            self.crash_and_restart(10, "Fragile crashes mid-work.")

    def on_recover(self):
        self.note("back")


def test_crash_and_restart_narrates_crashes_voids_the_timers_and_comes_back_after_the_delay():
    sim = play(lambda: [Fragile("Fragile")])
    assert [(e["t"], e["kind"]) for e in sim.trace if e["kind"] in ("note", "crash", "recover", "timer")] == [
        (2, "timer"), (2, "note"), (2, "crash"), (12, "recover"), (12, "note")]
