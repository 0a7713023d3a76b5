"""Ship the two-phase-commit presets and their guided lessons to databases that already ran
0002_shipped_presets and 0004_shipped_lessons (which load PRESETS and LESSONS as they were when they ran);
on a new database those have loaded them already and this changes nothing."""
from django.db import migrations

SCENARIOS = ["two-phase-commit"]


def load(apps, schema_editor):
    from scenarios import lessons, presets

    presets.ship(apps, SCENARIOS)
    lessons.ship(apps, SCENARIOS)


def unload(apps, schema_editor):
    from scenarios.presets import unship

    unship(apps, SCENARIOS)


class Migration(migrations.Migration):
    dependencies = [("scenarios", "0004_shipped_lessons")]
    operations = [migrations.RunPython(load, unload)]
