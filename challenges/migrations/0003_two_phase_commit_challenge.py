"""Ship the two-phase-commit challenge to databases that already ran 0002_shipped_challenges (which loads the
catalog as it was when it ran); on a new database 0002 has loaded it already and this changes nothing."""
from django.db import migrations

SCENARIOS = ["two-phase-commit"]


def load(apps, schema_editor):
    from challenges.catalog import ship

    ship(apps, SCENARIOS)


def unload(apps, schema_editor):
    from challenges.catalog import unship

    unship(apps, SCENARIOS)


class Migration(migrations.Migration):
    dependencies = [("challenges", "0002_shipped_challenges")]
    operations = [migrations.RunPython(load, unload)]
