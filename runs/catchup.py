"""What a connection has to catch up on, sent in frames well under 1 MiB, in order, as its window allows.

Two kinds: a resumed run's events the browser missed (held in memory, from the LiveRun), and a watched
run's saved events (fetched from the store, a window's worth at a time, whenever half the window is free, so
a late watcher of a long run never holds it all). Both are encoded events (runs.events), cut from the stored
chunks without being parsed.

A watched run's live batches come from this process's fan-out (runs.fanout) in order, and go out at once when
nothing is before them; otherwise they wait their turn behind the catch-up under way.
"""
import asyncio
import collections

from . import store
from .window import fits, frame_bytes, window


class CatchUp:
    def __init__(self, window_):
        self.window = window_
        self.backlog, self.backlog_at = [], 0  # a resumed run's missed events still to send, paced by acks
        self.watching = None  # the run followed, if any
        self.watched_to = 0  # the next seq the watcher needs
        self.behind = False  # saved events still to fetch from watched_to, paced by acks
        self.turn = asyncio.Lock()  # one catch-up at a time: a watch, an ack, live batches that must wait
        self.waiting = collections.deque()  # live batches (run, first, last, frame) behind a catch-up
        self.placing = None  # the task that sends them in their turn

    def resume(self, events):
        self.backlog, self.backlog_at = events, 0

    def drop_backlog(self):
        """A new run: what the last one missed is moot."""
        self.backlog, self.backlog_at = [], 0

    def watch(self, run_id, start):
        self.watching, self.watched_to, self.behind = run_id, start, True

    def stop(self):
        """The connection closes: no more live batches. Returns the run it watched, to leave its fan-out."""
        watched, self.watching = self.watching, None
        self.waiting.clear()
        if self.placing is not None:
            self.placing.cancel()
        return watched

    async def send(self, force=False):
        """Send the backlog (all of it when ``force``: the owner's next batch must follow it), then the
        watched run's saved events, while the window has room."""
        async with self.turn:
            await self.send_now(force)

    async def send_now(self, force):
        win, limit = self.window, frame_bytes()
        while self.backlog and (force or win.unacked < window()):
            k = fits(self.backlog, self.backlog_at, limit)
            await win.send_events(self.backlog[self.backlog_at:self.backlog_at + k])
            self.backlog_at += k
            if self.backlog_at >= len(self.backlog):
                self.drop_backlog()
        if not (self.watching and self.behind) or win.unacked > window() // 2:
            return
        run = self.watching
        events, more = await store.aevents_from(run, self.watched_to, window() - win.unacked)
        if events and events[0][0] != self.watched_to:
            events = []  # the store does not have where this watcher is: live batches (or a new watch) will do
        i = 0
        while i < len(events) and win.unacked < window():
            k = fits(events, i, limit)
            batch = events[i:i + k]
            self.watched_to = batch[-1][0] + 1
            await win.send_events(batch, run=run, **{"from": batch[0][0]})
            i += k
        self.behind = i < len(events) or (more and bool(events))

    async def offer(self, run, first, last, frame):
        """A live batch of ``run`` (its ``frame`` built once for every watcher in the process): sent now when
        nothing is before it and it follows what this watcher has, else queued behind the catch-up."""
        if run != self.watching or self.window.closed:
            return
        if not self.waiting and not self.turn.locked() and not self.behind and not self.window.full \
                and first <= self.watched_to:
            return await self.live_batch(first, last, frame)
        self.waiting.append((run, first, last, frame))
        if self.placing is None or self.placing.done():
            self.placing = asyncio.create_task(self.place_waiting())

    async def place_waiting(self):
        while self.waiting:
            run, first, last, frame = self.waiting.popleft()
            if run == self.watching and not self.window.closed:
                async with self.turn:
                    await self.live_batch(first, last, frame)

    async def live_batch(self, first, last, frame):
        """A batch the owner sent. It may start before what this watcher has: the saved events it caught up
        on run ahead of the owner, and an intervention can replace them; so the frame says where it starts."""
        win = self.window
        if self.behind or win.full:
            self.behind = True  # skipped: fetched from the store in order once acks make room
            self.watched_to = min(self.watched_to, first)  # an intervention replaced what it had
            return await self.send_now(False)
        if first > self.watched_to:  # a gap (a full channel dropped batches): the store has them
            self.behind = True
            await self.send_now(False)
            if self.behind:
                return
            # caught up to this batch, or the store lags too: then it goes anyway, and the browser, seeing the
            # gap, watches again from where it is
        if self.watched_to <= last + 1:
            self.watched_to = last + 1
            await win.send_frame(frame, last)
