"""Every registered scenario has a short story, 'what to watch for' bullets and a small, safe picture."""
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

import simulations
from scenarios.stories import STORIES

PICTURES = Path(__file__).resolve().parent.parent / "static" / "img" / "scenarios"
SVG = "{http://www.w3.org/2000/svg}"


def test_no_story_without_a_scenario():
    assert set(STORIES) <= set(simulations.SCENARIOS)


@pytest.mark.parametrize("slug", sorted(simulations.SCENARIOS))
def test_story(slug):
    story = STORIES[slug]
    short = story["short"]
    assert len(short) < 400
    sentences = re.findall(r"[.!?](?=\s|$)", short.strip())
    assert 2 <= len(sentences) <= 3, short
    watch = story["watch"]
    assert 3 <= len(watch) <= 4
    for bullet in watch:
        assert bullet.strip() and "\n" not in bullet


@pytest.mark.parametrize("slug", sorted(simulations.SCENARIOS))
def test_picture(slug):
    path = PICTURES / f"{slug}.svg"
    raw = path.read_bytes()
    assert len(raw) < 4096
    text = raw.decode("utf-8")
    assert "style=" not in text and "<style" not in text
    assert "<script" not in text.lower()
    assert 'href="http' not in text and "href='http" not in text
    root = ET.fromstring(raw)
    assert root.tag == f"{SVG}svg"
    assert root.get("viewBox")
    assert root.get("role") == "img"
    title = root.find(f"{SVG}title")
    assert title is not None and title.text and title.text.strip()
    for el in root.iter():
        assert not el.tag.endswith("script")
        if el.get("font-size"):
            assert float(el.get("font-size")) >= 11
