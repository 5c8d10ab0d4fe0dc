# Indexes for the staff queues and the reports at a million complaints; each one's query is
# named in the comment above it in Complaint.Meta.

from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("complaints", "0007_personal_data"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name="complaint",
            name="complaint_received_idx",
        ),
        migrations.AddIndex(
            model_name="complaint",
            index=models.Index(
                fields=["received_at"],
                include=(
                    "id",
                    "channel",
                    "category",
                    "state",
                    "nation",
                    "responded_at",
                    "response_due_at",
                    "withdrawn_at",
                    "resolved_at",
                    "adr_referred_on",
                    "adr_outcome",
                    "adr_accepted_on",
                    "court_started_on",
                ),
                name="complaint_received_idx",
            ),
        ),
        migrations.AddIndex(
            model_name="complaint",
            index=models.Index(
                condition=models.Q(
                    ("responded_at__isnull", True),
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
                    ),
                ),
                fields=["response_due_at", "id"],
                include=("state",),
                name="complaint_awaiting_reply_idx",
            ),
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
                    "deadlock_issued_at",
                    "nation",
                    "adr_eligible_date",
                ),
                name="complaint_open_queue_idx",
            ),
        ),
        migrations.AddIndex(
            model_name="complaint",
            index=models.Index(fields=["response_due_at", "id"], name="complaint_due_idx"),
        ),
        migrations.AddIndex(
            model_name="complaint",
            index=models.Index(
                condition=models.Q(("state", "deadlock")),
                fields=["deadlock_issued_at", "id"],
                name="complaint_deadlock_section_idx",
            ),
        ),
        migrations.AddIndex(
            model_name="complaint",
            index=models.Index(
                condition=models.Q(("state", "adr_referred")),
                fields=["adr_referred_on", "id"],
                name="complaint_cisas_section_idx",
            ),
        ),
        migrations.AddIndex(
            model_name="complaint",
            index=models.Index(
                condition=models.Q(("state", "court")),
                fields=["court_started_on", "id"],
                name="complaint_court_section_idx",
            ),
        ),
        migrations.AddIndex(
            model_name="complaint",
            index=models.Index(
                condition=models.Q(
                    ("deadlock_issued_at__isnull", True),
                    ("state__in", ("cs_team", "cs_manager", "formal_written")),
                ),
                fields=["adr_eligible_date"],
                include=("nation",),
                name="complaint_adr_soon_idx",
            ),
        ),
        migrations.AddIndex(
            model_name="complaint",
            index=models.Index(
                condition=models.Q(
                    ("remedy_completed_at__isnull", True), ("remedy_due_date__isnull", False)
                ),
                fields=["remedy_due_date", "id"],
                name="complaint_remedies_due_idx",
            ),
        ),
    ]
