"""channels' WebSocket test client, made to notice a consumer that does not stop when its socket closes."""
import asyncio
import io

from channels.testing import WebsocketCommunicator


def task_stacks():
    """Where each unfinished task waits, down its chain of awaits: what kept a consumer alive."""
    out = io.StringIO()
    for task in asyncio.all_tasks():
        if task is asyncio.current_task():
            continue
        print(task, file=out)
        coro = task.get_coro()
        while getattr(coro, "cr_frame", None) is not None:
            print(f"  {coro.cr_frame.f_code.co_filename}:{coro.cr_frame.f_lineno} in {coro.cr_code.co_name}", file=out)
            coro = coro.cr_await
    return out.getvalue()


class Communicator(WebsocketCommunicator):
    """A WebsocketCommunicator whose ``disconnect`` fails when the consumer is still running ``timeout``
    seconds after the close. channels' own cancels it and returns quietly (its timeout is swallowed), which
    hid a channel-layer receive that survived the disconnect (runs.layers.KeepsCancellation)."""

    async def disconnect(self, code=1000, timeout=10):
        await self.send_input({"type": "websocket.disconnect", "code": code})
        done, _ = await asyncio.wait([self.future], timeout=timeout)
        if not done:
            stacks = task_stacks()
            self.future.cancel()
            raise AssertionError(f"the consumer was still running {timeout} s after its socket closed:\n{stacks}")
        self.future.result()  # what the consumer raised, if anything
