"""The procedure's clock rules, from settings and the working-day calendar.

All clock dates are Europe/London dates; instants are stored in UTC. Everything that derives a
deadline goes through here, so the pages, the API, the letters and the sweeps agree to the day.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from django.conf import settings

from .calendar import WorkingDayCalendar, calendar_for

LONDON = ZoneInfo("Europe/London")
OFCOM_ADR_DAYS = 56  # General Condition C4 and CISAS: 8 calendar weeks


def london_date(instant: dt.datetime) -> dt.date:
    return instant.astimezone(LONDON).date()


def start_of_day(day: dt.date) -> dt.datetime:
    """The instant a London day begins (midnight local time, whatever the clocks are doing)."""
    return dt.datetime.combine(day, dt.time.min, tzinfo=LONDON).astimezone(dt.UTC)


def end_of_day(day: dt.date) -> dt.datetime:
    """The first instant after a London day: "due by the end of day D" means due before this."""
    return start_of_day(day + dt.timedelta(days=1))


def closure_days() -> frozenset[dt.date]:
    """The company's closure days: read for every filing and clock date, so written out (through
    a queryset, this small read cost 3 % of a web filing's CPU)."""
    from django.db import connections, router

    from .models import ClosureDay

    using = router.db_for_read(ClosureDay)
    connection = connections[using]
    table = connection.ops.quote_name(ClosureDay._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT date FROM {table}")  # noqa: S608 (the model's own table)
        rows = cursor.fetchall()
    # Dates on both engines: Django's SQLite connection converts a DATE column's text itself.
    return frozenset(day for (day,) in rows)


def calendar(nation: str | None = None) -> WorkingDayCalendar:
    """The working-day calendar for a nation, with the company's closure days (one small query)."""
    return calendar_for(nation or settings.WORKING_DAYS_NATION, closure_days())


def response_due_at(
    stage_started: dt.datetime, nation: str, *, cal: WorkingDayCalendar | None = None
) -> dt.datetime:
    """A reply is due by the end of the Nth working day after the stage started (day 0).
    ``cal``: the nation's calendar when the caller already has it (it saves a query)."""
    day = (cal or calendar(nation)).add_working_days(
        london_date(stage_started), settings.RESPONSE_WORKING_DAYS
    )
    return end_of_day(day)


def due_date(due_at: dt.datetime | None) -> dt.date | None:
    """The London date a reply is due on, from the stored end-of-day instant."""
    if due_at is None:
        return None
    return london_date(due_at - dt.timedelta(microseconds=1))


def adr_eligible_date(
    received_at: dt.datetime,
    nation: str,
    policy: str | None = None,
    *,
    cal: WorkingDayCalendar | None = None,
) -> dt.date:
    """The day the customer may take the complaint to CISAS, by the configured policy."""
    received = london_date(received_at)
    policy = policy or settings.ADR_CLOCK
    if policy == "8-weeks":
        return received + dt.timedelta(days=OFCOM_ADR_DAYS)
    return (cal or calendar(nation)).add_working_days(received, 56)


def remedy_due_date(accepted_on: dt.date, nation: str) -> dt.date:
    return calendar(nation).add_working_days(accepted_on, settings.REMEDY_WORKING_DAYS)


def cisas_deadline(deadlock_on: dt.date) -> dt.date:
    """CISAS accepts a case for 12 months after the deadlock letter (29 Feb maps to 28 Feb)."""
    try:
        return deadlock_on.replace(year=deadlock_on.year + 1)
    except ValueError:
        return deadlock_on.replace(year=deadlock_on.year + 1, day=28)


def working_days_left(due_at: dt.datetime | None, now: dt.datetime, nation: str) -> int | None:
    """Working days from today until the due date: 0 on the day itself, negative once overdue."""
    due = due_date(due_at)
    if due is None:
        return None
    return calendar(nation).working_days_between(london_date(now), due)
