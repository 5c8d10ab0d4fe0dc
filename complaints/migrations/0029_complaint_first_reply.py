"""The first reply the customer was owed, kept when the stage clock restarts.

Two nullable columns, added without a default (no table rewrite). A case whose clock has never
restarted needs nothing: its first reply is its stage's own. Cases already restarted (escalated,
made formal or reopened; 25,000 of the bench database's million) are filled in here with what
the live code would have kept:

- stage 1's deadline: the date the acknowledgement letter gave (its context keeps it), or, where
  the letter no longer says (anonymised), worked out again from when the complaint was received;
- the first reply: the case's timeline replayed stage by stage with the live rules. A reply
  counts while the stage awaits one at stage 1, 2 or 3 (``complaint_record_reply``), at the time
  given for it; a resolution, or a deadlock letter from staff, answers a stage not yet answered
  (``Complaint.answer_stage``); the ADR clock's deadlock letter answers nothing.

Run before the new code serves requests: a case the old code restarts afterwards keeps its first
reply only as its stage's own. Not reversed: dropping the columns loses nothing else.
"""

import datetime as dt

from django.conf import settings
from django.db import connections, migrations, models
from django.db.models import F

from complaints import clocks
from complaints.calendar import calendar_for

CHUNK = 1000
CLOCK_STATES = ("cs_team", "cs_manager", "formal_written")  # a stage's reply awaited


def first_reply(events) -> dt.datetime | None:
    """The first answer a case's timeline records, as the live code would have kept it, from its
    reply and transition events in the order they were written: the first stage's answer to
    come is the first reply."""
    state = "cs_team"
    for kind, transition, to_state, actor_role, data, created_at in events:
        if kind == "reply":
            if state in CLOCK_STATES:  # awaited: nothing before it answered the stage
                given = (data or {}).get("replied_at")
                return dt.datetime.fromisoformat(given) if given else created_at
            continue
        if transition == "resolve" or (
            transition == "issue_deadlock_letter" and actor_role != "system"
        ):
            return created_at
        state = to_state or state
    return None


def fill_in(apps, schema_editor) -> None:
    complaint_model = apps.get_model("complaints", "Complaint")
    event_model = apps.get_model("complaints", "ComplaintEvent")
    letter_model = apps.get_model("complaints", "Letter")
    closures = frozenset(
        apps.get_model("complaints", "ClosureDay").objects.values_list("date", flat=True)
    )
    alias = schema_editor.connection.alias if schema_editor else complaint_model.objects.db
    connection = connections[alias]
    adapt = connection.ops.adapt_datetimefield_value
    table = connection.ops.quote_name(complaint_model._meta.db_table)
    sql = (
        f"UPDATE {table} SET first_response_due_at = %s, first_responded_at = %s "  # noqa: S608
        "WHERE id = %s"
    )
    restarted = (
        complaint_model.objects.using(alias)
        .exclude(stage_started_at=F("received_at"))
        .filter(first_response_due_at__isnull=True)
        .order_by("pk")
        .values_list("pk", "received_at", "nation")
    )
    calendars: dict = {}  # one per nation, each built once
    last = 0
    while True:
        rows = list(restarted.filter(pk__gt=last)[:CHUNK])
        if not rows:
            return
        last = rows[-1][0]
        pks = [row[0] for row in rows]
        acknowledged = dict(
            letter_model.objects.using(alias)
            .filter(complaint_id__in=pks, kind="acknowledgement")
            .values_list("complaint_id", "context")
        )
        timelines: dict[int, list] = {}
        events = (
            event_model.objects.using(alias)
            .filter(complaint_id__in=pks, kind__in=("reply", "transition"))
            .order_by("complaint_id", "id")
            .values_list(
                "complaint_id", "kind", "transition", "to_state", "actor_role", "data", "created_at"
            )
        )
        for pk, *event in events:
            timelines.setdefault(pk, []).append(event)
        filled = []
        for pk, received_at, nation in rows:
            stated = (acknowledged.get(pk) or {}).get("response_due_date")
            if stated:
                day = dt.date.fromisoformat(stated)
            else:
                if nation not in calendars:
                    calendars[nation] = calendar_for(nation, closures)
                day = calendars[nation].add_working_days(
                    clocks.london_date(received_at), settings.RESPONSE_WORKING_DAYS
                )
            replied = first_reply(timelines.get(pk, []))
            filled.append((adapt(clocks.end_of_day(day)), adapt(replied) if replied else None, pk))
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
