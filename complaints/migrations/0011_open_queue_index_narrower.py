# complaint_open_queue_idx without the columns only the managers' old section counts read.

from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("complaints", "0010_personal_data_db_defaults"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name="complaint",
            name="complaint_open_queue_idx",
        ),
        migrations.AddIndex(
            model_name="complaint",
            index=models.Index(
                condition=models.Q(
                    (
                        "state__in",
                        (
                            "cs_team",
                            "cs_manager",
                            "formal_written",
                            "deadlock",
                            "adr_referred",
                            "court",
                        ),
                    )
                ),
                fields=["response_due_at", "id"],
                include=(
                    "state",
                    "responded_at",
                    "category",
                    "channel",
                    "assigned_to",
                    "vulnerable",
                ),
                name="complaint_open_queue_idx",
            ),
        ),
    ]
