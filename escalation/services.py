"""The clock sweeps: overdue replies, the ADR clock and auto-close.

Each sweep finds due cases with one indexed query per batch and locks them with
``SELECT ... FOR UPDATE SKIP LOCKED``, so two sweeps running at once (a retried beat tick, two
workers) take different cases and never act on one twice; a case, once acted on, no longer matches
the query. Each batch commits on its own, so a crash loses at most the batch in hand, which the
next tick picks up again.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from complaints import clocks
from complaints.models import CLOCK_STATES, Complaint, ComplaintEvent, EventKind, State
from complaints.roles import Actor, Role
from complaints.services import complaints_fire_locked_batch

BATCH_SIZE = 500
SYSTEM = Actor.system()


def sweep_overdue_replies(*, now: dt.datetime | None = None, batch_size: int = BATCH_SIZE) -> int:
    """Flag every case whose stage reply is overdue, exactly once, with an internal event.

    Returns how many cases this call flagged."""
    now = now or timezone.now()
    flagged = 0
    while True:
        with transaction.atomic():
            # Served by complaint_overdue_sweep_idx (partial: clock running and not yet flagged).
            due = list(
                Complaint.objects.filter(
                    state__in=CLOCK_STATES,
                    responded_at__isnull=True,
                    overdue_flagged_at__isnull=True,
                    response_due_at__lte=now,
                )
                .order_by("response_due_at")
                .select_for_update(skip_locked=True)
                .values_list("id", "response_due_at", "state")[:batch_size]
            )
            if not due:
                break
            Complaint.objects.filter(id__in=[row[0] for row in due]).update(
                overdue_flagged_at=now, updated_at=now
            )
            ComplaintEvent.objects.bulk_create(
                ComplaintEvent(
                    complaint_id=pk,
                    kind=EventKind.OVERDUE,
                    actor_role=Role.SYSTEM,
                    customer_visible=False,
                    text=f"No reply recorded by the end of {clocks.due_date(due_at):%A %-d %B %Y}, "
                    "when it was due.",
                    data={"due_date": clocks.due_date(due_at).isoformat(), "state": state},
                    created_at=now,
                )
                for pk, due_at, state in due
            )
        flagged += len(due)
        if len(due) < batch_size:
            break
    return flagged


def sweep_adr_clock(*, now: dt.datetime | None = None, batch_size: int = 100) -> int:
    """Issue the deadlock letter, as the system, on every case still with us on or after its ADR
    date. Returns how many cases this call moved to deadlock."""
    now = now or timezone.now()
    today = clocks.london_date(now)
    moved = 0
    wording = (
        "8 weeks have passed since you first complained"
        if settings.ADR_CLOCK == "8-weeks"
        else "56 working days have passed since you first complained"
    )
    while True:
        with transaction.atomic():
            # Served by complaint_adr_sweep_idx (partial: cases whose stage clock runs).
            batch = list(
                Complaint.objects.filter(state__in=CLOCK_STATES, adr_eligible_date__lte=today)
                .order_by("adr_eligible_date", "id")
                .select_for_update(skip_locked=True)[:batch_size]
            )
            if not batch:
                break
            fired = complaints_fire_locked_batch(
                batch,
                "issue_deadlock_letter",
                by=SYSTEM,
                at=now,
                text=f"{wording}: you may now refer your complaint to CISAS, free of charge.",
                data={"by_clock": True},
            )
        moved += len(fired)
        if len(batch) < batch_size or not fired:
            break
    return moved


def sweep_auto_close(*, now: dt.datetime | None = None, batch_size: int = BATCH_SIZE) -> int:
    """Close resolved cases once the customer's 8 weeks to reopen them have passed."""
    now = now or timezone.now()
    cutoff = now - dt.timedelta(weeks=settings.AUTO_CLOSE_WEEKS)
    closed = 0
    while True:
        with transaction.atomic():
            # Served by complaint_autoclose_idx (partial: resolved cases).
            batch = list(
                Complaint.objects.filter(state=State.RESOLVED, resolved_at__lte=cutoff)
                .order_by("resolved_at", "id")
                .select_for_update(skip_locked=True)[:batch_size]
            )
            if not batch:
                break
            fired = complaints_fire_locked_batch(
                batch,
                "close",
                by=SYSTEM,
                at=now,
                text=f"Closed {settings.AUTO_CLOSE_WEEKS} weeks after it was resolved.",
            )
        closed += len(fired)
        if len(batch) < batch_size or not fired:
            break
    return closed
