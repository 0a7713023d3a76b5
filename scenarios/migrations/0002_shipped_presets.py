"""Load the presets Lifelines ships with (scenarios/presets.py); an admin edits them afterwards."""
from django.db import migrations


def load(apps, schema_editor):
    from scenarios.presets import PRESETS

    Preset = apps.get_model("scenarios", "Preset")
    for scenario, items in PRESETS.items():
        for order, (slug, name, description, params, seed, faults, featured) in enumerate(items):
            Preset.objects.update_or_create(scenario=scenario, slug=slug, defaults={
                "name": name, "description": description, "params": params, "seed": seed, "faults": faults,
                "order": order, "featured": featured})


def unload(apps, schema_editor):
    from scenarios.presets import PRESETS

    Preset = apps.get_model("scenarios", "Preset")
    for scenario, items in PRESETS.items():
        Preset.objects.filter(scenario=scenario, slug__in=[item[0] for item in items]).delete()


class Migration(migrations.Migration):
    dependencies = [("scenarios", "0001_initial")]
    operations = [migrations.RunPython(load, unload)]
