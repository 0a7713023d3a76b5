"""Request/reply: a reply finds its request by correlation id; silence is only ever a timeout."""
from simulations.engine import Node
from simulations.kit.rpc import Calls

from .stage import play, sent


class Server(Node):
    def __init__(self, id, slow=()):
        super().__init__(id)
        self.calls, self.slow = Calls(self), set(slow)

    def on_message(self, msg):
        wait = 50 if msg.data["n"] in self.slow else 0
        self.set_timer(wait, "answer", msg)

    def on_timer(self, label, msg):
        self.calls.reply(msg, "RESULT", {"n2": msg.data["n"] ** 2})


class Caller(Node):
    def __init__(self, id, numbers, timeout=10):
        super().__init__(id)
        self.calls, self.numbers, self.timeout = Calls(self), numbers, timeout
        self.results, self.timeouts, self.late = {}, [], 0

    def on_start(self):
        for n in self.numbers:
            self.calls.call("Server", "SQUARE", {"n": n}, self.timeout, context=n)

    def on_message(self, msg):
        call = self.calls.answered(msg)
        if call is None:
            self.late += self.calls.late(msg) is not None
        else:
            self.results[call.context] = (msg.data["n2"], self.now - call.sent_at)

    def on_timer(self, label, data):
        call = self.calls.timed_out(label, data)
        if call is not None:
            self.timeouts.append(call.context)


def test_replies_are_matched_by_correlation_id_and_carry_it_back():
    sim = play(lambda: [Caller("Caller", [2, 3, 4]), Server("Server")])
    caller = sim.nodes["Caller"]
    assert caller.results == {2: (4, 2), 3: (9, 2), 4: (16, 2)}
    assert [e["data"]["req"] for e in sent(sim, "SQUARE")] == [1, 2, 3]
    assert [e["data"]["req"] for e in sent(sim, "RESULT")] == [1, 2, 3]
    assert caller.timeouts == [] and len(caller.calls) == 0


def test_a_slow_reply_times_out_and_arriving_late_is_not_taken_for_an_answer():
    sim = play(lambda: [Caller("Caller", [2, 3]), Server("Server", slow={3})])
    caller = sim.nodes["Caller"]
    assert caller.results == {2: (4, 2)} and caller.timeouts == [3] and caller.late == 1
    timeout = next(e for e in sim.trace if e["kind"] == "timer" and e["label"] == "timeout")
    assert timeout["t"] == 10


def test_a_lost_request_is_only_a_timeout_to_the_caller():
    sim = play(lambda: [Caller("Caller", [5]), Server("Server")],
               faults=[{"action": "drop", "match": {"label": "SQUARE"}}])
    assert sim.nodes["Caller"].timeouts == [5] and sim.nodes["Caller"].results == {}


def test_cancel_all_stops_waiting_for_every_outstanding_request():
    class Impatient(Caller):
        def on_start(self):
            super().on_start()
            self.set_timer(1, "settle")

        def on_timer(self, label, data):
            if label == "settle":
                return self.calls.cancel_all()
            super().on_timer(label, data)

    sim = play(lambda: [Impatient("Caller", [2, 3]), Server("Server")])
    caller = sim.nodes["Caller"]
    assert caller.timeouts == [] and caller.results == {} and caller.late == 0
    assert not [e for e in sim.trace if e["kind"] == "timer" and e["label"] == "timeout"]
