"""Load the guided lessons Lifelines ships with (scenarios/lessons.py); an admin edits them afterwards."""
from django.db import migrations


def load(apps, schema_editor):
    from scenarios.lessons import ship

    ship(apps)


def unload(apps, schema_editor):
    from scenarios.lessons import unship

    unship(apps)


class Migration(migrations.Migration):
    dependencies = [("scenarios", "0003_checkpoint")]
    operations = [migrations.RunPython(load, unload)]
