"""Store which model version of its scenario made each run; runs saved before were made by version 1."""
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('runs', '0003_run_lease'),
    ]

    operations = [
        migrations.AddField(
            model_name='run',
            name='version',
            field=models.PositiveIntegerField(blank=True, editable=False, help_text="the scenario's model version that made the run (Scenario.version)", null=True),
        ),
        migrations.RunPython(lambda apps, schema_editor: apps.get_model("runs", "Run").objects.filter(
            version__isnull=True).update(version=1), migrations.RunPython.noop),
    ]
