"""The Redis channel layer lets go of a consumer: a cancelled receive ends, whenever the cancel lands."""
import asyncio
import os

import pytest
from channels.layers import get_channel_layer

pytestmark = [pytest.mark.redis, pytest.mark.django_db(transaction=True),
              pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs REDIS_URL (the second CI pass)")]


async def test_a_cancelled_receive_ends_even_when_the_cancel_lands_as_its_command_is_written():
    """channels cancels a consumer's receive when its socket closes. Cancelled at each point of the first
    loop iterations (connecting, writing BZPOPMIN, waiting on it), the receive must end at once."""
    layer = get_channel_layer()
    stuck = []
    for turns in [*range(16)] * 3:
        task = asyncio.ensure_future(layer.receive(await layer.new_channel()))
        for _ in range(turns):
            await asyncio.sleep(0)
        task.cancel()
        done, _ = await asyncio.wait([task], timeout=2)
        if not done:
            stuck.append(turns)
            task.cancel()
    assert not stuck, f"receives still running 2 s after cancel, cancelled after {stuck} loop turns"


async def test_a_burst_of_more_commands_than_pooled_connections_waits_for_them_instead_of_failing():
    """Five hundred runs on one process each ask now and then whether anyone watches them; more at once than
    the pool's 100 connections must queue, not raise "Too many connections" and say Redis is down."""
    layer = get_channel_layer()
    sizes = await asyncio.gather(*(layer.group_size(f"burst.{i}") for i in range(300)))
    assert sizes == [0] * 300 and not layer.degraded


async def test_whether_anyone_watches_is_asked_for_every_run_of_the_process_in_one_question(monkeypatch):
    """Five hundred runs streaming in one process each need to know every second whether anyone watches:
    asked together, that is one pipelined question to Redis, not five hundred."""
    from runs.forward import Audience

    layer = get_channel_layer()
    questions, real = [], layer.group_sizes

    async def counting(groups):
        questions.append(len(groups))
        return await real(groups)

    monkeypatch.setattr(layer, "group_sizes", counting)
    await layer.group_add("run.watched", await layer.new_channel())
    audience = Audience(layer)
    answers = await asyncio.gather(*(audience.watched(f"run.{i}", 1.0) for i in range(200)),
                                   audience.watched("run.watched", 1.0))
    assert answers == [False] * 200 + [True] and questions == [201]
    assert await audience.watched("run.5", 1.0) is False and questions == [201]  # fresh enough: not asked again
    assert await audience.watched("run.5", 0) is False and questions == [201, 1]  # asked after the call
