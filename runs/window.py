"""What one connection may leave unread: every events frame counts until the browser acknowledges it.

A browser acks the seq that ends each frame it has drawn. Bytes sent and not acknowledged are bounded by
WS_WINDOW_BYTES; a window that stays full with no ack for WS_SLOW_SECONDS lets the connection go, so a
client that stops reading costs at most its window.
"""
import asyncio
import collections
import json

from django.conf import settings

from .events import array, size
from .protocol import ProtocolError

WINDOW = 4 * 2**20  # defaults of settings.WS_WINDOW_BYTES, WS_SLOW_SECONDS, WS_FRAME_BYTES (README)
SLOW_SECONDS = 30.0
FRAME_BYTES = 256 * 1024


def window():
    """Bytes a connection may have sent and not had acknowledged."""
    return getattr(settings, "WS_WINDOW_BYTES", WINDOW)


def slow_seconds():
    """How long a full window may go without an acknowledgement before the connection is let go."""
    return getattr(settings, "WS_SLOW_SECONDS", SLOW_SECONDS)


def frame_bytes():
    """Catch-up frames stay under this (daphne refuses messages over 1 MiB), and under a quarter window."""
    return max(1024, min(getattr(settings, "WS_FRAME_BYTES", FRAME_BYTES), window() // 4))


def events_frame(events_json, **extra):
    """An ``events`` frame around an encoded batch; ``extra`` (run, from) are plain JSON values."""
    head = "".join(f",{json.dumps(k)}:{json.dumps(v, separators=(',', ':'))}" for k, v in extra.items())
    return f'{{"type":"events"{head},"events":{events_json}}}'


def fits(events, start, limit):
    """How many encoded events (runs.events) from ``start`` make a frame of at most ``limit`` bytes (at least
    one)."""
    total, i = 64, start
    while i < len(events):
        total += size(events[i])
        if total > limit and i > start:
            break
        i += 1
    return i - start


class Window:
    """The events frames one connection has sent and not had acknowledged.

    ``send`` sends a text frame; ``let_go`` closes a connection that stopped reading (called once).
    """

    def __init__(self, send, let_go):
        self.send, self.let_go = send, let_go
        self.outstanding = collections.deque()  # (last seq, bytes) of event frames not yet acknowledged
        self.unacked = 0
        self.sent_top = -1  # the highest seq sent on this connection: an ack beyond it is refused
        self.acked_at = 0.0  # loop time of the last ack that freed something
        self.watchdog = None
        self.closed = False

    @property
    def over(self):
        """More unread than the window: send nothing more that can wait."""
        return self.unacked > window()

    @property
    def full(self):
        return self.unacked >= window()

    async def send_events(self, events, **extra):
        """Encoded events (runs.events) in one frame."""
        await self.send_encoded(array(events).decode(), events[-1][0], **extra)

    async def send_encoded(self, events_json, last, **extra):
        """One events frame ending at seq ``last``, counted until the browser acknowledges that seq."""
        await self.send_frame(events_frame(events_json, **extra), last)

    async def send_frame(self, text, last):
        """An events frame already built (runs.fanout builds a watched batch's once for every watcher)."""
        if self.closed:
            return
        self.outstanding.append((last, len(text)))
        self.unacked += len(text)
        self.sent_top = max(self.sent_top, last)
        await self.send(text)
        if self.full and (self.watchdog is None or self.watchdog.done()):
            self.watchdog = asyncio.create_task(self.watch())

    def ack(self, seq):
        """The browser has drawn the frame ending at ``seq`` (and all before it): that much leaves the window.
        Only what was sent can be acknowledged."""
        out = self.outstanding
        if seq > self.sent_top:
            raise ProtocolError("bad_ack", f"seq {seq} was never sent on this connection")
        done = 0
        while done < len(out) and out[done][0] <= seq:
            done += 1
        if not done:  # seqs start again with a new run: the first frame that ends at seq
            done = next((i + 1 for i, (last, _) in enumerate(out) if last == seq), 0)
        for _ in range(done):
            self.unacked -= out.popleft()[1]
        if done:
            self.acked_at = asyncio.get_running_loop().time()

    async def opens(self, halt, busy):
        """Wait while the window is over or ``busy()`` (a catch-up still to send); False when ``halt`` is set
        or the client was let go for not reading."""
        loop = asyncio.get_running_loop()
        since = loop.time()
        while (self.over or busy()) and not halt.is_set():
            if loop.time() - max(since, self.acked_at) >= slow_seconds():
                await self.close()
                return False
            await asyncio.sleep(0.1)
        return not halt.is_set()

    async def watch(self):
        """Started when the window fills, whatever filled it (a watched run, a catch-up, steps)."""
        loop = asyncio.get_running_loop()
        since = loop.time()
        while self.full:
            if loop.time() - max(since, self.acked_at) >= slow_seconds():
                return await self.close()
            await asyncio.sleep(0.1)

    async def close(self):
        if not self.closed:
            self.closed = True
            await self.let_go()

    def stop(self):
        if self.watchdog:
            self.watchdog.cancel()
