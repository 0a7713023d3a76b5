"""Garcia-Molina & Salem's sagas: all steps, or the done ones compensated in reverse; both ways of driving one."""
from simulations.engine import Node
from simulations.kit.broker import Broker
from simulations.kit.retry import RetryPolicy
from simulations.kit.saga import Choreographed, Orchestrator, Participant, Step

from .stage import play, sent

STEPS = (Step("Orders", "CreateOrder", "CancelOrder"), Step("Stock", "Reserve", "Release"),
         Step("Payments", "Charge", "Refund"), Step("Shipping", "Ship"))


class Service(Participant):
    """Keeps a log of what it did and undid; fails its step when told to."""

    def __init__(self, id, step, fails=False, choreography=None):
        super().__init__(id, step, choreography)
        self.fails, self.log = fails, []

    def perform(self, saga):
        self.log.append(("do", saga))
        return not self.fails

    def compensate(self, saga):
        self.log.append(("undo", saga))


class Driver(Node):
    def __init__(self, id, timeout=None):
        super().__init__(id)
        self.saga = Orchestrator(self, STEPS, timeout, on_end=lambda s, outcome: self.set_state(outcome=outcome))

    def on_start(self):
        self.saga.start("s1")

    def on_message(self, msg):
        self.saga.on_message(msg)

    def on_timer(self, label, data):
        self.saga.on_timer(label, data)


def services(failing=None, choreography=None):
    return [Service(s.participant, s, s.participant == failing, choreography) for s in STEPS]


def logs(sim):
    return {s.participant: sim.nodes[s.participant].log for s in STEPS}


def test_an_orchestrated_saga_runs_every_step_in_order_when_all_succeed():
    sim = play(lambda: [Driver("Orchestrator"), *services()])
    assert [e["label"] for e in sent(sim, src="Orchestrator")] == ["CreateOrder", "Reserve", "Charge", "Ship"]
    assert sim.nodes["Orchestrator"].saga.outcomes == {"s1": "completed"}


def test_an_orchestrated_failure_compensates_the_done_steps_in_reverse():
    sim = play(lambda: [Driver("Orchestrator"), *services("Payments")])
    assert [e["label"] for e in sent(sim, src="Orchestrator")] == [
        "CreateOrder", "Reserve", "Charge", "Release", "CancelOrder"]
    assert logs(sim) == {"Orders": [("do", "s1"), ("undo", "s1")], "Stock": [("do", "s1"), ("undo", "s1")],
                         "Payments": [("do", "s1")], "Shipping": []}
    assert sim.nodes["Orchestrator"].state == {"outcome": "compensated"}


def test_a_lost_reply_is_an_unknown_outcome_compensated_too_and_a_compensation_is_retried_until_it_succeeds():
    sim = play(lambda: [Driver("Orchestrator", timeout=10), *services()], faults=[
        {"action": "drop", "match": {"label": "DONE", "src": "Payments"}},
        {"action": "drop", "match": {"label": "Release"}}])
    labels = [e["label"] for e in sent(sim, src="Orchestrator")]
    assert labels == ["CreateOrder", "Reserve", "Charge", "Refund", "Release", "Release", "CancelOrder"]
    assert sim.nodes["Payments"].log == [("do", "s1"), ("undo", "s1")]  # it may have charged: refunded
    assert sim.nodes["Stock"].log == [("do", "s1"), ("undo", "s1")]  # undone once, though asked twice
    assert sim.nodes["Orchestrator"].saga.outcomes == {"s1": "compensated"}


class Starter(Node):
    def on_start(self):
        self.send("Broker", "OrderRequested", {"saga": "s1"})


def choreographed(failing=None):
    choreography = Choreographed(STEPS, "OrderRequested")

    def make():
        broker = choreography.subscribe(Broker(redelivery=RetryPolicy(20, 80)))
        return [Starter("Client"), broker, *services(failing, choreography)]
    return make


def test_a_choreographed_saga_passes_from_event_to_event_through_the_broker():
    sim = play(choreographed())
    assert [e["label"] for e in sent(sim, dst="Broker") if e["label"] != "ACK"] == [
        "OrderRequested", "CreateOrder DONE", "Reserve DONE", "Charge DONE", "Ship DONE"]
    assert all(log == [("do", "s1")] for log in logs(sim).values())


def test_a_choreographed_failure_travels_back_and_each_earlier_step_compensates():
    sim = play(choreographed("Payments"))
    events = [e["label"] for e in sent(sim, dst="Broker") if e["label"] != "ACK"]
    assert events == ["OrderRequested", "CreateOrder DONE", "Reserve DONE", "Charge FAILED", "Reserve FAILED",
                      "CreateOrder FAILED"]
    assert logs(sim) == {"Orders": [("do", "s1"), ("undo", "s1")], "Stock": [("do", "s1"), ("undo", "s1")],
                         "Payments": [("do", "s1")], "Shipping": []}


def test_a_redelivered_event_does_not_run_a_step_twice():
    sim = play(choreographed(), faults=[{"action": "drop", "match": {"label": "ACK", "src": "Stock"}}])
    assert sim.nodes["Stock"].log == [("do", "s1")]
    assert len(sent(sim, "CreateOrder DONE", src="Broker")) == 2
