"""Ship the challenges of the scenarios added after 0003 to databases that already ran 0002_shipped_challenges;
on a new database 0002 has loaded them already and this changes nothing."""
from django.db import migrations

SCENARIOS = ["chandy-lamport", "raft", "paxos"]


def load(apps, schema_editor):
    from challenges.catalog import ship

    ship(apps, SCENARIOS)


def unload(apps, schema_editor):
    from challenges.catalog import unship

    unship(apps, SCENARIOS)


class Migration(migrations.Migration):
    dependencies = [("challenges", "0003_two_phase_commit_challenge")]
    operations = [migrations.RunPython(load, unload)]
