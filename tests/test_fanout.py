"""runs.fanout: how one process hands a watched run's batch to its local watchers."""
import asyncio

import pytest
from channels.layers import InMemoryChannelLayer

from runs.fanout import BURST, RunFanout

# as every async test file here: without it, one run after the browser tests finds a loop already running
pytestmark = [pytest.mark.django_db(transaction=True)]


class Watcher:
    def __init__(self, handed):
        self.handed = handed

    async def offer(self, run, first, last, frame):
        self.handed.append(frame)


async def test_a_classroom_s_batch_lets_the_event_loop_turn_so_the_first_sockets_flush_before_the_last():
    fanout, handed = RunFanout(InMemoryChannelLayer()), []
    fanout.watchers[7] = {Watcher(handed): None for _ in range(5 * BURST)}
    seen_by_the_loop = []
    asyncio.get_running_loop().call_soon(lambda: seen_by_the_loop.append(len(handed)))
    await fanout.deliver({"run": 7, "first": 3, "last": 4, "events": '[{"seq":3},{"seq":4}]'})
    assert len(handed) == 5 * BURST and len(set(handed)) == 1  # one frame, built once, for everyone
    assert handed[0] == '{"type":"events","run":7,"from":3,"events":[{"seq":3},{"seq":4}]}'
    assert seen_by_the_loop == [BURST]  # the loop turned after the first BURST, not after all of them
