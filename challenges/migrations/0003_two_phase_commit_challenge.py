"""Ship the two-phase-commit challenge to databases that already ran 0002_shipped_challenges (which loads the
catalog as it was when it ran); on a new database 0002 has loaded it already and this changes nothing."""
from django.db import migrations

FIELDS = ("scenario", "title", "story", "params", "seed", "faults", "free_params", "goal", "max_faults", "kinds",
          "live_only", "possible", "why")
SCENARIO = "two-phase-commit"


def load(apps, schema_editor):
    from challenges.catalog import CHALLENGES

    Challenge = apps.get_model("challenges", "Challenge")
    for order, item in enumerate(CHALLENGES):
        if item["scenario"] == SCENARIO:
            defaults = {name: item[name] for name in FIELDS if name in item}
            Challenge.objects.update_or_create(slug=item["slug"], defaults={**defaults, "order": order})


def unload(apps, schema_editor):
    from challenges.catalog import CHALLENGES

    apps.get_model("challenges", "Challenge").objects.filter(
        slug__in=[c["slug"] for c in CHALLENGES if c["scenario"] == SCENARIO]).delete()


class Migration(migrations.Migration):
    dependencies = [("challenges", "0002_shipped_challenges")]
    operations = [migrations.RunPython(load, unload)]
