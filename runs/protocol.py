"""The WebSocket run protocol: every client message is parsed and bounded here before anything acts on it."""
import json
import re

MAX_FRAME = 64 * 1024
MAX_STEP = 10_000
SPEEDS = (0.1, 100_000)
MAX_SEED = 2**53
TOKEN = re.compile(r"[A-Za-z0-9_-]{1,64}")  # run ids, owner tokens, room keys: URL-safe ASCII only


class ProtocolError(Exception):
    def __init__(self, code, message, **extra):
        super().__init__(message)
        self.code, self.message, self.extra = code, message, extra

    def as_message(self):
        return {"type": "error", "code": self.code, "message": self.message, **self.extra}


def _number(msg, key, lo, hi, default, whole=False):
    value = msg.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (whole and not float(value).is_integer()):
        raise ProtocolError("bad_field", f"{key} must be a {'whole ' if whole else ''}number")
    if not lo <= value <= hi:
        raise ProtocolError("out_of_bounds", f"{key} must be from {lo} to {hi}")
    return int(value) if whole else value


def _run_id(msg):
    run = msg.get("run")
    if not isinstance(run, str) or not TOKEN.fullmatch(run) or len(run) > 32:
        raise ProtocolError("bad_field", "run must be a run id (letters, digits, - and _)")


def _token(msg, key):
    value = msg.get(key)
    if not isinstance(value, str) or not TOKEN.fullmatch(value):
        raise ProtocolError("bad_field", f"{key} must be the token this server gave (letters, digits, - and _)")
    return value


def _only(msg, *keys):
    extra = set(msg) - {"type", *keys}
    if extra:
        raise ProtocolError("bad_field", f"unexpected field {sorted(extra)[0][:40]!r} in {msg['type']}")


def parse(text=None, data=None):
    """Return a clean message dict, or raise ProtocolError with a code a client can act on."""
    if data is not None:
        raise ProtocolError("binary", "binary frames are not part of the protocol; send JSON text")
    if text is None:
        raise ProtocolError("empty", "empty frame")
    if len(text) > MAX_FRAME:
        raise ProtocolError("too_large", f"frames are limited to {MAX_FRAME} bytes")
    try:
        msg = json.loads(text)
    except (ValueError, RecursionError):
        raise ProtocolError("bad_json", "the frame is not valid JSON") from None
    if not isinstance(msg, dict) or not isinstance(msg.get("type"), str):
        raise ProtocolError("bad_message", 'a message is a JSON object with a "type"')
    kind = msg["type"]
    if kind == "start":
        _only(msg, "scenario", "params", "seed", "faults")
        if not isinstance(msg.get("scenario"), str):
            raise ProtocolError("bad_field", "scenario must be a scenario slug")
        if not isinstance(msg.get("params", {}), dict):
            raise ProtocolError("bad_params", "params must be an object")
        if not isinstance(msg.get("faults", []), list):
            raise ProtocolError("bad_faults", "faults must be a list")
        return {"type": kind, "scenario": msg["scenario"], "params": msg.get("params", {}),
                "seed": _number(msg, "seed", 0, MAX_SEED, 0, whole=True), "faults": msg.get("faults", [])}
    if kind == "play":
        _only(msg, "speed")
        return {"type": kind, "speed": _number(msg, "speed", *SPEEDS, 1)}
    if kind == "ack":
        _only(msg, "seq")
        return {"type": kind, "seq": _number(msg, "seq", -1, 10**9, 0, whole=True)}
    if kind == "pause":
        _only(msg)
        return {"type": kind}
    if kind == "step":
        _only(msg, "count")
        return {"type": kind, "count": _number(msg, "count", 1, MAX_STEP, 1, whole=True)}
    if kind == "inject":
        _only(msg, "fault")
        if not isinstance(msg.get("fault"), dict):
            raise ProtocolError("bad_fault", "fault must be an object")
        return {"type": kind, "fault": msg["fault"]}
    if kind == "branch":
        _only(msg, "run", "seq", "fault")
        _run_id(msg)
        if not isinstance(msg.get("fault"), dict):
            raise ProtocolError("bad_fault", "fault must be an object")
        return {"type": kind, "run": msg["run"], "seq": _number(msg, "seq", 1, 10**9, 1, whole=True),
                "fault": msg["fault"]}
    if kind == "resume":
        _only(msg, "run", "token", "from")
        _run_id(msg)
        return {"type": kind, "run": msg["run"], "token": _token(msg, "token"),
                "from": _number(msg, "from", 0, 10**9, 0, whole=True)}
    if kind == "watch":
        _only(msg, "run", "from")
        _run_id(msg)
        return {"type": kind, "run": msg["run"], "from": _number(msg, "from", 0, 10**9, 0, whole=True)}
    if kind.startswith("room."):
        return parse_room(msg)
    raise ProtocolError("unknown_type", f"unknown message type {kind[:40]!r}")


ROOM_CODE = re.compile(r"[A-Z0-9]{4,8}")
COMMANDS = ("play", "pause", "step", "inject")


def _text(msg, key, limit, required=True):
    value = msg.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip() or len(value) > limit:
        raise ProtocolError("bad_field", f"{key} must be text of at most {limit} characters")
    return value.strip()


def parse_room(msg):
    """Classroom messages: hosting, joining, following the instructor, questions and handing over control."""
    kind = msg["type"]
    if kind in ("room.host", "room.join"):
        _only(msg, "room", "key", "name")
        room = msg.get("room")
        if not isinstance(room, str) or not ROOM_CODE.fullmatch(room.upper()):
            raise ProtocolError("bad_room", "room must be a room code like K7Q2XM")
        out = {"type": kind, "room": room.upper()}
        if kind == "room.host":
            out["key"] = _token(msg, "key")
        else:
            out["name"] = _text(msg, "name", 40, required=False)
        return out
    if kind == "room.cursor":
        _only(msg, "seq", "state")
        state = msg.get("state", "paused")
        if state not in ("playing", "paused", "ended"):
            raise ProtocolError("bad_field", "state must be playing, paused or ended")
        return {"type": kind, "seq": _number(msg, "seq", 0, 10**9, 0, whole=True), "state": state}
    if kind == "room.ask":
        _only(msg, "question", "options")
        options = msg.get("options")
        if not isinstance(options, list) or not 2 <= len(options) <= 6:
            raise ProtocolError("bad_field", "options must be a list of 2 to 6 answers")
        return {"type": kind, "question": _text(msg, "question", 300),
                "options": [_text({"option": o}, "option", 80) for o in options]}
    if kind == "room.reveal":
        _only(msg)
        return {"type": kind}
    if kind == "room.answer":
        _only(msg, "choice")
        return {"type": kind, "choice": _number(msg, "choice", 0, 5, 0, whole=True)}
    if kind == "room.control":
        _only(msg, "to")
        to = msg.get("to")
        if to is not None and (not isinstance(to, str) or len(to) > 16):
            raise ProtocolError("bad_field", "to must be a learner id or null")
        return {"type": kind, "to": to}
    if kind == "room.command":
        _only(msg, "command")
        command = msg.get("command")
        if not isinstance(command, dict) or command.get("type") not in COMMANDS:
            raise ProtocolError("bad_field", f"command must be one of {', '.join(COMMANDS)}")
        return {"type": kind, "command": parse(json.dumps(command))}
    raise ProtocolError("unknown_type", f"unknown message type {kind[:40]!r}")
