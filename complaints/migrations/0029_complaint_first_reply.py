"""The first reply the customer was owed, kept when the stage clock restarts.

Two nullable columns, added without a default (no table rewrite). A case whose clock has never
restarted needs nothing: its first reply is its stage's own. Cases already restarted (escalated,
made formal or reopened; about 2.5 % of the bench database) are filled in here: stage 1's
deadline worked out again from when the complaint was received, with today's closure days, and
the first answer the timeline records (a reply, or a resolution or deadlock letter by staff), or
the stage's own answer. Not reversed: dropping the columns loses nothing else.
"""

import datetime as dt

from django.conf import settings
from django.db import connections, migrations, models
from django.db.models import F

from complaints import clocks
from complaints.calendar import calendar_for

CHUNK = 1000
# The transitions that answer the customer (Complaint.answer_stage), when staff fire them.
ANSWERS = ("resolve", "issue_deadlock_letter")


def _first_answers(event_model, pks: list[int]) -> dict[int, dt.datetime]:
    first: dict[int, dt.datetime] = {}
    events = event_model.objects.filter(complaint_id__in=pks).filter(
        models.Q(kind="reply")
        | (models.Q(kind="transition", transition__in=ANSWERS) & ~models.Q(actor_role="system"))
    )
    for pk, kind, data, created_at in events.values_list(
        "complaint_id", "kind", "data", "created_at"
    ):
        at = created_at
        if kind == "reply" and (data or {}).get("replied_at"):
            at = dt.datetime.fromisoformat(data["replied_at"])
        if pk not in first or at < first[pk]:
            first[pk] = at
    return first


def fill_in(apps, schema_editor) -> None:
    complaint_model = apps.get_model("complaints", "Complaint")
    event_model = apps.get_model("complaints", "ComplaintEvent")
    closures = frozenset(
        apps.get_model("complaints", "ClosureDay").objects.values_list("date", flat=True)
    )
    restarted = (
        complaint_model.objects.exclude(stage_started_at=F("received_at"))
        .filter(first_response_due_at__isnull=True)
        .order_by("pk")
        .values_list("pk", "received_at", "nation", "responded_at")
    )
    connection = connections[complaint_model.objects.db]
    adapt = connection.ops.adapt_datetimefield_value
    table = connection.ops.quote_name(complaint_model._meta.db_table)
    sql = (
        f"UPDATE {table} SET first_response_due_at = %s, first_responded_at = %s "  # noqa: S608
        "WHERE id = %s"
    )
    calendars: dict = {}  # one per nation, each built once
    last = 0
    while True:
        rows = list(restarted.filter(pk__gt=last)[:CHUNK])
        if not rows:
            return
        last = rows[-1][0]
        answers = _first_answers(event_model, [row[0] for row in rows])
        filled = []
        for pk, received_at, nation, responded_at in rows:
            if nation not in calendars:
                calendars[nation] = calendar_for(nation, closures)
            day = calendars[nation].add_working_days(
                clocks.london_date(received_at), settings.RESPONSE_WORKING_DAYS
            )
            found = [at for at in (answers.get(pk), responded_at) if at is not None]
            filled.append((adapt(clocks.end_of_day(day)), adapt(min(found)) if found else None, pk))
        # One statement sent for each case: bulk_update's CASE over a chunk took four fifths of
        # the time (19 of 23 s for the bench database's 25,000 cases).
        with connection.cursor() as cursor:
            cursor.executemany(sql, filled)


class Migration(migrations.Migration):
    dependencies = [("complaints", "0028_complaint_customer_wrote_at")]

    operations = [
        migrations.AddField(
            model_name="complaint",
            name="first_response_due_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="complaint",
            name="first_responded_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.RunPython(fill_in, migrations.RunPython.noop),
    ]
