"""Reads for pages and the API: each a fixed number of queries whatever the page length."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.db.models import (
    BooleanField,
    Case,
    F,
    Prefetch,
    Q,
    QuerySet,
    Value,
    When,
)
from django.db.models.fields.json import KT
from django.db.models.functions import Lower, Replace
from django.db.models.lookups import Contains, StartsWith
from django.utils import timezone

from . import clocks, keyset
from .calendar import calendar_for
from .models import (
    CLOCK_STATES,
    OPEN_STATES,
    Attachment,
    Complaint,
    ComplaintEvent,
    Letter,
    State,
)
from .roles import AGENTS_GROUP, MANAGERS_GROUP

# The queue's "state" filter: stage 1 by default, any one open state, or wider.
ALL_OPEN = "open"
ALL_CASES = "all"


def overdue_q(now: dt.datetime) -> Q:
    """The same rule as ``Complaint.is_overdue``, as a query."""
    return Q(state__in=CLOCK_STATES, responded_at__isnull=True, response_due_at__lte=now)


def awaiting_reply_q() -> Q:
    """The same rule as ``Complaint.awaiting_reply``, as a query: a stage's reply clock is
    running. A case out of the stages (a deadlock letter the ADR clock sent, a withdrawal) has
    no reply due, whatever its ``responded_at`` says."""
    return Q(state__in=CLOCK_STATES, responded_at__isnull=True)


def with_overdue(cases: QuerySet[Complaint], now: dt.datetime) -> QuerySet[Complaint]:
    return cases.annotate(
        overdue=Case(
            When(overdue_q(now), then=Value(True)), default=False, output_field=BooleanField()
        )
    )


WHOLE_REFERENCE = re.compile(r"CMP-\d{4}-\d{6,}", re.IGNORECASE)
# A phone number as people write and read it out: digits with spaces, dashes, brackets, dots, a
# leading "+"; at least six digits, fewer would match too many numbers.
PHONE_LIKE = re.compile(r"\+?[\d\s().\-]*")
PHONE_MIN_DIGITS = 6


def _phone_digits(expression):
    """A phone number's digits alone, as stored numbers are compared with what was typed
    (complaint_phone_trgm_idx is on this expression)."""
    for sign in (" ", "-", "(", ")", ".", "+"):
        expression = Replace(expression, Value(sign), Value(""))
    return expression


PHONE_DIGITS = _phone_digits(F("phone"))


def phone_q(text: str) -> Q | None:
    """Cases whose phone number holds the number typed, however either is spaced, and whether
    it is written +44 or 0 (a caller's number as the phone shows it, or as they read it out);
    None when the text is not a phone number."""
    if not PHONE_LIKE.fullmatch(text):
        return None
    digits = re.sub(r"\D", "", text)
    if text.startswith("+44") or (text.startswith("44") and len(digits) >= 12):
        digits = digits[2:]
    digits = digits.lstrip("0")  # the number after the trunk 0 or country code: +44 7700 = 07700
    if len(digits) < PHONE_MIN_DIGITS:
        return None
    return Q(Contains(PHONE_DIGITS, digits))


def search_q(text: str) -> Q:
    """Reference, customer name, e-mail, phone number or account number; any part of each
    (served by the complaint_*_trgm_idx trigram indexes on PostgreSQL). A phone number is
    compared by its digits alone (``phone_q``).

    A whole reference, what a customer on the phone reads out, is looked up by the reference's
    unique index: every reference of a year shares most of its trigrams, so the trigram index
    would read the posting lists of hundreds of thousands of cases to find one.

    An e-mail address, or its beginning up to and past the "@", is what a customer spells out on
    the phone: it matches the addresses that start with it, whatever the case, by
    complaint_email_idx (a range of one B-tree, where the e-mail trigram index reads the posting
    lists of every address that shares a trigram with it: "customer", "@ex", ".co"). Names,
    references and account numbers hold no "@". Text that starts with "@" (a domain) is still
    found anywhere in the address."""
    text = text.strip()
    if WHOLE_REFERENCE.fullmatch(text):
        return Q(reference=text.upper())
    if "@" in text[1:]:
        return Q(StartsWith(Lower("email"), text.lower()))
    found = (
        Q(reference__icontains=text)
        | Q(customer_name__icontains=text)
        | Q(email__icontains=text)
        | Q(account_number__icontains=text)
    )
    phone = phone_q(text)
    return found | phone if phone is not None else found


def queue_states(state: str) -> tuple[str, ...] | None:
    """The states the agents' queue's status filter stands for; None for every case."""
    if state == ALL_OPEN:
        return tuple(OPEN_STATES)
    if state and state != ALL_CASES:
        return (state,)
    return None


def agent_queue(
    *,
    user=None,
    state: str = State.CS_TEAM,
    category: str = "",
    channel: str = "",
    assigned: str = "",
    overdue: bool = False,
    vulnerable: bool = False,
    q: str = "",
    now: dt.datetime | None = None,
) -> QuerySet[Complaint]:
    """The agents' queue: open stage-1 cases by default, those awaiting a reply first, each group
    by reply due date (served by complaint_queue_idx and complaint_assignee_idx)."""
    now = now or timezone.now()
    cases = Complaint.objects.all()
    states = queue_states(state)
    if states is not None:
        cases = cases.filter(state__in=states)
    if category:
        cases = cases.filter(category=category)
    if channel:
        cases = cases.filter(channel=channel)
    if assigned == "me" and user is not None:
        cases = cases.filter(assigned_to=user)
    elif assigned == "unassigned":
        cases = cases.filter(assigned_to__isnull=True)
    if overdue:
        cases = cases.filter(overdue_q(now))
    if vulnerable:
        cases = cases.filter(vulnerable=True)
    if q.strip():
        cases = cases.filter(search_q(q))
    return (
        with_overdue(cases, now)
        .select_related("assigned_to")
        .order_by(*awaiting_reply_first_order())
    )


def awaiting_reply_first(
    *, descending: bool = False, states: Iterable[str] | None = None, overdue: bool = False
) -> list[keyset.Segment]:
    """Cases still waiting for a reply first, by reply due date (soonest first, or latest with
    ``descending``), then the rest (replied, or out of the stages, with no reply due), as keyset
    segments (complaints/keyset.py) for the pages. Served by complaint_awaiting_reply_idx,
    complaint_open_queue_idx and complaint_due_idx, whose included state and responded_at
    columns test the condition.

    ``states``, the states the list is already limited to, and ``overdue``, whether it is
    limited to overdue cases: where they already say which cases wait for a reply, the segments
    do not test it again. PostgreSQL takes a state test repeated in one query as far rarer than
    it is: for "all open, overdue only" it read and sorted every overdue case (70 ms) instead of
    reading the first 26 by the index's order."""
    if overdue:  # every case listed waits for a reply
        return keyset.ordered_by("response_due_at", descending=descending)
    waiting = awaiting_reply_q()
    if states is not None and set(states) <= set(CLOCK_STATES):
        waiting = Q(responded_at__isnull=True)  # the list's states are the stages'
    return [
        *keyset.ordered_by(
            "response_due_at", waiting, lambda c: c.awaiting_reply, descending=descending
        ),
        *keyset.ordered_by(
            "response_due_at", ~waiting, lambda c: not c.awaiting_reply, descending=descending
        ),
    ]


def awaiting_reply_first_order(*, descending: bool = False) -> list:
    """``awaiting_reply_first`` as one ORDER BY, for a list that fits on one page or is read by
    offset."""
    due = F("response_due_at")
    return [
        Case(When(awaiting_reply_q(), then=Value(0)), default=Value(1)),
        due.desc(nulls_last=True) if descending else due.asc(nulls_last=True),
        "-id" if descending else "id",
    ]


def agent_queue_segments(*, state: str = State.CS_TEAM, overdue: bool = False, **filters) -> list:
    """``awaiting_reply_first`` for the agents' queue with these filters (``agent_queue``'s):
    only its status and overdue filters change which segments there are; the others narrow the
    rows, not the order."""
    return awaiting_reply_first(states=queue_states(state), overdue=overdue)


@dataclass(frozen=True)
class Calendars:
    """Working-day calendars for every nation, with the closure days read once per page."""

    closures: frozenset[dt.date]

    @classmethod
    def load(cls) -> Calendars:
        return cls(clocks.closure_days())

    def for_nation(self, nation: str):
        return calendar_for(nation, self.closures)

    def working_days_left(self, complaint: Complaint, now: dt.datetime) -> int | None:
        due = clocks.due_date(complaint.response_due_at)
        if due is None:
            return None
        return self.for_nation(complaint.nation).working_days_between(clocks.london_date(now), due)


def with_days_left(
    cases: Iterable[Complaint], now: dt.datetime, calendars: Calendars | None = None
) -> list[Complaint]:
    """Give each case ``days_left`` (working days to its reply due date; negative once overdue)
    while its stage clock runs, else None. One query for the closure days, whatever the count."""
    cases = list(cases)
    calendars = calendars or Calendars.load()
    for case in cases:
        running = case.awaiting_reply
        case.days_left = calendars.working_days_left(case, now) if running else None
        case.days_overdue = -case.days_left if case.days_left is not None else None
    return cases


def staff_members() -> QuerySet:
    """Everyone a case can be assigned to: active agents, managers and administrators."""
    return (
        get_user_model()
        .objects.filter(is_active=True)
        .filter(Q(groups__name__in=[AGENTS_GROUP, MANAGERS_GROUP]) | Q(is_superuser=True))
        .distinct()
        .order_by("first_name", "last_name", "username")
    )


def recent_same_complaint(*, email: str, description: str, since: dt.datetime) -> Complaint | None:
    """A complaint with the same e-mail address and the same text logged since ``since``: the
    same letter or call logged twice (a page sent again after Back). Served by
    complaint_email_idx (lower(email)); a customer has few complaints."""
    return (
        Complaint.objects.alias(email_lower=Lower("email"))
        .filter(email_lower=email.strip().lower(), created_at__gte=since)
        .filter(description=description.strip())
        .order_by("-created_at")
        .only("reference", "created_at")
        .first()
    )


def case_timeline(complaint: Complaint) -> QuerySet[ComplaintEvent]:
    """Every event on the case, oldest first, with who did it and the files that came with it
    (served by event_timeline_idx; three queries). The few people who acted on a case are read
    once each, not once per event: a 200-event timeline makes a handful of user objects, not
    200."""
    return (
        ComplaintEvent.objects.filter(complaint=complaint)
        .prefetch_related(
            "actor", Prefetch("attachments", queryset=Attachment.objects.order_by("id"))
        )
        .order_by("created_at", "id")
    )


def case_timeline_heads(complaint: Complaint):
    """The few columns of each event that its timeline entry's heading and author come from
    (served by event_timeline_idx): (id, kind, transition, actor_id, actor_role, actor_name,
    reply label)."""
    return (
        ComplaintEvent.objects.filter(complaint=complaint)
        .order_by("created_at", "id")
        .values_list(
            "id", "kind", "transition", "actor_id", "actor_role", "actor_name", KT("data__label")
        )
    )


def people(ids) -> dict:
    """Users by id, in one query: the few people who acted on a case."""
    wanted = {pk for pk in ids if pk is not None}
    if not wanted:
        return {}
    return {user.pk: user for user in get_user_model().objects.filter(pk__in=wanted)}


def case_letters(complaint: Complaint) -> QuerySet[Letter]:
    return (
        Letter.objects.filter(complaint=complaint)
        .select_related("issued_by", "posted_by")
        .order_by("issued_at", "id")
    )


def case_attachments(complaint: Complaint) -> QuerySet[Attachment]:
    return (
        Attachment.objects.filter(complaint=complaint).with_sender().order_by("uploaded_at", "id")
    )


def letters_to_post() -> QuerySet[Letter]:
    """Letters waiting to go by post, oldest first (``letter_to_post_idx``), with their complaint.
    Removing a customer's personal data takes their letters off it (``privacy``)."""
    return (
        Letter.objects.filter(to_post=True, posted_at__isnull=True)
        .select_related("complaint")
        .order_by("issued_at", "id")
    )
