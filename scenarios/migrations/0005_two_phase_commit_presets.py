"""Ship the two-phase-commit presets and their guided lessons to databases that already ran
0002_shipped_presets and 0004_shipped_lessons (which load PRESETS and LESSONS as they were when they ran);
on a new database those have loaded them already and this changes nothing."""
from django.db import migrations

SCENARIO = "two-phase-commit"


def load(apps, schema_editor):
    from scenarios.lessons import LESSONS
    from scenarios.presets import PRESETS

    Preset = apps.get_model("scenarios", "Preset")
    for order, (slug, name, description, params, seed, faults, featured) in enumerate(PRESETS.get(SCENARIO, [])):
        Preset.objects.update_or_create(scenario=SCENARIO, slug=slug, defaults={
            "name": name, "description": description, "params": params, "seed": seed, "faults": faults,
            "order": order, "featured": featured})
    Checkpoint = apps.get_model("scenarios", "Checkpoint")
    for slug, checkpoints in LESSONS.get(SCENARIO, {}).items():
        preset = Preset.objects.filter(scenario=SCENARIO, slug=slug).first()
        if preset is None or Checkpoint.objects.filter(preset=preset).exists():
            continue  # a lesson already written (by 0004 on a new database, or by the admin): leave it alone
        for order, c in enumerate(checkpoints):
            at = c["at"]
            Checkpoint.objects.create(
                preset=preset, order=order, at_seq=at if isinstance(at, int) else None,
                match=at if isinstance(at, dict) else None, narration=c["narration"], question=c["question"],
                choices=c["choices"], answer=c["answer"], explanation=c["explanation"])


def unload(apps, schema_editor):
    from scenarios.presets import PRESETS

    Preset = apps.get_model("scenarios", "Preset")
    Preset.objects.filter(scenario=SCENARIO, slug__in=[item[0] for item in PRESETS.get(SCENARIO, [])]).delete()


class Migration(migrations.Migration):
    dependencies = [("scenarios", "0004_shipped_lessons")]
    operations = [migrations.RunPython(load, unload)]
