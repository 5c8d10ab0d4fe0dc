"""A withdrawal is confirmed to the customer by e-mail (EmailTemplate.WITHDRAWN)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("complaints", "0020_api_filing_key"),
    ]

    operations = [
        migrations.AlterField(
            model_name="outboundemail",
            name="template",
            field=models.CharField(
                choices=[
                    ("acknowledgement", "Complaint received"),
                    ("reply", "Written reply"),
                    ("escalation", "Moved to stage 2 or 3"),
                    ("deadlock", "Deadlock letter"),
                    ("overdue_alert", "Reply overdue (to managers)"),
                    ("new_link", "A new tracking link"),
                    ("message", "A message from staff"),
                    ("resolved", "Complaint resolved"),
                    ("adr_decision", "CISAS decision recorded"),
                    ("withdrawn", "Complaint withdrawn"),
                ],
                max_length=20,
            ),
        ),
    ]
