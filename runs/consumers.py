"""The run protocol over a WebSocket (DESIGN.md): a thin adapter from messages to a LiveRun."""
import asyncio
import collections
import json
import os

from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings

from classroom.consumer import RoomMixin
from config.security import allow, client_ip
from simulations.params import ParamError

from . import protocol, store
from .layers import LayerUnavailable
from .live import MAX_BATCH, LiveRun

TICK = 0.05  # seconds between batches while playing
SAVE_AHEAD = 2.0  # seconds of play the engine computes and saves ahead of the browser
WINDOW = int(os.environ.get("WS_WINDOW_BYTES", 32 * 2**20))  # sent but not acknowledged, per connection
SLOW_SECONDS = float(os.environ.get("WS_SLOW_SECONDS", 30))  # how long a full window may stay full
BASE_RATE = 4  # events per second at speed 1


def group_name(run_id):
    return f"run.{run_id}"


class RunConsumer(RoomMixin, AsyncWebsocketConsumer):
    live = None
    player = None
    watching = None
    said_degraded = False

    async def connect(self):
        self.outstanding = collections.deque()  # (last seq, bytes) of event batches not yet acknowledged
        self.unacked = 0
        await self.accept()

    async def disconnect(self, code):
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
        except LayerUnavailable:
            await self.send_json({"type": "error", "code": "degraded", "message":
                                  "Redis does not answer: watching and classrooms are paused; your own run goes on."})

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
        except KeyError:
            raise protocol.ProtocolError("unknown_scenario", f"no scenario {msg['scenario'][:60]!r}") from None
        except ParamError as e:
            raise protocol.ProtocolError("bad_params", str(e), errors=e.errors) from None
        await self.begin(live, 1)  # the init event: lifelines appear at once

    async def on_branch(self, msg):
        """Scrubbed back and changed something: a new run that shares the past and differs from there on."""
        self.within_rate_limit()
        try:
            live = await LiveRun.branch(msg["run"], msg["seq"], msg["fault"])
        except LookupError as e:
            raise protocol.ProtocolError("unknown_run", str(e)) from None
        except (ValueError, ParamError) as e:
            raise protocol.ProtocolError("bad_fault", str(e)) from None
        await self.begin(live, msg["seq"] + 1, parent=msg["run"])

    async def begin(self, live, upto, **extra):
        await self.stop_playing()
        self.live = live
        await self.send_json({"type": "started", "run": live.id, "url": f"/runs/{live.id}/", "token": live.token,
                              **extra})
        await self.room_started(live.id)
        while (live.sent < upto or live.pending) and not live.ended and not live.waiting:
            await self.publish(await live.take(max(1, upto - live.sent)))
        if extra:
            await self.publish(await live.flush())  # a branch shows its change at once
        await self.status("ended" if live.ended else "waiting" if live.waiting else "paused")

    async def on_ack(self, msg):
        """The browser has drawn everything up to ``seq``: that much leaves the send window."""
        while self.outstanding and self.outstanding[0][0] <= msg["seq"]:
            self.unacked -= self.outstanding.popleft()[1]

    async def on_play(self, msg):
        live = self.require_run()
        await self.stop_playing()
        self.halt = asyncio.Event()
        self.player = asyncio.create_task(self.play(live, msg["speed"], self.halt))

    async def on_pause(self, msg):
        self.require_run()
        await self.stop_playing()
        await self.status("paused")

    async def on_step(self, msg):
        live = self.require_run()
        await self.stop_playing()
        await self.publish(await live.take(msg["count"]))
        await self.status("ended" if live.ended else "waiting" if live.waiting else "paused")

    async def on_inject(self, msg):
        live = self.require_run()
        try:
            await live.inject(msg["fault"])
        except ValueError as e:
            raise protocol.ProtocolError("bad_fault", str(e)) from None
        await self.publish(await live.flush())
        if msg["fault"].get("action") == "deliver" and (self.player is None or self.player.done()):
            await self.publish(await live.take(1))  # the picked message lands now
            await self.status("ended" if live.ended else "waiting" if live.waiting else "paused")

    async def on_resume(self, msg):
        """A browser whose connection dropped takes its run back from the last event it has."""
        try:
            live = await LiveRun.resume(msg["run"], msg["token"])
        except LookupError as e:
            raise protocol.ProtocolError("unknown_run", str(e)) from None
        except PermissionError as e:
            raise protocol.ProtocolError("forbidden", str(e)) from None
        await self.stop_playing()
        self.live = live
        await self.send_json({"type": "resumed", "run": live.id, "url": f"/runs/{live.id}/"})
        missed = live.events(msg["from"])
        for i in range(0, len(missed), MAX_BATCH):
            await self.send_json({"type": "events", "events": missed[i:i + MAX_BATCH]})
        await self.status("ended" if live.ended else "waiting" if live.waiting else "paused")

    async def on_watch(self, msg):
        """Follow a run streamed by another connection (possibly on another server) from seq ``from``."""
        if await store.aget_run(msg["run"]) is None:
            raise protocol.ProtocolError("unknown_run", f"no run {msg['run']}")
        if self.watching:
            await self.channel_layer.group_discard(group_name(self.watching), self.channel_name)
        self.watching, self.watched_to = msg["run"], msg["from"]
        await self.channel_layer.group_add(group_name(msg["run"]), self.channel_name)
        await self.forward(await store.aevents_from(msg["run"], msg["from"]))

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
                if halt.is_set() or (self.unacked > WINDOW and not await self.window_opens(halt)):
                    return
                await self.publish(await live.take(count))
        finally:
            live.ahead = 1
        if live.ended or live.waiting:
            await self.status("ended" if live.ended else "waiting")

    async def window_opens(self, halt):
        """Wait for a client that does not keep up; past SLOW_SECONDS, let it go so its buffers are freed."""
        waited = 0.0
        while self.unacked > WINDOW and not halt.is_set():
            if waited >= SLOW_SECONDS:
                await self.send_json({"type": "error", "code": "slow_client", "message":
                                      "This connection stopped reading; the run is saved: reload to replay it."})
                await self.close(code=4008)
                return False
            await asyncio.sleep(0.1)
            waited += 0.1
        return not halt.is_set()

    async def stop_playing(self):
        task, self.player = self.player, None
        if task and not task.done():
            self.halt.set()
            await task

    async def publish(self, events):
        """Send a batch to this browser and to everyone watching the run (when the channel layer answers)."""
        if not events:
            return
        text = json.dumps({"type": "events", "events": events}, separators=(",", ":"))
        self.outstanding.append((events[-1]["seq"], len(text)))
        self.unacked += len(text)
        await self.send(text_data=text)
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
        if events and events[0]["seq"] <= self.watched_to <= events[-1]["seq"] + 1:
            self.watched_to = events[-1]["seq"] + 1
            await self.send_json({"type": "events", "events": events, "run": self.watching, "from": events[0]["seq"]})

    async def forward(self, events):
        """Catch a new watcher up on what is saved, from where it asked."""
        fresh = [e for e in events if e["seq"] >= self.watched_to]
        if fresh and fresh[0]["seq"] == self.watched_to:
            self.watched_to = fresh[-1]["seq"] + 1
            await self.send_json({"type": "events", "events": fresh, "run": self.watching})
