"""Load the presets Lifelines ships with (scenarios/presets.py); an admin edits them afterwards."""
from django.db import migrations


def load(apps, schema_editor):
    from scenarios.presets import ship

    ship(apps)


def unload(apps, schema_editor):
    from scenarios.presets import unship

    unship(apps)


class Migration(migrations.Migration):
    dependencies = [("scenarios", "0001_initial")]
    operations = [migrations.RunPython(load, unload)]
