"""Load the challenges Lifelines ships with (challenges/catalog.py); an admin edits them afterwards."""
from django.db import migrations

FIELDS = ("scenario", "title", "story", "params", "seed", "faults", "free_params", "goal", "max_faults", "kinds",
          "live_only", "possible", "why")


def load(apps, schema_editor):
    from challenges.catalog import CHALLENGES

    Challenge = apps.get_model("challenges", "Challenge")
    for order, item in enumerate(CHALLENGES):
        defaults = {name: item[name] for name in FIELDS if name in item}
        Challenge.objects.update_or_create(slug=item["slug"], defaults={**defaults, "order": order})


def unload(apps, schema_editor):
    from challenges.catalog import CHALLENGES

    apps.get_model("challenges", "Challenge").objects.filter(slug__in=[c["slug"] for c in CHALLENGES]).delete()


class Migration(migrations.Migration):
    dependencies = [("challenges", "0001_initial")]
    operations = [migrations.RunPython(load, unload)]
