"""Load the guided lessons Lifelines ships with (scenarios/lessons.py); an admin edits them afterwards."""
from django.db import migrations


def load(apps, schema_editor):
    from scenarios.lessons import LESSONS

    Preset = apps.get_model("scenarios", "Preset")
    Checkpoint = apps.get_model("scenarios", "Checkpoint")
    for scenario, lessons in LESSONS.items():
        for slug, checkpoints in lessons.items():
            preset = Preset.objects.filter(scenario=scenario, slug=slug).first()
            if preset is None or Checkpoint.objects.filter(preset=preset).exists():
                continue  # a preset the admin deleted, or a lesson the admin already wrote: leave both alone
            for order, c in enumerate(checkpoints):
                at = c["at"]
                Checkpoint.objects.create(
                    preset=preset, order=order, at_seq=at if isinstance(at, int) else None,
                    match=at if isinstance(at, dict) else None, narration=c["narration"], question=c["question"],
                    choices=c["choices"], answer=c["answer"], explanation=c["explanation"])


def unload(apps, schema_editor):
    from scenarios.lessons import LESSONS

    Checkpoint = apps.get_model("scenarios", "Checkpoint")
    for scenario, lessons in LESSONS.items():
        Checkpoint.objects.filter(preset__scenario=scenario, preset__slug__in=list(lessons)).delete()


class Migration(migrations.Migration):
    dependencies = [("scenarios", "0003_checkpoint")]
    operations = [migrations.RunPython(load, unload)]
