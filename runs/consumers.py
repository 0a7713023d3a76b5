"""The run protocol over a WebSocket (docs/design.md): a thin adapter from messages to a LiveRun."""
import asyncio
import collections
import json
import logging

from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings

from classroom.consumer import RoomMixin
from config.security import allow, client_ip
from simulations.params import ParamError

from . import heartbeat, protocol, store
from .errors import RunError, TakenOver
from .layers import LayerUnavailable
from .live import MAX_BATCH, LiveRun

TICK = 0.05  # seconds between batches while playing
SAVE_AHEAD = 2.0  # seconds of play the engine computes and saves ahead of the browser
WINDOW = 4 * 2**20  # defaults of settings.WS_WINDOW_BYTES, WS_SLOW_SECONDS, WS_FRAME_BYTES (README)
SLOW_SECONDS = 30.0
FRAME_BYTES = 256 * 1024
BASE_RATE = 4  # events per second at speed 1
log = logging.getLogger(__name__)
INTERNAL = {"type": "error", "code": "internal", "message":
            "Something failed on the server (it is logged); the run is saved up to what you see: reload to go on."}


def group_name(run_id):
    return f"run.{run_id}"


def window():
    """Bytes a connection may have sent and not had acknowledged: every events frame counts."""
    return getattr(settings, "WS_WINDOW_BYTES", WINDOW)


def slow_seconds():
    """How long a full window may go without an acknowledgement before the connection is let go."""
    return getattr(settings, "WS_SLOW_SECONDS", SLOW_SECONDS)


def frame_bytes():
    """Catch-up frames stay under this (daphne refuses messages over 1 MiB), and under a quarter window."""
    return max(1024, min(getattr(settings, "WS_FRAME_BYTES", FRAME_BYTES), window() // 4))


def fits(events, start, limit):
    """How many events from ``start`` make a frame of at most ``limit`` bytes (at least one)."""
    size, i = 64, start
    while i < len(events):
        size += len(json.dumps(events[i], separators=(",", ":"))) + 1
        if size > limit and i > start:
            break
        i += 1
    return i - start


class RunConsumer(RoomMixin, AsyncWebsocketConsumer):
    live = None
    player = None
    watching = None
    said_degraded = False

    async def connect(self):
        self.outstanding = collections.deque()  # (last seq, bytes) of event frames not yet acknowledged
        self.unacked = 0
        self.sent_top = -1  # the highest seq sent on this connection: an ack beyond it is refused
        self.acked_at = 0.0  # loop time of the last ack that freed something
        self.backlog, self.backlog_at = [], 0  # a resumed run's missed events still to send, paced by acks
        self.behind = False  # a watcher with saved events still to fetch from watched_to, paced by acks
        self.watchdog = None
        self.letting_go = False
        heartbeat.hold(self)  # the run this connection drives stays "running" while it lasts (runs.heartbeat)
        await self.accept()

    async def disconnect(self, code):
        heartbeat.release(self)
        if self.watchdog:
            self.watchdog.cancel()
        await self.stop_playing()
        try:
            await self.leave_room()
            if self.watching:
                await self.channel_layer.group_discard(group_name(self.watching), self.channel_name)
        except LayerUnavailable:
            pass
        if self.live and not self.live.ended:
            await store.aset_status(self.live.id, "interrupted")

    async def receive(self, text_data=None, bytes_data=None):
        try:
            msg = protocol.parse(text_data, bytes_data)
            await getattr(self, "on_" + msg["type"].replace(".", "_"))(msg)
        except protocol.ProtocolError as e:
            await self.send_json(e.as_message())
        except RunError as e:  # checked input or state the client can act on: busy, bad_fault, taken_over...
            await self.send_json({"type": "error", "code": e.code, "message": str(e)})
        except LayerUnavailable:
            await self.send_json({"type": "error", "code": "degraded", "message":
                                  "Redis does not answer: watching and classrooms are paused; your own run goes on."})
        except Exception:
            log.exception("run connection: handling a %s message failed", (text_data or "")[:40])
            await self.send_json(INTERNAL)

    async def send_json(self, content):
        await self.send(text_data=json.dumps(content, separators=(",", ":")))

    def within_rate_limit(self):
        limit = settings.RATE_LIMIT_RUNS
        if not allow(f"runs:{client_ip(scope=self.scope)}", limit, 60):
            raise protocol.ProtocolError("rate_limited", f"at most {limit} new runs a minute from one address; "
                                         "wait a minute, or replay a saved run meanwhile")

    def require_run(self):
        if self.live is None:
            raise protocol.ProtocolError("no_run", "start a run first")
        return self.live

    # -- client messages --------------------------------------------------
    async def on_start(self, msg):
        self.within_rate_limit()
        try:
            live = await LiveRun.start(msg["scenario"], msg["params"], msg["seed"], msg["faults"])
        except ParamError as e:
            raise protocol.ProtocolError("bad_params", str(e), errors=e.errors) from None
        await self.begin(live, 1)  # the init event: lifelines appear at once

    async def on_branch(self, msg):
        """Scrubbed back and changed something: a new run that shares the past and differs from there on."""
        self.within_rate_limit()
        try:
            live = await LiveRun.branch(msg["run"], msg["seq"], msg["fault"])
        except ParamError as e:
            raise protocol.ProtocolError("bad_fault", str(e)) from None
        await self.begin(live, msg["seq"] + 1, parent=msg["run"])

    async def begin(self, live, upto, **extra):
        await self.stop_playing()
        self.live = live
        self.backlog, self.backlog_at = [], 0  # a new run: what the last one missed is moot
        live.listener = self.live_failed
        await self.send_json({"type": "started", "run": live.id, "url": f"/runs/{live.id}/", "token": live.token,
                              **extra})
        await self.room_started(live.id)
        while (live.sent < upto or live.pending) and not live.ended and not live.waiting:
            await self.publish(await live.take(max(1, upto - live.sent)))
        if extra:
            await self.publish(await live.flush())  # a branch shows its change at once
        await self.status("ended" if live.ended else "waiting" if live.waiting else "paused")

    async def on_ack(self, msg):
        """The browser has drawn the frame ending at ``seq`` (and all before it): that much leaves the window.
        Only what was sent can be acknowledged; then the catch-up it was waiting for goes on."""
        seq, out = msg["seq"], self.outstanding
        if seq > self.sent_top:
            raise protocol.ProtocolError("bad_ack", f"seq {seq} was never sent on this connection")
        done = 0
        while done < len(out) and out[done][0] <= seq:
            done += 1
        if not done:  # seqs start again with a new run: the first frame that ends at seq
            done = next((i + 1 for i, (last, _) in enumerate(out) if last == seq), 0)
        for _ in range(done):
            self.unacked -= out.popleft()[1]
        if done:
            self.acked_at = asyncio.get_running_loop().time()
        await self.catch_up()

    async def on_play(self, msg):
        live = self.require_run()
        await self.stop_playing()
        self.halt = asyncio.Event()
        self.player = asyncio.create_task(self.play(live, msg["speed"], self.halt))
        self.player.add_done_callback(self.player_done)

    def player_done(self, task):
        """A play task that crashed is logged and the browser told, instead of the stream just stopping."""
        if task.cancelled() or task.exception() is None or isinstance(task.exception(), TakenOver):
            return
        log.error("run %s: playing failed", self.live.id if self.live else "?", exc_info=task.exception())
        asyncio.ensure_future(self.send_json(INTERNAL))

    def live_failed(self, live, code, message):
        """The LiveRun says something the browser must hear: a lost write, or another connection took over."""
        asyncio.ensure_future(self.tell_live_failed(live, code, message))

    async def tell_live_failed(self, live, code, message):
        if code == "taken_over" and self.live is live:
            self.live = None  # stop driving it, keep the connection: it may start or watch another
            task, self.player = self.player, None
            if task and not task.done():
                self.halt.set()
                await asyncio.wait([task])
        await self.send_json({"type": "error", "code": code, "message": message})

    async def on_pause(self, msg):
        self.require_run()
        await self.stop_playing()
        await self.status("paused")

    async def on_step(self, msg):
        live = self.require_run()
        if self.unacked > window():
            raise protocol.ProtocolError("window_full", "this connection has not acknowledged what it was sent; "
                                         "ack it before asking for more")
        await self.stop_playing()
        await self.publish(await live.take(msg["count"]))
        await self.status("ended" if live.ended else "waiting" if live.waiting else "paused")

    async def on_inject(self, msg):
        live = self.require_run()
        await live.inject(msg["fault"])
        await self.publish(await live.flush())
        if msg["fault"].get("action") == "deliver" and (self.player is None or self.player.done()):
            await self.publish(await live.take(1))  # the picked message lands now
            await self.status("ended" if live.ended else "waiting" if live.waiting else "paused")

    async def on_resume(self, msg):
        """A browser whose connection dropped takes its run back from the last event it has."""
        live = await LiveRun.resume(msg["run"], msg["token"])  # UnknownRun, Forbidden, Busy: said in receive
        await self.stop_playing()
        self.live = live
        live.listener = self.live_failed
        await self.send_json({"type": "resumed", "run": live.id, "url": f"/runs/{live.id}/"})
        self.backlog, self.backlog_at = live.events(msg["from"]), 0  # sent in frames as acks make room
        await self.catch_up()
        await self.status("ended" if live.ended else "waiting" if live.waiting else "paused")

    async def on_watch(self, msg):
        """Follow a run streamed by another connection (possibly on another server) from seq ``from``."""
        if await store.aget_run(msg["run"]) is None:
            raise protocol.ProtocolError("unknown_run", f"no run {msg['run']}")
        if self.watching:
            await self.channel_layer.group_discard(group_name(self.watching), self.channel_name)
        self.watching, self.watched_to, self.behind = msg["run"], msg["from"], True
        await self.channel_layer.group_add(group_name(msg["run"]), self.channel_name)
        await self.catch_up()

    # -- streaming --------------------------------------------------------
    async def play(self, live, speed, halt):
        """Stream at ``speed``; stops between batches when ``halt`` is set, never in the middle of one
        (cancelling a half-sent batch could leave a shared Redis connection mid-reply)."""
        await self.status("playing")
        rate = BASE_RATE * speed
        count = 1 if rate * TICK < 1 else min(round(rate * TICK), MAX_BATCH)
        loop = asyncio.get_running_loop()
        due = loop.time()
        live.ahead = min(MAX_BATCH, max(count, int(rate * SAVE_AHEAD)))
        try:
            await self.publish(await live.take(max(count, live.until_first_arrow())))  # no waiting for an arrow
            while not live.ended and not live.waiting and not halt.is_set():
                due += count / rate  # paced against the clock, so the speed asked for is the speed shown
                try:
                    await asyncio.wait_for(halt.wait(), max(0.0, due - loop.time()))
                except TimeoutError:
                    pass
                if halt.is_set() or ((self.unacked > window() or self.backlog) and not await self.window_opens(halt)):
                    return
                await self.publish(await live.take(count))
        finally:
            live.ahead = 1
        if live.ended or live.waiting:
            await self.status("ended" if live.ended else "waiting")

    async def window_opens(self, halt):
        """Wait for a client that does not keep up (and for its catch-up); a full window with no ack for
        WS_SLOW_SECONDS lets it go, so its buffers are freed."""
        loop = asyncio.get_running_loop()
        since = loop.time()
        while (self.unacked > window() or self.backlog) and not halt.is_set():
            if loop.time() - max(since, self.acked_at) >= slow_seconds():
                await self.let_go()
                return False
            await asyncio.sleep(0.1)
        return not halt.is_set()

    async def watch_window(self):
        """Started when the window fills, whatever filled it (a watched run, a catch-up, steps)."""
        loop = asyncio.get_running_loop()
        since = loop.time()
        while self.unacked >= window():
            if loop.time() - max(since, self.acked_at) >= slow_seconds():
                return await self.let_go()
            await asyncio.sleep(0.1)

    async def let_go(self):
        if not self.letting_go:
            self.letting_go = True
            await self.send_json({"type": "error", "code": "slow_client", "message":
                                  "This connection stopped reading; the run is saved: reload to replay it."})
            await self.close(code=4008)

    async def send_events(self, events, **extra):
        """One events frame, counted against the window until the browser acknowledges its last seq."""
        if self.letting_go:
            return
        text = json.dumps({"type": "events", "events": events, **extra}, separators=(",", ":"))
        self.outstanding.append((events[-1]["seq"], len(text)))
        self.unacked += len(text)
        self.sent_top = max(self.sent_top, events[-1]["seq"])
        await self.send(text_data=text)
        if self.unacked >= window() and (self.watchdog is None or self.watchdog.done()):
            self.watchdog = asyncio.create_task(self.watch_window())

    async def catch_up(self, force=False):
        """Send what a connection has to catch up on in frames well under 1 MiB, in order, while the window
        has room: a resumed run's missed events (all of them when ``force``), then a watched run's saved
        events (fetched again from the store once half the window is free)."""
        limit = frame_bytes()
        while self.backlog and (force or self.unacked < window()):
            k = fits(self.backlog, self.backlog_at, limit)
            await self.send_events(self.backlog[self.backlog_at:self.backlog_at + k])
            self.backlog_at += k
            if self.backlog_at >= len(self.backlog):
                self.backlog, self.backlog_at = [], 0
        if not (self.watching and self.behind) or self.unacked > window() // 2:
            return
        run = self.watching
        events = await store.aevents_from(run, self.watched_to)
        events = [e for e in events if e["seq"] >= self.watched_to]
        if events and events[0]["seq"] != self.watched_to:
            events = []  # the store does not have where this watcher is: live batches (or a new watch) will do
        i = 0
        while i < len(events) and self.unacked < window():
            k = fits(events, i, limit)
            batch = events[i:i + k]
            self.watched_to = batch[-1]["seq"] + 1
            await self.send_events(batch, run=run, **{"from": batch[0]["seq"]})
            i += k
        self.behind = i < len(events)

    async def stop_playing(self):
        task, self.player = self.player, None
        if task and not task.done():
            self.halt.set()
            await task

    async def publish(self, events):
        """Send a batch to this browser and to everyone watching the run (when the channel layer answers)."""
        if not events:
            return
        if self.backlog:
            await self.catch_up(force=True)  # what this browser missed comes first
        await self.send_events(events)
        try:
            await self.channel_layer.group_send(group_name(self.live.id), {"type": "run.events", "events": events})
        except LayerUnavailable:
            await self.degraded()

    async def degraded(self):
        """Say once that group features are paused; the stream to this browser goes on."""
        if not self.said_degraded:
            self.said_degraded = True
            await self.send_json({"type": "degraded", "message": "Redis does not answer: watchers and the "
                                  "classroom are paused; this run goes on. They resume when Redis is back."})

    async def status(self, state):
        await self.send_json({"type": "status", "state": state, "seq": self.live.seq if self.live else -1})

    # -- group messages ---------------------------------------------------
    async def dispatch(self, message):
        """Run batches for watchers touch no database: skip channels' per-message connection check."""
        if message["type"] == "run.events":
            return await self.run_events(message)
        return await super().dispatch(message)

    async def run_events(self, message):
        """A batch the owner sent. It may start before what this watcher has: the saved events it caught up
        on run ahead of the owner, and an intervention can replace them; so the batch says where it starts."""
        events = message["events"]
        if not events or not self.watching or self.letting_go:
            return
        if self.behind or self.unacked >= window():
            self.behind = True  # skipped: fetched from the store in order once acks make room
            self.watched_to = min(self.watched_to, events[0]["seq"])  # an intervention replaced what it had
            return await self.catch_up()
        if events[0]["seq"] > self.watched_to:  # a gap (a full channel dropped batches): the store has them
            self.behind = True
            await self.catch_up()
            if self.behind:
                return
            # caught up to this batch, or the store lags too: then it goes anyway, and the browser, seeing the
            # gap, watches again from where it is
        if self.watched_to <= events[-1]["seq"] + 1:
            self.watched_to = events[-1]["seq"] + 1
            await self.send_events(events, run=self.watching, **{"from": events[0]["seq"]})
