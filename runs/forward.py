"""An owner's batches on their way to the run's watchers, through the channel layer (Redis across processes).

In order, while the owner's stream goes on: it waits for Redis only when FORWARD_QUEUE batches are on their
way, and before a status. A run nobody watches costs no Redis round trip per batch: whether anyone watches
is asked once every WATCHERS_CHECK seconds, and before every status, for every run of the process in one
question (``Audience``).
"""
import asyncio
import logging
import math

from .layers import LayerUnavailable, per_loop

FORWARD_QUEUE = 8  # batches on their way to watchers before the owner's stream waits for Redis
FORWARD_DRAIN = 5.0  # seconds a closing connection gives its last batches to reach the watchers
WATCHERS_CHECK = 1.0  # seconds between asking the channel layer whether anyone watches a run
log = logging.getLogger(__name__)


_audiences = {}  # channel layer -> its Audience on the event loop that serves sockets


class Audience:
    """Whether anyone watches each run streaming in this process. Five hundred runs asking Redis each second
    on their own kept its connections busy and their streams waiting; here the runs that need an answer
    now are asked about together, in one pipelined question."""

    def __init__(self, layer):
        self.layer, self.loop = layer, asyncio.get_running_loop()
        self.known = {}  # group -> (loop time its question was put, anyone in it)
        self.wanted = set()
        self.asking = None  # the question under way

    async def watched(self, group, fresh):
        """Anyone in ``group``, as asked at most ``fresh`` seconds before this call (0: asked after it)."""
        since = self.loop.time() - fresh
        while True:
            asked_at, anyone = self.known.get(group, (-math.inf, True))
            if asked_at >= since and (fresh or asked_at > since):
                return anyone
            self.wanted.add(group)
            if self.asking is None or self.asking.done():
                self.asking = asyncio.ensure_future(self.ask())
            await asyncio.shield(self.asking)

    def nobody(self, group):
        """Nobody watches ``group``, as asked less than WATCHERS_CHECK seconds ago (no question put now)."""
        asked_at, anyone = self.known.get(group, (-math.inf, True))
        return not anyone and self.loop.time() - asked_at < WATCHERS_CHECK

    async def ask(self):
        await asyncio.sleep(0)  # the other runs that need an answer now join this question
        asked_at, groups, self.wanted = self.loop.time(), list(self.wanted), set()
        sizes = await self.layer.group_sizes(groups)
        for group, size in zip(groups, sizes):
            self.known[group] = (asked_at, bool(size))
        for group in [g for g, (t, _) in self.known.items() if asked_at - t > 10 * WATCHERS_CHECK]:
            del self.known[group]  # runs no longer streaming here


def audience_for(layer):
    return per_loop(_audiences, layer, Audience)


class Forwarder:
    def __init__(self, layer, degraded):
        self.layer, self.degraded = layer, degraded  # degraded(): say that Redis does not answer
        self.queue = asyncio.Queue(FORWARD_QUEUE)
        self.skipped = None  # the last batch nobody was there to watch
        self.task = asyncio.create_task(self.forward())

    async def put(self, group, message):
        if self.queue.empty() and hasattr(self.layer, "group_sizes") and audience_for(self.layer).nobody(group):
            self.skipped = (group, message)  # nobody watches, as asked just now: not even a hop to the task
            return
        await self.queue.put((group, message))

    async def settle(self):
        """Before a status (the stream stops there): every batch has gone, and a watcher who came since the
        last one sent gets the last one skipped, so that it sees the gap it catches up on from the store."""
        await self.queue.put((None, None))
        await self.queue.join()

    async def close(self):
        try:
            async with asyncio.timeout(FORWARD_DRAIN):
                await self.queue.join()  # the last batches reach the watchers
        except TimeoutError:
            pass
        self.task.cancel()
        self.task = self.degraded = None  # the task's frame holds this forwarder: no cycle left to collect

    async def forward(self):
        while True:
            group, message = await self.queue.get()
            try:
                if message is None:
                    await self.send_skipped()
                elif await self.watched(group, WATCHERS_CHECK):
                    self.skipped = None
                    await self.layer.group_send(group, message)
                else:
                    self.skipped = (group, message)
            except LayerUnavailable:
                await self.degraded()
            except Exception:
                log.exception("run connection: forwarding a batch to watchers failed")
            finally:
                self.queue.task_done()

    async def watched(self, group, fresh):
        """Whether anyone watches the run, asked of the channel layer when the answer is older than ``fresh``
        seconds. A batch skipped meanwhile is not lost to a watcher who just came: it was saved before it
        was sent, and the next batch sent shows the watcher the gap it catches up on from the store."""
        if not hasattr(self.layer, "group_sizes"):  # the in-memory layer: a send costs nothing
            return True
        return await audience_for(self.layer).watched(group, fresh)

    async def send_skipped(self):
        if self.skipped and await self.watched(self.skipped[0], 0):
            (group, message), self.skipped = self.skipped, None
            await self.layer.group_send(group, message)
