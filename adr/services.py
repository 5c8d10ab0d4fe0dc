"""Stage 4 onwards: deadlock letters, CISAS referrals and adjudications, remedies, court action.

Each goes through the complaint's state machine and ``complaints.services.fire_transition``, so
the rules, the compare-and-set and the timeline are the same as everywhere else.
"""

from __future__ import annotations

import datetime as dt

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from complaints import clocks, documents, outbox
from complaints.models import (
    AdrOutcome,
    Complaint,
    EmailTemplate,
    EventKind,
    LetterKind,
)
from complaints.roles import Actor, Role
from complaints.services import (
    TransitionNotAllowed,
    fire_transition,
    require_role,
    require_text,
    transition_check,
    write_event,
)


def complaint_issue_deadlock(
    *,
    complaint: Complaint,
    by: Actor,
    final_position: str = "",
    expected_state: str | None = None,
) -> Complaint:
    """Deadlock: the company's final position; the customer may go to CISAS for 12 months.

    A manager gives the final position in writing; the system issues it when the ADR clock runs
    out, with the clock's wording instead."""
    transition_check(complaint, "issue_deadlock_letter", by=by, expected_state=expected_state)
    if by.role != Role.SYSTEM:
        final_position = require_text(final_position, "final_position", "the final position")
    now = timezone.now()
    with transaction.atomic():
        fire_transition(
            complaint,
            "issue_deadlock_letter",
            by=by,
            expected_state=expected_state,
            text=final_position.strip(),
            data={"by_clock": by.role == Role.SYSTEM},
            at=now,
            # As the ADR sweep's: the system's letter says only that time ran out, and does
            # not answer the stage.
            by_clock=by.role == Role.SYSTEM,
        )
        documents.letter_issue(
            complaint=complaint,
            kind=LetterKind.DEADLOCK,
            context=documents.deadlock_context(
                complaint,
                by=by,
                at=now,
                final_position=final_position.strip(),
                by_clock=by.role == Role.SYSTEM,
            ),
            by=by,
            at=now,
            email=outbox.deadlock_email(complaint, by_clock=by.role == Role.SYSTEM),
        )
    return complaint


def _eligible_since(complaint: Complaint) -> tuple[dt.date, str]:
    """The first day the customer could go to CISAS: the ADR date, or the day the deadlock letter
    was issued if that came first."""
    if complaint.deadlock_issued_at is not None:
        issued = clocks.london_date(complaint.deadlock_issued_at)
        if issued < complaint.adr_eligible_date:
            return issued, "when the deadlock letter was issued"
    return complaint.adr_eligible_date, "when the complaint became eligible for CISAS"


def _not_before(value: dt.date, field: str, label: str, earliest: dt.date, why: str) -> None:
    if value < earliest:
        raise ValidationError({field: f"{label} cannot be before {earliest:%-d %B %Y}, {why}."})


def complaint_refer_to_adr(
    *,
    complaint: Complaint,
    by: Actor,
    cisas_reference: str,
    referred_on: dt.date,
    expected_state: str | None = None,
) -> Complaint:
    transition_check(complaint, "refer_to_adr", by=by, expected_state=expected_state)
    cisas_reference = require_text(
        cisas_reference, "cisas_reference", "the CISAS case reference", 60
    )
    if referred_on > clocks.london_date(timezone.now()):
        raise ValidationError({"referred_on": "The referral date cannot be in the future."})
    _not_before(referred_on, "referred_on", "The referral date", *_eligible_since(complaint))
    return fire_transition(
        complaint,
        "refer_to_adr",
        by=by,
        expected_state=expected_state,
        text=f"CISAS case {cisas_reference}, referred on {referred_on:%-d %B %Y}.",
        data={"cisas_reference": cisas_reference, "referred_on": referred_on.isoformat()},
        at=timezone.now(),
        cisas_reference=cisas_reference,
        referred_on=referred_on,
    )


def complaint_record_adr_decision(
    *,
    complaint: Complaint,
    by: Actor,
    outcome: str,
    remedy: str = "",
    accepted_on: dt.date | None = None,
    expected_state: str | None = None,
) -> Complaint:
    """CISAS's adjudication. Accepted by the customer: resolved, with a remedy due in 20 working
    days unless it was not upheld. Not accepted: closed."""
    transition_check(complaint, "record_adr_decision", by=by, expected_state=expected_state)
    if outcome not in AdrOutcome.values:
        raise ValidationError({"outcome": "Choose the adjudication's outcome."})
    if accepted_on is not None and accepted_on > clocks.london_date(timezone.now()):
        raise ValidationError({"accepted_on": "The acceptance date cannot be in the future."})
    if accepted_on is not None and complaint.adr_referred_on is not None:
        _not_before(
            accepted_on,
            "accepted_on",
            "The acceptance date",
            complaint.adr_referred_on,
            "when the complaint was referred to CISAS",
        )
    with transaction.atomic():
        fire_transition(
            complaint,
            "record_adr_decision",
            by=by,
            expected_state=expected_state,
            text=_decision_text(outcome, remedy.strip(), accepted_on),
            data={
                "outcome": outcome,
                "accepted_on": accepted_on.isoformat() if accepted_on else None,
            },
            at=timezone.now(),
            outcome=outcome,
            remedy=remedy.strip(),
            accepted_on=accepted_on,
        )
        # The customer is told what was recorded, and what it means for them.
        remedy_due = complaint.remedy_due_date
        outbox.email_record(
            **outbox.customer_email(
                complaint,
                EmailTemplate.ADR_DECISION,
                dedupe_key=f"adr-decision:{complaint.pk}",
                outcome_label=complaint.get_adr_outcome_display(),
                remedy=complaint.adr_remedy,
                accepted_on_date=accepted_on.isoformat() if accepted_on else None,
                remedy_due_date=remedy_due.isoformat() if remedy_due else None,
            )
        )
    return complaint


def _decision_text(outcome: str, remedy: str, accepted_on: dt.date | None) -> str:
    """The timeline's record of the adjudication: what CISAS decided and whether the customer
    accepted it, which the remedy alone does not say (and a decision with no remedy would leave
    the entry empty)."""
    decided = f"CISAS's decision: {AdrOutcome(outcome).label.lower()}."
    if accepted_on is not None:
        answer = f"Accepted on {accepted_on:%-d %B %Y}."
    else:
        answer = "Not accepted, so the complaint is closed."
    return "\n\n".join(
        part for part in (f"{decided} {answer}", remedy and f"Remedy: {remedy}") if part
    )


def complaint_start_court_action(
    *,
    complaint: Complaint,
    by: Actor,
    started_on: dt.date,
    note: str = "",
    expected_state: str | None = None,
) -> Complaint:
    transition_check(complaint, "start_court_action", by=by, expected_state=expected_state)
    if started_on > clocks.london_date(timezone.now()):
        raise ValidationError(
            {"started_on": "The date court action started cannot be in the future."}
        )
    if complaint.adr_referred_on is not None:
        # CISAS does not take a case already in court: court action came after the referral.
        earliest, why = complaint.adr_referred_on, "when the complaint was referred to CISAS"
    else:
        earliest, why = complaint.received_date, "when we received the complaint"
    _not_before(started_on, "started_on", "The date court action started", earliest, why)
    return fire_transition(
        complaint,
        "start_court_action",
        by=by,
        expected_state=expected_state,
        text="\n\n".join(
            part
            for part in (f"Court action started on {started_on:%-d %B %Y}.", note.strip())
            if part
        ),
        data={"started_on": started_on.isoformat()},
        at=timezone.now(),
        started_on=started_on,
    )


def complaint_record_remedy_done(*, complaint: Complaint, by: Actor, note: str = "") -> Complaint:
    """The remedy CISAS awarded (and the customer accepted) has been carried out."""
    require_role(by, Role.MANAGER, doing="record remedies")
    if complaint.remedy_due_date is None:
        raise TransitionNotAllowed("This complaint has no CISAS remedy to complete.", allowed=[])
    now = timezone.now()
    with transaction.atomic():
        done = Complaint.objects.filter(pk=complaint.pk, remedy_completed_at__isnull=True).update(
            remedy_completed_at=now, updated_at=now
        )
        if not done:
            raise TransitionNotAllowed("The remedy was already recorded as done.", allowed=[])
        complaint.remedy_completed_at = now
        write_event(
            complaint,
            kind=EventKind.REMEDY,
            by=by,
            text=note.strip() or "The remedy awarded by CISAS has been carried out.",
            at=now,
        )
    return complaint
