"""No dead ends (issue #16 item 5), each as a new user meets it, in headless Chromium against a real daphne."""
import json
from urllib.parse import quote

import pytest

pytestmark = pytest.mark.browser


def watch_errors(page):
    """JavaScript errors and failed loads (4xx/5xx, a missing favicon included) while the page is open."""
    seen = []
    page.on("pageerror", lambda e: seen.append(f"pageerror: {e}"))
    page.on("console", lambda m: seen.append(f"console: {m.text} {m.location.get('url', '')}")
            if m.type == "error" else None)
    return seen


def start_run(page, url):
    """Start a run of a set-up without playing it; return its permalink."""
    page.goto(url)
    page.uncheck("#autoplay")
    page.click("#run")
    page.wait_for_selector(".run-link:not([hidden])")
    return page.locator(".run-link").get_attribute("href")


# 1 ------------------------------------------------------------------------------------------------------------

def test_an_out_of_bounds_value_is_kept_and_run_refuses_it_saying_why(page, live_daphne):
    page.goto(f"{live_daphne.url}/s/bully-election/")
    page.fill("#p-n", "40")
    page.locator("#p-n").dispatch_event("change")
    page.wait_for_selector(".field.invalid #p-n")
    assert page.input_value("#p-n") == "40"  # not swapped for the default while the error shows
    assert "at most 16" in page.locator(".field.invalid .error").text_content()
    page.uncheck("#autoplay")
    page.click("#run")
    page.wait_for_selector(".announce.error")
    assert "at most 16" in page.locator(".announce").text_content()
    assert "at most 16" in page.locator(".field.invalid:has(#p-n) .error").text_content()
    assert page.input_value("#p-n") == "40"
    page.wait_for_timeout(500)
    assert page.locator(".run-link").get_attribute("hidden") is not None  # no run was started
    assert page.locator(".head").count() == 0


# 2 ------------------------------------------------------------------------------------------------------------

def test_compare_parts_where_the_fault_acts_not_at_step_1_and_off_the_fault_band(page, live_daphne):
    faults = quote(json.dumps([{"action": "drop", "match": {"nth": 3}}]))
    page.goto(f"{live_daphne.url}/s/two-generals/compare?rounds=3&loss=0&messengers=1&faults={faults}&with=faults=[]")
    page.wait_for_selector(".compare[data-ready]")
    note = page.locator("p.diverge")
    text = note.text_content()
    assert "step 1 " not in text and "step 1(" not in text
    part_a = int(note.get_attribute("data-part-a"))
    assert part_a > 1
    assert "lost" in text  # A: the third message is dropped; B: it arrives
    # the "runs part here" line on A does not cross the band of A's fault listing
    boxes = page.evaluate("""() => {
      const box = (sel) => [...document.querySelectorAll(sel)].map((g) => { const r = g.getBoundingClientRect(); return [r.top, r.bottom]; });
      return { diverge: box('.side-a g.mark.diverge'), faults: box('.side-a g.mark.fault') };
    }""")
    assert boxes["diverge"], "the diverge line is drawn"
    (top, bottom), = boxes["diverge"]
    assert all(bottom < f_top or top > f_bottom for f_top, f_bottom in boxes["faults"]), boxes


def test_an_invalid_with_gives_a_styled_page_with_the_reason_and_a_way_back(page, live_daphne):
    errors = watch_errors(page)
    resp = page.goto(f"{live_daphne.url}/s/bully-election/compare?n=6&with=colour=red")
    assert resp.status == 400
    assert page.locator("header.top .brand").is_visible()  # base.html, styled
    assert "does not name something to change" in page.locator(".compare-problems").text_content()
    assert page.input_value("input[name=with]") == "colour=red"
    page.click("a.back")
    page.wait_for_url("**/s/bully-election/?n=6")
    assert page.input_value("#p-n") == "6"
    assert not [e for e in errors if "pageerror" in e]


def test_compare_with_no_runs_explains_itself_without_script_errors(page, live_daphne):
    errors = watch_errors(page)
    page.goto(f"{live_daphne.url}/compare/")
    page.wait_for_load_state("networkidle")
    assert "side by side" in page.locator("main").text_content()
    assert page.locator("input[name=a]").is_visible() and page.locator("a.back").is_visible()
    assert errors == []


# 3 ------------------------------------------------------------------------------------------------------------

def test_run_page_shows_faults_in_words_and_the_whole_share_texts(page, live_daphne):
    faults = quote(json.dumps([{"action": "drop", "match": {"nth": 3}}]))
    href = start_run(page, f"{live_daphne.url}/s/two-generals/?rounds=3&faults={faults}")
    page.goto(live_daphne.url + href)
    made_of = page.locator(".made-of").text_content()
    assert "{'" not in made_of and "drop the 3rd message" in made_of
    for label, expected in (("Link", f"{live_daphne.url}{href}"),
                            ("Embed", f'<iframe src="{live_daphne.url}{href}embed?step=1&autoplay=1"')):
        field = page.get_by_label(label, exact=True)
        assert field.input_value().startswith(expected)
        fits = field.evaluate("""(el) => {
          const r = el.getBoundingClientRect(), about = el.closest('.about').getBoundingClientRect();
          return el.scrollWidth <= el.clientWidth && el.scrollHeight <= el.clientHeight + 1 && r.right <= about.right;
        }""")
        assert fits, f"{label} is clipped"


def test_the_embed_requests_no_missing_file(page, live_daphne):
    href = start_run(page, f"{live_daphne.url}/s/two-generals/?rounds=2")
    errors = watch_errors(page)
    failed = []
    page.on("response", lambda r: failed.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    page.goto(f"{live_daphne.url}{href}embed?step=1&autoplay=1")
    page.wait_for_function("() => document.querySelector('.player').dataset.cursor >= 1")
    page.wait_for_load_state("networkidle")
    page.wait_for_timeout(300)
    assert failed == [] and errors == []
