"""Fuzzing every way in: WebSocket frames, the CLI's arguments and the scenario page's query string.

Whatever arrives, the answer is a clear error or the request applied; nothing raises, a connection
survives its bad frames, and other connections never notice. Examples are derandomized so the suite is
repeatable; set FUZZ_EXPLORE=1 to draw fresh ones and FUZZ_SCALE=10 for ten times as many.
"""
import json
import os
import re
import string
from collections import Counter
from io import StringIO

import pytest
from django.core.cache import cache
from django.core.management import CommandError, call_command
from django.utils.html import escape
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

import simulations
from config.asgi import application
from runs.protocol import MAX_FRAME
from simulations.faults import ACTIONS, MATCH_KEYS
from tests.communicator import Communicator

pytestmark = [pytest.mark.django_db(transaction=True)]
ORIGIN = [(b"origin", b"http://127.0.0.1")]
SCALE = int(os.environ.get("FUZZ_SCALE", "1"))
TRIED = {"frames": 0, "cli": 0, "queries": 0}
OUTCOMES = Counter()  # error code, or "applied", per frame checked one at a time


def fuzz_settings(examples):
    return hypothesis_settings(max_examples=examples * SCALE, deadline=None, database=None,
                               derandomize=not os.environ.get("FUZZ_EXPLORE"),
                               suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                                      HealthCheck.data_too_large])


@pytest.fixture(scope="module", autouse=True)
def report_counts(request):
    yield
    line = (f"fuzz: {TRIED['frames']} WebSocket frames, {TRIED['cli']} CLI invocations, "
            f"{TRIED['queries']} page and form queries; one at a time: {dict(OUTCOMES.most_common())}")
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    with capture.global_and_fixture_disabled():
        print(f"\n{line}")


@pytest.fixture(autouse=True)
def no_page_limit(settings):
    """The page fuzz loads hundreds of pages from one address: lift the rate limit, and leave no count behind."""
    settings.RATE_LIMIT_PAGES = 0
    settings.RATE_LIMIT_RUNS = 0
    yield
    cache.clear()


# -- values ------------------------------------------------------------------
SLUGS = list(simulations.SCENARIOS)
NODE_IDS = [f"{prefix}{i}" for prefix in ("P", "N", "C", "L") for i in range(0, 12)] + ["", "P99", "Z"]
HUGE = st.sampled_from([2**31, 2**53, 2**53 + 1, 2**63, -(2**63), 2**64 + 7, 10**30, -(10**30), 1e308, -1e308,
                        5e-324, float("inf"), float("-inf"), float("nan"), 1e16 + 0.5, -0.0])
SCALARS = (st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True, allow_infinity=True)
           | st.text(max_size=30) | HUGE)
JSON = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=5)
                    | st.dictionaries(st.text(max_size=10), inner, max_size=5), max_leaves=15)


def deep(depth, leaf=0):
    for _ in range(depth):
        leaf = [leaf] if depth % 2 else {"a": leaf}
    return leaf


DEEP = st.integers(1, 900).map(deep)  # within what json.loads accepts, so it reaches the validators
WILD = JSON | HUGE | DEEP


def default_choices():
    """Each parameter's choices under its scenario's defaults (node lists follow n)."""
    out = {}
    for scenario in simulations.SCENARIOS.values():
        for schema in scenario.schema():
            out[scenario.slug, schema["name"]] = schema.get("choices") or ["x"]
    return out


CHOICES = default_choices()


def param_value(slug, param):
    choices = CHOICES[slug, param.name]
    typed = {"int": st.integers(-5, 70) | st.integers() | st.integers(-5, 70).map(str),
             "float": st.floats(-1, 2) | st.floats(-1, 2).map(repr),
             "bool": st.booleans() | st.sampled_from(["true", "false", "on", "0", "maybe", ""]),
             "choice": st.sampled_from(choices) | st.text(max_size=12),
             "node": st.sampled_from(NODE_IDS),
             "nodes": st.lists(st.sampled_from(NODE_IDS), max_size=6)
             | st.lists(st.sampled_from(NODE_IDS), max_size=6).map(",".join),
             "text": st.text(max_size=40) | st.text(max_size=300)}.get(param.kind, st.text())
    return typed | WILD


SCHEMAS = {slug: scenario.schema() for slug, scenario in simulations.SCENARIOS.items()}


def sane_value(schema):
    """A value of the declared type within the declared bounds (cross-field rules may still refuse it)."""
    lo, hi, kind = schema.get("min"), schema.get("max"), schema["kind"]
    if kind == "int":
        return st.integers(int(lo if lo is not None else 0), int(hi if hi is not None else 10))
    if kind == "float":
        return st.floats(lo if lo is not None else 0, hi if hi is not None else 1)
    if kind == "bool":
        return st.booleans()
    if kind in ("choice", "node"):
        return st.sampled_from(schema["choices"])
    if kind == "nodes":
        return st.lists(st.sampled_from(schema["choices"]), max_size=2, unique=True)
    return st.just(schema["default"])


@st.composite
def params_for(draw, slug):
    """Mostly sane values for a few declared parameters; sometimes anything at all, and unknown names."""
    if draw(st.integers(0, 2)):
        chosen = draw(st.lists(st.sampled_from(SCHEMAS[slug]), unique_by=lambda p: p["name"], max_size=2))
        return {p["name"]: draw(sane_value(p)) for p in chosen}
    declared = simulations.get(slug).params
    chosen = draw(st.lists(st.sampled_from(declared), unique_by=lambda p: p.name, max_size=len(declared)))
    params = {p.name: draw(param_value(slug, p)) for p in chosen}
    if draw(st.booleans()):
        params.update(draw(st.dictionaries(st.text(max_size=10), WILD, max_size=2)))
    return params


FEW_NODES = st.sampled_from(["P1", "P2", "P3", "P4", "N0", "N1", "N2", "C", "L1"])
SANE_FAULTS = (st.fixed_dictionaries({"action": st.sampled_from(["crash", "recover"]), "node": FEW_NODES})
               | st.fixed_dictionaries({"action": st.just("loss"), "rate": st.floats(0, 1)})
               | st.just({"action": "heal"})
               | st.fixed_dictionaries({"action": st.just("partition"),
                                        "groups": st.sampled_from([[["P1"], ["P2", "P3"]], [["N0"], ["N1"]]])})
               | st.fixed_dictionaries({"action": st.sampled_from(["drop", "duplicate"]),
                                        "match": st.fixed_dictionaries({}, optional={"src": FEW_NODES,
                                                                                     "nth": st.integers(1, 3)})})
               | st.fixed_dictionaries({"action": st.just("delay"), "match": st.just({}),
                                        "by": st.integers(1, 5)}))


@st.composite
def fault(draw):
    """An intervention: mostly one that could apply, otherwise real keys with any values."""
    if draw(st.booleans()):
        return draw(SANE_FAULTS)
    out = {"action": draw(st.sampled_from(ACTIONS) | st.text(max_size=8))}
    options = {
        "node": st.sampled_from(NODE_IDS) | WILD,
        "at": st.integers(-3, 60) | HUGE | WILD,
        "seq": st.integers(-3, 60) | WILD,
        "match": st.dictionaries(st.sampled_from(MATCH_KEYS) | st.text(max_size=5),
                                 st.sampled_from(NODE_IDS) | st.integers(-2, 40) | WILD, max_size=3) | WILD,
        "by": st.integers(-2, 20) | WILD,
        "groups": st.lists(st.lists(st.sampled_from(NODE_IDS), max_size=4), max_size=3) | WILD,
        "until": st.integers(-2, 60) | WILD,
        "rate": st.floats(-1, 2) | WILD,
        "msg": st.integers(-2, 40) | WILD,
    }
    for key in draw(st.lists(st.sampled_from(sorted(options)), unique=True, max_size=4)):
        out[key] = draw(options[key])
    return out


FIELDS = {  # each message type: its fields, True when required
    "start": {"scenario": True, "params": False, "seed": False, "faults": False},
    "play": {"speed": False}, "pause": {}, "step": {"count": False}, "inject": {"fault": True},
    "ack": {"seq": False}, "watch": {"run": True, "from": False},
    "branch": {"run": True, "seq": True, "fault": True}, "resume": {"run": True, "token": True, "from": False},
    "room.host": {"room": True, "key": True}, "room.join": {"room": True, "name": False},
    "room.cursor": {"seq": False, "state": False}, "room.ask": {"question": True, "options": True},
    "room.reveal": {}, "room.answer": {"choice": False}, "room.control": {"to": True},
    "room.command": {"command": True},
}
KINDS = ["start"] * 4 + ["play", "pause", "ack"] + ["step", "inject", "branch", "resume", "watch"] * 2 + \
    [k for k in FIELDS if k.startswith("room.")]
RUN, TOKEN, KEY = "$RUN", "$TOKEN", "$KEY"  # the connection's latest run, its token, the room's key
ROOM_CODE, ROOM_KEY = "K7Q2XM", "fuzz-room-key-4b1d"
RUN_IDS = st.just(RUN) | st.text(string.ascii_letters + string.digits + "-_", max_size=16)
COMMANDS = st.fixed_dictionaries({"type": st.sampled_from(["play", "pause", "step", "inject"])},
                                 optional={"speed": st.sampled_from([1, 1000]), "count": st.integers(1, 5)})


@st.composite
def message(draw):
    """A message near the protocol: a real type with its fields, then maybe one value made wrong, a field
    dropped or an unexpected one added."""
    kind = draw(st.sampled_from(KINDS))
    slug = draw(st.sampled_from(SLUGS))
    good = {"scenario": st.just(slug), "params": params_for(slug),
            "seed": st.integers(0, 2**53), "seq": st.integers(0, 60),
            "faults": st.lists(fault(), max_size=3),
            "speed": st.sampled_from([0.1, 1, 50]) | st.floats(1000, 100_000), "count": st.integers(1, 60),
            "fault": fault(), "run": RUN_IDS, "from": st.integers(0, 50),
            "token": st.just(TOKEN) | st.text(max_size=64),
            "room": st.sampled_from([ROOM_CODE, ROOM_CODE.lower(), "AB12"]) | st.text(max_size=10),
            "key": st.just(KEY) | st.text(max_size=64), "name": st.text(max_size=40),
            "state": st.sampled_from(["playing", "paused", "ended"]), "question": st.text(max_size=300),
            "options": st.lists(st.text(max_size=80), min_size=2, max_size=6), "choice": st.integers(0, 5),
            "to": st.none() | st.text(max_size=16), "command": COMMANDS | fault()}
    wrong = {"scenario": st.text(max_size=20) | WILD, "seed": st.integers(-5, -1) | HUGE | WILD,
             "seq": st.integers(-5, -1) | HUGE | WILD,
             "speed": st.floats(-10, 1e6) | HUGE | WILD, "count": st.integers(-3, 20_000) | HUGE | WILD,
             "from": HUGE | WILD, "run": st.text(max_size=40) | WILD, "options": st.lists(WILD, max_size=8) | WILD,
             "command": st.fixed_dictionaries({"type": st.sampled_from(KINDS)}, optional={"x": WILD}) | WILD}
    msg = {"type": kind}
    for name, required in FIELDS[kind].items():
        if required or draw(st.booleans()):
            msg[name] = draw(good[name])
    mutation = draw(st.sampled_from(["none"] * 4 + ["wrong", "missing", "extra", "type"]))
    if mutation == "wrong" and FIELDS[kind]:
        name = draw(st.sampled_from(sorted(FIELDS[kind])))
        msg[name] = draw(wrong.get(name, WILD))
    elif mutation == "missing":
        del msg[draw(st.sampled_from(sorted(msg)))]
    elif mutation == "extra":
        msg[draw(st.sampled_from(sorted(good)) | st.text(max_size=8))] = draw(WILD)
    elif mutation == "type":
        msg["type"] = draw(st.text(max_size=12) | WILD | st.sampled_from(["room.", "room.x", "Start", "start "]))
    return msg


def as_text(msg, draw):
    return json.dumps(msg, allow_nan=True, separators=draw(st.sampled_from([(",", ":"), (", ", ": ")])))


@st.composite
def frame(draw):
    """One WebSocket frame: ("text", str) or ("bytes", bytes)."""
    choice = draw(st.integers(0, 19))
    if choice < 12:
        return "text", as_text(draw(message()), draw)
    if choice < 14:
        return "text", json.dumps(draw(JSON), allow_nan=True)
    if choice == 14:
        return "text", draw(st.text(max_size=60))
    if choice == 15:
        depth = draw(st.integers(100, MAX_FRAME // 2))
        return "text", draw(st.sampled_from(["[", '{"a":'])) * depth + "]" * depth
    if choice == 16:
        return "bytes", draw(st.binary(max_size=200))
    if choice == 17:
        return "text", draw(st.sampled_from(["x", " ", "é", "{"])) * draw(st.integers(MAX_FRAME + 1, 3 * MAX_FRAME))
    if choice == 18:
        start = {"type": "start", "scenario": "two-generals"}
        return "text", json.dumps(start) + " " * draw(st.integers(MAX_FRAME - 40, MAX_FRAME + 40))
    return "text", draw(st.sampled_from(["", "null", "1", '"start"', "{}", '{"type": null}', "NaN",
                                         '{"type": "start", "type": "play"}', "\u0000"]))


# -- the WebSocket protocol --------------------------------------------------
ERROR_CODES = re.compile(r"[a-z_]{2,40}")
# requests that may be applied without a word back to the sender
SILENT = {"watch", "ack", "play", "room.cursor", "room.answer", "room.command", "room.reveal"}


async def connect():
    comm = Communicator(application, "/ws/run/", headers=ORIGIN)
    connected, _ = await comm.connect()
    assert connected
    comm.run, comm.token = "", ""
    return comm


async def send(comm, kind, data):
    TRIED["frames"] += 1
    if kind == "text" and len(data) < MAX_FRAME:
        data = data.replace(RUN, comm.run).replace(TOKEN, comm.token).replace(KEY, ROOM_KEY)
    await comm.send_input({"type": "websocket.receive", kind: data})  # send_to refuses empty frames
    return data


async def replies_until_sync(comm, mark):
    """Send a marker frame (answered with an unknown_type error naming it) and return what came before it."""
    await comm.send_to(text_data=json.dumps({"type": mark}))
    got = []
    while True:
        msg = json.loads(await comm.receive_from(timeout=20))
        assert isinstance(msg, dict) and isinstance(msg.get("type"), str), msg
        if msg["type"] == "error" and mark in msg["message"]:
            return got
        if msg["type"] in ("started", "resumed"):
            comm.run, comm.token = msg["run"], msg.get("token", comm.token)
        got.append(msg)


def check_replies(replies, kind, data):
    """The contract for one frame: at most one error and a clear one; otherwise the request visibly applied."""
    errors = [m for m in replies if m["type"] == "error"]
    assert len(errors) <= 1, errors
    for e in errors:
        assert ERROR_CODES.fullmatch(e["code"]) and isinstance(e["message"], str) and e["message"].strip(), e
    for m in replies:
        if m["type"] == "events":
            assert isinstance(m["events"], list) and all("seq" in e and "kind" in e for e in m["events"])
        if m["type"] == "status":
            assert m["state"] in ("playing", "paused", "ended", "waiting") and isinstance(m["seq"], int)
    if errors or kind == "bytes":
        assert errors, "a binary frame must be refused"
        return errors[0]["code"]
    msg = json.loads(data)
    types = [m["type"] for m in replies]
    expected = {"start": "started", "branch": "started", "resume": "resumed", "pause": "status",
                "step": "status", "inject": "events", "room.host": "room.joined", "room.join": "room.joined"}
    if msg["type"] in expected:
        assert expected[msg["type"]] in types, (msg, replies)
    else:  # play's answer comes from its player task, checked by the caller
        assert msg["type"] in SILENT or replies, (msg, replies)
    return None


async def valid_start_works(comm):
    await comm.send_json_to({"type": "start", "scenario": "bully-election", "params": {"n": 3}, "seed": 1})
    while (msg := await comm.receive_json_from(timeout=20))["type"] != "started":
        assert msg["type"] != "error", msg
    while (msg := await comm.receive_json_from(timeout=20))["type"] != "events":
        assert msg["type"] != "error", msg
    assert msg["events"][0]["kind"] == "init"
    while (msg := await comm.receive_json_from(timeout=20))["type"] != "status":
        pass


@pytest.fixture
async def room():
    """A classroom the fuzz can host (with $KEY) and join."""
    from classroom.models import Room

    return await Room.objects.acreate(code=ROOM_CODE, key=ROOM_KEY, scenario="bully-election")


class Witness(dict):
    def __repr__(self):
        return f"<bystander holding {len(self['events'])} events>"


@pytest.fixture
async def bystander():
    """A connection stepping through its own run while the fuzz goes on; it must see the exact trace."""
    comm = await connect()
    witness = Witness(comm=comm, events=[])
    await comm.send_json_to({"type": "start", "scenario": "bully-election", "params": {"n": 16}, "seed": 7})
    while (msg := await comm.receive_json_from(timeout=20))["type"] != "status":
        witness["events"] += msg.get("events", [])
    yield witness
    await comm.disconnect(timeout=30)
    expected = simulations.get("bully-election").run({"n": 16}, 7)
    assert witness["events"] == expected[:len(witness["events"])]


async def bystander_steps(witness):
    comm = witness["comm"]
    await comm.send_json_to({"type": "step", "count": 1})
    while (msg := await comm.receive_json_from(timeout=20))["type"] != "status":
        assert msg["type"] == "events", msg
        witness["events"] += msg["events"]


@fuzz_settings(400)
@given(opening=st.none() | st.sampled_from(SLUGS), frames=st.lists(frame(), min_size=1, max_size=8))
async def test_every_fuzzed_frame_is_answered_or_applied_and_the_connection_survives(opening, frames, bystander,
                                                                                     room):
    comm = await connect()
    if opening:  # half the time there is a run for the controls to act on
        frames = [("text", json.dumps({"type": "start", "scenario": opening}))] + frames
    for i, (kind, data) in enumerate(frames):
        data = await send(comm, kind, data)
        replies = await replies_until_sync(comm, f"fuzz-sync-{i}")
        code = check_replies(replies, kind, data)
        OUTCOMES[code or "applied"] += 1
        if code is None and json.loads(data)["type"] == "play" \
                and not any(m["type"] == "status" for m in replies):
            # the player task may not have run yet when the marker was answered: its first word is "playing"
            first = await comm.receive_json_from(timeout=10)
            assert first["type"] == "status" and first["state"] == "playing", first
    await valid_start_works(comm)
    await comm.disconnect(timeout=30)
    await bystander_steps(bystander)


@fuzz_settings(10)
@given(frames=st.lists(frame(), min_size=5, max_size=25), repeat=st.integers(8, 20))
async def test_a_burst_of_frames_is_absorbed_and_the_connection_survives(frames, repeat, bystander, room):
    burst = frames * repeat
    comm = await connect()
    for kind, data in burst:
        await send(comm, kind, data)
    replies = await replies_until_sync(comm, "fuzz-sync-burst")
    errors = [m for m in replies if m["type"] == "error"]
    assert len(errors) <= len(burst)
    assert all(ERROR_CODES.fullmatch(e["code"]) and e["message"] for e in errors)
    await valid_start_works(comm)
    await comm.disconnect(timeout=30)
    await bystander_steps(bystander)


async def test_frames_just_under_and_over_the_limit():
    comm = await connect()
    start = json.dumps({"type": "start", "scenario": "two-generals"})
    await comm.send_to(text_data=start + " " * (MAX_FRAME - len(start)))
    assert (await comm.receive_json_from(timeout=10))["type"] == "started"
    await replies_until_sync(comm, "fuzz-sync-limit")
    await comm.send_to(text_data=start + " " * (MAX_FRAME - len(start) + 1))
    assert (await comm.receive_json_from(timeout=10))["code"] == "too_large"
    await comm.send_to(text_data="[" * 5000 + "]" * 5000)
    assert (await comm.receive_json_from(timeout=10))["code"] == "bad_json"
    await comm.disconnect(timeout=30)


async def test_watching_a_run_id_with_strange_characters_is_an_error():
    comm = await connect()
    for run in ("a b", "é", "run/../x", "x" * 32 + "!"):
        await comm.send_json_to({"type": "watch", "run": run})
        error = await comm.receive_json_from(timeout=2)
        assert error["type"] == "error" and error["code"] == "bad_field"
    await valid_start_works(comm)
    await comm.disconnect(timeout=30)


async def test_resuming_with_a_non_ascii_token_is_refused():
    comm = await connect()
    await comm.send_json_to({"type": "start", "scenario": "two-generals"})
    run = (await comm.receive_json_from(timeout=5))["run"]
    await replies_until_sync(comm, "fuzz-sync-resume")
    await comm.send_json_to({"type": "resume", "run": run, "token": "clé", "from": 0})
    error = await comm.receive_json_from(timeout=2)
    assert error["type"] == "error" and error["code"] in ("bad_field", "forbidden")
    await comm.disconnect(timeout=30)


async def test_hosting_a_room_with_a_non_ascii_key_is_refused(room):
    comm = await connect()
    await comm.send_json_to({"type": "room.host", "room": ROOM_CODE, "key": "clé"})
    error = await comm.receive_json_from(timeout=2)
    assert error["type"] == "error" and error["code"] in ("bad_field", "forbidden")
    await comm.disconnect(timeout=30)


async def test_watching_a_run_that_does_not_exist_is_an_error():
    comm = await connect()
    await comm.send_json_to({"type": "watch", "run": "no-such-run"})
    error = await comm.receive_json_from(timeout=2)
    assert error["type"] == "error" and error["code"] == "unknown_run"
    await comm.disconnect(timeout=30)


# -- the CLI -----------------------------------------------------------------
@st.composite
def cli_args(draw):
    slug = draw(st.sampled_from(SLUGS) | st.text(max_size=10))
    args = [slug]
    declared = simulations.SCENARIOS[slug].params if slug in simulations.SCENARIOS else ()
    text = st.text(max_size=30) | st.integers().map(str) | st.floats().map(repr)
    for p in draw(st.lists(st.sampled_from(declared), unique_by=lambda p: p.name)) if declared else []:
        value = draw(param_value(slug, p))
        args += ["--set", f"{p.name}={value if isinstance(value, str) else json.dumps(value)}"]
    for _ in range(draw(st.integers(0, 2))):
        args += ["--set", draw(st.text(max_size=20))]
    if draw(st.booleans()):
        args += ["--seed", draw(text | st.integers(0, 2**53).map(str))]
    for f in draw(st.lists(fault() | WILD, max_size=2)):
        args += ["--fault", json.dumps(f, allow_nan=True) if draw(st.booleans()) else str(f)]
    args += ["--format", draw(st.sampled_from(["summary", "mermaid", "jsonl"]) | st.text(max_size=6))]
    return args


@fuzz_settings(200)
@given(args=cli_args())
def test_the_cli_refuses_bad_arguments_with_a_command_error_or_runs(args):
    TRIED["cli"] += 1
    out = StringIO()
    try:
        call_command("simulate", *args, stdout=out)
    except CommandError as e:
        assert str(e).strip()
    else:
        assert out.getvalue()


# -- the scenario page and its form partial -----------------------------------


@st.composite
def query(draw):
    slug = draw(st.sampled_from(SLUGS))
    data = {}
    for p in draw(st.lists(st.sampled_from(simulations.get(slug).params), unique_by=lambda p: p.name)):
        value = draw(param_value(slug, p))
        data[p.name] = value if isinstance(value, str) else json.dumps(value, allow_nan=True)
    extras = {"seed": st.text(max_size=20) | st.integers().map(str)
              | st.sampled_from(["\u0663", "\uff11\uff12", "\u00b2", " 7 ", "-0", "1e3", "9007199254740993", "0x10"]),
              "faults": st.lists(fault(), max_size=3).map(json.dumps) | st.text(max_size=40),
              "preset": st.text(max_size=20)}
    for key in draw(st.lists(st.sampled_from(sorted(extras)), unique=True)):
        data[key] = draw(extras[key])
    data.update(draw(st.dictionaries(st.text(min_size=1, max_size=8), st.text(max_size=10), max_size=2)))
    return slug, {k: v.replace("\x00", "") for k, v in data.items()}


def check_page(resp, partial):
    assert resp.status_code == 200
    html = resp.content.decode()
    errors = resp.context["errors"]
    shown = {k: v for k, v in errors.items() if not (partial and k == "preset")}
    if shown:
        assert 'role="alert"' in html
    for message in shown.values():
        assert escape(message) in html, message


@fuzz_settings(200)
@given(q=query())
def test_any_query_string_renders_the_page_with_errors_beside_the_fields(q, client):
    slug, data = q
    TRIED["queries"] += 1
    check_page(client.get(f"/s/{slug}/", data), partial=False)


@fuzz_settings(120)
@given(q=query())
def test_any_form_values_rerender_the_partial_with_errors(q, client):
    slug, data = q
    TRIED["queries"] += 1
    check_page(client.get(f"/s/{slug}/form", data, HTTP_HX_REQUEST="true"), partial=True)


def test_a_seed_in_superscript_digits_is_refused_beside_the_field(client):
    resp = client.get("/s/two-generals/", {"seed": "\u00b2"})
    assert resp.status_code == 200 and "must be a whole number" in resp.content.decode()


ITEMS_SLUGS = [slug for slug in SLUGS if "items" in {p.name for p in simulations.get(slug).params}]


@pytest.mark.skipif(not ITEMS_SLUGS, reason="no scenario has a parameter named items")
def test_a_scenario_with_a_parameter_named_items_renders(client):
    """Django templates resolve ``params.items`` as the key "items" when there is one."""
    from runs.models import Run

    for slug in ITEMS_SLUGS:
        assert client.get(f"/s/{slug}/").status_code == 200
        params, _ = simulations.get(slug).parse({})
        run = Run.objects.create(scenario=slug, params=params, seed=0)
        assert client.get(f"/runs/{run.id}/").status_code == 200
