"""The run protocol over a WebSocket (docs/design.md): a thin adapter from messages to a LiveRun, to what
the connection may leave unread (runs.window) and to what it has to catch up on (runs.catchup)."""
import asyncio
import json
import logging

from channels.consumer import get_handler_name
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings

from classroom.consumer import RoomMixin
from config.security import allow, client_ip
from simulations.params import ParamError

from . import heartbeat, protocol, store
from .catchup import CatchUp
from .fanout import fanout_for, group_name
from .forward import Forwarder
from .errors import RunError, TakenOver
from .layers import LayerUnavailable
from .live import MAX_AHEAD, MAX_BATCH, LiveRun
from .events import array
from .window import Window

TICK = 0.1  # seconds between a playing run's batches: ten frames a second, whatever the speed...
FRAMES_PER_SECOND = 2500  # ...while the process's playing runs together stay within this many (tick())
SAVE_AHEAD = 2.0  # seconds of play the engine computes and saves ahead of the browser
BASE_RATE = 4  # events per second at speed 1
FIRST_ARROW = 64  # a slow run's first batch reaches its first arrow if one comes within this many events
log = logging.getLogger(__name__)
_playing = set()  # connections of this process whose run is playing


def tick():
    """Seconds between a playing run's batches: TICK, or more when so many runs play in this process that
    ten frames a second each would pass FRAMES_PER_SECOND. A frame costs the process the same whatever it
    holds (channels, daphne, autobahn, a write), so past that the frames carry more events each: every run
    keeps its speed and its batches their pace, in fewer of them (500 at once: five a second)."""
    return max(TICK, len(_playing) / FRAMES_PER_SECOND)


def batch_size(rate):
    """Events in one batch of a run playing at ``rate`` events a second."""
    step = tick()
    return 1 if rate * step < 1 else min(round(rate * step), MAX_BATCH)


INTERNAL = {"type": "error", "code": "internal", "message":
            "Something failed on the server (it is logged); the run is saved up to what you see: reload to go on."}


def wake(future):
    if future is not None and not future.done():
        future.set_result(None)


class RunConsumer(RoomMixin, AsyncWebsocketConsumer):
    live = None
    player = None
    waker = None
    said_degraded = False

    async def dispatch(self, message):
        """As channels' own, without its hop to the database thread before every message (to close old
        connections): with five hundred browsers acknowledging, that queued behind every write. This
        consumer's database work runs in database_sync_to_async, which closes them itself."""
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"no handler for message type {message['type']}")
        await handler(message)

    async def connect(self):
        self.window = Window(self.send_text, self.let_go)
        self.catchup = CatchUp(self.window)
        self.forwarder = Forwarder(self.channel_layer, self.degraded)
        heartbeat.hold(self)  # the run this connection drives stays "running" while it lasts (runs.heartbeat)
        await self.accept()

    async def disconnect(self, code):
        heartbeat.release(self)
        self.window.stop()
        watched = self.catchup.stop()
        await self.stop_playing()
        if self.live:
            self.live.close()
        await self.forwarder.close()
        try:
            await self.leave_room()
            if watched:
                await fanout_for(self.channel_layer).leave(watched, self.catchup)
        except LayerUnavailable:
            pass
        if self.live and not self.live.ended:
            await store.aset_status(self.live.id, "interrupted")
        self.forget()

    def forget(self):
        """Let go of what points back at this connection (callbacks bound to it), so that it is freed when it
        closes rather than at the next full garbage collection: 500 closed connections were 30 MB meanwhile."""
        if self.live:
            self.live.listener = None
        self.live = self.player = self.waker = None
        self.window = self.catchup = self.forwarder = None

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

    async def send_text(self, text):
        await self.send(text_data=text)

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
        if self.live:
            self.live.close()
        self.live = live
        self.catchup.drop_backlog()
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
        """The browser has drawn up to ``seq``: that much leaves the window, and the catch-up goes on."""
        self.window.ack(msg["seq"])
        await self.catchup.send()

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
                self.halt_player()
                await asyncio.wait([task])
            live.close()
        await self.send_json({"type": "error", "code": code, "message": message})

    async def on_pause(self, msg):
        self.require_run()
        await self.stop_playing()
        await self.status("paused")

    async def on_step(self, msg):
        live = self.require_run()
        if self.window.over:
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
        if self.live:
            self.live.close()
        self.live = live
        live.listener = self.live_failed
        await self.send_json({"type": "resumed", "run": live.id, "url": f"/runs/{live.id}/"})
        self.catchup.resume(await live.events(msg["from"]))  # sent in frames as acks make room
        await self.catchup.send()
        await self.status("ended" if live.ended else "waiting" if live.waiting else "paused")

    async def on_watch(self, msg):
        """Follow a run streamed by another connection (possibly on another server) from seq ``from``."""
        if await store.aget_run(msg["run"]) is None:
            raise protocol.ProtocolError("unknown_run", f"no run {msg['run']}")
        fanout = fanout_for(self.channel_layer)
        if self.catchup.watching:
            await fanout.leave(self.catchup.watching, self.catchup)
        self.catchup.watch(msg["run"], msg["from"])
        await fanout.join(msg["run"], self.catchup)
        await self.catchup.send()

    # -- streaming --------------------------------------------------------
    async def play(self, live, speed, halt):
        """Stream at ``speed``; stops between batches when ``halt`` is set, never in the middle of one
        (cancelling a half-sent batch could leave a shared Redis connection mid-reply)."""
        await self.status("playing")
        rate = BASE_RATE * speed
        loop = asyncio.get_running_loop()
        start, played = loop.time(), 0  # paced against the clock, so the speed asked for is the speed shown
        live.ahead = min(MAX_AHEAD, max(batch_size(rate), int(rate * SAVE_AHEAD)))
        _playing.add(self)
        try:
            first = batch_size(rate)
            if first < FIRST_ARROW:  # no waiting for the first arrow
                first = max(first, await live.until_first_arrow(FIRST_ARROW))
            await self.publish(await live.take(first))
            while not live.ended and not live.waiting and not halt.is_set():
                count = batch_size(rate)
                await self.nap(start + (played + count) / rate)
                if halt.is_set():
                    return
                if self.window.over or self.catchup.backlog:
                    if not await self.window.opens(halt, lambda: bool(self.catchup.backlog)):
                        return
                    start = loop.time() - played / rate  # a client that kept us waiting is not caught up in a burst
                # a process running late sends what is due in one frame: the run keeps its speed in fewer frames
                due = int((loop.time() - start) * rate) - played
                batch = await live.take(min(MAX_BATCH, max(count, due)))
                played += len(batch)
                await self.publish(batch)
        finally:
            live.ahead = 1
            _playing.discard(self)
        if live.ended or live.waiting:
            await self.status("ended" if live.ended else "waiting")

    async def nap(self, when):
        """Wait until loop time ``when`` or until the player is halted (``halt_player``): one timer and one
        future a batch, which is all five hundred players on a process can afford."""
        loop = asyncio.get_running_loop()
        self.waker = loop.create_future()
        timer = loop.call_at(when, wake, self.waker)
        try:
            await self.waker
        finally:
            timer.cancel()

    def halt_player(self):
        self.halt.set()
        wake(self.waker)

    async def let_go(self):
        await self.send_json({"type": "error", "code": "slow_client", "message":
                              "This connection stopped reading; the run is saved: reload to replay it."})
        await self.close(code=4008)

    async def stop_playing(self):
        task, self.player = self.player, None
        if task and not task.done():
            self.halt_player()
            await task

    async def publish(self, events):
        """Send a batch (runs.events: encoded where it was made) to this browser and to everyone watching the
        run (when the channel layer answers)."""
        if not events:
            return
        if self.catchup.backlog:
            await self.catchup.send(force=True)  # what this browser missed comes first
        events_json, first, last = array(events).decode(), events[0][0], events[-1][0]
        await self.window.send_encoded(events_json, last)
        await self.forwarder.put(group_name(self.live.id), {
            "type": "run.events", "run": self.live.id, "first": first, "last": last, "events": events_json})

    async def degraded(self):
        """Say once that group features are paused; the stream to this browser goes on."""
        if not self.said_degraded:
            self.said_degraded = True
            await self.send_json({"type": "degraded", "message": "Redis does not answer: watchers and the "
                                  "classroom are paused; this run goes on. They resume when Redis is back."})

    async def status(self, state):
        if self.live:
            await self.live.settled()
        await self.forwarder.settle()  # what a status follows has reached the watchers (or was said degraded)
        await self.send_json({"type": "status", "state": state, "seq": self.live.seq if self.live else -1})
