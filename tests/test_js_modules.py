"""The player's pure modules, imported in a real page: HTML helpers, key moments, the connection's guard."""
import pytest

pytestmark = pytest.mark.browser


@pytest.fixture
def js(page, live_daphne):
    """Evaluate an async function body in a page of the app, with its modules a dynamic import away."""
    page.goto(f"{live_daphne.url}/s/two-generals/")
    page.wait_for_function("() => document.querySelector('.player').player")
    return lambda body, arg=None: page.evaluate(f"async (arg) => {{ {body} }}", arg)


def test_esc_escapes_markup_and_attribute_quotes(js):
    out = js("const { esc } = await import('/static/js/html.js'); return [esc('<a href=\"x\">&</a>'), esc(3), esc(null)];")
    assert out == ["&lt;a href=&quot;x&quot;&gt;&amp;&lt;/a&gt;", "3", "null"]


def test_set_html_leaves_unchanged_content_alone(js):
    out = js("""const { setHTML } = await import('/static/js/html.js');
        const el = document.createElement('div');
        setHTML(el, '<button>a</button>');
        const first = el.firstChild;
        setHTML(el, '<button>a</button>');
        const kept = el.firstChild === first;
        setHTML(el, '<button>b</button>');
        return [kept, el.firstChild === first, el.textContent];""")
    assert out == [True, False, "b"]


def test_human_says_values_in_words(js):
    out = js("""const { human, words } = await import('/static/js/html.js');
        return [words('messages_sent'), human(null), human(undefined), human(3.14159265), human(2), human(true),
            human(false), human([]), human([1, 'both_retreat']), human({ max_rounds: 3, ok: true }), human({}),
            human('lone_attack_by_a'), human('Lone_Attack'), human('plain'), human([[1, 2], { a_b: null }])];""")
    assert out == ["messages sent", "none", "none", "3.1416", "2", "yes", "no", "none", "1, both retreat",
                   "max rounds: 3; ok: yes", "none", "lone attack by a", "Lone_Attack", "plain", "1, 2, a b: none"]


MOMENTS = """const { Moments } = await import('/static/js/moments.js');
    const events = arg.map((e, seq) => ({ seq, t: seq, ...e }));
    const m = new Moments();
    for (const e of events) m.note(e);
    return { list: m.list, key: m.key(events), seen: { tones: [...m.seen.tones], crashed: m.seen.crashed, forged: m.seen.forged },
        next: m.next(0, 1) && m.next(0, 1).i, prev: m.next(events.length, -1) && m.next(events.length, -1).i,
        none: m.next(events.length, 1) || null };"""


def ev(kind, **kw):
    return {"kind": kind, **kw}


def test_moments_note_faults_crashes_violations_retries_and_bands(js):
    events = [
        ev("init", nodes=[]),
        ev("fault", fault={"action": "drop", "match": {"label": "ACK"}}),
        ev("fault", fault={"action": "heal"}),
        ev("crash", node="A"),
        ev("recover", node="A"),
        ev("check", name="safety", ok=False, detail="x"),
        ev("check", name="safety", ok=False, detail="again"),  # a violation is a moment once
        ev("check", name="safety", ok=True, detail="fine"),
        ev("send", src="A", dst="B", label="ATTACK", tag="#2", msg=1),
        ev("send", src="A", dst="B", label="ATTACK", tag="#1", msg=2),  # a first try is no retry
        ev("send", src="A", dst="B", label="LIE", msg=3, data={"forged": True}),
        ev("state", node="B", state={}, band={"tone": "fail", "label": "gave up"}),
        ev("state", node="B", state={}, band=None),
        ev("state", node="B", state={}),  # no band key: not a moment
    ]
    out = js(MOMENTS, events)
    assert [(k["i"], k["type"], k["text"]) for k in out["list"]] == [
        (1, "fault", "fault: drop label=ACK"), (2, "repair", "fault: heal"), (3, "crash", "A crashes"),
        (4, "recover", "A recovers"), (5, "violation", "safety violated"), (8, "retry", "A retries ATTACK (#2)"),
        (11, "band", "B: gave up"), (12, "band", "B: back to normal")]
    assert out["seen"] == {"tones": ["fail"], "crashed": True, "forged": True}
    assert out["key"] == 5  # the first violation wins
    assert (out["next"], out["prev"], out["none"]) == (1, 12, None)


@pytest.mark.parametrize("events, key", [
    # no violation: the last fault, or a crash after the set-up
    ([ev("init"), ev("fault", fault={"action": "drop"}), ev("crash", node="A"), ev("note", text="")], 2),
    # no fault: the first band that went wrong (fault or fail)
    ([ev("init"), ev("state", node="A", state={}, band={"tone": "busy", "label": "b"}),
      ev("state", node="A", state={}, band={"tone": "fault", "label": "f"}), ev("end", summary={})], 2),
    # else the last band change
    ([ev("init"), ev("state", node="A", state={}, band={"tone": "busy", "label": "b"}),
      ev("state", node="A", state={}, band={"tone": "done", "label": "d"}), ev("end", summary={})], 2),
    # nothing at all: the last event
    ([ev("init"), ev("note", text="hi"), ev("end", summary={})], 2),
])
def test_the_key_moment_rules(js, events, key):
    assert js(MOMENTS, events)["key"] == key


def test_a_crash_at_time_zero_is_not_the_key_moment(js):
    out = js("""const { Moments } = await import('/static/js/moments.js');
        const events = [{ seq: 0, t: 0, kind: 'init' }, { seq: 1, t: 0, kind: 'crash', node: 'A' },
            { seq: 2, t: 5, kind: 'state', node: 'B', state: {}, band: { tone: 'done', label: 'd' } }, { seq: 3, t: 6, kind: 'end' }];
        const m = new Moments();
        events.forEach((e) => m.note(e));
        return m.key(events);""")
    assert out == 2


def test_the_connection_guard_rewrites_or_holds_messages_back(js):
    out = js("""const { Connection } = await import('/static/js/connection.js');
        const c = new Connection('/ws/run/');
        const sent = [];
        c.ws = { readyState: 1, send: (s) => sent.push(JSON.parse(s)) };
        c.send({ type: 'ack', seq: 1 });
        c.guard = (msg) => msg.type === 'play' ? null : msg.type === 'step' ? { type: 'room.command', command: msg } : msg;
        c.send({ type: 'play' });
        c.send({ type: 'step', count: 1 });
        c.send({ type: 'room.answer', choice: 0 });
        c.ws.readyState = 3;
        c.send({ type: 'pause' });  // a closed socket sends nothing
        let reconnecting = 0;
        c.addEventListener('reconnecting', () => reconnecting++);
        c.reconnect();  // nothing to resume and no keep-alive: stays closed
        return { sent, reconnecting };""")
    assert out["sent"] == [{"type": "ack", "seq": 1}, {"type": "room.command", "command": {"type": "step", "count": 1}},
                           {"type": "room.answer", "choice": 0}]
    assert out["reconnecting"] == 0


def test_the_page_player_composes_its_parts(js):
    out = js("""const [{ Player }, { Connection }, { Moments }, { Panels }] = await Promise.all(
            ['player', 'connection', 'moments', 'panels'].map((m) => import(`/static/js/${m}.js`)));
        await import('/static/js/keymap.js');
        const p = document.querySelector('.player').player;
        return [p instanceof Player, p.connection instanceof Connection, p.marks instanceof Moments,
            p.panels instanceof Panels, Array.isArray(p.moments), document.querySelectorAll('.player').length];""")
    assert out == [True, True, True, True, True, 1]
