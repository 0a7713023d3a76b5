"""Every registered scenario works from each door a learner or an instructor uses: its page, its embed, a
classroom, the CLI and a run over the WebSocket whose permalink replays exactly what streamed."""
import json

import pytest
from asgiref.sync import sync_to_async
from tests.communicator import Communicator
from django.core.management import call_command

import simulations
from config.asgi import application
from runs.models import Run

SLUGS = list(simulations.SCENARIOS)
ORIGIN = [(b"origin", b"http://127.0.0.1")]


@pytest.mark.django_db
@pytest.mark.parametrize("slug", SLUGS)
def test_page_embed_and_classroom_open_for_every_scenario(client, slug):
    scenario = simulations.get(slug)
    page = client.get(f"/s/{slug}/")
    assert page.status_code == 200 and scenario.title in page.content.decode()
    assert "Find a way to break it" in page.content.decode()
    assert client.get(f"/s/{slug}/embed").status_code == 200
    room = client.post(f"/room/open/{slug}/", {"setup": ""}, follow=True)
    assert room.status_code == 200 and slug in room.content.decode()


@pytest.mark.parametrize("slug", SLUGS)
def test_the_cli_prints_the_trace_the_engine_makes(slug, capsys):
    call_command("simulate", slug, "--format", "jsonl")
    printed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert printed == simulations.get(slug).run({}, 0)


@pytest.mark.parametrize("slug", SLUGS)
def test_the_cli_searches_it_and_says_what_it_found_or_covered(slug, capsys):
    call_command("explore", slug, "--max-runs", "30", "--no-save", "--format", "json")
    result = json.loads(capsys.readouterr().out)
    assert result["runs"] <= 30 and result["report"].startswith(("Broken", "Not broken", "Nothing found"))
    assert result["found"] == result["report"].startswith("Broken")


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("slug", SLUGS)
async def test_a_run_streams_to_its_end_and_its_permalink_replays_it(slug, client):
    comm = Communicator(application, "/ws/run/", headers=ORIGIN)
    assert (await comm.connect())[0]
    await comm.send_json_to({"type": "start", "scenario": slug, "params": {}, "seed": 0})
    await comm.send_json_to({"type": "play", "speed": 100000})
    got = []
    while not got or got[-1].get("state") != "ended":
        got.append(await comm.receive_json_from(timeout=20))
    events = [e for m in got if m["type"] == "events" for e in m["events"]]
    assert events == simulations.get(slug).run({}, 0)
    run = await Run.objects.aget(pk=got[0]["run"])
    assert run.status == "ended" and await sync_to_async(run.trace)() == events
    page = await sync_to_async(client.get)(got[0]["url"])
    assert page.status_code == 200
    await comm.disconnect()
