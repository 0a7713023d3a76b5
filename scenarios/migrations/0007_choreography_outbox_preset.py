"""Ship choreography-vs-orchestration's lost-event-outbox preset and its lesson (#13) to databases that already
ran 0002_shipped_presets and 0004_shipped_lessons; on a new database those have loaded them already."""
from django.db import migrations

SCENARIO = "choreography-vs-orchestration"
SLUG = "lost-event-outbox"


def load(apps, schema_editor):
    from scenarios import lessons, presets

    Preset = apps.get_model("scenarios", "Preset")
    order = Preset.objects.filter(scenario=SCENARIO).count()
    for slug, name, description, params, seed, faults, featured in presets.PRESETS[SCENARIO]:
        if slug == SLUG:
            Preset.objects.get_or_create(scenario=SCENARIO, slug=slug, defaults={
                "name": name, "description": description, "params": params, "seed": seed, "faults": faults,
                "order": order, "featured": featured})
    lessons.ship(apps, [SCENARIO])


def unload(apps, schema_editor):
    apps.get_model("scenarios", "Preset").objects.filter(scenario=SCENARIO, slug=SLUG).delete()


class Migration(migrations.Migration):
    dependencies = [("scenarios", "0006_consensus_and_snapshot_presets")]
    operations = [migrations.RunPython(load, unload)]
