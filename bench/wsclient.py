"""A small asyncio client of the run protocol (docs/design.md), for the figures that drive daphne over real sockets.

Like the player (static/js/player.js), it acknowledges its own run's batches with ``{"type": "ack", "seq":
last}`` as it reads them (``receive``): a batch of ACK_AT_ONCE events or more at once, smaller ones at most
every ACK_SECONDS, so the server's send window behaves as it does with a browser; batches a watcher receives
(they carry ``run``) are not acknowledged."""
import asyncio
import json
import time

from websockets.asyncio.client import connect as ws_connect

ACK_SECONDS, ACK_AT_ONCE = 1.0, 200  # as the player's ACK_MS and ACK_AT_ONCE


def connect(url, **kwargs):
    """The Origin is the page's the server would serve (scheme, host and port are checked)."""
    origin = "http" + url.split("://", 1)[0][2:] + "://" + url.split("://", 1)[1].split("/", 1)[0]
    return ws_connect(url, origin=origin, max_size=None, compression=None, open_timeout=30,
                      ping_interval=None, close_timeout=2, **kwargs)


async def send(ws, **msg):
    await ws.send(json.dumps(msg, separators=(",", ":")))


async def receive(ws, timeout=None, ack=True):
    raw = await (asyncio.wait_for(ws.recv(), timeout) if timeout else ws.recv())
    msg = json.loads(raw)
    if ack and msg.get("type") == "events" and msg.get("events") and "run" not in msg:
        now = time.monotonic()
        if len(msg["events"]) >= ACK_AT_ONCE or now - getattr(ws, "acked_at", 0) >= ACK_SECONDS:
            ws.acked_at = now
            await send(ws, type="ack", seq=msg["events"][-1]["seq"])
    return msg


async def start(ws, scenario, params, seed=0, timeout=30):
    """Start a run; return (run id, events received with the start)."""
    await send(ws, type="start", scenario=scenario, params=params, seed=seed)
    run, events = None, []
    while True:
        msg = await receive(ws, timeout)
        if msg["type"] == "started":
            run = msg["run"]
        elif msg["type"] == "events":
            events += msg["events"]
        elif msg["type"] == "status":
            return run, events
        elif msg["type"] == "error":
            raise RuntimeError(f"{msg['code']}: {msg['message']}")
