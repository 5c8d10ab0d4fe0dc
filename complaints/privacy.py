"""Personal data (UK GDPR): how long it is kept, what a customer may have, and erasure.

- **Retention.** A closed or withdrawn complaint keeps the customer's personal data for
  ``RETENTION_YEARS`` after it ended; then the nightly sweep (``complaints_anonymise_expired``)
  removes it, unless something holds it.
- **Holds.** A manager's legal hold (a claim, a regulator's inquiry) or the case itself: still open
  (which includes a CISAS referral and court action), resolved but not yet closed (the customer may
  reopen it), or an accepted CISAS remedy not yet carried out.
- **Anonymising** keeps what the figures and the audit trail need (the reference, dates, states,
  category, channel, nation, who on the staff did what and when, the letters' SHA-256) and removes
  what identifies or describes the customer: contact details, the complaint's text, replies and
  notes, letters' contents and PDFs, evidence files, e-mail addresses and the tracking link.
- **Subject access** (``customer_export``): a zip of one customer's complaints as JSON, with their
  letters and evidence, for a manager to send.
- **Erasure on request** (``customer_erase``): anonymises at once every complaint of the customer
  that nothing holds, and says which are kept and why.

The timeline is append-only in the database itself; anonymising is the one thing allowed to blank
an event's text and data, in a transaction that says so (migration 0007).
"""

from __future__ import annotations

import datetime as dt
import json
import tempfile
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import IO

from django.conf import settings
from django.core.files.storage import default_storage
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.db.models import Q, QuerySet, Value
from django.db.models.functions import Coalesce, Lower
from django.utils import timezone

from . import documents
from .models import (
    OPEN_STATES,
    STAFF_EMAIL_TEMPLATES,
    Attachment,
    CaseView,
    Complaint,
    ComplaintEvent,
    EventKind,
    Letter,
    OutboundEmail,
    State,
)
from .roles import Actor, Role, staff_name
from .services import (
    ComplaintError,
    complaints_locked_batches,
    require_role,
    require_text,
    write_event,
)

ANONYMISED_NAME = "Anonymised"
ENDED_STATES = (State.CLOSED, State.WITHDRAWN)
BATCH_SIZE = 200


class NothingToErase(ComplaintError):
    code = "legal_hold"


class LegalHoldChanged(ComplaintError):
    code = "changed_by_someone_else"


# --- Retention and holds ------------------------------------------------------------------------


def _years_later(at: dt.datetime, years: int) -> dt.datetime:
    try:
        return at.replace(year=at.year + years)
    except ValueError:  # 29 February, in a year that has none
        return at.replace(year=at.year + years, day=28)


def retention_ends(complaint: Complaint) -> dt.datetime | None:
    """When the retention sweep may remove this complaint's personal data (holds aside)."""
    if complaint.state not in ENDED_STATES:
        return None
    ended = complaint.closed_at or complaint.withdrawn_at
    return _years_later(ended, settings.RETENTION_YEARS) if ended else None


def hold_reasons(complaint: Complaint) -> list[str]:
    """Why this complaint's personal data must be kept now; empty if nothing holds it."""
    reasons = []
    if complaint.legal_hold:
        reasons.append(f"a legal hold: {complaint.legal_hold_reason}")
    if complaint.state == State.ADR_REFERRED:
        reasons.append("it is with CISAS")
    elif complaint.state == State.COURT:
        reasons.append("court action is under way")
    elif complaint.state in OPEN_STATES:
        reasons.append("the complaint is still open")
    elif complaint.state == State.RESOLVED:
        reasons.append("it is resolved but not closed, so the customer may still reopen it")
    if complaint.remedy_due_date is not None and complaint.remedy_completed_at is None:
        reasons.append("an accepted CISAS remedy has not been carried out yet")
    return reasons


def _expired(now: dt.datetime) -> QuerySet[Complaint]:
    """Closed or withdrawn longer ago than the retention period, not yet anonymised, not held.
    Served by complaint_retention_idx, in its order."""
    cutoff = _years_later(now, -settings.RETENTION_YEARS)
    return (
        Complaint.objects.alias(ended=Coalesce("closed_at", "withdrawn_at"))
        .filter(
            state__in=ENDED_STATES,
            anonymised_at__isnull=True,
            legal_hold=False,
            ended__lte=cutoff,
        )
        .exclude(Q(remedy_due_date__isnull=False, remedy_completed_at__isnull=True))
        .order_by("ended", "id")
    )


# --- Anonymising ----------------------------------------------------------------------------------


def _anonymise_locked(complaints: list[Complaint], *, by: Actor, at: dt.datetime, why: str) -> None:
    """Remove the personal data of complaints the caller has locked, in the caller's transaction:
    a fixed number of statements for the whole batch. Files go once the transaction commits."""
    ids = [c.pk for c in complaints]
    files = [
        *Letter.objects.filter(complaint_id__in=ids).exclude(pdf="").values_list("pdf", flat=True),
        *Attachment.objects.filter(complaint_id__in=ids)
        .exclude(file="")
        .values_list("file", flat=True),
    ]
    Complaint.objects.filter(pk__in=ids).update(
        customer_name=ANONYMISED_NAME,
        email="",
        phone="",
        postal_address="",
        account_number="",
        description="",
        vulnerability_notes="",
        resolution_summary="",
        adr_remedy="",
        cisas_reference="",
        legal_hold_reason="",
        tracking_token_hash="",  # the customer's link stops working
        anonymised_at=at,
        updated_at=at,
    )
    # The one exception to the timeline's append-only rule (see migration 0007): text and data
    # only, for these complaints, in this transaction. (The queryset's own update() refuses.)
    # Earlier personal-data events (holds, exports) stay: they are the record of how the data
    # was handled, written without personal details.
    events = (
        ComplaintEvent.objects.filter(complaint_id__in=ids)
        .exclude(kind=EventKind.PRIVACY)
        .exclude(text="", data={})
    )
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL complaints.anonymising = 'on'")
        QuerySet.update(events, text="", data={})
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL complaints.anonymising = 'off'")
    # The letter's row stays as the record that it was issued, and when, with its SHA-256 and
    # whether the ADR clock issued it (a figure in the reports); a letter never rendered is marked
    # done, so that no worker renders it from an empty context.
    letters = Letter.objects.filter(complaint_id__in=ids)
    letters.update(pdf="", rendered_at=Coalesce("rendered_at", Value(at)))
    for by_clock in (True, False):
        letters.filter(context__by_clock=by_clock).update(context={"by_clock": by_clock})
    letters.exclude(context__has_key="by_clock").update(context={})
    # A letter not yet posted has no address to go to now: off the list of letters to post.
    letters.filter(posted_at__isnull=True).update(to_post=False)
    Attachment.objects.filter(complaint_id__in=ids).update(name="", file="")
    # An e-mail that has not gone yet has nobody to go to now.
    OutboundEmail.objects.filter(complaint_id__in=ids, sent_at__isnull=True).delete()
    # A failed attempt's error may quote the address (a mail server's refusal does).
    OutboundEmail.objects.filter(complaint_id__in=ids).update(to=[], context={}, last_error="")
    ComplaintEvent.objects.bulk_create(
        ComplaintEvent(
            complaint=complaint,
            kind=EventKind.PRIVACY,
            actor=by.user if by.user is not None and by.user.pk else None,
            actor_role=by.role or "",
            actor_name=by.name,
            customer_visible=False,
            text=f"Personal data removed: {why}",
            created_at=at,
        )
        for complaint in complaints
    )
    transaction.on_commit(lambda: _delete_files(files))


def _delete_files(names: Iterable[str]) -> None:
    for name in names:
        default_storage.delete(name)


def signin_records_purge(*, days: int | None = None) -> int:
    """Remove django-axes' records of staff sign-ins, successful or failed (each with the address
    and browser it came from), once older than ``SIGN_IN_RECORDS_DAYS``: kept long enough to look
    into a suspicious sign-in, not for ever. Returns how many were removed. The current lockout
    counts are axes' own and expire with its cool-off."""
    from axes.handlers.proxy import AxesProxyHandler

    days = days or settings.SIGN_IN_RECORDS_DAYS
    return AxesProxyHandler.reset_logs(age_days=days) + AxesProxyHandler.reset_failure_logs(
        age_days=days
    )


def complaints_anonymise_expired(
    *, now: dt.datetime | None = None, batch_size: int = BATCH_SIZE
) -> int:
    """The retention sweep: anonymise every complaint past retention that nothing holds, a batch
    at a time, each batch claimed with ``FOR UPDATE SKIP LOCKED`` so two sweeps never meet.
    Idempotent: an anonymised complaint leaves the index it is found by."""
    now = now or timezone.now()
    why = f"kept {settings.RETENTION_YEARS} years after the complaint ended (retention policy)"
    done = 0

    def due() -> QuerySet[Complaint]:
        return _expired(now).select_for_update(skip_locked=True, of=("self",))

    for batch in complaints_locked_batches(due, batch_size):
        _anonymise_locked(batch, by=Actor.system(), at=now, why=why)
        done += len(batch)
    return done


# --- One customer's complaints ----------------------------------------------------------------


def customer_complaints(complaint: Complaint) -> QuerySet[Complaint]:
    """Every complaint made with this complaint's e-mail address (the customer's identity here),
    oldest first; served by complaint_email_idx. An anonymised complaint is only itself."""
    if not complaint.email:
        return Complaint.objects.filter(pk=complaint.pk)
    return (
        Complaint.objects.alias(email_lower=Lower("email"))
        .filter(email_lower=complaint.email.lower())
        .order_by("received_at", "id")
    )


@dataclass
class Erasure:
    erased: list[str] = field(default_factory=list)
    kept: dict[str, list[str]] = field(default_factory=dict)


def customer_erase(*, complaint: Complaint, by: Actor, reason: str) -> Erasure:
    """Erasure on request: anonymise now each of this customer's complaints that nothing holds.
    Each complaint kept records the request and why it was kept, so that the request and the
    answer to it are on record whatever was erased. If every one is held, nothing else changes
    and the error says why."""
    require_role(by, Role.MANAGER, doing="erase a customer's personal data")
    reason = require_text(reason, "reason", "Say whose request this is and how it came in")
    if complaint.anonymised_at is not None:
        raise NothingToErase(f"The personal data of {complaint.reference} is already removed.")
    now = timezone.now()
    result = Erasure()
    with transaction.atomic():
        # Locked in id order, as every other batch locks, so two erasures cannot deadlock.
        mine = list(
            customer_complaints(complaint)
            .filter(anonymised_at__isnull=True)
            .order_by("id")
            .select_for_update(of=("self",))
        )
        erasable = []
        for case in mine:
            reasons = hold_reasons(case)
            if reasons:
                result.kept[case.reference] = reasons
                write_event(
                    case,
                    kind=EventKind.PRIVACY,
                    by=by,
                    text=f"Erasure requested; personal data kept because {' and '.join(reasons)}. "
                    f"{reason}",
                    customer_visible=False,
                    at=now,
                )
            else:
                erasable.append(case)
        if erasable:
            _anonymise_locked(erasable, by=by, at=now, why=f"erased on request. {reason}")
            result.erased = [
                case.reference for case in sorted(erasable, key=lambda c: c.received_at)
            ]
    complaint.reload()
    if not result.erased:
        raise NothingToErase(
            "Nothing was erased: "
            + "; ".join(
                f"{ref} is kept because {' and '.join(why)}" for ref, why in result.kept.items()
            )
            + "."
        )
    return result


def complaint_set_legal_hold(
    *, complaint: Complaint, by: Actor, hold: bool, reason: str, expected: bool
) -> None:
    """Place or lift a legal hold (compare-and-set on what the page showed)."""
    require_role(by, Role.MANAGER, doing="place or lift a legal hold")
    reason = require_text(
        reason, "reason", "Why is it being held" if hold else "Why is the hold being lifted", 500
    )
    if complaint.anonymised_at is not None:
        raise LegalHoldChanged(
            f"The personal data of {complaint.reference} has already been removed; there is "
            "nothing left to hold."
        )
    now = timezone.now()
    with transaction.atomic():
        changed = Complaint.objects.filter(
            pk=complaint.pk, legal_hold=expected, anonymised_at__isnull=True
        ).update(legal_hold=hold, legal_hold_reason=reason if hold else "", updated_at=now)
        if not changed:
            complaint.reload()
            raise LegalHoldChanged(
                f"Someone else changed the legal hold on {complaint.reference} first: it is now "
                f"{'on' if complaint.legal_hold else 'off'}. Nothing was saved."
            )
        write_event(
            complaint,
            kind=EventKind.PRIVACY,
            by=by,
            text=f"{'Legal hold placed' if hold else 'Legal hold lifted'}: {reason}",
            customer_visible=False,
            at=now,
        )
    complaint.reload()


# --- Subject access -------------------------------------------------------------------------------


def _event_author(event: ComplaintEvent) -> str:
    if event.actor_name:
        return event.actor_name
    if event.actor is not None:
        return staff_name(event.actor)
    return {"customer": "You", "system": "The system"}.get(event.actor_role, "Staff")


def _complaint_record(complaint: Complaint, letters: list[Letter], files: list[Attachment]) -> dict:
    events = complaint.events.select_related("actor").order_by("created_at", "id")
    return {
        "reference": complaint.reference,
        "received_at": complaint.received_at,
        "came_in_by": complaint.get_channel_display(),
        "category": complaint.get_category_display(),
        "your_details": {
            "name": complaint.customer_name,
            "email": complaint.email,
            "phone": complaint.phone,
            "postal_address": complaint.postal_address,
            "account_number": complaint.account_number,
            "bank_holidays_of": complaint.get_nation_display(),
            "prefers": complaint.get_preferred_response_display(),
            "needs_extra_help": complaint.vulnerable,
            "extra_help_notes": complaint.vulnerability_notes,
        },
        "complaint": complaint.description,
        "status": complaint.get_state_display(),
        "reply_due_at": complaint.response_due_at,
        "replied_at": complaint.responded_at,
        "adr_eligible_date": complaint.adr_eligible_date,
        "deadlock_letter_issued_at": complaint.deadlock_issued_at,
        "cisas": {
            "reference": complaint.cisas_reference,
            "referred_on": complaint.adr_referred_on,
            "outcome": complaint.get_adr_outcome_display() if complaint.adr_outcome else "",
            "remedy": complaint.adr_remedy,
            "accepted_on": complaint.adr_accepted_on,
            "remedy_due_date": complaint.remedy_due_date,
            "remedy_completed_at": complaint.remedy_completed_at,
        },
        "court_action_started_on": complaint.court_started_on,
        "resolved_at": complaint.resolved_at,
        "how_it_was_resolved": complaint.resolution_summary,
        "closed_at": complaint.closed_at,
        "withdrawn_at": complaint.withdrawn_at,
        "personal_data_removed_at": complaint.anonymised_at,
        "timeline": [
            {
                "at": event.created_at,
                "what": event.get_kind_display(),
                "by": _event_author(event),
                "text": event.text,
                "status_from": event.get_from_state_display() if event.from_state else "",
                "status_to": event.get_to_state_display() if event.to_state else "",
                "shown_to_you_on_the_tracking_page": event.customer_visible,
            }
            for event in events
        ],
        "letters": [
            {
                "kind": letter.get_kind_display(),
                "issued_at": letter.issued_at,
                "file": _letter_name(letter) if letter.pdf else "",
                "sha256": letter.sha256,
            }
            for letter in letters
        ],
        "files": [
            {
                "name": item.name,
                "added_at": item.uploaded_at,
                "size_bytes": item.size,
                "content_type": item.content_type,
                "from": "you" if item.uploaded_by_role == Role.CUSTOMER else "our staff",
                "file": _file_name(item) if item.file else "",
                "sha256": item.sha256,
            }
            for item in files
        ],
        # The e-mails sent to the customer: the managers' alerts about the case went to staff
        # addresses, which are not the customer's to have.
        "emails": [
            {"about": email.get_template_display(), "to": email.to, "sent_at": email.sent_at}
            for email in complaint.emails.exclude(template__in=STAFF_EMAIL_TEMPLATES).order_by(
                "created_at", "id"
            )
        ],
    }


def _letter_name(letter: Letter) -> str:
    return f"letters/{letter.file_name.removesuffix('.pdf')}-{letter.pk}.pdf"


def _file_name(item: Attachment) -> str:
    return f"files/{item.complaint.reference}/{item.pk}-{item.name}"


README = """Your complaints to {company}: the personal data we hold about you
Produced on {date} for {name} ({email}).

complaints.json   each complaint: your details, what you told us, every step of its timeline
                  (including our internal notes about it), the letters and e-mails we sent
letters/          the letters we sent you, as PDF
files/            the files you or our staff added to your complaints

To ask a question about this, or to ask us to correct or erase your data, write to {company}
at the address on any of our letters.
"""


def customer_export(*, complaint: Complaint, by: Actor) -> IO[bytes]:
    """A subject access export of this customer's complaints: a zip in a temporary file (rewound,
    for the caller to stream and close). Each complaint included is logged as read by ``by``."""
    require_role(by, Role.MANAGER, doing="export a customer's personal data")
    now = timezone.now()
    cases = list(customer_complaints(complaint))
    out = tempfile.TemporaryFile()  # noqa: SIM115 (the caller streams it and closes it)
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        records = []
        for case in cases:
            letters = []
            for letter in case.letters.select_related("complaint").order_by("issued_at", "id"):
                if not letter.is_rendered and not case.anonymised_at:
                    letter = documents.letter_render(letter_id=letter.pk)
                letters.append(letter)
                if letter.pdf:
                    archive.writestr(_letter_name(letter), documents.letter_bytes(letter))
            files = list(case.attachments.select_related("complaint").order_by("uploaded_at", "id"))
            for item in files:
                if item.file:
                    with item.file.open("rb") as handle:
                        archive.writestr(_file_name(item), handle.read())
            records.append(_complaint_record(case, letters, files))
        archive.writestr(
            "complaints.json",
            json.dumps(
                {"produced_at": now, "complaints": records},
                cls=DjangoJSONEncoder,
                ensure_ascii=False,
                indent=2,
            ),
        )
        archive.writestr(
            "README.txt",
            README.format(
                company=settings.COMPANY["name"],
                date=timezone.localdate(now).strftime("%-d %B %Y"),
                name=complaint.customer_name,
                email=complaint.email or "no e-mail address held",
            ),
        )
    with transaction.atomic():
        CaseView.objects.bulk_create(
            CaseView(complaint=case, viewer=by.user, via=CaseView.Via.EXPORT, viewed_at=now)
            for case in cases
        )
        write_event(
            complaint,
            kind=EventKind.PRIVACY,
            by=by,
            text="Subject access export produced: "
            + ", ".join(case.reference for case in cases)
            + ".",
            customer_visible=False,
            at=now,
        )
    out.seek(0)
    return out
