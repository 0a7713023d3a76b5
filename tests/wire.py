"""Reading the run protocol from a synchronous WebSocket client, as the tests across real processes do."""
import json
import time


def receive_until(ws, predicate, timeout=30):
    """Messages up to and including the first that satisfies ``predicate``."""
    got = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        msg = json.loads(ws.recv(timeout=timeout))
        got.append(msg)
        if predicate(msg):
            return got
    raise AssertionError("never arrived")


def events_of(messages, have=None):
    """The events the messages carry; a batch with "from" replaces what ``have`` holds from that seq on."""
    have = [] if have is None else have
    for m in messages:
        if m["type"] == "events":
            del have[m.get("from", len(have)):]
            have.extend(m["events"])
    return have
