"""The ADR clock's deadlock letter used to stop the stage's clock as answered (responded_at set to
the letter's time). It is not a reply: clear that time on the cases it was set for, so the case
page and the reply figures treat them as the clock now does (Complaint.issue_deadlock_letter)."""

from django.db import migrations
from django.db.models import Exists, F, OuterRef


def forwards(apps, schema_editor):
    Complaint = apps.get_model("complaints", "Complaint")
    ComplaintEvent = apps.get_model("complaints", "ComplaintEvent")
    by_clock = ComplaintEvent.objects.filter(
        complaint=OuterRef("pk"), transition="issue_deadlock_letter", data__by_clock=True
    )
    # The clock set responded_at to the letter's own time; a person's reply never has it.
    Complaint.objects.filter(
        Exists(by_clock), deadlock_issued_at__isnull=False, responded_at=F("deadlock_issued_at")
    ).update(responded_at=None)


class Migration(migrations.Migration):
    dependencies = [("complaints", "0015_customer_emails")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
