"""Who acted, by name, kept on each timeline event when it is written (ComplaintEvent.actor_name)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("complaints", "0016_clock_deadlock_is_not_a_reply"),
    ]

    operations = [
        migrations.AddField(
            model_name="complaintevent",
            name="actor_name",
            field=models.CharField(blank=True, db_default="", default="", max_length=300),
        ),
    ]
