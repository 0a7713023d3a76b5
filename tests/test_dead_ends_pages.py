"""No dead ends (issue #16 item 5), server side: what a new user is shown when a value, a link or a page is wrong."""
import json
import re
from html import unescape

import pytest

from tests.test_sharing import saved_run

pytestmark = pytest.mark.django_db


# 1. an out-of-bounds value stays in its field, beside the reason, instead of turning into the default

def test_the_form_keeps_an_out_of_bounds_value_beside_its_error(client):
    html = client.get("/s/bully-election/form?n=40&seed=2", HTTP_HX_REQUEST="true").content.decode()
    field = re.search(r'<input type="number" id="p-n"[^>]*>', html).group(0)
    assert 'value="40"' in field and 'aria-invalid="true"' in field
    assert "must be at most 16" in html


def test_the_form_keeps_a_bad_seed_and_a_refused_node_as_given(client):
    html = client.get("/s/bully-election/form?n=5&detector=P9&seed=x1", HTTP_HX_REQUEST="true").content.decode()
    assert re.search(r'id="p-seed" name="seed" value="x1"', html)
    assert '<option value="P9" selected>' in html and "must be one of" in html


# 2. compare: an invalid "with" and no runs are pages that explain, with a way on

def test_an_invalid_with_shows_the_compare_form_again_with_the_reason_and_a_way_back(client):
    resp = client.get("/s/bully-election/compare?n=6&seed=2&with=colour=red")
    html = resp.content.decode()
    assert resp.status_code == 400
    assert "css/lifelines.css" in html and 'class="top"' in html  # the site's page, not a bare body
    assert "does not name something to change" in html and "ok_timeout" in html
    assert 'name="with"' in html and 'value="colour=red"' in html
    back = re.search(r'<a class="button back" href="([^"]+)"', html).group(1)
    assert back.startswith("/s/bully-election/?") and "n=6" in back and "seed=2" in back


def test_a_with_the_scenario_refuses_says_which_value_and_why(client):
    html = client.get("/s/bully-election/compare?n=5&with=n=99").content.decode()
    assert "with n=99: n must be at most 16" in html and "Back to Bully election" in html


def test_compare_without_runs_explains_itself_and_loads_no_script(client):
    resp = client.get("/compare/")
    html = resp.content.decode()
    assert resp.status_code == 200
    assert "side by side" in html and "Compare side by side" in html and 'name="a"' in html
    assert "compare.js" not in html


def test_compare_with_an_unknown_run_says_which(client):
    a, _ = saved_run()
    resp = client.get(f"/compare/?a={a.id}&b=nope")
    html = resp.content.decode()
    assert resp.status_code == 400 and "There is no saved run nope (run B)" in html and "compare.js" not in html


# 3. the run page: faults in words and JSON, share texts whole; the embed asks for no missing file

def test_run_page_says_faults_in_words_and_json_never_a_python_repr(client):
    run, _ = saved_run(params={"n": 5}, faults=[{"action": "crash", "node": "P4", "at": 1},
                                                {"action": "drop", "match": {"nth": 3}}])
    html = client.get(f"/runs/{run.id}/").content.decode()
    assert "{&#x27;" not in html and "{'" not in html
    assert "crash P4, at t=1" in html and "drop the 3rd message" in html
    codes = re.findall(r'<ul class="fault-list">.*?</ul>', html, re.S)[0]
    payloads = [json.loads(unescape(c)) for c in re.findall(r"<code>(.*?)</code>", codes)]
    assert payloads == run.faults


def test_run_page_share_texts_are_whole_in_read_only_fields(client):
    run, _ = saved_run()
    html = client.get(f"/runs/{run.id}/").content.decode()
    link = re.search(r'<textarea id="share-link"[^>]*readonly[^>]*>([^<]*)</textarea>', html).group(1)
    embed = re.search(r'<textarea id="share-embed"[^>]*readonly[^>]*>([^<]*)</textarea>', html).group(1)
    assert link == f"http://testserver/runs/{run.id}/"
    assert unescape(embed) == (f'<iframe src="http://testserver/runs/{run.id}/embed?step=1&autoplay=1" '
                               'width="900" height="560"></iframe>')


def test_embed_links_its_icon_so_the_browser_does_not_ask_for_favicon_ico(client):
    run, _ = saved_run()
    html = client.get(f"/runs/{run.id}/embed").content.decode()
    assert re.search(r'<link rel="icon" href="/static/favicon.svg"', html)
