"""Sagas: a long-lived transaction as a sequence of local steps, each with a compensation.

Hector Garcia-Molina and Kenneth Salem, "Sagas", SIGMOD 1987: a saga T1..Tn either completes, or runs
T1..Tj and then the compensations Cj..C1 in reverse order; compensations must not fail for good, so they are
retried until they succeed. Chris Richardson, *Microservices Patterns* (2018), ch. 4, names the two ways to
coordinate one: *orchestration*, where one orchestrator sends each participant its command and reacts to the
reply (``Orchestrator``), and *choreography*, where each participant reacts to the previous step's event and
publishes its own, a failure event travelling back to make the earlier participants compensate
(``Choreographed``).

Participants answer commands and events alike through ``Participant``: ``perform`` returns whether the local
step succeeded, ``compensate`` undoes it. Messages are labelled with the step's ``action`` or
``compensation``; replies are DONE or FAILED; choreography events are ``f"{action} DONE"`` and
``f"{action} FAILED"``.
"""
from dataclasses import dataclass

from ..engine import Node
from .rpc import Calls

DONE, FAILED = "DONE", "FAILED"


@dataclass(frozen=True)
class Step:
    participant: str
    action: str
    compensation: str | None = None  # None for a step that needs no undo (the last, or a read)


class Orchestrator:
    """Drives sagas from ``node``: one command at a time, compensating in reverse on a failure or a timeout.
    Route the node's messages through ``on_message`` and its timers through ``on_timer``."""

    def __init__(self, node, steps, timeout=None, on_end=None):
        self.node, self.steps, self.timeout = node, tuple(steps), timeout
        self.on_end = on_end or (lambda saga, outcome: None)
        self.calls = Calls(node, field="saga_call", timeout_label="saga timeout")
        self.progress = {}  # saga id -> [index of the step being run, "forward" or "compensating"]
        self.outcomes = {}

    def start(self, saga):
        self.progress[saga] = [0, "forward"]
        self._command(saga)

    def _command(self, saga):
        index, direction = self.progress[saga]
        step = self.steps[index]
        label = step.action if direction == "forward" else step.compensation
        self.calls.call(step.participant, label, {"saga": saga}, self.timeout, context=saga)

    def on_message(self, msg):
        call = self.calls.answered(msg)
        if call is None:
            return False
        self._answered(call.context, msg.label == DONE)
        return True

    def on_timer(self, label, data):
        call = self.calls.timed_out(label, data)
        if call is None:
            return False
        self._answered(call.context, False, unknown=True)
        return True

    def _answered(self, saga, ok, unknown=False):
        """A FAILED step rolled back its own local transaction; a step that timed out may have taken effect, so
        it is compensated too (a compensation of what never happened is a no-op)."""
        index, direction = self.progress[saga]
        if direction == "forward":
            if ok and index + 1 < len(self.steps):
                self.progress[saga][0] = index + 1
                return self._command(saga)
            if ok:
                return self._end(saga, "completed")
            self.progress[saga] = [index, "compensating"]
            return self._next_compensation(saga, index + 1 if unknown else index)
        if not ok:  # a compensation must succeed: ask again
            return self._command(saga)
        self._next_compensation(saga, index)

    def _next_compensation(self, saga, failed_index):
        for index in range(failed_index - 1, -1, -1):
            if self.steps[index].compensation:
                self.progress[saga][0] = index
                return self._command(saga)
        self._end(saga, "compensated")

    def _end(self, saga, outcome):
        del self.progress[saga]
        self.outcomes[saga] = outcome
        self.on_end(saga, outcome)


class Choreographed:
    """A choreographed saga: which event starts each step, and where the participants publish (``bus``, a broker
    whose subscriptions ``subscribe`` sets up)."""

    def __init__(self, steps, start_event, bus="Broker"):
        self.steps, self.start_event, self.bus = tuple(steps), start_event, bus

    def index_of(self, participant):
        return next(i for i, s in enumerate(self.steps) if s.participant == participant)

    def trigger(self, index):
        """The event that makes step ``index`` run: the saga's start, or the previous step's success."""
        return self.start_event if index == 0 else f"{self.steps[index - 1].action} {DONE}"

    def undo_signal(self, index):
        """The event that makes step ``index`` compensate: the next step's failure."""
        return f"{self.steps[index + 1].action} {FAILED}" if index + 1 < len(self.steps) else None

    def subscribe(self, broker):
        for index, step in enumerate(self.steps):
            broker.subscribe(self.trigger(index), step.participant)
            if self.undo_signal(index):
                broker.subscribe(self.undo_signal(index), step.participant)
        return broker


class Participant(Node):
    """A saga participant owning one step. Orchestrated, it answers the step's command and compensation with
    DONE or FAILED; choreographed (``choreography`` given), it reacts to events on the bus and publishes its own.
    A step already done is not done again (a redelivered command or event), nor is an undone one undone twice."""

    def __init__(self, id, step, choreography=None, label=None, group="service"):
        super().__init__(id, label=label, group=group)
        self.step, self.choreography = step, choreography
        self.done = set()  # saga ids whose local step took effect and was not undone

    def perform(self, saga):
        """Run the local step; return whether it succeeded."""
        return True

    def compensate(self, saga):
        """Undo the local step."""

    def on_message(self, msg):
        data = msg.data or {}
        if "delivery" in data:
            self.send(msg.src, "ACK", {"delivery": data["delivery"]})
        saga = data["saga"]
        if self.choreography is None:
            ok = self._undo(saga) if msg.label == self.step.compensation else self._do(saga)
            return self.send(msg.src, DONE if ok else FAILED, {"saga_call": data["saga_call"], "saga": saga})
        index = self.choreography.index_of(self.id)
        if msg.label == self.choreography.trigger(index):
            ok = self._do(saga)
            self.send(self.choreography.bus, f"{self.step.action} {DONE if ok else FAILED}", {"saga": saga})
        elif msg.label == self.choreography.undo_signal(index) and saga in self.done:
            self._undo(saga)
            self.send(self.choreography.bus, f"{self.step.action} {FAILED}", {"saga": saga})

    def _do(self, saga):
        if saga in self.done:
            return True
        ok = self.perform(saga)
        if ok:
            self.done.add(saga)
        return ok

    def _undo(self, saga):
        if saga in self.done:
            self.done.discard(saga)
            self.compensate(saga)
        return True  # undoing a step that never took effect succeeds at once
