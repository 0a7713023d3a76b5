"""A live run's events as the web process holds them: ``(seq, kind, JSON bytes)``, encoded once where the
simulation made them (an engine process, or runs.engines here).

The web process only counts, sends and saves them: a frame and a stored chunk are the same bytes joined into
a JSON array, never parsed back into dicts and encoded again (that was a sixth of a loaded process).
"""
import orjson


def encoded(events):
    """Trace events (dicts) as ``(seq, kind, JSON)``."""
    return [(e["seq"], e["kind"], orjson.dumps(e, option=orjson.OPT_NON_STR_KEYS)) for e in events]


def array(events):
    """Encoded events as one JSON array (bytes)."""
    return b"[" + b",".join(e[2] for e in events) + b"]"
