"""A durable coffee-shop order on Temporal: server-side retries, timeouts, replay after a crash, a saga refund.

Retries follow Temporal's retry policy ("What is a Temporal Retry Policy?", docs.temporal.io/encyclopedia/
retry-policies): retry k waits min(initial x backoff^(k-1), maximum), and "Temporal stops retrying when the next
retry would exceed the schedule-to-close timeout". The server decides it when an attempt fails: its
nextBackoffInterval (temporalio/temporal, service/history/workflow/retry.go) returns RETRY_STATE_TIMEOUT as soon
as now + interval is after the expiration time, so the activity fails with a timeout at that moment, not when the
deadline passes. A deadline that passes during an attempt still times it out at once. How long a failing attempt
runs before it fails is a parameter (``attempt_ms``): an activity can fail at once.
"""
from ..engine import MAX_TIME, Node
from ..kit.idempotency import KeyStore, Verdict
from ..kit.retry import RetryPolicy
from ..params import Param
from ..scenario import Invariant, Scenario, known_row, plural, refuse, violation_clause, words

NETWORK_MS = 5
WORKFLOW_ID = "order-42"
PLAN = ("ProcessPayment", "PrepareBeverage", "UpdateInventory", "NotifyCustomer")
REFUND = "RefundPayment"
WORKER = {"ProcessPayment": "Payment", "RefundPayment": "Payment", "PrepareBeverage": "Barista",
          "UpdateInventory": "Inventory", "NotifyCustomer": "Notification"}
ACTIVITY_WORKERS = ("Payment", "Barista", "Inventory", "Notification")
DURATION_MS = {"ProcessPayment": 200, "RefundPayment": 200, "PrepareBeverage": 3000, "UpdateInventory": 100,
               "NotifyCustomer": 100}
EFFECT_AT_MS = {"ProcessPayment": 0, "RefundPayment": 0, "PrepareBeverage": 1500, "UpdateInventory": 0,
                "NotifyCustomer": 0}  # calls go out first, then wait for confirmation; the latte is poured halfway
EFFECT = {"ProcessPayment": "card charge", "RefundPayment": "card refund", "PrepareBeverage": "latte",
          "UpdateInventory": "stock update", "NotifyCustomer": "text message"}
REASON = {"ProcessPayment": "card network error", "PrepareBeverage": "espresso machine jammed",
          "UpdateInventory": "inventory database unavailable", "NotifyCustomer": "SMS gateway error"}
OUTCOME = {"ActivityTaskCompleted": "completed", "ActivityTaskFailed": "failed", "ActivityTaskTimedOut": "timed out",
           "ActivityTaskCanceled": "canceled"}
CLOSE = {"CompleteWorkflowExecution": ("WorkflowExecutionCompleted", "Completed"),
         "FailWorkflowExecution": ("WorkflowExecutionFailed", "Failed"),
         "CancelWorkflowExecution": ("WorkflowExecutionCanceled", "Canceled")}
TERMINAL = tuple(kind for kind, _ in CLOSE.values())
ATTEMPT_CAP = 20  # what "unlimited attempts" means here, so that every run ends
WORKFLOW_TASK_TIMEOUT_MS = 10_000  # Temporal's default
LONG_POLL_MS = 60_000  # an idle worker renews its long poll this often, so a poll lost on the way is replaced
IDLE_RENEWALS = 3  # then it stops renewing, so that a stuck run can end (real workers poll forever)
START_RETRY_MS = 1000
START_TRIES = 5


def retry_policy(params):
    """The activity retry policy: Temporal's exponential backoff, without jitter, capped at maximum_interval_ms."""
    return RetryPolicy(initial=params["initial_interval_ms"], cap=params["maximum_interval_ms"],
                       attempts=params["maximum_attempts"] or ATTEMPT_CAP, factor=params["backoff"])


def attempt_tag(attempt):
    """The arrow tag of a retried call: its attempt number, from the second attempt on."""
    return f"#{attempt}" if attempt > 1 else None


def worst_case_ms(params):
    """How long one activity that never succeeds keeps retrying before the policy gives up."""
    policy = retry_policy(params)
    limit = policy.attempts
    span = sum(policy.ceiling(k) for k in range(1, limit)) + limit * params["start_to_close_ms"]
    if params["schedule_to_close_ms"]:
        span = min(span, params["schedule_to_close_ms"])
    return span


class World:
    """What survives every crash: Temporal's event history (in its database) and the systems outside Temporal
    that activities act on (bank, counter, stockroom, SMS)."""

    def __init__(self, idempotent):
        self.idempotent = idempotent
        self.history = []
        self.effects = dict.fromkeys(DURATION_MS, 0)
        self.keys = KeyStore()  # the systems' record of the idempotency keys they have served
        self.settled = None  # how the order closed, once it has

    def perform(self, activity, now):
        """Apply the side effect once more, unless its idempotency key was served before (then it replays)."""
        key = f"{WORKFLOW_ID}/{activity}"
        if self.idempotent and self.keys.begin(key, activity, now)[0] != Verdict.NEW:
            return False
        if self.idempotent:
            self.keys.finish(key, "done")
        self.effects[activity] += 1
        return True

    @property
    def delivered(self):
        """The shop's side of delivery: the latte was made and the pickup text sent."""
        return self.effects["PrepareBeverage"] > 0 and self.effects["NotifyCustomer"] > 0

    def unsettled(self):
        """Once the order is settled, every charge must be matched by the coffee delivered or by a refund."""
        if not self.settled:
            return None
        charges, refunds = self.effects["ProcessPayment"], self.effects[REFUND]
        return charges > refunds + self.delivered and (
            f"{self.settled}: charged {charges}x, refunded {refunds}x, coffee delivered: "
            f"{'yes' if self.delivered else 'no'}")


class OrderWorkflow:
    """The order's workflow code. Its state is a pure function of the events fed to it, so a replay rebuilds it."""

    def __init__(self):
        self.seen = 0
        self.scheduled = []
        self.results = {}
        self.cancel_sent = []
        self.canceling = False
        self.declined = False
        self.failure = None

    def apply(self, event):
        self.seen = event["id"]
        kind, name = event["type"], event.get("activity")
        if kind == "ActivityTaskScheduled":
            self.scheduled.append(name)
        elif kind == "ActivityTaskCancelRequested":
            self.cancel_sent.append(name)
        elif kind in OUTCOME:
            self.results[name] = OUTCOME[kind]
            if OUTCOME[kind] != "completed" and name in PLAN and not self.canceling and not self.failure:
                self.failure = f"{name} {OUTCOME[kind]}"
        elif kind == "WorkflowExecutionSignaled":
            if self.failure or self.results.get("PrepareBeverage") == "completed":
                self.declined = True
            else:
                self.canceling = True

    def pending(self):
        return next((name for name in self.scheduled if name not in self.results), None)

    def commands(self):
        """What the code asks for next; commands already recorded in the history are not asked again."""
        if self.canceling or self.failure:
            busy = self.pending()
            if busy:
                if self.canceling and busy in PLAN and busy not in self.cancel_sent:
                    return [["RequestCancelActivityTask", busy]]
                return []
            if self.results.get("ProcessPayment") == "completed":
                if REFUND not in self.scheduled:
                    return [["ScheduleActivityTask", REFUND]]
                if self.results[REFUND] != "completed":
                    return [["FailWorkflowExecution", f"refund {self.results[REFUND]}: the customer is owed money"]]
            if self.canceling:
                return [["CancelWorkflowExecution"]]
            return [["FailWorkflowExecution", self.failure]]
        for name in PLAN:
            if self.results.get(name) != "completed":
                return [] if name in self.scheduled else [["ScheduleActivityTask", name]]
        return [["CompleteWorkflowExecution"]]

    def stage(self):
        """The GetStatus answer, read from the workflow's own state."""
        if self.canceling:
            return "canceling"
        if self.failure:
            return "compensating"
        return next((f"waiting for {name}" for name in PLAN if self.results.get(name) != "completed"), "done")


class Activity:
    """Temporal's record of one activity execution: which attempt is due, whether it runs, how it ended."""

    __slots__ = ("name", "expires", "attempt", "last_run", "runs", "running", "failed_at", "closed",
                 "cancel_requested")

    def __init__(self, name, expires):
        self.name, self.expires = name, expires  # the schedule-to-close deadline, or None
        self.attempt = 1
        self.last_run = 0
        self.runs = 0
        self.running = False
        self.failed_at = None
        self.closed = False
        self.cancel_requested = False


class TemporalService(Node):
    """Appends the event history, holds the task queues and runs the timers that drive retries and timeouts.

    Everything here is durable (Temporal keeps it in a database): a crash loses only the
    timers in flight, which a restart re-arms from their recorded deadlines.
    """

    group = "service"

    def __init__(self, params, world):
        super().__init__("Temporal", label="Temporal server")
        self.p, self.world, self.policy = params, world, retry_policy(params)
        self.history = world.history
        self.status = "NotStarted"
        self.closed_at = None
        self.wft = None  # the workflow task: None, "scheduled" or "started"
        self.wft_started = 0
        self.wft_again = False  # events arrived while a workflow task was running
        self.sticky = False  # the worker holds the workflow in its cache: send only new events
        self.worker_seen = 0
        self.queues = {worker: [] for worker in ("Workflow",) + ACTIVITY_WORKERS}
        self.pollers = {}
        self.activities = {}
        self.delays = {}
        self.timed_out = {}  # activity -> when its schedule-to-close timeout closed it
        self.deadlines = {}  # key -> [deadline, label, timer]
        self.workers = []  # stood down when the order closes

    # -- history and queues --------------------------------------------------
    def append(self, kind, activity=None, detail=None):
        """Write the next event; the history's two promises are checked as each one is written."""
        history = self.history
        event = {"id": len(history) + 1, "type": kind}
        if history:
            last = history[-1]
            if last["id"] != len(history):
                self.check("history_contiguous", False, f"event {event['id']} follows event {last['id']}")
            if last["type"] in TERMINAL:
                self.check("one_terminal_event", False, f"{kind} appended after the workflow closed")
        text = f"{event['id']} {kind}"
        if activity:
            event["activity"] = activity
            text += f" {activity}"
        if detail:
            text += f" ({detail})"
        self.history.append(event)
        self.sim.emit("note", text=text, node=self.id, panel="History")
        self.set_state(history=len(self.history), status=self.status)
        return event["id"]

    def enqueue(self, worker, item):
        self.queues[worker].append(item)
        self.pump(worker)

    def pump(self, worker):
        """Hand the oldest waiting task to the worker if it is polling: workers pull, the server never pushes."""
        queue = self.queues[worker]
        if not queue or not self.pollers.pop(worker, None):
            return
        item = queue.pop(0)
        if item == "workflow task":
            self.dispatch_workflow_task()
        elif item == "query":
            self.send("Workflow", "QueryTask", {"query": "GetStatus"})
        else:
            self.dispatch_activity(self.activities[item])

    def wake_workflow(self):
        """New events for the workflow: schedule a workflow task unless one is already on its way."""
        if self.closed_at is not None:
            return
        if self.wft == "started":
            self.wft_again = True
        elif self.wft is None:
            self.wft = "scheduled"
            self.append("WorkflowTaskScheduled")
            self.enqueue("Workflow", "workflow task")

    def dispatch_workflow_task(self):
        self.wft, self.wft_started = "started", self.append("WorkflowTaskStarted")
        first = self.worker_seen + 1 if self.sticky else 1
        self.send("Workflow", "WorkflowTask", {"events": [first, self.wft_started]})
        self.arm(("workflow task", None), WORKFLOW_TASK_TIMEOUT_MS, "workflow task timeout")

    def dispatch_activity(self, act):
        act.running, act.last_run, act.runs = True, act.attempt, act.runs + 1
        if act.failed_at is not None:
            self.delays.setdefault(act.name, []).append(self.now - act.failed_at)
            act.failed_at = None
        self.send(WORKER[act.name], "ActivityTask", {"activity": act.name, "attempt": act.attempt,
                                                     "deadline": self.now + self.p["start_to_close_ms"]},
                  tag=attempt_tag(act.attempt))
        self.arm(("start-to-close", act.name), self.p["start_to_close_ms"], f"start-to-close timeout {act.name}")
        if self.p["heartbeat_ms"]:
            self.arm(("heartbeat", act.name), self.p["heartbeat_ms"], f"heartbeat timeout {act.name}")

    # -- timers ----------------------------------------------------------------
    def arm(self, key, after, label):
        self.disarm(key)
        self.deadlines[key] = [self.now + after, label, self.set_timer(after, label, key)]

    def disarm(self, key):
        entry = self.deadlines.pop(key, None)
        if entry:
            entry[2].cancel()

    def on_timer(self, label, key):
        if self.deadlines.pop(key, None) is None:
            return
        kind, name = key
        if kind == "workflow task":
            self.workflow_task_timed_out()
            return
        act = self.activities[name]
        if kind == "retry":
            self.show_backoff()
            self.enqueue(WORKER[name], name)
        elif kind == "schedule-to-close":
            self.timed_out[name] = {"at_ms": self.now, "deadline_ms": act.expires, "next_attempt_ms": None}
            self.close_activity(act, "ActivityTaskTimedOut", "ScheduleToClose timeout")
        else:
            self.end_attempt(act)
            timeout = "StartToClose" if kind == "start-to-close" else "Heartbeat"
            self.attempt_failed(act, f"{timeout} timeout", timeout=True)

    def workflow_task_timed_out(self):
        self.append("WorkflowTaskTimedOut")
        self.wft, self.sticky, self.wft_again = None, False, False
        self.note("The workflow task timed out: Temporal schedules it again with the whole history, "
                  "for any worker to replay.")
        self.wake_workflow()

    # -- messages ----------------------------------------------------------------
    def on_message(self, msg):
        label, data = msg.label, msg.data
        if label in ("PollWorkflowTaskQueue", "PollActivityTaskQueue"):
            if data and data.get("cache") == "empty":
                self.sticky = False
            self.pollers[msg.src] = True
            self.pump(msg.src)
        elif label == "StartWorkflowExecution":
            self.start_workflow()
        elif label == "RespondWorkflowTaskCompleted":
            self.workflow_task_completed(data)
        elif label == "SignalWorkflowExecution":
            if self.status != "Running":
                self.note(f"Temporal rejects {data['signal']}: the workflow is {self.status}.")
                return
            self.append("WorkflowExecutionSignaled", detail=data["signal"])
            self.wake_workflow()
        elif label == "QueryWorkflow":
            self.enqueue("Workflow", "query")
        elif label == "RespondQueryTaskCompleted":
            self.send("Customer", "QueryResult", {"status": data["status"]})
            self.note(f"GetStatus is answered from the workflow's state ({data['status']}); a query is never "
                      f"written to the history, which still has {len(self.history)} events.")
        elif label == "RecordActivityTaskHeartbeat":
            act = self.current(msg, quiet=True)
            if act:
                self.arm(("heartbeat", act.name), self.p["heartbeat_ms"], f"heartbeat timeout {act.name}")
                if act.cancel_requested:
                    self.send(msg.src, "HeartbeatResponse", {**data, "cancel_requested": True})
        else:
            act = self.current(msg)
            if act is None:
                return
            self.end_attempt(act)
            if label == "RespondActivityTaskCompleted":
                self.close_activity(act, "ActivityTaskCompleted")
            elif label == "RespondActivityTaskCanceled":
                self.close_activity(act, "ActivityTaskCanceled")
            else:
                self.attempt_failed(act, data["reason"], data["non_retryable"])

    def start_workflow(self):
        if self.history:
            self.note(f"A repeated StartWorkflowExecution for {WORKFLOW_ID}: the workflow id makes it "
                      "idempotent, Temporal returns the running execution.")
        else:
            self.status = "Running"
            self.append("WorkflowExecutionStarted", detail=WORKFLOW_ID)
            self.wake_workflow()
        self.send("Customer", "WorkflowStarted", {"workflow_id": WORKFLOW_ID})

    def workflow_task_completed(self, data):
        if self.wft != "started" or data["task"] != self.wft_started:
            self.note("Temporal ignores the answer to a workflow task that is no longer current.")
            return
        self.disarm(("workflow task", None))
        self.wft, self.sticky, self.worker_seen = None, True, self.wft_started
        commands = data["commands"]
        if self.wft_again and any(c[0] in CLOSE for c in commands):
            self.append("WorkflowTaskFailed", detail="UnhandledCommand: new events arrived meanwhile")
            self.wft_again = False
            self.wake_workflow()
            return
        self.append("WorkflowTaskCompleted")
        for command in commands:
            self.run_command(*command)
        if self.wft_again:
            self.wft_again = False
            self.wake_workflow()

    def run_command(self, command, arg=None):
        if command == "ScheduleActivityTask":
            self.check("no_rerun_on_replay", arg not in self.activities,
                       f"the workflow scheduled {arg} again although the history already records it")
            if arg in self.activities:
                return
            self.append("ActivityTaskScheduled", arg)
            budget = self.p["schedule_to_close_ms"]
            act = self.activities[arg] = Activity(arg, self.now + budget if budget else None)
            if budget:
                self.arm(("schedule-to-close", arg), budget, f"schedule-to-close timeout {arg}")
            self.enqueue(WORKER[arg], arg)
        elif command == "RequestCancelActivityTask":
            act = self.activities[arg]
            if act.closed:
                return
            self.append("ActivityTaskCancelRequested", arg)
            act.cancel_requested = True
            if not act.running:
                self.close_activity(act, "ActivityTaskCanceled")
            elif not self.p["heartbeat_ms"]:
                self.note(f"{arg} is running and does not heartbeat, so it cannot hear of the cancellation "
                          "(it travels on heartbeat answers): it runs to its end.")
        else:
            kind, self.status = CLOSE[command]
            self.append(kind, detail=arg)
            self.closed_at = self.now
            self.send("Customer", "WorkflowResult", {"status": self.status})
            for worker in self.workers:
                worker.stand_down()
            self.world.settled = f"the order closed {self.status}"

    # -- activities --------------------------------------------------------------
    def current(self, msg, quiet=False):
        """The activity a worker's report is about, or None when that attempt is no longer current."""
        act = self.activities.get(msg.data["activity"])
        if act and act.running and act.attempt == msg.data["attempt"]:
            return act
        if not quiet:
            self.note(f"Temporal rejects {msg.src}'s report on {msg.data['activity']} attempt "
                      f"{msg.data['attempt']}: that attempt is over (NotFound).")
        return None

    def end_attempt(self, act):
        act.running = False
        self.disarm(("start-to-close", act.name))
        self.disarm(("heartbeat", act.name))

    def attempt_failed(self, act, reason, non_retryable=False, timeout=False):
        """One attempt ended badly: schedule the next one per the retry policy, or close the activity."""
        kind = "ActivityTaskTimedOut" if timeout else "ActivityTaskFailed"
        k, limit = act.attempt, self.policy.attempts
        delay = self.policy.ceiling(k)
        if act.cancel_requested:
            self.close_activity(act, "ActivityTaskCanceled")
        elif non_retryable:
            self.close_activity(act, kind, f"{reason}, non-retryable")
        elif k >= limit:
            if not self.p["maximum_attempts"]:
                self.note(f"Temporal would retry {act.name} forever (unlimited attempts); this simulation "
                          f"gives up after {ATTEMPT_CAP} attempts so that the run ends.")
            self.close_activity(act, kind, f"{reason}, attempt {k} of {limit}")
        elif act.expires is not None and self.now + delay > act.expires:
            self.timed_out[act.name] = {"at_ms": self.now, "deadline_ms": act.expires,
                                        "next_attempt_ms": self.now + delay}
            self.note(f"{act.name} attempt {k}: {reason}. Retry {k} would start at t={self.now + delay}, after the "
                      f"schedule-to-close deadline t={act.expires}: Temporal stops retrying now and the activity "
                      "times out (retry state Timeout).")
            self.close_activity(act, "ActivityTaskTimedOut", "ScheduleToClose timeout")
        else:
            act.failed_at, act.attempt = self.now, k + 1
            self.note(f"{act.name} attempt {k}: {reason}. Retry {k} in {delay} ms = min({self.p['initial_interval_ms']}"
                      f" x {self.p['backoff']:g}^{k - 1}, {self.p['maximum_interval_ms']}); retries are not written "
                      "to the history.")
            self.arm(("retry", act.name), delay, f"retry {act.name}")
            self.show_backoff()

    def show_backoff(self):
        """The activity waiting out its retry backoff, if any: Temporal's lifeline shows the wait."""
        waiting = next((name for kind, name in self.deadlines if kind == "retry"), None)
        if waiting or "backoff" in self.state:
            self.set_state(backoff=waiting)

    def close_activity(self, act, kind, detail=None):
        if act.runs:
            self.append("ActivityTaskStarted", act.name, f"attempt {act.last_run}")
        self.append(kind, act.name, detail)
        act.closed, act.running = True, False
        for timer in ("retry", "schedule-to-close", "start-to-close", "heartbeat"):
            self.disarm((timer, act.name))
        self.show_backoff()
        queue = self.queues[WORKER[act.name]]
        if act.name in queue:
            queue.remove(act.name)
        self.wake_workflow()

    def on_recover(self):
        self.note("Temporal restarts: history, task queues and timer deadlines are in its database; "
                  "timers are re-armed and the workers' long polls reconnect.")
        for key, entry in list(self.deadlines.items()):
            entry[2] = self.set_timer(max(0, entry[0] - self.now), entry[1], key)
        for worker in self.queues:
            self.pollers[worker] = True
            self.pump(worker)


class Poller(Node):
    """A worker that long-polls its task queue and renews the poll when it expires unanswered.

    A renewal replaces a poll lost to a partition. So that runs end, the demo shop stands its
    workers down once the order has closed, and a worker stops renewing after a few idle rounds.
    """

    group = "worker"
    queue_label = ""

    def __init__(self, id, label):
        super().__init__(id, label=label)
        self.long_poll = None
        self.idle = 0
        self.serving = True

    def poll(self, data=None, renewal=False):
        if self.long_poll:
            self.long_poll.cancel()
            self.long_poll = None
        self.idle = self.idle + 1 if renewal else 0
        self.send("Temporal", self.queue_label, data)
        if self.serving:
            self.long_poll = self.set_timer(LONG_POLL_MS, "long poll expired")

    def renew(self):
        self.long_poll = None
        if self.serving and self.idle < IDLE_RENEWALS:
            self.poll(renewal=True)

    def stand_down(self):
        self.serving = False
        if self.long_poll:
            self.long_poll.cancel()

    def on_crash(self):
        self.long_poll = None


class WorkflowWorker(Poller):
    """Runs the workflow code: warm from its cache between tasks, rebuilt by replaying the history after a crash."""

    queue_label = "PollWorkflowTaskQueue"

    def __init__(self, history):
        super().__init__("Workflow", "Workflow worker")
        self.history = history  # a task names its events by id; the worker reads them from the server's history
        self.cache = None
        self.replays = 0

    def on_start(self):
        self.set_state(cache="empty")
        self.poll()

    def on_timer(self, label, data):
        self.renew()

    def on_message(self, msg):
        if msg.label == "WorkflowTask":
            first, last = msg.data["events"]
            workflow = self.load(first, last)
            self.send("Temporal", "RespondWorkflowTaskCompleted", {"task": last, "commands": workflow.commands()})
        elif msg.label == "QueryTask":
            workflow = self.cache or self.load(1, len(self.history))
            self.send("Temporal", "RespondQueryTaskCompleted", {"query": "GetStatus", "status": workflow.stage()})
        self.poll()

    def load(self, first, last):
        """The workflow after event ``last``: the cached one moved forward, or a fresh one replayed from event 1."""
        workflow = self.cache
        if workflow is None or first == 1 or workflow.seen != first - 1:
            workflow = self.replay(last)
        else:
            for event in self.history[first - 1:last]:
                self.advance(workflow, event)
        self.cache = workflow
        self.set_state(cache=f"events 1-{last}")
        return workflow

    def replay(self, last):
        workflow = OrderWorkflow()
        events = self.history[:last]
        if not any(e["type"] == "WorkflowTaskCompleted" for e in events):
            for event in events:
                self.advance(workflow, event)
            return workflow
        for event in events:
            workflow.apply(event)
        self.replays += 1
        done = [e["activity"] for e in events if e["type"] == "ActivityTaskCompleted"]
        if not done:
            outcome = "No activity had completed yet."
        elif len(done) == 1:
            outcome = f"{done[0]} already completed: its result comes from the history, it is not run again."
        else:
            outcome = f"{', '.join(done)} already completed: their results come from the history, none runs again."
        self.note(f"Replay: the worker runs the workflow code again over events 1-{last}. {outcome}")
        return workflow

    def advance(self, workflow, event):
        was = (workflow.canceling, workflow.declined, workflow.failure)
        workflow.apply(event)
        if event["type"] == "ActivityTaskCompleted" and event["activity"] == "ProcessPayment" and not was[0]:
            self.note("Paid: the workflow registers its compensation, RefundPayment, in case the order "
                      "cannot be finished (saga).")
        elif workflow.canceling and not was[0]:
            self.note("CancelOrder arrives before the coffee is made: the workflow cancels the running step, "
                      "then runs its compensations.")
        elif workflow.declined and not was[1]:
            self.note("CancelOrder arrives while the order is already being compensated: nothing more to do."
                      if workflow.failure else "CancelOrder arrives too late: the coffee is made, the order goes on.")
        elif workflow.failure and not was[2]:
            self.note(f"{workflow.failure} for good: the saga runs its compensations.")

    def on_crash(self):
        super().on_crash()
        self.cache = None

    def on_recover(self):
        self.set_state(cache="empty")
        self.note("The workflow worker restarts with an empty cache: its next workflow task will carry "
                  "the whole history, to replay.")
        self.poll({"cache": "empty"})


class ActivityWorker(Poller):
    """Polls one task queue and runs activity attempts: the side effect happens early, the report at the end.

    Like an SDK worker with free slots it polls again as soon as it takes a task, and it
    abandons an attempt whose start-to-close deadline has passed (the server has given up on it).
    """

    queue_label = "PollActivityTaskQueue"

    def __init__(self, id, params, world):
        super().__init__(id, f"{id} worker")
        self.p, self.world = params, world
        self.running = {}  # (activity, attempt) -> its live timers
        self.beat = params["heartbeat_ms"] * 4 // 5  # the SDKs throttle heartbeats to 80% of the timeout

    def on_start(self):
        self.show()
        self.poll()

    def show(self):
        self.set_state(running=", ".join(f"{name} #{k}" for name, k in self.running) or None)

    def on_message(self, msg):
        key = (msg.data["activity"], msg.data["attempt"])
        if msg.label == "ActivityTask" and key not in self.running:
            name, left = key[0], msg.data["deadline"] - self.now
            self.poll()
            if left <= 0:
                self.note(f"{name} attempt {key[1]} arrives after its start-to-close deadline: {self.id} drops it.")
                return
            at = self.p["attempt_ms"] if self.fails(key) else EFFECT_AT_MS[name]
            self.running[key] = [self.set_timer(at, EFFECT[name], ("effect", key)),
                                 self.set_timer(left, "deadline", ("deadline", key))]
            if self.beat:
                self.running[key].append(self.set_timer(self.beat, "heartbeat", ("heartbeat", key)))
            self.show()
        elif msg.label == "HeartbeatResponse" and key in self.running:
            self.note(f"The heartbeat answer says {key[0]} was canceled: {self.id} stops.")
            self.report(key, "RespondActivityTaskCanceled")

    def on_timer(self, label, data):
        if data is None:
            return self.renew()
        step, key = data
        if key not in self.running:
            return
        name, attempt = key
        if step == "heartbeat":
            self.send("Temporal", "RecordActivityTaskHeartbeat", {"activity": name, "attempt": attempt})
            self.running[key].append(self.set_timer(self.beat, "heartbeat", data))
        elif step == "done":
            self.report(key, "RespondActivityTaskCompleted")
        elif step == "deadline":
            self.note(f"{name} attempt {attempt} passes its start-to-close deadline: {self.id} abandons it.")
            self.stop(key)
        elif self.fails(key):
            self.report(key, "RespondActivityTaskFailed",
                        reason=REASON[name], non_retryable=self.p["non_retryable"])
        else:
            self.perform(name)
            rest = DURATION_MS[name] - EFFECT_AT_MS[name]
            self.running[key].append(self.set_timer(rest, f"{name} done", ("done", key)))

    def fails(self, key):
        """Whether this attempt is one of the failing ones the learner set up."""
        return self.p["fail_activity"] == key[0] and key[1] <= self.p["failures"]

    def perform(self, name):
        if not self.world.perform(name, self.now):
            self.note(f"Idempotency key {WORKFLOW_ID}/{name} seen before: the {EFFECT[name]} is not repeated.")
            return
        count = self.world.effects[name]
        if count > 1:
            self.note(f"{name} runs again and repeats its side effect ({EFFECT[name]} #{count}): "
                      "without an idempotency key nobody can tell it is a retry.")
            if name == "ProcessPayment":
                self.set_state(charged_twice=True)
        if name == "NotifyCustomer":
            self.send("Customer", "OrderReady")
        elif name == REFUND:
            self.note("Payment refunds the card: the saga's compensation.")

    def stop(self, key):
        for timer in self.running.pop(key):
            timer.cancel()
        self.show()

    def report(self, key, label, **extra):
        self.stop(key)
        self.send("Temporal", label, {"activity": key[0], "attempt": key[1], **extra}, tag=attempt_tag(key[1]))

    def on_crash(self):
        super().on_crash()
        self.running.clear()

    def on_recover(self):
        self.show()
        self.poll()


class Customer(Node):
    """Starts the order, may signal CancelOrder or query GetStatus, and waits for the coffee."""

    group = "client"

    def __init__(self, params):
        super().__init__("Customer")
        self.p = params
        self.started = False
        self.tries = 0
        self.retry = None
        self.answer = None

    def on_start(self):
        self.set_state(order="latte", coffee="waiting")
        self.start()
        if self.p["cancel_at_ms"]:
            self.set_timer(self.p["cancel_at_ms"], "cancel order")
        if self.p["query_at_ms"]:
            self.set_timer(self.p["query_at_ms"], "ask status")

    def start(self):
        self.tries += 1
        self.send("Temporal", "StartWorkflowExecution", {"workflow_id": WORKFLOW_ID, "order": "latte"},
                  tag=attempt_tag(self.tries))
        self.retry = self.set_timer(START_RETRY_MS, "no answer")

    def on_message(self, msg):
        if msg.label == "WorkflowStarted":
            self.started = True
            self.retry.cancel()
        elif msg.label == "OrderReady":
            self.set_state(coffee="ready for pickup")
        elif msg.label == "QueryResult":
            self.answer = msg.data["status"]
        elif msg.label == "WorkflowResult":
            self.set_state(order=msg.data["status"])

    def on_timer(self, label, data):
        if label == "no answer" and not self.started:
            if self.tries < START_TRIES:
                self.start()
            else:
                self.note(f"The customer gives up after {START_TRIES} unanswered StartWorkflowExecution calls.")
        elif label == "cancel order":
            self.send("Temporal", "SignalWorkflowExecution", {"workflow_id": WORKFLOW_ID, "signal": "CancelOrder"})
        elif label == "ask status":
            self.send("Temporal", "QueryWorkflow", {"workflow_id": WORKFLOW_ID, "query": "GetStatus"})


class CoffeeShop(Scenario):
    slug = "coffee-shop"
    version = 2  # issue #13: a retry that would start after the schedule-to-close deadline times out at once
    title = "Durable coffee-shop workflow"
    summary_text = "A Temporal workflow takes a latte order through payment, the barista, stock and a text message."
    teaches = ("Durable execution: server-side retries with exponential backoff, timeouts that detect dead workers, "
               "replay that never re-runs finished work, idempotent activities and a saga's compensating refund.")
    problem = (
        "A customer orders a latte. A Temporal workflow runs the order as four activities, each on its own "
        "worker: ProcessPayment (charge the card), PrepareBeverage (the barista, 3 s), UpdateInventory and "
        "NotifyCustomer (a text message). Workers poll task queues on the Temporal server, which appends every "
        "step to the workflow's event history (the History panel) and drives retries and timeouts with its own "
        "timers. Once payment succeeds the workflow registers a compensation, RefundPayment: if a later step "
        "fails for good, or the customer signals CancelOrder before the coffee is made, the card is refunded "
        "(a saga). Make an activity fail, crash a worker mid-attempt or the workflow worker mid-run, cancel the "
        "order, or query its status.")
    theory = (
        "Workflow code is deterministic, so its state is a function of its event history. A workflow worker that "
        "crashes loses only a cache: the next workflow task carries the whole history, the worker replays it, and "
        "completed activities return their recorded results instead of running again. Activities are retried by the "
        "server: retry k waits min(initial_interval x backoff^(k-1), maximum_interval), by default 1 s, 2 s, 4 s ... "
        "capped at 100 s (100 x initial), with unlimited attempts. Start-to-close bounds one attempt, "
        "schedule-to-close the whole activity with its retries: Temporal stops retrying when the next retry would "
        "start after that deadline, and the activity times out then, not when the deadline passes. A heartbeat "
        "timeout detects a dead worker sooner on a long activity. Temporal writes ActivityTaskStarted only when the "
        "activity closes, so retries leave no trace in the history. A retried activity runs at least once, not "
        "exactly once: a worker that crashes after its side effect but before reporting makes the next attempt "
        "repeat it, unless the effect carries an idempotency key. Signals are written to the history; queries are "
        "answered from the worker's state and never are. Here 'unlimited' attempts stop at 20 so that every run "
        "ends, the workflow task timeout is Temporal's default 10 s, a restarted workflow worker replays on its next "
        "task, and an idle worker renews its 60 s long poll at most three times.")
    source = (
        "Temporal documentation: 'What is a Temporal Retry Policy?' (docs.temporal.io/encyclopedia/retry-policies); "
        "'Detecting Activity failures' (docs.temporal.io/encyclopedia/detecting-activity-failures); 'Events and "
        "Event History' (docs.temporal.io/workflow-execution/event); the server's nextBackoffInterval "
        "(temporalio/temporal, service/history/workflow/retry.go). Garcia-Molina and Salem, 'Sagas', SIGMOD 1987.")
    tick = "one millisecond"
    params = (
        Param("initial_interval_ms", "int", 1000, "retry policy: wait before the first retry (Temporal: 1 s)",
              100, 60_000),
        Param("backoff", "float", 2.0, "retry policy: backoff coefficient, each wait is the last times this",
              1.0, 10.0),
        Param("maximum_interval_ms", "int", 100_000,
              "retry policy: cap on any wait (Temporal: 100 x initial interval)", 100, 600_000),
        Param("maximum_attempts", "int", 0,
              "retry policy: attempts before giving up; 0 = unlimited (Temporal's default; stops at 20 here)", 0, 20),
        Param("start_to_close_ms", "int", 10_000, "timeout of one attempt (PrepareBeverage takes 3 s)", 100, 600_000),
        Param("schedule_to_close_ms", "int", 0, "timeout of a whole activity, retries included; 0 = none",
              0, 3_600_000),
        Param("heartbeat_ms", "int", 0, "heartbeat timeout; workers heartbeat every 80% of it; 0 = none", 0, 60_000),
        Param("fail_activity", "choice", "none", "the activity whose first attempts fail",
              choices=("none",) + PLAN),
        Param("failures", "int", 3, "how many attempts of that activity fail before one succeeds", 0, 10),
        Param("attempt_ms", "int", lambda p: EFFECT_AT_MS.get(p["fail_activity"], 0),
              "how long a failing attempt runs before it fails; 0 = at once (default: when its side effect would "
              "happen, 1.5 s into PrepareBeverage, at once for the others); past start_to_close_ms it times out",
              0, 600_000),
        Param("non_retryable", "bool", False, "the failure is non-retryable: no retry, the saga refunds"),
        Param("idempotent", "bool", False, "side effects carry an idempotency key, so a repeat is deduplicated"),
        Param("cancel_at_ms", "int", 0, "when the customer signals CancelOrder; 0 = never", 0, 600_000),
        Param("query_at_ms", "int", 0, "when the customer queries GetStatus; 0 = never", 0, 600_000),
    )
    bands = {
        "charged_twice": {True: ("fail", "charged twice")},
        "backoff": {name: ("wait", "backoff") for name in DURATION_MS},
        "status": {"Running": "busy", "Completed": "done", "Failed": "fail", "Canceled": "fail"},
        "order": {"Completed": "done", "Failed": "fail", "Canceled": "fail"},
        "coffee": {"ready for pickup": ("done", "coffee ready"), "waiting": "wait"},
    }
    invariants = (
        Invariant("history_contiguous", "The event history is append-only, with ids 1, 2, 3... and no gaps."),
        Invariant("no_rerun_on_replay", "A replayed workflow never schedules an activity its history records."),
        Invariant("one_terminal_event", "A closed workflow has exactly one terminal event, and nothing follows it."),
        Invariant("charged_implies_delivered_or_refunded",
                  "Every charge is matched by the coffee delivered or by a refund.", World.unsettled),
    )

    def nodes(self, params):
        return [("Customer", "Customer", "client"), ("Temporal", "Temporal server", "service"),
                ("Workflow", "Workflow worker", "worker")] + [(w, f"{w} worker", "worker") for w in ACTIVITY_WORKERS]

    def validate(self, params):
        if params["maximum_interval_ms"] < params["initial_interval_ms"]:
            refuse("maximum_interval_ms", "must be at least initial_interval_ms, as Temporal requires")
        if 0 < params["heartbeat_ms"] < 100:
            refuse("heartbeat_ms", "0 for none, or at least 100 ms so that heartbeats outrun the 5 ms network")
        if params["heartbeat_ms"] >= params["start_to_close_ms"]:
            refuse("heartbeat_ms", "must be shorter than start_to_close_ms, or it never fires first")
        worst, budget = worst_case_ms(params), MAX_TIME // (len(PLAN) + 1)
        if worst > budget:
            refuse("maximum_interval_ms", f"a failing activity could keep retrying for {worst // 1000} s; set "
                   f"maximum_attempts, schedule_to_close_ms or a smaller maximum_interval_ms to stay under "
                   f"{budget // 1000} s")

    def setup(self, sim, params):
        sim.network.delay = NETWORK_MS
        world = sim.world
        if not params["maximum_attempts"] and not params["schedule_to_close_ms"]:
            sim.note(f"Retry policy: unlimited attempts and no schedule-to-close, so Temporal would retry a failing "
                     f"activity forever; this simulation stops at {ATTEMPT_CAP} attempts so that every run ends.")
        server = TemporalService(params, world)
        server.workers = [WorkflowWorker(server.history), *(ActivityWorker(w, params, world) for w in ACTIVITY_WORKERS)]
        return [Customer(params), server, *server.workers]

    def world(self, params):
        return World(params["idempotent"])

    def finish(self, sim, params):
        if sim.nodes["Temporal"].status == "Running":
            sim.note("The order is still Running: a worker or the server it needs has not come back (or its polls "
                     "were lost). The history is durable; the order would resume as soon as a worker polls again.")

    def summary(self, sim, params):
        server, world = sim.nodes["Temporal"], sim.world
        delays = {name: list(d) for name, d in server.delays.items()}
        policy = server.policy
        return {
            "status": server.status,
            "history": [e["type"] for e in server.history],
            "history_length": len(server.history),
            "attempts": {name: act.runs for name, act in server.activities.items()},
            "charges": world.effects["ProcessPayment"],
            "refunded": world.effects[REFUND] > 0,
            "delivered": world.delivered,
            "retry_delays_ms": delays,
            "side_effects": dict(world.effects),
            "replays": sim.nodes["Workflow"].replays,
            "query": sim.nodes["Customer"].answer,
            "closed_at_ms": server.closed_at,
            "schedule_to_close_timeouts": dict(server.timed_out),
            "theory": {
                "formula": "delay(k) = min(initial_interval_ms * backoff^(k-1), maximum_interval_ms)",
                "retry_delays_ms": {name: [policy.ceiling(k) for k in range(1, len(d) + 1)]
                                    for name, d in delays.items()},
                "first_retry_delays_ms": [policy.ceiling(k) for k in range(1, 11)],
                "attempt_limit": policy.attempts,
                "unlimited_attempts": params["maximum_attempts"] == 0,
                "worst_case_retry_span_ms": worst_case_ms(params),
                "workflow_task_timeout_ms": WORKFLOW_TASK_TIMEOUT_MS,
            },
        }

    def headline(self, sim, params):
        summary = sim.summary
        broken = violation_clause(sim)
        charges, status = summary["charges"], summary["status"]
        crashed = sorted({e["node"] for e in sim.trace if e["kind"] == "crash"})
        if charges > 1 and not summary["refunded"]:
            why = ("a retry after the Payment worker's crash charged again with no idempotency key" if "Payment" in crashed
                   else "ProcessPayment ran again with no idempotency key")
            times = "twice" if charges == 2 else f"{charges} times"
            return f"Charged {times}: {why}" + (f"; {broken}." if broken else ".")
        if broken:
            return f"The {status.lower()} order broke a promise of durable execution; {broken}."
        waits = summary["retry_delays_ms"]
        retried = "; ".join(f"{name} failed {plural(len(d), 'time')} and was retried after "
                            f"{words([seconds(x) for x in d])}" for name, d in waits.items())
        if status == "Completed":
            if retried:
                return f"The latte was delivered: {retried}."
            if summary["replays"]:
                return ("The latte was delivered: the workflow worker crashed, replayed the history when it came "
                        "back and re-ran no finished activity.")
            if crashed:
                return (f"The latte was delivered although {words(crashed)} crashed: Temporal timed the lost attempt "
                        f"out and retried it.")
            return (f"The latte was delivered in {seconds(summary['closed_at_ms'])}: payment, barista, stock and text "
                    f"message each ran once.")
        refund = "; the saga refunded the charge" if summary["refunded"] else (
            "; nothing was charged" if not charges else "")
        if status == "Canceled":
            return f"The order was cancelled by the customer before the coffee was made{refund}."
        if status == "Failed":
            cuts = {name: at for name, at in summary["schedule_to_close_timeouts"].items() if at["next_attempt_ms"]}
            parts = []
            for name in dict.fromkeys([*waits, *cuts]):
                d, at = waits.get(name, []), cuts.get(name)
                if at is None:
                    parts.append(f"{name} failed {plural(len(d), 'time')} and was retried after "
                                 f"{words([seconds(x) for x in d])}")
                    continue
                parts.append(f"{name} failed {plural(len(d) + 1, 'time')}; its next attempt (t={at['next_attempt_ms']}) "
                             f"would start after the deadline t={at['deadline_ms']}, so it timed out at t={at['at_ms']}")
            return f"The order failed: {'; '.join(parts) or 'an activity failed for good'}{refund}."
        return f"The order is still {status} at the end: a worker it needs never came back to poll."

    def known(self, sim, params):
        summary, theory = sim.summary, sim.summary["theory"]
        rows = []
        waits = summary["retry_delays_ms"]
        expected = theory["retry_delays_ms"]
        formula = (f"min({seconds(params['initial_interval_ms'])} × {params['backoff']:g}^(k−1), "
                   f"{seconds(params['maximum_interval_ms'])})")
        if waits:
            rows.append(known_row(
                "waits before the retries", "; ".join(f"{name}: {words([seconds(x) for x in d])}"
                                                     for name, d in expected.items()) + f" = {formula}",
                "; ".join(f"{name}: {words([seconds(x) for x in d])}" for name, d in waits.items()),
                waits == expected))
        else:
            first = theory["first_retry_delays_ms"][:3]
            rows.append(known_row("waits before the retries", f"{words([seconds(x) for x in first])} ... = {formula}",
                                  "no retry in this run", None, "an activity fails or times out; none did here"))
        charges, idempotent = summary["charges"], params["idempotent"]
        if idempotent:
            rows.append(known_row("charges for one latte", "at most 1: the idempotency key deduplicates a repeat",
                                  str(charges), charges <= 1))
        else:
            rows.append(known_row(
                "charges for one latte",
                "at least once, not exactly once: without an idempotency key a repeat charges again",
                str(charges), charges >= 1 if summary["status"] == "Completed" else None,
                None if summary["status"] == "Completed" else "the order completes; here it is " +
                summary["status"].lower()))
        for name, at in summary["schedule_to_close_timeouts"].items():
            if at["next_attempt_ms"]:
                rows.append(known_row(
                    f"when {name} timed out", "as soon as the next retry would start after the schedule-to-close "
                    "deadline, not when the deadline passes",
                    f"t={at['at_ms']}: the retry would start at t={at['next_attempt_ms']}, the deadline is "
                    f"t={at['deadline_ms']}", at["at_ms"] <= at["deadline_ms"] < at["next_attempt_ms"]))
        if summary["replays"]:
            rows.append(known_row("finished activities run again by a replay",
                                  "0: a replay returns recorded results",
                                  "at least 1" if "no_rerun_on_replay" in sim.violations else "0",
                                  "no_rerun_on_replay" not in sim.violations))
        return rows


def seconds(ms):
    """1000 -> "1 s", 1500 -> "1.5 s", 250 -> "250 ms"."""
    return f"{round(ms / 1000, 1):g} s" if ms >= 1000 else f"{ms} ms"
