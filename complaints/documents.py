"""Letters: issued inside the change that causes them, rendered to PDF once, afterwards.

``letter_issue`` fixes a letter's content (its ``context``) in the caller's transaction and asks for
rendering on commit. ``letter_render`` turns it into a PDF exactly once: under a row lock, skipping
a letter already rendered, writing the file at a name fixed by the letter's id (so a worker killed
mid-render leaves no second file, and the retry overwrites the partial one), and storing its
SHA-256.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.files.base import ContentFile, File
from django.db import transaction
from django.utils import timezone

from . import clocks, letters
from .models import Complaint, EventKind, Letter, ResponseMethod, State
from .outbox import email_record, queue_after_commit
from .roles import MANAGERS_GROUP, Actor, staff_name


def adr_policy_label() -> str:
    return "8 weeks" if settings.ADR_CLOCK == "8-weeks" else "56 working days"


def signatory(by: Actor, complaint: Complaint) -> tuple[str, str]:
    """Who signs: the member of staff acting, or for the system the case's manager."""
    if by.user is not None:
        name = staff_name(by.user)
        role = "Customer Services Manager" if by.role == "manager" else "Customer Services Team"
        return name, role
    if by.role == "customer":  # the acknowledgement of a complaint filed online
        return "Customer Services Team", "Customer Services Team"
    if settings.CS_MANAGER_NAME:
        return settings.CS_MANAGER_NAME, "Customer Services Manager"
    manager = (
        get_user_model()
        .objects.filter(is_active=True, groups__name=MANAGERS_GROUP)
        .order_by("id")
        .first()
    )
    if manager is not None and manager.get_full_name():
        return manager.get_full_name(), "Customer Services Manager"
    return "Customer Services Manager", "Customer Services Manager"


def base_context(
    complaint: Complaint, *, by: Actor, at: dt.datetime, signed: tuple[str, str] | None = None
) -> dict[str, Any]:
    signed_by, signed_role = signed or signatory(by, complaint)
    return {
        "letter_date": clocks.london_date(at).isoformat(),
        "reference": complaint.reference,
        "customer_name": complaint.customer_name,
        "postal_address": complaint.postal_address,
        "email": complaint.email,
        "received_date": complaint.received_date.isoformat(),
        "category_label": complaint.get_category_display(),
        "category_about": complaint.category_about,
        "nation": complaint.nation,
        "summary": complaint.description,
        "signed_by": signed_by,
        "signed_role": signed_role,
    }


def acknowledgement_context(complaint: Complaint, *, by: Actor, at: dt.datetime) -> dict:
    return {
        **base_context(complaint, by=by, at=at),
        "response_due_date": complaint.response_due_date.isoformat(),
        "adr_eligible_date": complaint.adr_eligible_date.isoformat(),
        "preferred_response_label": ResponseMethod(complaint.preferred_response).label,
        "adr_policy_label": adr_policy_label(),
        # Logged after its ADR date: the ADR clock's deadlock letter follows within minutes, and
        # the letter says so instead of offering the stages (a key of its own, so that letters
        # issued before it read as they were sent).
        "deadlock_follows": complaint.adr_eligible_date <= clocks.london_date(at),
    }


def written_reply_context(complaint: Complaint, *, by: Actor, at: dt.datetime, text: str) -> dict:
    context = {
        **base_context(complaint, by=by, at=at),
        "reply_text": text,
        "stage": complaint.stage,
    }
    if complaint.adr_clock_running:
        # The date the customer may go to CISAS without a deadlock letter (it never moves).
        context["adr_eligible_date"] = complaint.adr_eligible_date.isoformat()
    elif complaint.deadlock_issued_at is not None:
        # A reply after the deadlock letter (the API takes one at CISAS or in court too): the
        # letter says where the complaint now is, not the procedure's next stage.
        context["deadlock_date"] = clocks.london_date(complaint.deadlock_issued_at).isoformat()
        context["after_deadlock"] = complaint.state
        if complaint.state not in (State.ADR_REFERRED, State.COURT):  # deadlock, or reopened
            context["cisas_deadline"] = complaint.cisas_deadline.isoformat()
    if complaint.stage == 3:
        # Stage 3 answers the formal written complaint: the letter quotes it, not only the first
        # complaint it followed.
        context["formal_complaint"] = (
            complaint.events.filter(kind=EventKind.TRANSITION, transition="make_formal_complaint")
            .order_by("-created_at", "-id")
            .values_list("text", flat=True)
            .first()
            or ""
        )
    return context


def deadlock_context(
    complaint: Complaint,
    *,
    by: Actor,
    at: dt.datetime,
    final_position: str,
    by_clock: bool,
    signed: tuple[str, str] | None = None,
) -> dict:
    deadlock_on = clocks.london_date(at)
    return {
        **base_context(complaint, by=by, at=at, signed=signed),
        "final_position": final_position,
        "by_clock": by_clock,
        "adr_policy_label": adr_policy_label(),
        "deadlock_date": deadlock_on.isoformat(),
        "cisas_deadline": clocks.cisas_deadline(deadlock_on).isoformat(),
    }


def goes_by_post(complaint: Complaint) -> bool:
    """A letter goes by post too to a customer who gave an address (staff record the posting),
    whoever or whatever issues it; to one with no e-mail address, only by post."""
    return bool(complaint.postal_address.strip())


def letter_issue(
    *,
    complaint: Complaint,
    kind: str,
    context: dict[str, Any],
    by: Actor,
    at: dt.datetime,
    email: dict[str, Any] | None = None,
) -> Letter:
    """Record a letter in the caller's transaction, and the e-mail that sends it, if any
    (``email``: ``outbox.email_record``'s arguments but the letter, as ``outbox.customer_email``
    gives them; without a ``dedupe_key``, one e-mail per letter). It is rendered to PDF after
    commit by one task: the e-mail's delivery, which renders a letter before attaching it, or,
    when no e-mail was recorded (no address), the letters task. A customer who gave a postal
    address gets it by post as well: it waits on staff's list of letters to post."""
    letter = Letter.objects.create(
        complaint=complaint,
        kind=kind,
        context=context,
        issued_at=at,
        issued_by=by.user if by.user is not None else None,
        to_post=goes_by_post(complaint),
    )
    if email is not None:
        email = {"complaint": complaint, "dedupe_key": f"letter:{letter.pk}", **email}
    if not (email and email_record(letter=letter, **email)):
        queue_after_commit("complaints.tasks.render_letters", [letter.pk])
    return letter


def letter_render(*, letter_id: int) -> Letter:
    """Render a letter's PDF if it has not been rendered yet. Exactly once per letter, however many
    workers or retries call it: the row lock makes a second caller wait and then find it done."""
    with transaction.atomic():
        letter = Letter.objects.select_for_update().select_related("complaint").get(pk=letter_id)
        if letter.is_rendered:
            return letter
        pdf = letters.render_pdf(letter.kind, letter.context)
        name = f"letters/{letter.complaint.reference}/{letter.kind}-{letter.pk}.pdf"
        storage = letter.pdf.storage
        storage.delete(name)  # a partial file from a worker killed mid-write
        letter.pdf.save(name, ContentFile(pdf), save=False)
        letter.sha256 = hashlib.sha256(pdf).hexdigest()
        letter.rendered_at = timezone.now()
        letter.save(update_fields=["pdf", "sha256", "rendered_at"])
        return letter


class LetterAltered(Exception):
    """A letter's stored PDF no longer matches the SHA-256 recorded when it was rendered."""


def letter_bytes(letter: Letter) -> bytes:
    """A rendered letter's PDF, checked against the SHA-256 recorded when it was rendered: a file
    changed or damaged since is never sent or shown as the letter we issued. ``LetterAltered``
    (logged as an error by whoever asked) when it does not match."""
    with letter.pdf.open("rb") as pdf:
        data = pdf.read()
    if letter.sha256 and hashlib.sha256(data).hexdigest() != letter.sha256:
        raise LetterAltered(
            f"Letter {letter.pk} of complaint {letter.complaint_id}: its PDF does not match the "
            "SHA-256 recorded when it was rendered; it was not served."
        )
    return data


def letter_open(letter: Letter) -> File | None:
    """The letter's PDF, checked (``letter_bytes``), for reading (rendered now if no worker has got
    to it yet); None once it has been removed with the customer's personal data (the row stays,
    with its SHA-256)."""
    if not letter.is_rendered:
        letter = letter_render(letter_id=letter.pk)
    if not letter.pdf:
        return None
    return ContentFile(letter_bytes(letter), name=letter.pdf.name)


def letters_render_pending(*, letter_ids: list[int] | None = None, limit: int = 50) -> int:
    """Render letters still waiting (the given ones, or the oldest); returns how many it did."""
    rendered = 0
    pending = Letter.objects.filter(rendered_at__isnull=True)
    if letter_ids is not None:
        pending = pending.filter(pk__in=letter_ids)
    # Served by letter_unrendered_idx.
    for letter_id in pending.order_by("issued_at").values_list("id", flat=True)[:limit]:
        letter = letter_render(letter_id=letter_id)
        rendered += letter.rendered_at is not None
    return rendered
