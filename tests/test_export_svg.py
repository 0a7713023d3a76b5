"""export.svg and the Mermaid export match the screen: readable, nothing overlapping, bands, breaks, one note
per violation."""
import re
import xml.etree.ElementTree as ET

import pytest

import simulations
from runs.models import Chunk, Run
from scenarios.presets import PRESETS
from simulations.export import ASCENT, DESCENT, FONTS, text_width, to_mermaid, to_svg

SVG = "{http://www.w3.org/2000/svg}"
CASES = [(slug, None) for slug in simulations.SCENARIOS] + [
    (slug, preset[0]) for slug, presets in PRESETS.items() for preset in presets]


def run(slug, preset=None):
    scenario = simulations.SCENARIOS[slug]
    if preset is None:
        return scenario.run({}, 0, []), scenario.tick
    _, _, _, params, seed, faults, _ = next(p for p in PRESETS[slug] if p[0] == preset)
    return scenario.run(params, seed, faults), scenario.tick


def texts(svg):
    """Every <text> with the box it draws in: its width estimated for its font, placed by x, y and anchor."""
    out = []
    for t in ET.fromstring(svg).iter(f"{SVG}text"):
        font = next(c[2:] for c in t.get("class").split() if c.startswith("f-"))
        size = float(re.search(r"font-size:([\d.]+)px", t.get("style", "")
                               or f"font-size:{FONTS[font][0]}px").group(1))
        s, x, y = t.text or "", float(t.get("x")), float(t.get("y"))
        w = text_width(s, font, size)
        x0 = {"start": x, "middle": x - w / 2, "end": x - w}[t.get("text-anchor", "start")]
        out.append({"text": s, "x0": x0, "x1": x0 + w, "y0": y - ASCENT * size, "y1": y + DESCENT * size, "el": t})
    return out


def overlaps(boxes):
    return [(a["text"], b["text"]) for i, a in enumerate(boxes) for b in boxes[i + 1:]
            if a["x0"] < b["x1"] - 0.5 and b["x0"] < a["x1"] - 0.5 and a["y0"] < b["y1"] - 0.5 and b["y0"] < a["y1"] - 0.5]


@pytest.mark.parametrize("slug, preset", CASES, ids=[f"{s}-{p or 'defaults'}" for s, p in CASES])
def test_no_two_texts_overlap(slug, preset):
    trace, tick = run(slug, preset)
    boxes = texts(to_svg(trace, tick=tick))
    assert len(boxes) > len(trace[0]["nodes"]) + 3
    assert overlaps(boxes) == []


@pytest.mark.parametrize("width", [400, 700, 2000])
def test_no_overlaps_at_other_widths_and_heads_break_only_between_words(width):
    trace, tick = run("microservices-order", "breaker")
    svg = to_svg(trace, tick=tick, width=width)
    assert overlaps(texts(svg)) == []
    heads = [t for t in ET.fromstring(svg).iter(f"{SVG}text") if "f-head" in t.get("class")]
    ids = [n["id"] for n in trace[0]["nodes"]]
    lines = [t.text for t in heads]
    assert "".join(lines) == "".join(ids)
    words = {w for i in ids for w in re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", i).split()}
    assert all(re.fullmatch("(%s)+" % "|".join(words), line) for line in lines)


def head_lines(svg):
    return [t.text for t in ET.fromstring(svg).iter(f"{SVG}text") if "f-head" in t.get("class")]


def test_camel_case_heads_wrap_between_words_where_the_column_is_narrow():
    trace, tick = run("microservices-order", "breaker")
    lines = head_lines(to_svg(trace, tick=tick))
    assert "OrderService" in lines and ["Notification", "Service"] == lines[-2:]
    trace, tick = run("payment-gateway")
    assert "PaymentManager" in head_lines(to_svg(trace, tick=tick))
    assert ["Payment", "Manager"] == head_lines(to_svg(trace, tick=tick, width=600))[1:3]


def test_a_long_idle_gap_is_a_break_in_milliseconds():
    trace, tick = run("payment-gateway", "double-charge")
    svg = to_svg(trace, tick=tick)
    said = [t["text"] for t in texts(svg)]
    assert "t (ms)" in said
    assert any(re.fullmatch(r"⋯ \d+ ms ⋯", s) for s in said)
    assert "⋯ 899 ms ⋯" in said
    ticks = [int(t.text) for t in ET.fromstring(svg).iter(f"{SVG}text") if "tick" in t.get("class").split()]
    assert ticks == sorted(ticks) and ticks[-1] == trace[-1]["t"]


def test_the_classic_algorithms_count_ticks():
    trace, tick = run("two-generals")
    assert "t (ticks)" in [t["text"] for t in texts(to_svg(trace, tick=tick))]
    assert "t (ticks)" in to_svg(trace)


def test_the_breaker_draws_a_fault_band_on_the_order_service():
    trace, tick = run("microservices-order", "breaker")
    root = ET.fromstring(to_svg(trace, tick=tick))
    x = next(float(t.get("x")) for t in root.iter(f"{SVG}text") if t.text == "OrderService")
    faulty = [r for r in root.iter(f"{SVG}rect") if "t-fault" in (r.get("class") or "").split()]
    assert faulty and all(float(r.get("x")) + 5 == x for r in faulty)
    assert any(float(r.get("height")) > 100 for r in faulty)
    assert "#E69F00" in root.find(f"{SVG}style").text


def test_crash_draws_an_outage_and_a_dashed_lifeline():
    trace, tick = run("bully-election", "comeback")
    root = ET.fromstring(to_svg(trace, tick=tick))
    assert len([r for r in root.iter(f"{SVG}rect") if r.get("class") == "outage"]) == 1
    assert any("down" in (line.get("class") or "").split() for line in root.iter(f"{SVG}line"))


def test_lost_and_forged_messages_look_so():
    trace, tick = run("byzantine-generals", "om1-three-generals")
    root = ET.fromstring(to_svg(trace, tick=tick))
    groups = [g.get("class").split() for g in root.iter(f"{SVG}g") if "msg" in (g.get("class") or "").split()]
    assert any("forged" in c for c in groups)
    trace, tick = run("two-generals", "lost-last-ack")
    root = ET.fromstring(to_svg(trace, tick=tick))
    lost = [g for g in root.iter(f"{SVG}g") if "lost" in (g.get("class") or "").split()]
    assert len(lost) == 1 and lost[0].find(f"{SVG}path").get("class") == "x"


@pytest.mark.parametrize("slug, preset", [("byzantine-generals", "om1-three-generals"),
                                          ("choreography-vs-orchestration", "lost-event-choreography"),
                                          ("microservices-order", "leak")])
def test_each_violation_is_drawn_and_noted_once(slug, preset):
    trace, tick = run(slug, preset)
    names = {e["name"] for e in trace if e["kind"] == "check" and not e["ok"]}
    assert len([e for e in trace if e["kind"] == "check" and not e["ok"]]) > len(names)  # the trace repeats them
    said = [t["text"] for t in texts(to_svg(trace, tick=tick))]
    mermaid = to_mermaid(trace)
    for name in names:
        assert len([s for s in said if s.startswith(f"⚠ {name} violated: ")]) == 1
        assert mermaid.count(f"VIOLATED {name}:") == 1


def test_mermaid_notes_are_not_repeated():
    for slug, preset in CASES:
        notes = [line for line in to_mermaid(run(slug, preset)[0]).splitlines() if line.lstrip().startswith("Note")]
        repeated = [a for a, b in zip(notes, notes[1:]) if a == b]
        assert repeated == [], (slug, preset)


def test_labels_carry_their_tag_and_sit_on_a_white_halo():
    trace, tick = run("payment-gateway", "double-charge")
    svg = to_svg(trace, tick=tick)
    assert "CHARGE #2" in [t["text"] for t in texts(svg)]
    style = ET.fromstring(svg).find(f"{SVG}style").text
    assert "paint-order:stroke" in style and "#fbfaf7" in style and "url(" not in svg and "href" not in svg


@pytest.mark.django_db
def test_http_export_uses_the_scenarios_time_unit(client):
    scenario = simulations.get("payment-gateway")
    params, faults = scenario.parse({}, [])
    trace = scenario.simulate(params, 0, faults).run()
    saved = Run.objects.create(scenario="payment-gateway", params=params, seed=0, faults=faults, status="ended",
                               event_count=len(trace), summary=trace[-1]["summary"])
    Chunk.objects.create(run=saved, start=0, count=len(trace), data=Chunk.pack(trace))
    resp = client.get(f"/runs/{saved.id}/export.svg")
    assert resp.status_code == 200 and resp["Content-Type"] == "image/svg+xml"
    body = resp.content.decode()
    assert "t (ms)" in body and overlaps(texts(body)) == []


def test_a_note_said_twice_in_a_row_is_noted_once():
    trace, _ = run("two-generals")
    i = next(i for i, e in enumerate(trace) if e["kind"] == "note" and e.get("node"))
    twice = trace[:i + 1] + [trace[i]] + trace[i + 1:]
    assert to_mermaid(twice).count(trace[i]["text"]) == 1


@pytest.mark.browser
@pytest.mark.parametrize("slug, preset", CASES, ids=[f"{s}-{p or 'defaults'}" for s, p in CASES])
def test_the_width_estimate_errs_wide_in_a_real_browser(page, slug, preset):
    trace, tick = run(slug, preset)
    svg = to_svg(trace, tick=tick)
    page.set_content(f"<!doctype html><body style='margin:0'>{svg}</body>")
    drawn = page.evaluate("""() => [...document.querySelectorAll('svg text')].map((t) => {
        const b = t.getBBox(); return {text: t.textContent, x0: b.x, x1: b.x + b.width, y0: b.y, y1: b.y + b.height}; })""")
    estimated = texts(svg)
    assert len(drawn) == len(estimated)
    for real, guess in zip(drawn, estimated):
        assert guess["x0"] <= real["x0"] + 1 and real["x1"] <= guess["x1"] + 1, real["text"]  # ink may overhang
    assert overlaps(drawn) == []
