"""Load the challenges Lifelines ships with (challenges/catalog.py); an admin edits them afterwards."""
from django.db import migrations


def load(apps, schema_editor):
    from challenges.catalog import ship

    ship(apps)


def unload(apps, schema_editor):
    from challenges.catalog import unship

    unship(apps)


class Migration(migrations.Migration):
    dependencies = [("challenges", "0001_initial")]
    operations = [migrations.RunPython(load, unload)]
