"""Ship the presets and guided lessons of the scenarios added after 0005, and of those whose model changed (new
parameters, new presets, retimed lessons), to databases that already ran 0002_shipped_presets and
0004_shipped_lessons; on a new database those have loaded them already."""
from django.db import migrations

NEW = ["chandy-lamport", "raft", "paxos"]
SCENARIOS = NEW + ["token-ring", "coffee-shop", "microservices-order", "payment-gateway", "event-driven-notes",
                   "choreography-vs-orchestration"]


def load(apps, schema_editor):
    from scenarios import lessons, presets

    presets.ship(apps, SCENARIOS)
    lessons.ship(apps, SCENARIOS)


def unload(apps, schema_editor):
    from scenarios.presets import unship

    unship(apps, NEW)  # the others' presets came with 0002: going back leaves them


class Migration(migrations.Migration):
    dependencies = [("scenarios", "0005_two_phase_commit_presets")]
    operations = [migrations.RunPython(load, unload)]
