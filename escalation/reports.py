"""The managers' figures for a period: complaints received from ``start`` to ``end`` inclusive
(Europe/London dates of ``received_at``).

Every function counts in the database (aggregate, annotate, values) and returns plain data. The
one exception is the median time to resolution in working days, which needs the calendar: it
streams (received, resolved) pairs and keeps only a histogram of day counts.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import (
    Case,
    CharField,
    Count,
    DateTimeField,
    Exists,
    ExpressionWrapper,
    F,
    OuterRef,
    Q,
    QuerySet,
    Value,
    When,
)
from django.db.models.functions import Cast, Coalesce, TruncDate
from django.utils import timezone

from complaints import clocks
from complaints.models import (
    OPEN_STATES,
    STAGE_OF_STATE,
    AdrOutcome,
    Category,
    Channel,
    Complaint,
    ComplaintEvent,
    EventKind,
    Letter,
    LetterKind,
    Nation,
    State,
)
from complaints.roles import staff_label
from complaints.selectors import Calendars

CHUNK = 2000

REPLIED_IN_TIME_HELP = (
    "Of the complaints received in the period whose reply clock has finished, the share answered "
    "by the end of the 15th working day. A clock has finished when a reply was recorded (a phone "
    "call logged, a written reply sent, the case resolved by staff or given a deadlock letter by "
    "the manager, which also answer the customer) or when its due date has passed without one. The "
    "deadlock letter the clock sends on the ADR date is not a reply: it says only that the time "
    "allowed has run out. Only the latest stage counts: an "
    "escalation starts a new 15-working-day clock, and the case is measured on that. Cases "
    "withdrawn by the customer before their reply was due are left out. Cases whose clock is still "
    "running are not counted yet. The first reply, from the day the complaint was received, is "
    "measured beside this one."
)
FIRST_REPLY_HELP = (
    "Of the complaints received in the period, the share whose first reply came by the end of the "
    "15th working day after the complaint was received, at whichever stage it came: an "
    "escalation does not restart this clock. A reply is a phone call logged, a written reply "
    "sent, the case resolved by staff or given a deadlock letter by the manager; the deadlock "
    "letter the ADR clock sends is not one. Cases withdrawn before the reply was due are left "
    "out, and cases still within their 15 working days with no reply are not counted yet."
)
MEDIAN_HELP = (
    "Working days from the day a complaint was received to the day it was resolved (UK bank "
    "holidays of the customer's nation and our closure days do not count), over the complaints "
    "received in the period that are resolved now or were closed after being resolved. Half took "
    "this long or less."
)
AGE_BUCKETS = (
    ("0-15", "0 to 15 working days", 15),
    ("16-40", "16 to 40 working days", 40),
    ("41-56", "41 to 56 working days", 56),
    ("57+", "More than 56 working days", None),
)


def received(start: dt.date, end: dt.date) -> QuerySet[Complaint]:
    """Complaints received on London dates ``start`` to ``end`` (served by
    complaint_received_idx)."""
    return Complaint.objects.filter(
        received_at__gte=clocks.start_of_day(start), received_at__lt=clocks.end_of_day(end)
    )


def _received_q(start: dt.date, end: dt.date, prefix: str = "") -> Q:
    return Q(
        **{
            f"{prefix}received_at__gte": clocks.start_of_day(start),
            f"{prefix}received_at__lt": clocks.end_of_day(end),
        }
    )


def _counts_by(start: dt.date, end: dt.date, field: str, choices) -> list[dict[str, Any]]:
    found = dict(
        received(start, end)
        .order_by()
        .values(field)
        .annotate(n=Count("id"))
        .values_list(field, "n")
    )
    return [{"key": key, "label": label, "count": found.get(key, 0)} for key, label in choices]


def received_by_channel(start: dt.date, end: dt.date) -> list[dict[str, Any]]:
    return _counts_by(start, end, "channel", Channel.choices)


def received_by_category(start: dt.date, end: dt.date) -> list[dict[str, Any]]:
    return _counts_by(start, end, "category", Category.choices)


@dataclass(frozen=True)
class ReplyClock:
    """A reply clock the figures measure, by the columns (or annotations) that hold its deadline
    and its answer: the latest stage's, or the first reply's."""

    due: str
    replied: str

    def ran_out(self, now: dt.datetime) -> Q:
        """Finished unanswered: the deadline passed with no reply (cases withdrawn before it are
        left out). Counted late, in the figures and the case list alike; for one case,
        ``Complaint.ran_out_unanswered`` and ``first_reply_ran_out``."""
        return Q(**{f"{self.replied}__isnull": True, f"{self.due}__lte": now}) & ~Q(
            withdrawn_at__isnull=False, withdrawn_at__lt=F(self.due)
        )

    def measured(self, now: dt.datetime) -> Q:
        """Finished: answered, or run out."""
        return Q(**{f"{self.replied}__isnull": False}) | self.ran_out(now)

    def in_time(self) -> Q:
        return Q(**{f"{self.replied}__lte": F(self.due)})

    def verdict(self, now: dt.datetime) -> Case:
        """The case list's column: "yes", "no" (late, or no reply at all), or "" (still running,
        or withdrawn before it was due)."""
        return Case(
            When(self.in_time(), then=Value("yes")),
            When(self.measured(now), then=Value("no")),
            default=Value(""),
            output_field=CharField(),
        )


LATEST_STAGE = ReplyClock(due="response_due_at", replied="responded_at")
# The first reply (Complaint.first_reply_due_at, .first_replied_at): kept in their own columns
# once the stage clock has restarted, the stage's own until then. Read as the annotations
# ``first_due`` and ``first_replied`` (FIRST_REPLY_ANNOTATIONS).
FIRST_REPLY = ReplyClock(due="first_due", replied="first_replied")
FIRST_REPLY_ANNOTATIONS = {
    "first_due": Coalesce("first_response_due_at", "response_due_at"),
    "first_replied": Coalesce("first_responded_at", "responded_at"),
}


def replied_in_time(start: dt.date, end: dt.date, *, now: dt.datetime | None = None) -> dict:
    """See ``REPLIED_IN_TIME_HELP``: measured, in time, late, and the share (None when nothing
    was measured); under ``first``, the same for the first reply (``FIRST_REPLY_HELP``). One
    pass over the period's complaints counts both."""
    now = now or timezone.now()
    figures = (
        received(start, end)
        .annotate(**FIRST_REPLY_ANNOTATIONS)
        .aggregate(
            **{
                f"{name}_{figure}": Count("id", filter=condition)
                for name, clock in (("latest", LATEST_STAGE), ("first", FIRST_REPLY))
                for figure, condition in (
                    ("measured", clock.measured(now)),
                    ("in_time", clock.in_time()),
                )
            }
        )
    )
    return {
        **_share(figures["latest_measured"], figures["latest_in_time"]),
        "first": _share(figures["first_measured"], figures["first_in_time"]),
    }


def _share(measured: int, in_time: int) -> dict:
    return {
        "measured": measured,
        "in_time": in_time,
        "late": measured - in_time,
        "share": (in_time / measured) if measured else None,
        "percent": percent_down(in_time, measured) if measured else None,
    }


def percent_down(part: int, whole: int) -> float:
    """A share as a percentage to one decimal place, rounded down, so 199 of 200 never shows as
    100%. The reports page and the CSV export both show this figure."""
    return math.floor(part * 1000 / whole) / 10


def median_working_days_to_resolution(start: dt.date, end: dt.date) -> dict:
    """See ``MEDIAN_HELP``: the median (None when nothing was resolved) and how many cases.

    The database counts the cases per (London day received, London day resolved, nation): a year
    of a million complaints is a few tens of thousands of such groups, each turned into working
    days once, rather than a quarter of a million rows read into Python."""
    calendars = Calendars.load()
    histogram: Counter[int] = Counter()
    groups = (
        received(start, end)
        .filter(resolved_at__isnull=False)
        .annotate(
            received_day=TruncDate("received_at", tzinfo=clocks.LONDON),
            resolved_day=TruncDate("resolved_at", tzinfo=clocks.LONDON),
        )
        .order_by()
        .values_list("received_day", "resolved_day", "nation")
        .annotate(n=Count("id"))
        .iterator(chunk_size=CHUNK)
    )
    for received_day, resolved_day, nation, n in groups:
        days = calendars.for_nation(nation).working_days_between(received_day, resolved_day)
        histogram[days] += n
    count = sum(histogram.values())
    return {"median": _median(histogram, count), "count": count}


def _median(histogram: Counter[int], count: int) -> float | None:
    if not count:
        return None

    def nth(n: int) -> int:  # the n-th smallest value, 0-based
        seen = 0
        for value in sorted(histogram):
            seen += histogram[value]
            if n < seen:
                return value
        raise AssertionError("unreachable")  # pragma: no cover

    middle = count // 2
    if count % 2:
        return float(nth(middle))
    return (nth(middle - 1) + nth(middle)) / 2


def escalations(start: dt.date, end: dt.date) -> dict[str, int]:
    """Escalation events on complaints received in the period: to stage 2 (escalated to the
    manager), to stage 3 (formal written complaint), and reopenings of resolved cases (which go
    to the manager too, and say the resolution did not hold). A case escalated twice counts
    twice."""
    found = dict(
        ComplaintEvent.objects.filter(
            _received_q(start, end, "complaint__"),
            kind=EventKind.TRANSITION,
            transition__in=("escalate_to_manager", "make_formal_complaint", "reopen"),
        )
        .order_by()
        .values("transition")
        .annotate(n=Count("id"))
        .values_list("transition", "n")
    )
    return {
        "to_stage_2": found.get("escalate_to_manager", 0),
        "to_stage_3": found.get("make_formal_complaint", 0),
        "reopened": found.get("reopen", 0),
    }


def deadlock_letters(start: dt.date, end: dt.date) -> dict[str, int]:
    """Deadlock letters on complaints received in the period: issued by a manager's decision, or
    by the ADR clock running out."""
    figures = Letter.objects.filter(
        _received_q(start, end, "complaint__"), kind=LetterKind.DEADLOCK
    ).aggregate(total=Count("id"), by_clock=Count("id", filter=Q(context__by_clock=True)))
    return {
        "total": figures["total"],
        "by_clock": figures["by_clock"],
        "by_decision": figures["total"] - figures["by_clock"],
    }


def cisas(start: dt.date, end: dt.date) -> dict[str, Any]:
    """CISAS referrals of complaints received in the period, the adjudications' outcomes, how
    many the customer accepted, and court actions."""
    cases = received(start, end)
    figures = cases.aggregate(
        referred=Count("id", filter=Q(adr_referred_on__isnull=False)),
        decided=Count("id", filter=~Q(adr_outcome="")),
        accepted=Count("id", filter=Q(adr_accepted_on__isnull=False)),
        court=Count("id", filter=Q(court_started_on__isnull=False)),
    )
    found = dict(
        cases.exclude(adr_outcome="")
        .order_by()
        .values("adr_outcome")
        .annotate(n=Count("id"))
        .values_list("adr_outcome", "n")
    )
    figures["outcomes"] = [
        {"key": key, "label": label, "count": found.get(key, 0)}
        for key, label in AdrOutcome.choices
    ]
    return figures


def _earliest_received_with_age_at_most(calendar, today: dt.date, days: int) -> dt.date:
    """The earliest date a complaint received on is at most ``days`` working days old today."""
    day = today
    while calendar.working_days_between(day - dt.timedelta(days=1), today) <= days:
        day -= dt.timedelta(days=1)
    return day


def open_by_age(start: dt.date, end: dt.date, *, today: dt.date | None = None) -> list[dict]:
    """Complaints received in the period and open today, by working days since they were
    received (in each case's own nation's calendar)."""
    today = today or clocks.london_date(timezone.now())
    calendars = Calendars.load()
    whens = []
    for nation in Nation.values:
        calendar = calendars.for_nation(nation)
        for key, _label, limit in AGE_BUCKETS:
            if limit is None:
                continue
            earliest = _earliest_received_with_age_at_most(calendar, today, limit)
            whens.append(
                When(
                    nation=nation,
                    received_at__gte=clocks.start_of_day(earliest),
                    then=Value(key),
                )
            )
    found = dict(
        received(start, end)
        .filter(state__in=OPEN_STATES)
        .annotate(age=Case(*whens, default=Value(AGE_BUCKETS[-1][0]), output_field=CharField()))
        .order_by()
        .values("age")
        .annotate(n=Count("id"))
        .values_list("age", "n")
    )
    return [
        {"key": key, "label": label, "count": found.get(key, 0)} for key, label, _ in AGE_BUCKETS
    ]


def summary(start: dt.date, end: dt.date, *, now: dt.datetime | None = None) -> dict[str, Any]:
    """Every figure on the reports page."""
    now = now or timezone.now()
    by_channel = received_by_channel(start, end)
    return {
        "start": start,
        "end": end,
        "total": sum(row["count"] for row in by_channel),
        "by_channel": by_channel,
        "by_category": received_by_category(start, end),
        "replied_in_time": replied_in_time(start, end, now=now),
        "resolution": median_working_days_to_resolution(start, end),
        "escalations": escalations(start, end),
        "deadlock_letters": deadlock_letters(start, end),
        "cisas": cisas(start, end),
        "open_by_age": open_by_age(start, end, today=clocks.london_date(now)),
    }


def figure_rows(figures: dict[str, Any]) -> Iterator[list[Any]]:
    """The figures as (section, item, value) rows, for the CSV export."""
    period = f"{figures['start'].isoformat()} to {figures['end'].isoformat()}"
    yield ["Period", "Complaints received", period]
    yield ["Received", "Total", figures["total"]]
    for row in figures["by_channel"]:
        yield ["Received by channel", row["label"], row["count"]]
    for row in figures["by_category"]:
        yield ["Received by category", row["label"], row["count"]]
    replies = figures["replied_in_time"]
    yield ["Replies", "Measured", replies["measured"]]
    yield ["Replies", "Replied within 15 working days (at the latest stage)", replies["in_time"]]
    yield ["Replies", "Replied late or not at all", replies["late"]]
    # The page's figure, rounded the same way.
    percent = replies["percent"]
    yield ["Replies", "Share replied in time (%)", "" if percent is None else percent]
    first = replies["first"]
    yield ["First replies", "Measured", first["measured"]]
    yield ["First replies", "First reply within 15 working days of the complaint", first["in_time"]]
    yield ["First replies", "First reply late or not at all", first["late"]]
    percent = first["percent"]
    yield [
        "First replies",
        "Share with a first reply in time (%)",
        "" if percent is None else percent,
    ]
    resolution = figures["resolution"]
    yield ["Resolution", "Resolved cases", resolution["count"]]
    median = resolution["median"]
    yield ["Resolution", "Median working days to resolution", "" if median is None else median]
    yield ["Escalations", "To stage 2 (manager)", figures["escalations"]["to_stage_2"]]
    yield ["Escalations", "To stage 3 (formal written)", figures["escalations"]["to_stage_3"]]
    yield ["Escalations", "Reopened after resolution", figures["escalations"]["reopened"]]
    letters = figures["deadlock_letters"]
    yield ["Deadlock letters", "By a manager's decision", letters["by_decision"]]
    yield ["Deadlock letters", "By the ADR clock", letters["by_clock"]]
    yield ["Deadlock letters", "Total", letters["total"]]
    adr = figures["cisas"]
    yield ["CISAS", "Referred", adr["referred"]]
    yield ["CISAS", "Decided", adr["decided"]]
    for row in adr["outcomes"]:
        yield ["CISAS outcome", row["label"], row["count"]]
    yield ["CISAS", "Decision accepted by the customer", adr["accepted"]]
    yield ["Court", "Court action started", adr["court"]]
    for row in figures["open_by_age"]:
        yield ["Open today by age", row["label"], row["count"]]


CASE_COLUMNS = [
    "Reference",
    "Received (date)",
    "Channel",
    "Category",
    "Status",
    "Stage",
    "Vulnerable",
    "Assigned to",
    "Reply due (date)",
    "Replied (date)",
    "Replied in time",
    "First reply due (date)",
    "First replied (date)",
    "First reply in time",
    "Escalated to stage 2",
    "Formal written complaint (stage 3)",
    "Reopened",
    "Resolved (date)",
    "Working days to resolution",
    "Deadlock letter (date)",
    "Deadlock letter by",
    "CISAS reference",
    "CISAS referred (date)",
    "CISAS outcome",
    "CISAS decision accepted (date)",
    "Court action (date)",
    "Closed (date)",
    "Withdrawn (date)",
]


def _day(field: str | Any) -> Any:
    """The London date of a timestamp as ``YYYY-MM-DD`` text (NULL stays NULL), worked out by the
    database: a year of cases has a few million of them, too many to convert one by one here."""
    return Cast(TruncDate(field, tzinfo=clocks.LONDON), CharField())


def _due_day(field: str) -> Any:
    """``_day`` of a deadline, as clocks.due_date gives it: the London day of the last instant
    before the stored deadline (the end of the day it is due)."""
    return _day(
        ExpressionWrapper(
            F(field) - Value(dt.timedelta(microseconds=1)), output_field=DateTimeField()
        )
    )


def case_rows(start: dt.date, end: dt.date) -> Iterator[list[Any]]:
    """One row per complaint received in the period, oldest first, streamed from the database in
    chunks so a year of cases never sits in memory. No names or contact details: the reference
    leads back to the case for anyone allowed to see it. Dates come from the database as text;
    working days to resolution are worked out once per (nation, received, resolved) days."""
    now = timezone.now()
    calendars = Calendars.load()
    states = dict(State.choices)
    channels = dict(Channel.choices)
    categories = dict(Category.choices)
    outcomes = dict(AdrOutcome.choices)
    # Everyone who can be assigned a case, named as the case page's assign list names them: a
    # few dozen rows read once, rather than a join on each of a year's cases.
    staff = {
        user.pk: staff_label(user)
        for user in get_user_model().objects.only("first_name", "last_name", "username")
    }

    def transition(name: str) -> Exists:
        return Exists(
            ComplaintEvent.objects.filter(
                complaint=OuterRef("pk"), kind=EventKind.TRANSITION, transition=name
            )
        )

    # As the figures count them: "Deadlock letters" split by who issued them, "Escalations" by
    # the stage reached, so each figure is the count of its column's "yes" or "ADR clock".
    deadlock_by_clock = Exists(
        Letter.objects.filter(
            complaint=OuterRef("pk"), kind=LetterKind.DEADLOCK, context__by_clock=True
        )
    )
    rows = (
        received(start, end)
        .annotate(
            escalated=transition("escalate_to_manager"),
            formal=transition("make_formal_complaint"),
            reopened=transition("reopen"),
            deadlock_by_clock=deadlock_by_clock,
            received_day=_day("received_at"),
            due_day=_due_day("response_due_at"),
            replied_day=_day("responded_at"),
            in_time=LATEST_STAGE.verdict(now),
            **FIRST_REPLY_ANNOTATIONS,
            first_due_day=_due_day("first_due"),
            first_replied_day=_day("first_replied"),
            first_in_time=FIRST_REPLY.verdict(now),
            resolved_day=_day("resolved_at"),
            deadlock_day=_day("deadlock_issued_at"),
            closed_day=_day("closed_at"),
            withdrawn_day=_day("withdrawn_at"),
            referred_text=Cast("adr_referred_on", CharField()),
            accepted_text=Cast("adr_accepted_on", CharField()),
            court_text=Cast("court_started_on", CharField()),
        )
        .order_by("received_at", "id")
        .values_list(
            "reference",
            "received_day",
            "channel",
            "category",
            "state",
            "vulnerable",
            "assigned_to_id",
            "due_day",
            "replied_day",
            "in_time",
            "first_due_day",
            "first_replied_day",
            "first_in_time",
            "escalated",
            "formal",
            "reopened",
            "resolved_day",
            "nation",
            "deadlock_day",
            "deadlock_by_clock",
            "cisas_reference",
            "referred_text",
            "adr_outcome",
            "accepted_text",
            "court_text",
            "closed_day",
            "withdrawn_day",
        )
        .iterator(chunk_size=CHUNK)
    )
    working_days: dict[tuple[str, str, str], int] = {}

    def days_to_resolution(nation: str, received_day: str, resolved_day: str) -> int:
        key = (nation, received_day, resolved_day)
        if key not in working_days:
            working_days[key] = calendars.for_nation(nation).working_days_between(
                dt.date.fromisoformat(received_day), dt.date.fromisoformat(resolved_day)
            )
        return working_days[key]

    for (
        reference,
        received_day,
        channel,
        category,
        state,
        vulnerable,
        assignee_id,
        due_day,
        replied_day,
        in_time,
        first_due_day,
        first_replied_day,
        first_in_time,
        was_escalated,
        was_formal,
        was_reopened,
        resolved_day,
        nation,
        deadlock_day,
        by_clock,
        cisas_reference,
        referred_on,
        outcome,
        accepted_on,
        court_on,
        closed_day,
        withdrawn_day,
    ) in rows:
        yield [
            reference,
            received_day,
            channels.get(channel, channel),
            categories.get(category, category),
            states.get(state, state),
            STAGE_OF_STATE.get(state, ""),
            "yes" if vulnerable else "no",
            staff.get(assignee_id, ""),
            due_day or "",
            replied_day or "",
            in_time,
            first_due_day or "",
            first_replied_day or "",
            first_in_time,
            "yes" if was_escalated else "no",
            "yes" if was_formal else "no",
            "yes" if was_reopened else "no",
            resolved_day or "",
            "" if resolved_day is None else days_to_resolution(nation, received_day, resolved_day),
            deadlock_day or "",
            ("ADR clock" if by_clock else "Manager") if deadlock_day else "",
            cisas_reference,
            referred_on or "",
            outcomes.get(outcome, ""),
            accepted_on or "",
            court_on or "",
            closed_day or "",
            withdrawn_day or "",
        ]


def bar_chart(rows: list[dict[str, Any]], *, title: str, unit: str = "") -> dict[str, Any]:
    """Geometry for a horizontal bar chart drawn as inline SVG by the template: one bar per row,
    scaled to the largest value, with the value printed at the end of each bar."""
    label_width, bar_width, row_height, gap = 210, 330, 26, 8
    largest = max((row["count"] for row in rows), default=0)
    bars = []
    for i, row in enumerate(rows):
        length = round(bar_width * row["count"] / largest) if largest else 0
        y = i * (row_height + gap)
        bars.append(
            {
                **row,
                "y": y,
                "text_y": y + row_height * 0.68,
                "width": max(length, 2 if row["count"] else 0),
                "value_x": label_width + max(length, 0) + 6,
            }
        )
    return {
        "title": title,
        "unit": unit,
        "rows": bars,
        "label_width": label_width,
        "label_x": label_width - 8,
        "row_height": row_height,
        "width": label_width + bar_width + 50,
        "height": max(len(rows) * (row_height + gap) - gap, row_height),
        "description": "; ".join(f"{row['label']}: {row['count']}{unit}" for row in rows),
    }
