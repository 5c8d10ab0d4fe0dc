"""Reads for the managers' queue: each section a fixed number of queries whatever its length."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import Q, QuerySet

from complaints import clocks, keyset
from complaints.models import ADR_CLOCK_RUNNING, Complaint, Nation, State
from complaints.selectors import (
    Calendars,
    awaiting_reply_first,
    awaiting_reply_first_order,
    overdue_q,
    with_overdue,
)

# Stages 2 and 3: the managers' "escalated" section.
ESCALATED_STATES = (State.CS_MANAGER, State.FORMAL_WRITTEN)

ADR_SOON_WORKING_DAYS = 10


@dataclass(frozen=True)
class Section:
    key: str
    title: str
    help: str
    date_label: str  # the column that matters most in this section


SECTIONS = (
    Section(
        "escalated",
        "Stages 2 and 3",
        "Escalated and formal written complaints, those waiting for a reply first, the reply due "
        "soonest at the top.",
        "Reply due",
    ),
    Section(
        "overdue",
        "Overdue",
        "Every case past its reply due date without a reply, at any stage, across the team.",
        "Reply due",
    ),
    Section(
        "adr_soon",
        "ADR date soon",
        f"Cases still with us whose ADR date is within {ADR_SOON_WORKING_DAYS} working days (or "
        "has passed): on that date the deadlock letter is issued automatically.",
        "ADR date",
    ),
    Section(
        "deadlock",
        "Deadlock",
        "Deadlock letter issued: the customer may refer the complaint to CISAS for 12 months.",
        "CISAS deadline",
    ),
    Section("cisas", "With CISAS", "Referred to CISAS, waiting for the adjudication.", "Referred"),
    Section(
        "remedies",
        "Remedies due",
        "Adjudications the customer accepted whose remedy is not yet recorded as done.",
        "Remedy due",
    ),
    Section("court", "In court", "Court action has started.", "Court action started"),
)
SECTION_KEYS = tuple(s.key for s in SECTIONS)


def adr_soon_q(today: dt.date, calendars: Calendars) -> Q:
    """Cases whose ADR clock runs out within the next 10 working days of their own nation
    (served by complaint_adr_sweep_idx, list and count)."""
    by_nation = Q()
    limits = []
    for nation in Nation.values:
        limit = calendars.for_nation(nation).add_working_days(today, ADR_SOON_WORKING_DAYS)
        limits.append(limit)
        by_nation |= Q(nation=nation, adr_eligible_date__lte=limit)
    # The latest of the limits bounds the index range; the nations' own limits filter within it.
    return ADR_CLOCK_RUNNING & Q(adr_eligible_date__lte=max(limits)) & by_nation


def section_filters(now: dt.datetime, calendars: Calendars) -> dict[str, Q]:
    today = clocks.london_date(now)
    return {
        "escalated": Q(state__in=ESCALATED_STATES),
        "overdue": overdue_q(now),
        "adr_soon": adr_soon_q(today, calendars),
        "deadlock": Q(state=State.DEADLOCK),
        "cisas": Q(state=State.ADR_REFERRED),
        "remedies": Q(remedy_due_date__isnull=False, remedy_completed_at__isnull=True),
        "court": Q(state=State.COURT),
    }


def section_counts(now: dt.datetime, calendars: Calendars) -> dict[str, int]:
    """How many cases each section holds: one count per section, each read from an index alone
    (complaint_queue_idx, complaint_awaiting_reply_idx, the sections'
    own), a few milliseconds each at a million complaints. One aggregate with a FILTER per
    section would have to read every open case's row."""
    return {
        key: Complaint.objects.filter(condition).count()
        for key, condition in section_filters(now, calendars).items()
    }


ORDERING = {
    "escalated": tuple(awaiting_reply_first_order()),
    "overdue": ("response_due_at", "id"),
    "adr_soon": ("adr_eligible_date", "id"),
    "deadlock": ("deadlock_issued_at", "id"),
    "cisas": ("adr_referred_on", "id"),
    "remedies": ("remedy_due_date", "id"),
    "court": ("court_started_on", "id"),
}


# The same orders as keyset segments (complaints/keyset.py), for the pages.
SEGMENTS = {
    "escalated": awaiting_reply_first(states=ESCALATED_STATES),
    "overdue": keyset.ordered_by("response_due_at", nullable=False),
    "adr_soon": keyset.ordered_by("adr_eligible_date", nullable=False),
    "deadlock": keyset.ordered_by("deadlock_issued_at"),
    "cisas": keyset.ordered_by("adr_referred_on"),
    "remedies": keyset.ordered_by("remedy_due_date", nullable=False),
    "court": keyset.ordered_by("court_started_on"),
}


def section_cases(key: str, now: dt.datetime, calendars: Calendars) -> QuerySet[Complaint]:
    condition = section_filters(now, calendars)[key]
    return (
        with_overdue(Complaint.objects.filter(condition), now)
        .select_related("assigned_to")
        .order_by(*ORDERING[key])
    )
