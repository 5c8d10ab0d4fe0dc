"""Cases already past stage 1 when the hand-over to the managers came in are handed over too.

From stage 2 on (stages 2 and 3, deadlock, CISAS, court) a case is the Customer Services
Manager's: ``services.hand_to_managers`` unassigns an agent as a case gets there. Cases that got
there before kept their agent, and with them the agent's list and the customer's messages. Each
is unassigned here, with the same internal timeline entry by the system. Cases a manager has are
left alone. Not reversed: the entries say who had each case.
"""

from django.conf import settings
from django.db import migrations
from django.db.models import Q
from django.utils import timezone

# The values of complaints.services.MANAGERS_CASES and complaints.roles.MANAGERS_GROUP when
# this was written: a migration keeps them as they were.
MANAGERS_CASES = ("cs_manager", "formal_written", "deadlock", "adr_referred", "court")
MANAGERS_GROUP = "CS Managers"
CHUNK = 1000


def hand_over(apps, schema_editor) -> None:
    complaint_model = apps.get_model("complaints", "Complaint")
    event_model = apps.get_model("complaints", "ComplaintEvent")
    user_model = apps.get_model(*settings.AUTH_USER_MODEL.split("."))
    managers = user_model.objects.filter(
        Q(is_superuser=True) | Q(groups__name=MANAGERS_GROUP)
    ).values("pk")
    held = list(
        complaint_model.objects.filter(state__in=MANAGERS_CASES, assigned_to__isnull=False)
        .exclude(assigned_to__in=managers)
        .values_list("pk", "assigned_to_id")
    )
    names = {
        user.pk: f"{user.first_name} {user.last_name}".strip() or user.username
        for user in user_model.objects.filter(pk__in={assignee for _, assignee in held})
    }
    now = timezone.now()
    for start in range(0, len(held), CHUNK):
        chunk = held[start : start + CHUNK]
        complaint_model.objects.filter(pk__in=[pk for pk, _ in chunk]).update(
            assigned_to=None, updated_at=now
        )
        event_model.objects.bulk_create(
            event_model(
                complaint_id=pk,
                kind="assignment",
                actor_role="system",
                customer_visible=False,
                text=f"Unassigned from {names[assignee]}: from stage 2 on, a case is the "
                "Customer Services Manager's.",
                data={"assigned_to": None},
                created_at=now,
            )
            for pk, assignee in chunk
        )


class Migration(migrations.Migration):
    dependencies = [
        ("complaints", "0026_outboundemail_customer_wrote"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    operations = [migrations.RunPython(hand_over, migrations.RunPython.noop)]
