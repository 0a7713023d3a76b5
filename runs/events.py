"""A live run's events as the web process holds them: ``(seq, kind, JSON bytes)``, encoded once where the
simulation made them (an engine process, or runs.engines here).

The web process only counts, sends and saves them: a frame and a stored chunk are the same bytes joined into
a JSON array, never parsed back into dicts and encoded again (that was a sixth of a loaded process). The
bytes are an event's JSON after its opening ``{"seq":``, which ``array`` puts back: so a stretch of events is
encoded in one call and cut where each event starts (a call per event cost five times as much).
"""
import orjson

HEAD = b'{"seq":'  # how every trace event's JSON starts (simulations.engine emits seq first)
OPTIONS = orjson.OPT_NON_STR_KEYS


def encoded(events):
    """Trace events (dicts) as ``(seq, kind, JSON after HEAD)``."""
    if not events:
        return []
    whole = orjson.dumps(events, option=OPTIONS)
    tails = whole[len(HEAD) + 1:-1].split(b"," + HEAD) if whole.startswith(b"[" + HEAD) else ()
    if len(tails) != len(events):  # an event does not start with seq, or holds an object that does
        tails = [orjson.dumps({"seq": e["seq"], **e}, option=OPTIONS)[len(HEAD):] for e in events]
    return [(e["seq"], e["kind"], tail) for e, tail in zip(events, tails)]


def array(events):
    """Encoded events as one JSON array (bytes)."""
    if not events:
        return b"[]"
    return b"[" + HEAD + (b"," + HEAD).join(e[2] for e in events) + b"]"
