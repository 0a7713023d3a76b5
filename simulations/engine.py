"""The simulation: nodes exchanging messages over a faulty network, written down as a trace.

Everything a run does goes through ``Simulation.emit``; the trace it builds
is the one contract with the database, the CLI and the browser (docs/design.md).
"""
from .faults import matches
from .kernel import FIRST, Kernel

MAX_EVENTS = 200_000
MAX_TIME = 10_000_000


class Message:
    __slots__ = ("id", "src", "dst", "label", "data", "sent_at", "tag", "fate", "arrives", "gone")

    def __init__(self, id, src, dst, label, data, sent_at, tag=None):
        self.id, self.src, self.dst, self.label, self.data, self.sent_at = id, src, dst, label, data, sent_at
        self.tag = tag  # a short mark drawn on the arrow: a token's generation, an attempt number
        self.fate = None  # a drop reason decided on the way
        self.arrives = None
        self.gone = False


class Timer:
    __slots__ = ("node", "label", "data", "epoch", "cancelled")

    def __init__(self, node, label, data, epoch):
        self.node, self.label, self.data, self.epoch, self.cancelled = node, label, data, epoch, False

    def cancel(self):
        self.cancelled = True

    @property
    def void(self):
        """Cancelled, or its node crashed since it was set: firing it would do nothing."""
        return self.cancelled or not self.node.alive or self.epoch != self.node.epoch


class Node:
    """A process. Subclasses react in ``on_start``, ``on_message``, ``on_timer`` and ``on_recover``."""

    label = None
    group = None

    def __init__(self, id, label=None, group=None, alive=True):
        self.id = id
        self.label = label or self.label or id
        self.group = group or self.group
        self.alive = alive
        self.starts_down = not alive  # drawn as crashed from t=0; ``on_recover`` brings it up
        self.state = {}
        self.band = None  # the last band written to the trace for this node
        self.epoch = 0  # bumped by a crash so that old timers never fire
        self.sim = None

    @property
    def now(self):
        return self.sim.kernel.now

    def send(self, dst, label, data=None, delay=None, tag=None):
        if self.alive:
            return self.sim.network.send(self.id, dst, label, data, delay, tag=tag)

    def broadcast(self, dsts, label, data=None):
        for dst in dsts:
            self.send(dst, label, data)

    def set_timer(self, after, label, data=None):
        timer = Timer(self, label, data, self.epoch)
        self.sim.kernel.schedule(self.sim.kernel.now + after, self.sim.fire_timer, timer)
        return timer

    def set_state(self, **changes):
        """Merge ``changes`` into the node's state and emit it when something changed."""
        new = {**self.state, **changes}
        if new != self.state:
            self.state = new
            self.sim.emit_state(self)

    def note(self, text):
        self.sim.emit("note", text=text, node=self.id)

    def note_once(self, key, text):
        """Narrate ``text`` the first time ``key`` comes up in this run, and stay quiet after."""
        self.sim.note_once(key, text, node=self.id)

    def check(self, name, ok, detail=""):
        self.sim.check(name, ok, detail)

    def crash_and_restart(self, after, why):
        """Crash now, narrating ``why``, and come back ``after`` ticks later, as a supervisor restarts a process:
        the scripted crash at the worst moment that a workflow scenario's lesson turns on."""
        self.sim.note(why)
        self.sim.crash(self.id)
        self.sim.schedule(after, self.sim.recover, self.id)

    def on_start(self):
        pass

    def on_message(self, msg):
        pass

    def on_timer(self, label, data):
        pass

    def on_crash(self):
        pass

    def on_recover(self):
        pass


class Network:
    """Delivers messages after a delay, unless loss, a partition, a crash or an intervention stops them.

    With ``fifo`` on, each directed channel (src, dst) delivers in send order whatever the jitter, a delay
    intervention or the learner's picks: a message never overtakes one sent before it on its channel.
    """

    def __init__(self, sim, delay=1, jitter=0, loss=0.0):
        self.sim = sim
        self.delay, self.jitter, self.loss = delay, jitter, loss
        self.fifo = False
        self.last_arrival = {}  # (src, dst) -> the latest arrival scheduled on that channel, with fifo on
        self.groups = None  # node id -> partition group index
        self.held = False  # "you are the network": messages wait until a learner delivers them
        self.rules = []  # active match interventions: [fault, remaining count]
        self.in_flight = {}
        self.next_id = 0
        self.sent = self.delivered = self.dropped = 0
        self.by_label = {}

    def cut(self, src, dst):
        groups = self.groups
        return groups is not None and groups.get(src, -1) != groups.get(dst, -1)

    def send(self, src, dst, label, data=None, delay=None, dup=None, tag=None):
        sim = self.sim
        self.next_id += 1
        msg = Message(self.next_id, src, dst, label, data, sim.kernel.now, tag)
        event = sim.emit("send", msg=msg.id, src=src, dst=dst, label=label)
        if data is not None:
            event["data"] = data
        if tag is not None:
            event["tag"] = tag
        if dup is not None:
            event["dup"] = dup
        self.sent += 1
        self.by_label[label] = self.by_label.get(label, 0) + 1
        if delay is None:
            delay = self.delay + (sim.rng.randint(0, self.jitter) if self.jitter else 0)
        if self.loss and sim.rng.random() < self.loss:
            msg.fate = "loss"
        elif self.cut(src, dst):
            msg.fate = "partition"
        duplicate = None
        for rule in self.rules:
            fault = rule[0]
            if rule[1] > 0 and matches(fault["match"], msg):
                rule[1] -= 1
                if rule[1] == 0:
                    action = fault["action"]
                    if action == "drop":
                        msg.fate = "manual"
                    elif action == "delay":
                        delay += fault["by"]
                    else:
                        duplicate = fault.get("by", 1)
        if self.rules:
            self.rules = [r for r in self.rules if r[1] > 0]
        self.in_flight[msg.id] = msg
        if self.held:
            msg.arrives = None
        else:
            self._schedule(msg, sim.kernel.now + delay)
        if duplicate is not None:
            self.send(src, dst, label, data, delay + duplicate, dup=msg.id, tag=tag)
        return msg.id

    def _schedule(self, msg, arrives):
        """Set when ``msg`` arrives; with fifo on, never before a message sent earlier on its channel."""
        if self.fifo:
            channel = (msg.src, msg.dst)
            arrives = max(arrives, self.last_arrival.get(channel, arrives))
            self.last_arrival[channel] = arrives
        msg.arrives = arrives
        self.sim.kernel.schedule(arrives, self._arrive, msg)

    def _behind(self, msg):
        """Messages in flight on ``msg``'s channel sent after it, in send order."""
        return sorted((m for m in self.in_flight.values() if (m.src, m.dst) == (msg.src, msg.dst) and m.id > msg.id),
                      key=lambda m: m.id)

    def _arrive(self, msg):
        if msg.gone:
            return
        self.in_flight.pop(msg.id, None)
        msg.gone = True
        sim = self.sim
        node = sim.nodes[msg.dst]
        reason = msg.fate or ("partition" if self.cut(msg.src, msg.dst) else None) or (
            None if node.alive else "crashed")
        if reason:
            self.dropped += 1
            sim.emit("drop", msg=msg.id, src=msg.src, dst=msg.dst, reason=reason)
            return
        self.delivered += 1
        sim.emit("deliver", msg=msg.id, src=msg.src, dst=msg.dst)
        node.on_message(msg)

    def waiting(self):
        """Messages held for the learner to pick, in the order they were sent."""
        return [m for m in self.in_flight.values() if m.arrives is None]

    def deliver_now(self, msg_id):
        """Deliver a held message now; with fifo on, the held messages ahead of it on its channel go first."""
        msg = self.in_flight.get(msg_id)
        if msg is None or msg.arrives is not None:
            return False
        if self.fifo:
            for ahead in self.waiting():
                if (ahead.src, ahead.dst) == (msg.src, msg.dst) and ahead.id < msg.id:
                    self._schedule(ahead, self.sim.kernel.now)
        self._schedule(msg, self.sim.kernel.now)
        return True

    def release(self):
        self.held = False
        for msg in self.waiting():
            self._schedule(msg, self.sim.kernel.now + self.delay)

    def lose(self, msg_id, reason="loss"):
        """Decide that a message in flight will not arrive: for scenario parameters that lose one on purpose."""
        msg = self.in_flight.get(msg_id)
        if msg is not None:
            msg.fate = reason

    def drop_now(self, msg_id):
        """Drop a message in flight at once (an intervention on its arrow)."""
        msg = self.in_flight.pop(msg_id, None)
        if msg is None:
            return False
        msg.gone = True
        self.dropped += 1
        self.sim.emit("drop", msg=msg.id, src=msg.src, dst=msg.dst, reason="manual")
        return True

    def delay_now(self, msg_id, by):
        msg = self.in_flight.get(msg_id)
        if msg is None or msg.arrives is None:
            return False
        floor = self._reschedule(msg, msg.arrives + by).arrives
        if self.fifo:  # what was sent after it on its channel waits for it, still in send order
            for behind in self._behind(msg):
                if behind.arrives is not None:
                    floor = max(floor, behind.arrives)
                    self._reschedule(behind, floor)
            channel = (msg.src, msg.dst)
            self.last_arrival[channel] = max(self.last_arrival.get(channel, floor), floor)
        return True

    def _reschedule(self, msg, arrives):
        """Move a scheduled arrival: the old one is void and a fresh copy keeps the id."""
        msg.gone = True
        fresh = Message(msg.id, msg.src, msg.dst, msg.label, msg.data, msg.sent_at, msg.tag)
        fresh.fate, fresh.arrives = msg.fate, arrives
        self.in_flight[msg.id] = fresh
        self.sim.kernel.schedule(arrives, self._arrive, fresh)
        return fresh


class Simulation:
    """One run of one scenario: parameters, seed and interventions in, trace out.

    ``step()`` advances one kernel event (which may emit several trace events);
    ``inject()`` applies an intervention now and records it with the trace
    position, so that re-executing the recorded interventions gives the same trace.
    """

    def __init__(self, scenario, params, seed=0, faults=(), max_events=MAX_EVENTS, max_time=MAX_TIME):
        self.scenario = scenario
        self.params = params
        self.seed = seed
        self.fire_timer = self._fire  # one bound method for every timer, so that ``_void`` knows a timer at once
        self.kernel = Kernel(seed, void=self._void)
        self.rng = self.kernel.rng
        self.trace = []
        self.nodes = {}
        self.network = Network(self)
        self.max_events, self.max_time = max_events, max_time
        self.horizon = None  # (stopped, why) when max_time is a stop the scenario designed, not a runaway cap
        self.ended = False
        self.waiting = False
        self.summary = None
        self.violations = {}  # invariant name -> detail of the first violation
        self.violated_at = {}  # invariant name -> time of the first violation
        self.interventions = []
        self.pending = []  # recorded live interventions waiting for their trace position
        self.noted = set()  # keys already narrated by ``note_once``
        self.world = scenario.world(params)  # the run's ground truth, shared by nodes and invariants
        self.watched = []  # the invariants that read the world and are not broken yet
        self.verify_each_step = False  # whether one of them asks the engine to verify after every step
        self._watch([i for i in scenario.invariants if getattr(i, "violation", None)])
        self.bands = Bands(scenario.bands)
        self.emit("init", scenario=scenario.slug, params=params, seed=seed,
                  nodes=[_node_entry(n) for n in scenario.nodes(params)],
                  invariants=[{"name": i.name, "text": i.text} for i in scenario.invariants])
        for node in scenario.setup(self, params):
            self.add(node)
        for node in list(self.nodes.values()):
            if node.starts_down:
                node.starts_down = False
                self.emit("crash", node=node.id)
        for fault in faults:
            self._schedule(fault)
        for node in list(self.nodes.values()):
            self.kernel.schedule(0, self._start, node)

    # -- building ---------------------------------------------------------
    def add(self, node):
        node.sim = self
        self.nodes[node.id] = node
        return node

    @property
    def now(self):
        return self.kernel.now

    def emit(self, kind, **fields):
        event = {"seq": len(self.trace), "t": self.kernel.now, "kind": kind, **fields}
        self.trace.append(event)
        return event

    def emit_state(self, node):
        """Write a node's state; a ``band`` field rides along only when its band changed."""
        band = self.bands.of(node.state)
        if band == node.band:
            return self.emit("state", node=node.id, state=node.state)
        node.band = band
        return self.emit("state", node=node.id, state=node.state, band=band)

    def note(self, text, node=None):
        if node is None:
            self.emit("note", text=text)
        else:
            self.emit("note", text=text, node=node)

    def note_once(self, key, text, node=None):
        """Narrate ``text`` the first time ``key`` comes up in this run: a lesson is told once, not every retry."""
        if key not in self.noted:
            self.noted.add(key)
            self.note(text, node)

    def check(self, name, ok, detail=""):
        """Report an invariant; the first violation of each is written to the trace."""
        if not ok and name not in self.violations:
            self.violations[name] = detail
            self.violated_at[name] = self.kernel.now
            self._watch([i for i in self.watched if i.name != name])  # a broken invariant is not evaluated again
            self.emit("check", name=name, ok=False, detail=detail)

    def _watch(self, invariants):
        """Keep ``invariants`` as the ones ``verify`` evaluates; the step loop calls it only if one asks to."""
        self.watched = invariants
        self.verify_each_step = any(getattr(i, "each_step", True) for i in invariants)

    def verify(self):
        """Evaluate the invariants that read the world; the engine calls it after every step (unless each of them
        says ``each_step=False``), and a scenario may call it at the very moment the world changes so that a
        violation is drawn beside its cause."""
        world = self.world
        for inv in self.watched:
            detail = inv.violation(world)
            if detail:
                self.check(inv.name, False, detail)

    def schedule(self, after, action, *args):
        self.kernel.schedule(self.kernel.now + after, action, *args)

    # -- faults -----------------------------------------------------------
    def crash(self, node_id):
        node = self.nodes[node_id]
        if node.alive:
            node.alive = False
            node.epoch += 1
            self.emit("crash", node=node_id)
            node.on_crash()

    def recover(self, node_id):
        node = self.nodes[node_id]
        if not node.alive:
            node.alive = True
            self.emit("recover", node=node_id)
            node.on_recover()

    def inject(self, fault):
        """Apply a validated intervention now and record it so the run re-executes exactly."""
        fault = {**fault, "seq": len(self.trace), "at": self.kernel.now}
        self.interventions.append(fault)
        self._apply(fault)
        return fault

    def _schedule(self, fault):
        if "seq" in fault:
            self.pending.append(fault)
            self.pending.sort(key=lambda f: f["seq"])
        elif "at" in fault:
            self.kernel.schedule(fault["at"], self._apply_recorded, fault, priority=FIRST)
        else:
            self._apply_recorded(fault)

    def _apply_recorded(self, fault):
        self.interventions.append(fault)
        self._apply(fault)

    def _apply(self, fault):
        action = fault["action"]
        self.emit("fault", fault=fault)
        if action == "crash":
            self.crash(fault["node"])
        elif action == "recover":
            self.recover(fault["node"])
        elif action == "loss":
            self.network.loss = fault["rate"]
        elif action == "partition":
            groups = {n: i for i, group in enumerate(fault["groups"]) for n in group}
            self.network.groups = groups
            if "until" in fault:
                self.kernel.schedule(fault["until"], self._apply_recorded, {"action": "heal", "at": fault["until"]},
                                     priority=FIRST)
        elif action == "heal":
            self.network.groups = None
        elif action == "hold":
            self.network.held = True
        elif action == "release":
            self.network.release()
        elif action == "deliver":
            self.network.deliver_now(fault["msg"])
        else:
            match = fault["match"]
            if "msg" in match and match["msg"] in self.network.in_flight:
                if action == "drop":
                    self.network.drop_now(match["msg"])
                elif action == "delay":
                    self.network.delay_now(match["msg"], fault["by"])
                else:
                    msg = self.network.in_flight[match["msg"]]
                    left = msg.arrives - self.kernel.now if msg.arrives is not None else 0
                    self.network.send(msg.src, msg.dst, msg.label, msg.data, left + fault.get("by", 1), dup=msg.id,
                                      tag=msg.tag)
            elif "msg" not in match:
                self.network.rules.append([fault, match.get("nth", 1)])

    def _start(self, node):
        if node.alive:
            node.on_start()

    def _void(self, action, args):
        """A cancelled timer, or one whose node crashed since: it would do nothing, so it must not move time."""
        return action is self.fire_timer and args[0].void

    def _fire(self, timer):
        if timer.void:
            return
        node = timer.node
        self.emit("timer", node=node.id, label=timer.label)
        node.on_timer(timer.label, timer.data)

    # -- running ----------------------------------------------------------
    def step(self):
        """Advance one kernel event. Returns False once the run has ended."""
        if self.ended:
            return False
        while self.pending and self.pending[0]["seq"] <= len(self.trace):
            self._apply_recorded(self.pending.pop(0))
        kernel = self.kernel
        at = kernel.next_time()
        if at is None:
            if self.network.held and self.network.waiting():
                self.waiting = True  # the learner is the network: nothing moves until they pick
                return False
            self.finish("quiescent")
            return False
        self.waiting = False
        if len(self.trace) >= self.max_events:
            self.finish("event cap", f"Stopped after {self.max_events} events: this run would not end by itself.")
            return False
        if at > self.max_time:
            self.finish(*(self.horizon or ("time cap", f"Stopped at t={self.max_time}: this run would not end by itself.")))
            return False
        action, args = kernel.pop()
        action(*args)
        if self.verify_each_step:
            self.verify()
        return True

    def run(self):
        while self.step():
            pass
        if not self.ended:
            self.finish("held", "Stopped with messages still held: nobody picked what arrives next.")
        return self.trace

    def advance(self, count):
        """Step until ``count`` more trace events exist or the run ends; return the trace length."""
        target = len(self.trace) + count
        while len(self.trace) < target and self.step():
            pass
        return len(self.trace)

    def finish(self, stopped="quiescent", why=None):
        if self.ended:
            return
        if why:
            self.note(why)
        self.scenario.finish(self, self.params)
        if self.watched:
            self.verify()
        for inv in self.scenario.invariants:
            broken = inv.name in self.violations
            self.emit("check", name=inv.name, ok=not broken,
                      detail=self.violations[inv.name] if broken else inv.text)
        net = self.network
        summary = {
            "messages_sent": net.sent,
            "messages_delivered": net.delivered,
            "messages_dropped": net.dropped,
            "messages_by_label": dict(sorted(net.by_label.items())),
            "violations": [i.name for i in self.scenario.invariants if i.name in self.violations],
            "end_time": self.kernel.now,
            "stopped": stopped,
        }
        summary.update(self.scenario.summary(self, self.params))
        self.summary = summary  # the hooks below read the measured figures from it
        summary["headline"] = self.scenario.headline(self, self.params)
        summary["known"] = self.scenario.known(self, self.params)
        self.ended = True
        self.emit("end", summary=summary)


TONES = ("hold", "busy", "wait", "fault", "fail", "done", "traitor")


class Bands:
    """``bands`` indexed once per run, for ``band_of`` on every state written: key -> {(type, value): band}."""

    def __init__(self, bands):
        self.index = [(key, {(type(value), value): band_for(key, value, tone) for value, tone in tones.items()})
                      for key, tones in bands.items()]

    def of(self, state):
        """``band_of(bands, state)``, found by lookup instead of by scanning each key's values."""
        for key, by_value in self.index:
            if key in state:
                value = state[key]
                try:
                    band = by_value.get((type(value), value))
                except TypeError:  # unhashable, so equal to no declared value
                    continue
                if band is not None:
                    return dict(band)
        return None


def band_for(key, value, tone):
    if isinstance(tone, tuple):
        return {"label": tone[1], "tone": tone[0]}
    return {"label": value if isinstance(value, str) else key.replace("_", " "), "tone": tone}


def band_of(bands, state):
    """The band a state draws: the first declared key whose value maps to a tone, else None.

    ``bands`` maps state key -> {value: tone or (tone, label)}; without a label a
    string value labels itself and any other value is labelled by its key.
    """
    for key, tones in bands.items():
        if key not in state:
            continue
        value = state[key]
        for candidate, tone in tones.items():
            if candidate == value and type(candidate) is type(value):
                return band_for(key, value, tone)
    return None


def _node_entry(node):
    if isinstance(node, str):
        return {"id": node, "label": node}
    entry = {"id": node[0], "label": node[1]}
    if len(node) > 2 and node[2]:
        entry["group"] = node[2]
    return entry
