"""The clock sweeps: overdue replies, the ADR clock and auto-close.

Each sweep finds due cases with one indexed query per batch and locks them with
``SELECT ... FOR UPDATE SKIP LOCKED``, so two sweeps running at once (a retried beat tick, two
workers) take different cases and never act on one twice; a case, once acted on, no longer matches
the query. Each batch commits on its own, so a crash loses at most the batch in hand, which the
next tick picks up again.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone

from complaints import bulk, clocks, documents, outbox
from complaints.models import (
    ADR_CLOCK_RUNNING,
    CLOCK_STATES,
    Complaint,
    ComplaintEvent,
    EmailTemplate,
    EventKind,
    Letter,
    LetterKind,
    State,
)
from complaints.roles import Actor, Role, staff_name
from complaints.services import complaints_fire_locked_batch, complaints_locked_batches

BATCH_SIZE = 500
SYSTEM = Actor.system()


def _alert_managers(
    complaints: list[Complaint], *, key: Callable[[Complaint], str], now: dt.datetime, **extra
) -> None:
    """One overdue alert per case to the managers, recorded with the batch (one INSERT)."""
    managers = outbox.manager_addresses()
    if not managers:
        return
    outbox.email_record_many(
        [
            {
                "complaint_id": complaint.pk,
                "template": EmailTemplate.OVERDUE_ALERT,
                "to": managers,
                "context": {
                    **outbox.complaint_email_context(complaint),
                    "assigned_to": staff_name(complaint.assigned_to),
                    **{name: value(complaint) for name, value in extra.items()},
                },
                "dedupe_key": key(complaint),
                "created_at": now,
                "next_attempt_at": now,
            }
            for complaint in complaints
        ]
    )


def _flag_batch(
    batch: list[Complaint],
    *,
    flag: str,
    kind: str,
    now: dt.datetime,
    text: Callable[[Complaint], str],
    data: Callable[[Complaint], dict],
    key: Callable[[Complaint], str],
    **extra: Callable[[Complaint], str],
) -> None:
    """A flag-once sweep's batch (the caller has locked it): the flag set with one UPDATE, an
    internal event for each case with one INSERT, and the managers' alerts with another."""
    Complaint.objects.filter(id__in=[c.pk for c in batch]).update(**{flag: now}, updated_at=now)
    bulk.insert_rows(
        ComplaintEvent,
        [
            {
                "complaint_id": complaint.pk,
                "kind": kind,
                "actor_role": Role.SYSTEM,
                "customer_visible": False,
                "text": text(complaint),
                "data": data(complaint),
                "created_at": now,
            }
            for complaint in batch
        ],
    )
    _alert_managers(batch, key=key, now=now, **extra)


def sweep_overdue_replies(*, now: dt.datetime | None = None, batch_size: int = BATCH_SIZE) -> int:
    """Flag every case whose stage reply is overdue, exactly once, with an internal event and an
    alert to the managers. Returns how many cases this call flagged."""
    now = now or timezone.now()
    flagged = 0

    def due() -> QuerySet[Complaint]:
        # Served by complaint_overdue_sweep_idx (partial: clock running and not yet flagged).
        # One query locks the batch and reads what the events and alerts need.
        return (
            Complaint.objects.filter(
                state__in=CLOCK_STATES,
                responded_at__isnull=True,
                overdue_flagged_at__isnull=True,
                response_due_at__lte=now,
            )
            .order_by("response_due_at")
            .select_related("assigned_to")
            .select_for_update(skip_locked=True, of=("self",))
        )

    for batch in complaints_locked_batches(due, batch_size):
        _flag_overdue(batch, now)
        flagged += len(batch)
    return flagged


def _flag_overdue(batch: list[Complaint], now: dt.datetime) -> None:
    """Flag a locked batch of cases whose reply is overdue: the overdue sweep's, and those the ADR
    clock is about to move to deadlock before the overdue sweep saw them."""
    _flag_batch(
        batch,
        flag="overdue_flagged_at",
        kind=EventKind.OVERDUE,
        now=now,
        text=lambda c: (
            f"No reply recorded by the end of {c.response_due_date:%A %-d %B %Y}, when it was due."
        ),
        data=lambda c: {"due_date": c.response_due_date.isoformat(), "state": c.state},
        key=lambda c: f"overdue:{c.pk}:{c.stage_started_at.isoformat()}",
    )


def sweep_adr_clock(*, now: dt.datetime | None = None, batch_size: int = BATCH_SIZE) -> int:
    """Issue the deadlock letter, as the system, on every case still with us on or after its ADR
    date, and e-mail it to the customer. Returns how many cases this call moved to deadlock."""
    now = now or timezone.now()
    today = clocks.london_date(now)
    moved = 0
    wording = (
        "8 weeks have passed since you first complained"
        if settings.ADR_CLOCK == "8-weeks"
        else "56 working days have passed since you first complained"
    )

    def due() -> QuerySet[Complaint]:
        # Served by complaint_adr_sweep_idx (partial, in claim order). The assignee is read for
        # the overdue alerts below; only the complaints are locked.
        return (
            Complaint.objects.filter(ADR_CLOCK_RUNNING, adr_eligible_date__lte=today)
            .order_by("adr_eligible_date", "id")
            .select_related("assigned_to")
            .select_for_update(skip_locked=True, of=("self",))
        )

    for batch in complaints_locked_batches(due, batch_size):
        # A case past its reply date is flagged once and its managers told, whichever sweep
        # reaches it first: a complaint logged after both its reply date and its ADR date (a
        # letter found late) would otherwise leave the clock's stages with no overdue flag if
        # this sweep ran before the overdue one. Normally flagged weeks ago, so none here.
        late = [c for c in batch if c.is_overdue(now) and c.overdue_flagged_at is None]
        fired = complaints_fire_locked_batch(
            batch,
            "issue_deadlock_letter",
            by=SYSTEM,
            at=now,
            text=f"{wording}: you may now refer your complaint to CISAS, free of charge.",
            data={"by_clock": True},
            by_clock=True,
        )
        _issue_clock_deadlock_letters(fired, now)
        if late:  # after the move, so the managers' alert gives the case's status as it now is
            _flag_overdue(late, now)
        moved += len(fired)
        if not fired:  # nothing this batch could move would be moved by the next either
            break
    return moved


def _issue_clock_deadlock_letters(fired: list[Complaint], now: dt.datetime) -> None:
    """The letters and e-mails for a batch the ADR clock moved to deadlock: one INSERT each. The
    unique constraint on (complaint, deadlock) would refuse a second letter for any case."""
    if not fired:
        return
    signed = documents.signatory(SYSTEM, fired[0])
    letter_ids = dict(
        bulk.insert_rows(
            Letter,
            [
                {
                    "complaint_id": complaint.pk,
                    "kind": LetterKind.DEADLOCK,
                    "context": documents.deadlock_context(
                        complaint,
                        by=SYSTEM,
                        at=now,
                        final_position="",
                        by_clock=True,
                        signed=signed,
                    ),
                    "issued_at": now,
                    "to_post": documents.goes_by_post(complaint),
                }
                for complaint in fired
            ],
            returning=("complaint", "id"),
        )
    )
    outbox.email_record_many(
        [
            {
                **outbox.deadlock_email(complaint, by_clock=True),
                "complaint_id": complaint.pk,
                "letter_id": letter_ids[complaint.pk],
                "created_at": now,
                "next_attempt_at": now,
            }
            for complaint in fired
        ]
    )
    outbox.queue_after_commit(
        "complaints.tasks.render_letters", [letter_ids[complaint.pk] for complaint in fired]
    )


def sweep_auto_close(*, now: dt.datetime | None = None, batch_size: int = BATCH_SIZE) -> int:
    """Close resolved cases once the customer's 8 weeks to reopen them have passed."""
    now = now or timezone.now()
    cutoff = now - dt.timedelta(weeks=settings.AUTO_CLOSE_WEEKS)
    closed = 0

    def due() -> QuerySet[Complaint]:
        # Served by complaint_autoclose_idx (partial: resolved, no CISAS remedy outstanding, which
        # keeps the case open to follow it up).
        return (
            Complaint.objects.filter(state=State.RESOLVED, resolved_at__lte=cutoff)
            .exclude(remedy_due_date__isnull=False, remedy_completed_at__isnull=True)
            .order_by("resolved_at", "id")
            .select_for_update(skip_locked=True)
        )

    for batch in complaints_locked_batches(due, batch_size):
        fired = complaints_fire_locked_batch(
            batch,
            "close",
            by=SYSTEM,
            at=now,
            text=f"Closed {settings.AUTO_CLOSE_WEEKS} weeks after it was resolved.",
        )
        closed += len(fired)
        if not fired:
            break
    return closed


def sweep_overdue_remedies(*, now: dt.datetime | None = None, batch_size: int = BATCH_SIZE) -> int:
    """Flag, once, each accepted CISAS remedy not carried out within 20 working days of the
    customer's acceptance, and tell the managers. Returns how many this call flagged."""
    now = now or timezone.now()
    today = clocks.london_date(now)
    flagged = 0

    def due() -> QuerySet[Complaint]:
        # Served by complaint_remedy_sweep_idx (partial: remedies outstanding, not flagged).
        return (
            Complaint.objects.filter(
                remedy_due_date__lt=today,
                remedy_completed_at__isnull=True,
                remedy_overdue_flagged_at__isnull=True,
            )
            .order_by("remedy_due_date")
            .select_related("assigned_to")
            .select_for_update(skip_locked=True, of=("self",))
        )

    for batch in complaints_locked_batches(due, batch_size):
        _flag_batch(
            batch,
            flag="remedy_overdue_flagged_at",
            kind=EventKind.REMEDY,
            now=now,
            text=lambda c: (
                f"The CISAS remedy was due by {c.remedy_due_date:%A %-d %B %Y} "
                "and has not been recorded as done."
            ),
            data=lambda c: {"remedy_due_date": c.remedy_due_date.isoformat()},
            key=lambda c: f"remedy-overdue:{c.pk}",
            remedy_due_date=lambda c: c.remedy_due_date.isoformat(),
        )
        flagged += len(batch)
    return flagged
