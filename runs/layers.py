"""A Redis channel layer that outlives Redis.

channels ends every consumer whose channel-layer receive raises, so a Redis restart would cut every
WebSocket in the process. Here a connection keeps streaming its own run while Redis is away; what needs
Redis (watchers, classrooms) raises ``LayerUnavailable`` for the consumer to report, and works again
once Redis answers.

Its connections also keep a cancellation: a consumer whose socket closes has its receive cancelled, and
it must end (see ``KeepsCancellation``).
"""
import asyncio
import logging

from channels_redis.core import RedisChannelLayer
from redis.asyncio import BlockingConnectionPool
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

log = logging.getLogger(__name__)
POOL_WAIT = 5  # seconds a command waits for one of the pool's connections (redis-py's default: 100 of them)
DOWN = (RedisConnectionError, RedisTimeoutError, ConnectionError, OSError, asyncio.TimeoutError)


def per_loop(cache, layer, make):
    """``make(layer)``, made once per channel layer and event loop (tests run each on a loop of its own): what a
    process keeps about a layer, such as its fan-out or its audience, belongs to the loop that serves its sockets."""
    found = cache.get(layer)
    if found is None or found.loop is not asyncio.get_running_loop():
        found = cache[layer] = make(layer)
    return found


class LayerUnavailable(Exception):
    """The channel layer's server does not answer."""


class KeepsCancellation:
    """A redis-py connection that writes under ``asyncio.timeout`` rather than ``asyncio.wait_for``.

    With ``socket_timeout`` set, redis-py writes each command under ``asyncio.wait_for``, which on Python
    3.11 returns normally when the task is cancelled just as the write completes (CPython gh-86296, fixed
    in 3.12). channels_redis then loops into another BZPOPMIN, so a closed consumer's receive, and the
    consumer with it, lived on. ``asyncio.timeout`` bounds the write the same way and keeps the cancel.
    """

    async def send_packed_command(self, command, check_health=True):
        timeout = self.socket_timeout
        if not timeout:
            return await super().send_packed_command(command, check_health)
        self.socket_timeout = None  # super() uses wait_for only when a timeout is set
        try:
            async with asyncio.timeout(timeout):
                return await super().send_packed_command(command, check_health)
        except TimeoutError:
            raise RedisTimeoutError("Timeout writing to socket") from None
        finally:
            self.socket_timeout = timeout


def keeping_cancellation(connection_class):
    return type(connection_class.__name__, (KeepsCancellation, connection_class), {})


class ResilientRedisChannelLayer(RedisChannelLayer):
    degraded = False

    def create_pool(self, index):
        """A pool that waits for a free connection (up to POOL_WAIT seconds) instead of failing at once when a
        burst of commands (five hundred runs asking who watches them) has all of them in use."""
        host = dict(self.hosts[index])
        if "address" in host:
            pool = BlockingConnectionPool.from_url(host.pop("address"), timeout=POOL_WAIT, **host)
        else:
            pool = super().create_pool(index)
        pool.connection_class = keeping_cancellation(pool.connection_class)
        return pool

    def _down(self, error):
        if not self.degraded:
            log.warning("channel layer unavailable: %s", error)
        self.degraded = True

    async def receive(self, channel):
        while True:
            try:
                message = await super().receive(channel)
            except DOWN as e:
                self._down(e)
                await asyncio.sleep(1)
                continue
            self.degraded = False
            return message

    async def _guarded(self, call, *args):
        """One retry: after Redis restarts, each pooled connection fails once before it reconnects."""
        for attempt in (1, 2):
            try:
                result = await call(*args)
            except DOWN as e:
                if attempt == 2:
                    self._down(e)
                    raise LayerUnavailable(str(e)) from e
                continue
            self.degraded = False
            return result

    async def send(self, channel, message):
        return await self._guarded(super().send, channel, message)

    async def group_send(self, group, message):
        return await self._guarded(super().group_send, group, message)

    async def group_add(self, group, channel):
        return await self._guarded(super().group_add, group, channel)

    async def group_discard(self, group, channel):
        return await self._guarded(super().group_discard, group, channel)

    async def group_size(self, group):
        """How many channels the group holds: a sender to a group nobody is in can skip the send."""
        return await self._guarded(self._group_size, group)

    async def _group_size(self, group):
        return await self.connection(self.consistent_hash(group)).zcard(self._group_key(group))

    async def group_sizes(self, groups):
        """``group_size`` of each group, in one round trip per Redis host (runs.forward asks for every run
        a process streams at once)."""
        return await self._guarded(self._group_sizes, groups)

    async def _group_sizes(self, groups):
        hosts, sizes = {}, [0] * len(groups)
        for i, group in enumerate(groups):
            hosts.setdefault(self.consistent_hash(group), []).append(i)
        for index, positions in hosts.items():
            async with self.connection(index).pipeline(transaction=False) as pipe:
                for i in positions:
                    pipe.zcard(self._group_key(groups[i]))
                for i, size in zip(positions, await pipe.execute()):
                    sizes[i] = size
        return sizes
