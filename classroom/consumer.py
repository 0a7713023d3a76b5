"""The classroom half of the run consumer: the instructor's connection leads, learners' connections follow.

Everything crosses the channel layer (Redis in production), so a room spans several daphne processes. The
instructor's connection keeps the room's live state (run, cursor, question, answers, who is present) and
tells each learner that arrives; learners hold nothing but their id.
"""
import collections
import secrets
import time
from http.cookies import SimpleCookie

from channels.db import database_sync_to_async
from django.conf import settings
from django.core.cache import cache

from runs.layers import LayerUnavailable
from runs.protocol import ProtocolError

from .models import Room


def room_group(code):
    return f"room.{code}"


@database_sync_to_async
def room_key(code):
    return Room.objects.filter(code=code).values_list("key", flat=True).first()


@database_sync_to_async
def room_run(code, run_id=None):
    """The room's latest run; with ``run_id``, remember that one (so an instructor's reload finds it)."""
    rooms = Room.objects.filter(code=code)
    if run_id is not None:
        rooms.update(run=run_id)
        return run_id
    return rooms.values_list("run", flat=True).first() or None


class RoomMixin:
    room = None
    role = None  # "host" or "learner"

    # -- client messages --------------------------------------------------
    async def on_room_host(self, msg):
        self.may_try_a_code()
        key = await room_key(msg["room"])
        if key is None:
            self.wrong_code()
            raise ProtocolError("unknown_room", f"no room {msg['room']}")
        if not secrets.compare_digest(key, msg["key"]):
            self.wrong_code()
            raise ProtocolError("forbidden", "only the instructor who opened the room can lead it")
        await self.enter_room(msg["room"], "host")
        self.learners, self.answers, self.question, self.controller, self.cursor = {}, {}, None, None, None
        self.shown_run = None if getattr(self, "live", None) else await room_run(self.room)
        await self.send_json({"type": "room.joined", "room": self.room, "role": "host"})
        if self.shown_run:  # a reload: the instructor sees the room's run again, as the learners do
            await self.send_json({"type": "room.state", "run": self.shown_run, "cursor": None, "question": None,
                                  "controller": None})
        await self.room_send({"type": "room.hello", "host": self.channel_name})

    async def on_room_join(self, msg):
        self.may_try_a_code()
        if await room_key(msg["room"]) is None:
            self.wrong_code()
            raise ProtocolError("unknown_room", f"no room {msg['room']}: check the code")
        await self.enter_room(msg["room"], "learner")
        self.learner_id = secrets.token_hex(4)
        self.learner_name = msg.get("name") or f"Learner {self.learner_id[:3]}"
        self.host_channel = None
        await self.send_json({"type": "room.joined", "room": self.room, "role": "learner", "id": self.learner_id,
                              "name": self.learner_name})
        await self.announce(True)

    async def on_room_cursor(self, msg):
        self.require_lead()
        if self.role == "host":
            self.cursor = msg
        await self.broadcast(msg)

    async def on_room_ask(self, msg):
        self.require_role("host")
        self.question, self.answers = msg, {}
        await self.broadcast(msg)
        await self.send_tally()

    async def on_room_reveal(self, msg):
        self.require_role("host")
        counts = self.counts()
        self.question = None
        await self.broadcast({"type": "room.reveal", "counts": counts})

    async def on_room_answer(self, msg):
        self.require_role("learner")
        limit = getattr(settings, "RATE_LIMIT_ANSWERS", 0)
        if not self.within("answers", limit, 1.0):
            raise ProtocolError("rate_limited", f"at most {limit} answers a second; your last answer counts")
        await self.room_send({"type": "room.answered", "id": self.learner_id, "choice": msg["choice"]})

    async def on_room_control(self, msg):
        self.require_role("host")
        if msg["to"] is not None and msg["to"] not in self.learners:
            raise ProtocolError("bad_field", "no such learner in the room")
        self.controller = msg["to"]
        await self.broadcast({"type": "room.control", "to": msg["to"]})
        await self.send_people()

    async def on_room_command(self, msg):
        """A learner who was handed control drives the instructor's run."""
        self.require_role("learner")
        if not self.host_channel:
            raise ProtocolError("no_host", "the instructor is not connected")
        await self.channel_layer.send(self.host_channel, {"type": "room.command", "id": self.learner_id,
                                                          "command": msg["command"]})

    # -- rate limits ------------------------------------------------------
    def within(self, what, limit, seconds, spend=True):
        """True if this connection has done ``what`` fewer than ``limit`` times in the last ``seconds``
        (and, with ``spend``, counts this time)."""
        if not limit:
            return True
        stamps = self.__dict__.setdefault("_rate", {}).setdefault(what, collections.deque())
        now = time.monotonic()
        while stamps and stamps[0] <= now - seconds:
            stamps.popleft()
        if len(stamps) >= limit:
            return False
        if spend:
            stamps.append(now)
        return True

    def code_buckets(self):
        """Shared counts of wrong room codes (per minute, in the cache): per session cookie, per address."""
        limit, minute = getattr(settings, "RATE_LIMIT_ROOM_CODES", 0), int(time.time() // 60)
        headers = dict(self.scope.get("headers") or [])
        cookie = SimpleCookie()
        try:
            cookie.load(headers.get(b"cookie", b"").decode("latin-1"))
        except Exception:
            pass
        session = cookie.get(settings.SESSION_COOKIE_NAME)
        address = (self.scope.get("client") or ("unknown",))[0]
        buckets = [(f"roomcodes:addr:{address}:{minute}", 20 * limit)]
        if session is not None:
            buckets.append((f"roomcodes:session:{session.value[:64]}:{minute}", 2 * limit))
        return buckets

    def may_try_a_code(self):
        """Room codes are short: guessing them is slowed per connection, per session and per address."""
        limit = getattr(settings, "RATE_LIMIT_ROOM_CODES", 0)
        if not limit:
            return
        if not self.within("codes", limit, 60, spend=False) or any(
                (cache.get(key) or 0) >= most for key, most in self.code_buckets()):
            raise ProtocolError("rate_limited", f"too many wrong room codes (at most {limit} a minute): "
                                "check the code with your instructor and try again in a minute")

    def wrong_code(self):
        if not getattr(settings, "RATE_LIMIT_ROOM_CODES", 0):
            return
        self.within("codes", settings.RATE_LIMIT_ROOM_CODES, 60)
        for key, _ in self.code_buckets():
            if not cache.add(key, 1, 61):
                try:
                    cache.incr(key)
                except ValueError:
                    cache.set(key, 1, 61)

    # -- helpers ----------------------------------------------------------
    def require_role(self, role):
        if self.role != role:
            raise ProtocolError("forbidden", f"only {'the instructor' if role == 'host' else 'a learner'} can do that")

    def require_lead(self):
        if self.role == "host" or (self.role == "learner" and getattr(self, "has_control", False)):
            return
        raise ProtocolError("forbidden", "only whoever has control can move the room's cursor")

    async def enter_room(self, code, role):
        await self.leave_room()
        self.room, self.role = code, role
        await self.channel_layer.group_add(room_group(code), self.channel_name)

    async def leave_room(self):
        if self.room:
            if self.role == "learner":
                await self.announce(False)
            await self.channel_layer.group_discard(room_group(self.room), self.channel_name)
        self.room = self.role = None

    async def room_send(self, message):
        await self.channel_layer.group_send(room_group(self.room), message)

    async def broadcast(self, payload):
        await self.room_send({"type": "room.broadcast", "origin": self.channel_name, "payload": payload})

    async def announce(self, present):
        await self.room_send({"type": "room.presence", "id": self.learner_id, "name": self.learner_name,
                              "channel": self.channel_name, "present": present})

    def counts(self):
        options = len(self.question["options"]) if self.question else 0
        counts = [0] * options
        for choice in self.answers.values():
            if choice < options:
                counts[choice] += 1
        return counts

    async def send_tally(self):
        await self.send_json({"type": "room.tally", "counts": self.counts(), "answered": len(self.answers),
                              "learners": len(self.learners)})

    async def send_people(self):
        await self.send_json({"type": "room.people", "controller": self.controller, "learners": [
            {"id": i, "name": p["name"]} for i, p in self.learners.items()]})

    async def room_started(self, run_id):
        """Called when the instructor starts a run: learners follow it."""
        if self.role == "host":
            self.cursor, self.shown_run = None, run_id
            await room_run(self.room, run_id)
            try:
                await self.broadcast({"type": "room.run", "run": run_id})
            except LayerUnavailable:
                await self.degraded()

    # -- channel layer messages -------------------------------------------
    async def room_broadcast(self, message):
        if message["origin"] == self.channel_name:
            return
        payload = message["payload"]
        if payload["type"] == "room.control" and self.role == "learner":
            self.has_control = payload["to"] == self.learner_id
        if payload["type"] == "room.cursor" and self.role == "host":
            self.cursor = payload
        await self.send_json(payload)

    async def room_hello(self, message):
        if self.role == "learner":
            self.host_channel = message["host"]
            await self.announce(True)

    async def room_presence(self, message):
        if self.role != "host":
            return
        if message["present"]:
            self.learners[message["id"]] = {"name": message["name"], "channel": message["channel"]}
            live = getattr(self, "live", None)
            await self.channel_layer.send(message["channel"], {
                "type": "room.state", "host": self.channel_name, "run": live.id if live else getattr(self, "shown_run", None),
                "cursor": self.cursor, "question": self.question, "controller": self.controller})
        else:
            self.learners.pop(message["id"], None)
            self.answers.pop(message["id"], None)
            if self.controller == message["id"]:
                self.controller = None
                await self.broadcast({"type": "room.control", "to": None})
        await self.send_people()
        await self.send_tally()

    async def room_state(self, message):
        self.host_channel = message["host"]
        self.has_control = message["controller"] == getattr(self, "learner_id", None)
        await self.send_json({"type": "room.state", "run": message["run"], "cursor": message["cursor"],
                              "question": message["question"], "controller": message["controller"]})

    async def room_answered(self, message):
        if self.role == "host" and self.question and message["id"] in self.learners:
            self.answers[message["id"]] = message["choice"]
            await self.send_tally()

    async def room_command(self, message):
        if self.role != "host" or message["id"] != self.controller:
            return
        command = message["command"]
        try:
            await getattr(self, f"on_{command['type']}")(command)
        except ProtocolError as e:
            await self.send_json(e.as_message())
