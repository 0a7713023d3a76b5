"""A live run's events as the web process holds them: ``(seq, kind, JSON bytes)``, encoded once where the
simulation made them (an engine process, or runs.engines here), or cut from a stored chunk.

The web process only counts, sends and saves them: a frame and a stored chunk are the same bytes joined into
a JSON array, never parsed back into dicts and encoded again (that was a sixth of a loaded process). The
bytes are an event's JSON after its opening ``{"seq":``, which ``array`` puts back: so a stretch of events is
encoded in one call and cut where each event starts (a call per event cost five times as much), and a stored
chunk is cut the same way without being parsed.
"""
import orjson

HEAD = b'{"seq":'  # how every trace event's JSON starts (simulations.engine emits seq first)
OPTIONS = orjson.OPT_NON_STR_KEYS


def encoded(events):
    """Trace events (dicts) as ``(seq, kind, JSON after HEAD)``."""
    tails = cut(orjson.dumps(events, option=OPTIONS), len(events))
    if tails is None:  # an event does not start with seq, or holds an object that does: one at a time
        tails = [orjson.dumps({"seq": e["seq"], **e}, option=OPTIONS)[len(HEAD):] for e in events]
    return [(e["seq"], e["kind"], tail) for e, tail in zip(events, tails)]


def stored(data, start, count):
    """A stored chunk's JSON array of ``count`` events from seq ``start`` as ``(seq, None, JSON after HEAD)``:
    cut, not parsed (what its events are is not needed to send or save them again)."""
    tails = cut(data, count)
    if tails is None:
        return encoded(orjson.loads(data))
    return list(zip(range(start, start + count), [None] * count, tails))


def cut(whole, count):
    """A JSON array of ``count`` trace events cut before each ``{"seq":``; None when that does not give
    ``count`` pieces (an event that starts otherwise, or holds an object that starts so)."""
    if not count:
        return []
    if not whole.startswith(b"[" + HEAD):
        return None
    tails = whole[len(HEAD) + 1:-1].split(b"," + HEAD)
    return tails if len(tails) == count else None


def array(events):
    """Encoded events as one JSON array (bytes)."""
    if not events:
        return b"[]"
    return b"[" + HEAD + (b"," + HEAD).join(e[2] for e in events) + b"]"


def size(event):
    """Bytes an encoded event takes in an array."""
    return len(HEAD) + len(event[2]) + 1
