from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("runs", "0002_owner_key")]

    operations = [
        migrations.AddField(
            model_name="run",
            name="lease",
            field=models.CharField(blank=True, default="", editable=False, max_length=32,
                                   help_text="which connection drives the run now: a resume takes it, "
                                             "older writers are refused"),
        ),
    ]
