"""Everything that changes a complaint goes through here: views, the API, admin actions and tasks.

Each service is atomic: the change, its timeline event and any follow-up work queued on commit
succeed or fail together. Each raises a ``ComplaintError`` subclass that says plainly what went
wrong, which the views turn into messages and the API into status codes:

- ``TransitionNotAllowed``: the case's state does not permit it (HTTP 409, with what is allowed);
- ``NotPermitted``: this role may not do it (HTTP 403);
- ``ComplaintChanged``: someone else changed the case first (HTTP 409; the page shows the fresh
  state);
- ``KeyReused``: an API client's ``Idempotency-Key`` came again with another complaint (HTTP 422).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import QuerySet
from django.utils import timezone
from django_fsm import ConcurrentTransition, can_proceed, has_transition_perm

from . import clocks, documents, evidence, outbox
from .models import (
    CLOCK_STATES,
    OPEN_STATES,
    TRANSITION_NAMES,
    Attachment,
    CaseView,
    Channel,
    Complaint,
    ComplaintEvent,
    EmailTemplate,
    EventKind,
    FilingKey,
    Letter,
    LetterKind,
    ReferenceCounter,
    ResponseMethod,
    State,
)
from .roles import Actor, Role, managers_q, staff_name, staff_role

# --- Errors -----------------------------------------------------------------------------------


class ComplaintError(Exception):
    code = "complaint_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class TransitionNotAllowed(ComplaintError):
    code = "transition_not_allowed"

    def __init__(self, message: str, *, allowed: list[str]) -> None:
        super().__init__(message)
        self.allowed = allowed


class NotPermitted(ComplaintError):
    code = "not_permitted"


class KeyReused(ComplaintError):
    """An ``Idempotency-Key`` sent again with a different complaint (HTTP 422)."""

    code = "idempotency_key_reused"


class ComplaintChanged(ComplaintError):
    code = "changed_by_someone_else"

    def __init__(self, complaint: Complaint) -> None:
        super().__init__(
            f"Complaint {complaint.reference} was changed by someone else while you were looking "
            f"at it: it is now “{complaint.get_state_display()}”. Nothing was saved; please "
            "check it and try again."
        )
        self.complaint = complaint


# --- Helpers ----------------------------------------------------------------------------------

TRANSITION_LABELS = {
    "escalate_to_manager": "Escalated to the Customer Services Manager",
    "make_formal_complaint": "Formal written complaint made",
    "issue_deadlock_letter": "Deadlock letter issued",
    "refer_to_adr": "Referred to CISAS",
    "record_adr_decision": "CISAS decision recorded",
    "start_court_action": "Court action started",
    "resolve": "Resolved",
    "reopen": "Reopened",
    "close": "Closed",
    "withdraw": "Withdrawn",
}


# What each transition does, as a refusal names it ("Your role may not resolve the complaint"):
# the timeline's labels above say what happened, and "“Resolved” is not possible" read as if
# the complaint already were.
TRANSITION_ACTIONS = {
    "escalate_to_manager": "escalate the complaint to the Customer Services Manager",
    "make_formal_complaint": "record a formal written complaint",
    "issue_deadlock_letter": "issue a deadlock letter",
    "refer_to_adr": "record a CISAS referral",
    "record_adr_decision": "record the CISAS decision",
    "start_court_action": "record court action",
    "resolve": "resolve the complaint",
    "reopen": "reopen the complaint",
    "close": "close the complaint",
    "withdraw": "withdraw the complaint",
}


CONDITION_MESSAGES = {
    "issue_deadlock_letter": "a deadlock letter has already been issued, and the customer may "
    "already refer it to CISAS.",
}


def write_event(
    complaint: Complaint,
    *,
    kind: str,
    by: Actor,
    text: str = "",
    customer_visible: bool = True,
    data: dict[str, Any] | None = None,
    transition_name: str = "",
    from_state: str = "",
    to_state: str = "",
    at: dt.datetime | None = None,
) -> ComplaintEvent:
    return ComplaintEvent.objects.create(
        complaint=complaint,
        kind=kind,
        actor=by.user if by.user is not None and by.user.pk else None,
        actor_role=by.role or "",
        actor_name=by.name,
        transition=transition_name,
        from_state=from_state,
        to_state=to_state,
        customer_visible=customer_visible,
        text=text,
        data=data or {},
        created_at=at or timezone.now(),
    )


def store_attachments(
    complaint: Complaint,
    checked: list[evidence.CheckedFile],
    *,
    by: Actor,
    event: ComplaintEvent,
    customer_visible: bool = True,
) -> list[Attachment]:
    """Keep checked evidence files with the complaint, linked to the event they came with.

    Files are written before their rows commit; a rolled-back transaction leaves at most an
    unreferenced file under a random name, never a row without its file."""
    stored = []
    for item in checked:
        attachment = Attachment(
            complaint=complaint,
            event=event,
            name=item.name,
            content_type=item.content_type,
            size=item.size,
            sha256=item.sha256,
            customer_visible=customer_visible,
            uploaded_at=event.created_at,
            uploaded_by=by.user if by.user is not None else None,
            uploaded_by_role=by.role or "",
        )
        attachment.file.save(
            f"evidence/{complaint.reference}/{item.storage_name}", item.upload, save=False
        )
        attachment.save()
        stored.append(attachment)
    return stored


def require_role(by: Actor, *roles: Role, doing: str) -> None:
    if by.role not in roles:
        raise NotPermitted(f"You are not allowed to {doing}.")


def staff_reason(
    complaint: Complaint,
    name: str,
    by: Actor,
    expected_state: str | None,
    reason: str,
    wanted: str,
) -> str:
    """A transition staff make for the customer (escalating, reopening, withdrawing) says why, on
    the case page, the API and the admin alike: ``ValidationError`` on ``reason`` when there is
    none, once the transition itself is allowed. A customer may simply ask."""
    if not by.is_staff:
        return reason
    transition_check(complaint, name, by=by, expected_state=expected_state)
    return require_text(reason, "reason", wanted)


def require_text(value: str, field: str, label: str, max_length: int = 20000) -> str:
    value = (value or "").strip()
    if not value:
        raise ValidationError({field: f"Enter {label}."})
    if len(value) > max_length:
        raise ValidationError(
            {field: f"{label.capitalize()} must be {max_length:,} characters or fewer."}
        )
    return value


def _not_in_future(value: dt.datetime, field: str, label: str, now: dt.datetime) -> None:
    if value > now:
        raise ValidationError({field: f"{label} cannot be in the future."})


def _with_time_zone(value: dt.datetime, field: str) -> None:
    if timezone.is_naive(value):
        raise ValidationError({field: "Give the time with its time zone."})


def check_received_at(value: dt.datetime, now: dt.datetime | None = None) -> None:
    """When a complaint was received: an instant with its time zone (a local time alone can be
    ambiguous, or not exist, when the clocks change), never in the future, and in 2000 or later.
    Raises ``ValidationError`` on ``received_at``. ``complaint_file`` asks it, and so do the
    staff page and the API before it, so that their other fields' errors come back with this
    one."""
    _with_time_zone(value, "received_at")
    _not_in_future(value, "received_at", "The date received", now or timezone.now())
    if value.year < 2000:
        raise ValidationError({"received_at": "The date received must be in 2000 or later."})


def available_transitions(complaint: Complaint, by: Actor) -> list[str]:
    """The transitions this actor may fire on the case as it stands, in the order of DESIGN.md."""
    return [
        name
        for name in TRANSITION_NAMES
        if can_proceed(getattr(complaint, name))
        and has_transition_perm(getattr(complaint, name), by)
    ]


def _transitions_from_state(complaint: Complaint) -> list[str]:
    return [name for name in TRANSITION_NAMES if can_proceed(getattr(complaint, name))]


def transition_check(
    complaint: Complaint, name: str, *, by: Actor, expected_state: str | None = None
) -> None:
    """Raise the error a person should see if this transition cannot happen now: the case changed
    since they looked, the state does not allow it, or their role may not. Services check this
    before they validate the rest of the input, so "not now" is never reported as a bad field."""
    method = getattr(complaint, name)
    doing = TRANSITION_ACTIONS[name]
    state = complaint.get_state_display()
    if expected_state is not None and complaint.state != expected_state:
        raise ComplaintChanged(complaint)
    if not can_proceed(method, check_conditions=False):
        raise TransitionNotAllowed(
            f"The complaint is “{state}”: you cannot {doing} now.",
            allowed=available_transitions(complaint, by),
        )
    if not can_proceed(method):
        raise TransitionNotAllowed(
            f"You cannot {doing}: " + CONDITION_MESSAGES.get(name, "its conditions are not met."),
            allowed=available_transitions(complaint, by),
        )
    if not has_transition_perm(method, by):
        raise NotPermitted(f"Your role may not {doing} (the complaint is “{state}”).")


def fire_transition(
    complaint: Complaint,
    name: str,
    *,
    by: Actor,
    expected_state: str | None,
    text: str = "",
    data: dict[str, Any] | None = None,
    at: dt.datetime,
    **kwargs: Any,
) -> Complaint:
    """Fire one transition with compare-and-set on the state, and write its event.

    ``expected_state`` is the state the caller saw (a page's hidden field, an API client's view):
    if the case has moved on since, nothing happens and ``ComplaintChanged`` says so.

    The transition runs on the row as it is now, locked (``Complaint.reload``), not on the copy
    the caller loaded: a reply or a flag recorded since then is what the transition sees and
    keeps. On a stale copy, "no reply yet" looked unchanged when a restart cleared it, and a
    resolution took the reply's place as the stage's answer.
    """
    transition_check(complaint, name, by=by, expected_state=expected_state)
    seen = complaint.state
    fields = [f for f in Complaint._meta.concrete_fields if not f.primary_key]
    try:
        with transaction.atomic():
            complaint.reload(for_update=True)
            if complaint.state != seen:
                raise ComplaintChanged(complaint)
            method = getattr(complaint, name)
            before = {f.attname: f.value_from_object(complaint) for f in fields}
            method(at=at, **kwargs)
            changed = [
                f.name for f in fields if f.value_from_object(complaint) != before[f.attname]
            ]
            # Only the fields this transition changed; the state column is compared and set by
            # ConcurrentTransitionMixin (UPDATE ... WHERE state = <state we read>), which the
            # row's lock now makes a formality.
            complaint.save(update_fields=[*changed, "updated_at"])
            write_event(
                complaint,
                kind=EventKind.TRANSITION,
                by=by,
                text=text,
                data=data,
                transition_name=name,
                from_state=seen,
                to_state=complaint.state,
                at=at,
            )
            if _becomes_managers(seen, complaint.state) and hand_to_managers([complaint.pk], at=at):
                complaint.assigned_to = None
            if by.is_staff:
                _answered(complaint, at)
    except ConcurrentTransition:
        complaint.reload()
        raise ComplaintChanged(complaint) from None
    except Exception:
        complaint.reload()
        raise
    return complaint


# From stage 2 on a case is the Customer Services Manager's: stages 2 and 3, the deadlock letter,
# CISAS and court (DESIGN.md's transitions).
MANAGER_STAGES = (State.CS_MANAGER, State.FORMAL_WRITTEN)  # of them, those with a reply to send
MANAGERS_CASES = (*MANAGER_STAGES, State.DEADLOCK, State.ADR_REFERRED, State.COURT)


def may_claim(complaint: Complaint, by: Actor) -> bool:
    """Whether ``by`` may take an open, unassigned case for themselves: a manager any, an agent
    one at stage 1 (from stage 2 on it is the manager's; a manager may still assign it to them).
    The service's rule, which the case page and the queue ask before offering "Claim"."""
    return complaint.is_open and (by.role == Role.MANAGER or complaint.state == State.CS_TEAM)


def _managers() -> QuerySet:
    """The managers' user ids (``roles.managers_q``)."""
    return get_user_model().objects.filter(managers_q()).values("pk")


def _becomes_managers(from_state: str, to_state: str) -> bool:
    """Whether a transition hands the case to the managers (``MANAGERS_CASES``)."""
    return from_state not in MANAGERS_CASES and to_state in MANAGERS_CASES


def _handed_over_events(held: dict[int, int], at: dt.datetime) -> list[ComplaintEvent]:
    """The internal timeline entries for cases taken from their agents ({case: agent}), with
    the agents' names read in one query."""
    users = get_user_model().objects.filter(pk__in=set(held.values()))
    names = {user.pk: staff_name(user) for user in users}
    return [
        ComplaintEvent(
            complaint_id=pk,
            kind=EventKind.ASSIGNMENT,
            actor_role=Role.SYSTEM,
            customer_visible=False,
            # True of every way here: escalation, a formal complaint, reopening, a deadlock letter
            # (which the ADR clock may send at stage 1).
            text=f"Unassigned from {names[assignee]}: at stage 2 or 3, or with a deadlock letter, "
            "a case is the Customer Services Manager's.",
            data={"assigned_to": None},
            created_at=at,
        )
        for pk, assignee in held.items()
    ]


def hand_to_managers(pks: list[int], *, at: dt.datetime) -> set[int]:
    """Unassign the agents from cases that have just become the managers' (``MANAGERS_CASES``:
    escalated, made formal, reopened, or given a deadlock letter at stage 1 by a manager or the
    ADR clock), each with an internal entry by the system. Left with an agent, a case sat in
    their own list though they can no longer act on it, the managers read it as taken, and the
    customer's messages were e-mailed to the agent. A manager who had it keeps it.

    Called in the transaction that moved the cases, after its UPDATE: their rows are locked, so
    the assignee read here is the current one, not the one the caller loaded. Returns the cases
    unassigned; one query when there are none. (A sweep's batch, locked before it is read, does
    the same within its one UPDATE: ``complaints_fire_locked_batch``.)"""
    held = dict(
        Complaint.objects.filter(pk__in=pks, assigned_to__isnull=False)
        .exclude(assigned_to__in=_managers())
        .values_list("pk", "assigned_to_id")
    )
    if not held:
        return set()
    Complaint.objects.filter(pk__in=list(held)).update(assigned_to=None, updated_at=at)
    ComplaintEvent.objects.bulk_create(_handed_over_events(held, at))
    return set(held)


# --- Filing -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Filed:
    complaint: Complaint
    tracking_secret: str  # shown once and e-mailed; only its hash is stored
    acknowledgement: Letter | None  # the letter issued with it
    replayed: bool = False  # filed before, by an earlier copy of the same request


@dataclass(frozen=True)
class RequestKey:
    """An API client's ``Idempotency-Key`` and what its request asked for (``FilingKey``)."""

    key: str
    fingerprint: str


def _filed_before(user: Any, request_key: RequestKey) -> Filed | None:
    """The complaint an earlier copy of this request filed, if one did."""
    earlier = (
        FilingKey.objects.select_related("complaint").filter(user=user, key=request_key.key).first()
    )
    if earlier is None:
        return None
    if earlier.fingerprint != request_key.fingerprint:
        raise KeyReused(
            f"This Idempotency-Key was already used for complaint {earlier.complaint.reference}, "
            "with different details. Send a new key for a new complaint."
        )
    return Filed(
        complaint=earlier.complaint, tracking_secret="", acknowledgement=None, replayed=True
    )


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def secret_matches(complaint: Complaint, secret: str) -> bool:
    if not complaint.tracking_token_hash or not secret:
        return False
    return hmac.compare_digest(complaint.tracking_token_hash, hash_secret(secret))


def _next_reference(year: int) -> str:
    # One statement that both PostgreSQL and SQLite run atomically: the row lock it takes is held
    # until the filing commits, so two filings never get the same number.
    table = ReferenceCounter._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (year, last) VALUES (%s, 1) "  # noqa: S608 (table name is ours)
            f"ON CONFLICT (year) DO UPDATE SET last = {table}.last + 1 RETURNING last",
            [year],
        )
        (number,) = cursor.fetchone()
    return f"CMP-{year}-{number:06d}"


# A customer with no e-mail address is written to by post: the acknowledgement and every letter
# wait on staff's list of letters to post. Online, the address is how the private link reaches
# them again.
NO_ADDRESS = (
    "Give the customer's e-mail address or their postal address: the acknowledgement letter "
    "goes to one of them."
)
NO_EMAIL_WEB = "Enter your e-mail address."


def complaint_file(
    *,
    customer_name: str,
    description: str,
    category: str,
    by: Actor,
    email: str = "",
    phone: str = "",
    postal_address: str = "",
    account_number: str = "",
    nation: str = "",
    channel: str = Channel.WEB,
    received_at: dt.datetime | None = None,
    preferred_response: str | None = None,
    vulnerable: bool = False,
    vulnerability_notes: str = "",
    attachments: list | tuple = (),
    request_key: RequestKey | None = None,
) -> Filed:
    """File a complaint: reference, tracking secret, both clocks started, one ``filed`` event.

    Customers file through the web form (channel ``web``, received now); staff log complaints that
    came by phone, e-mail or letter, with the time they were received, never in the future. A
    phone reply needs a phone number; unless told, the reply is by phone when there is a number,
    in writing otherwise.

    With ``request_key`` (staff through the API), a request already filed under that key returns
    the complaint it filed (``Filed.replayed``), and nothing new is written.
    """
    if by.role not in (Role.CUSTOMER, Role.AGENT, Role.MANAGER):
        raise NotPermitted("You are not allowed to log complaints.")
    if request_key is not None and (earlier := _filed_before(by.user, request_key)):
        return earlier
    now = timezone.now()
    if received_at is None:
        received_at = now
    check_received_at(received_at, now)
    if by.role == Role.CUSTOMER and channel != Channel.WEB:
        raise ValidationError({"channel": "Complaints filed online come through the web form."})
    phone = (phone or "").strip()
    if preferred_response is None:
        preferred_response = ResponseMethod.PHONE if phone else ResponseMethod.WRITTEN
    if preferred_response == ResponseMethod.PHONE and not phone:
        raise ValidationError(
            {
                "preferred_response": "A phone reply needs a phone number: give the customer's "
                "number, or choose a written reply."
            }
        )
    email, postal_address = (email or "").strip(), (postal_address or "").strip()
    if not email and (channel == Channel.WEB or not postal_address):
        raise ValidationError({"email": NO_EMAIL_WEB if channel == Channel.WEB else NO_ADDRESS})
    checked = evidence.check_uploads(list(attachments))

    complaint = Complaint(
        customer_name=(customer_name or "").strip(),
        email=email,
        phone=phone,
        postal_address=postal_address,
        account_number=(account_number or "").strip(),
        category=category,
        description=(description or "").strip(),
        channel=channel,
        received_at=received_at,
        preferred_response=preferred_response,
        vulnerable=vulnerable,
        vulnerability_notes=(vulnerability_notes or "").strip(),
    )
    if nation:
        complaint.nation = nation
    complaint.reference = "CMP-0000-000000"  # placeholder so full_clean passes; set below
    complaint.stage_started_at = received_at
    complaint.adr_eligible_date = dt.date.min
    complaint.full_clean(exclude=["reference", "state"])
    try:
        cal = clocks.calendar(complaint.nation)  # one read of the closure days for both clocks
        complaint.start_stage_clock(received_at, cal=cal)
        complaint.adr_eligible_date = clocks.adr_eligible_date(
            received_at, complaint.nation, cal=cal
        )
    except ValueError as exc:  # outside the calendar's years
        raise ValidationError(
            {"received_at": f"The date received is not a date we can use: {exc}"}
        ) from None

    secret = secrets.token_urlsafe(24)  # 192 random bits
    complaint.tracking_token_hash = hash_secret(secret)
    received_text = f"Complaint received ({complaint.get_channel_display().lower()})"
    received_day = clocks.london_date(received_at)
    if received_day != clocks.london_date(now):
        # Logged on a later day than it came in (a letter, a call taken on paper): the event is
        # dated when it was logged, so its text says when the complaint was received.
        received_text += f" on {received_day:%-d %B %Y}"
    try:
        # Inside a caller's transaction (the web form's send, staff logging a call), a savepoint
        # only where a failure here is caught and answered: a repeated API request refused by
        # FilingKey's unique constraint, answered with the complaint it filed before. Nothing else
        # in _file raises what a caller catches and goes on from (the answers were checked above),
        # so any other error rolls the caller's transaction back with it, as it did through the
        # savepoint. A web filing saves the savepoint's two statements (bench/README.md).
        with transaction.atomic(savepoint=request_key is not None):
            letter = _file(
                complaint,
                by=by,
                at=now,
                text=f"{received_text}.",
                data={"channel": channel, "files": len(checked)},
                checked=checked,
                secret=secret,
                request_key=request_key,
            )
    except IntegrityError:
        # A copy of the same request, sent at the same time, filed it first (FilingKey's unique
        # constraint); everything written here was rolled back.
        earlier = request_key and _filed_before(by.user, request_key)
        if not earlier:
            raise
        return earlier
    return Filed(complaint=complaint, tracking_secret=secret, acknowledgement=letter)


def _file(
    complaint: Complaint,
    *,
    by: Actor,
    at: dt.datetime,
    text: str,
    data: dict,
    checked: list,
    secret: str,
    request_key: RequestKey | None,
) -> Letter:
    """complaint_file's writes, in its transaction; returns the acknowledgement."""
    received_day = clocks.london_date(complaint.received_at)
    complaint.reference = _next_reference(received_day.year)
    complaint.save()
    if request_key is not None:
        FilingKey.objects.create(
            user=by.user,
            key=request_key.key,
            fingerprint=request_key.fingerprint,
            complaint=complaint,
        )
    filed_event = write_event(complaint, kind=EventKind.FILED, by=by, text=text, data=data, at=at)
    store_attachments(complaint, checked, by=by, event=filed_event)
    letter = documents.letter_issue(
        complaint=complaint,
        kind=LetterKind.ACKNOWLEDGEMENT,
        context=documents.acknowledgement_context(complaint, by=by, at=at),
        by=by,
        at=at,
        email=outbox.customer_email(
            complaint,
            EmailTemplate.ACKNOWLEDGEMENT,
            dedupe_key=f"acknowledgement:{complaint.pk}",
            tracking_url=tracking_url(complaint, secret),
            adr_policy_label=documents.adr_policy_label(),
        ),
    )
    return letter


def tracking_url(complaint: Complaint, secret: str) -> str:
    return f"{settings.SITE_URL}/track/{complaint.reference}/{secret}/"


def complaint_new_tracking_secret(*, complaint: Complaint) -> str:
    """Replace the tracking secret: the old link stops working at once."""
    secret = secrets.token_urlsafe(24)
    Complaint.objects.filter(pk=complaint.pk).update(
        tracking_token_hash=hash_secret(secret), updated_at=timezone.now()
    )
    complaint.tracking_token_hash = hash_secret(secret)
    return secret


# --- Work on a case that is not a state change ------------------------------------------------

_UNSET: Any = object()


def complaint_assign(
    *,
    complaint: Complaint,
    assignee: Any | None,
    by: Actor,
    expected_assignee: Any = _UNSET,
) -> Complaint:
    """Assign (or unassign, with ``assignee=None``) a case. Agents may claim a case or give up
    their own; managers may assign anyone. With ``expected_assignee`` the change happens only if the
    case is still assigned as the caller saw it, so two agents claiming at once cannot both win."""
    require_role(by, Role.AGENT, Role.MANAGER, doing="assign complaints")
    if assignee is not None and staff_role(assignee) not in (Role.AGENT, Role.MANAGER):
        raise ValidationError({"assigned_to": "Choose a member of the complaints team."})
    if by.role == Role.AGENT:
        own = assignee is None or assignee.pk == by.user_id
        if not own or (complaint.assigned_to_id not in (None, by.user_id)):
            raise NotPermitted(
                "Agents may claim unassigned cases or release their own; ask a manager to reassign."
            )
    if not complaint.is_open:
        raise TransitionNotAllowed(
            f"A complaint that is “{complaint.get_state_display()}” cannot be assigned.", allowed=[]
        )
    claiming = by.role == Role.AGENT and assignee is not None
    if claiming and not may_claim(complaint, by):
        # From stage 2 on the case is the manager's (hand_to_managers): a manager may still give
        # it to an agent, but an agent does not take it back.
        raise NotPermitted(
            "From stage 2 on, a case is the Customer Services Manager's: ask a manager to assign "
            "it to you."
        )
    new_id = assignee.pk if assignee is not None else None
    if new_id == complaint.assigned_to_id:
        return complaint
    # Compare-and-set on the state too for an agent's claim: an escalation landing between the
    # page's load and the claim leaves the case with the managers.
    states = [State.CS_TEAM] if claiming else OPEN_STATES
    rows = Complaint.objects.filter(pk=complaint.pk, state__in=states)
    if expected_assignee is not _UNSET:
        rows = rows.filter(assigned_to=getattr(expected_assignee, "pk", expected_assignee))
    now = timezone.now()
    with transaction.atomic():
        if rows.update(assigned_to=new_id, updated_at=now) != 1:
            complaint.reload()
            raise ComplaintChanged(complaint)
        complaint.assigned_to = assignee
        name = staff_name(assignee) if assignee else None
        write_event(
            complaint,
            kind=EventKind.ASSIGNMENT,
            by=by,
            text=f"Assigned to {name}." if name else "Unassigned.",
            customer_visible=False,
            data={"assigned_to": new_id},
            at=now,
        )
    return complaint


def _not_before(
    at: dt.datetime, start: dt.datetime, message: str, field: str = "replied_at"
) -> dt.datetime:
    """A time staff gave (a reply, a letter's arrival) checked against when something began.
    Staff give times to the minute, so one in the minute it began counts from that moment (the
    time returned)."""
    if at < start.replace(second=0, microsecond=0):
        raise ValidationError({field: message})
    return max(at, start)


def complaint_record_reply(
    *,
    complaint: Complaint,
    by: Actor,
    method: str,
    summary: str,
    replied_at: dt.datetime | None = None,
    call_reference: str = "",
    phone_agreed: bool = False,
) -> ComplaintEvent:
    """Record the company's reply to the customer (a phone call logged, or a written reply). The
    first reply in a stage stops that stage's clock.

    A customer who asked for a written reply is answered in writing: a call stops the clock only
    if they agreed, on it, to be answered by phone instead (``phone_agreed``, recorded with the
    reply, and their preference is then a phone reply). A formal written complaint is always
    answered in writing."""
    require_role(by, Role.AGENT, Role.MANAGER, doing="record replies")
    if by.role == Role.AGENT and complaint.state in MANAGER_STAGES:
        # The procedure: the Customer Services Manager reviews an escalated complaint and answers
        # a formal written one. An agent's reply would claim to be the manager's, and stop the
        # manager's clock.
        raise NotPermitted(
            "At stage 2 and 3 the Customer Services Manager replies: ask a manager, or add an "
            "internal note for them."
        )
    if method not in ResponseMethod.values:
        raise ValidationError({"method": "Choose phone call or written reply."})
    summary = require_text(summary, "summary", "a summary of the reply")
    now = timezone.now()
    replied_at = replied_at or now
    _with_time_zone(replied_at, "replied_at")  # a local time alone can be ambiguous, or not exist
    _not_in_future(replied_at, "replied_at", "The time of the reply", now)
    replied_at = _not_before(
        replied_at, complaint.received_at, "The reply cannot be before the complaint was received."
    )
    if not complaint.is_open:
        raise TransitionNotAllowed(
            f"A complaint that is “{complaint.get_state_display()}” takes no more replies.",
            allowed=[],
        )
    if complaint.state in CLOCK_STATES:
        # A call made before an escalation or a reopening answered the stage before, not this
        # one: it must not stop this stage's clock as if it came in time.
        began = timezone.localtime(complaint.stage_started_at)
        replied_at = _not_before(
            replied_at,
            complaint.stage_started_at,
            f"The reply cannot be before this stage began, on {began:%-d %B %Y} at {began:%H:%M}.",
        )
    waived = False
    if (
        complaint.awaiting_reply
        and complaint.preferred_response == ResponseMethod.WRITTEN
        and method == ResponseMethod.PHONE
    ):
        if complaint.state == State.FORMAL_WRITTEN:
            raise ValidationError(
                {
                    "method": "A formal written complaint is answered in writing: send a written "
                    "reply. To keep a record of a call, add a note."
                }
            )
        if not phone_agreed:
            raise ValidationError(
                {
                    "phone_agreed": "The customer asked for a reply in writing: send a written "
                    "reply, or tick that they agreed on this call to be answered by phone."
                }
            )
        waived = True
    with transaction.atomic():
        if complaint.awaiting_reply:
            # Compare-and-set: stops the clock only for the stage the caller saw (the same state,
            # entered at the same time, still unanswered).
            stopped = Complaint.objects.filter(
                pk=complaint.pk,
                state=complaint.state,
                stage_started_at=complaint.stage_started_at,
                responded_at__isnull=True,
            ).update(
                responded_at=replied_at,
                updated_at=now,
                **({"preferred_response": ResponseMethod.PHONE} if waived else {}),
            )
            if stopped:
                complaint.responded_at = replied_at
                if waived:
                    complaint.preferred_response = ResponseMethod.PHONE
            else:
                fresh = Complaint.objects.only("state", "stage_started_at").get(pk=complaint.pk)
                if (fresh.state, fresh.stage_started_at) != (
                    complaint.state,
                    complaint.stage_started_at,
                ):
                    complaint.reload()
                    raise ComplaintChanged(complaint)
        _answered(complaint, now)
        label = "Phone call" if method == ResponseMethod.PHONE else "Written reply"
        if method == ResponseMethod.WRITTEN:
            documents.letter_issue(
                complaint=complaint,
                kind=LetterKind.WRITTEN_REPLY,
                context=documents.written_reply_context(complaint, by=by, at=now, text=summary),
                by=by,
                at=now,
                email=outbox.customer_email(complaint, EmailTemplate.REPLY),
            )
        return write_event(
            complaint,
            kind=EventKind.REPLY,
            by=by,
            text=summary,
            data={
                "method": method,
                "replied_at": replied_at.isoformat(),
                "call_reference": call_reference.strip(),
                "label": label,
                **({"phone_agreed": True} if waived else {}),
                # How the letter reached the customer, as it was when sent (the timeline's line).
                **(
                    {"emailed": bool(complaint.email), "posted": documents.goes_by_post(complaint)}
                    if method == ResponseMethod.WRITTEN
                    else {}
                ),
            },
            at=now,
        )


def complaint_add_message(
    *, complaint: Complaint, by: Actor, text: str, attachments: list | tuple = ()
) -> ComplaintEvent:
    """A message the customer sees, with any evidence files: from the customer, or from staff to
    the customer."""
    if by.role == Role.CUSTOMER:
        if complaint.state in (State.CLOSED, State.WITHDRAWN):
            raise TransitionNotAllowed(
                "This complaint is closed. If you are still unhappy, please file a new complaint.",
                allowed=[],
            )
    else:
        require_role(by, Role.AGENT, Role.MANAGER, doing="message customers")
        if not complaint.email:
            raise ValidationError(
                {
                    "text": "This customer has no e-mail address, so a message would not reach "
                    "them: call them, or send a written reply (it goes by post)."
                }
            )
    text = require_text(text, "text", "your message")
    checked = evidence.check_uploads(list(attachments))
    with transaction.atomic():
        event = write_event(
            complaint, kind=EventKind.MESSAGE, by=by, text=text, data={"files": len(checked)}
        )
        store_attachments(complaint, checked, by=by, event=event)
        if by.role == Role.CUSTOMER:
            _tell_handler(complaint, event, files=len(checked))
        else:
            _answered(complaint, event.created_at)
            # The customer has no account to check: the message goes to them by e-mail too.
            outbox.email_record(
                **outbox.customer_email(
                    complaint, EmailTemplate.MESSAGE, dedupe_key=f"message:{event.pk}", message=text
                )
            )
    return event


def _tell_handler(complaint: Complaint, event: ComplaintEvent, *, files: int) -> None:
    """The customer has written (``event``): mark the case as waiting on staff since then (kept
    from the first unanswered message), and tell whoever has the case, or the managers
    (``outbox.handler_addresses``). Nothing else would bring it to anyone's notice: a case already
    answered, resolved or at CISAS is near the top of no queue. The text stays on the case page,
    behind the sign-in, rather than in a mailbox. Once per message (the dedupe key)."""
    if Complaint.objects.filter(pk=complaint.pk, customer_wrote_at__isnull=True).update(
        customer_wrote_at=event.created_at
    ):
        complaint.customer_wrote_at = event.created_at
    outbox.email_record(
        template=EmailTemplate.CUSTOMER_WROTE,
        to=outbox.handler_addresses(complaint),
        complaint=complaint,
        context={
            **outbox.complaint_email_context(complaint),
            "assigned_to": staff_name(complaint.assigned_to),
            "files": files,
        },
        dedupe_key=f"customer-message:{event.pk}",
    )


def _answered(complaint: Complaint, at: dt.datetime) -> None:
    """Staff have answered the customer (a message, a reply) or acted on the case: it no longer
    waits on them for what the customer wrote before ``at``. Something written since stays."""
    Complaint.objects.filter(pk=complaint.pk, customer_wrote_at__lte=at).update(
        customer_wrote_at=None
    )
    if complaint.customer_wrote_at is not None and complaint.customer_wrote_at <= at:
        complaint.customer_wrote_at = None


def complaint_add_note(
    *, complaint: Complaint, by: Actor, text: str, attachments: list | tuple = ()
) -> ComplaintEvent:
    """An internal note, with any files: staff only, never shown to the customer."""
    require_role(by, Role.AGENT, Role.MANAGER, doing="add internal notes")
    text = require_text(text, "text", "the note")
    checked = evidence.check_uploads(list(attachments))
    with transaction.atomic():
        event = write_event(
            complaint,
            kind=EventKind.NOTE,
            by=by,
            text=text,
            customer_visible=False,
            data={"files": len(checked)},
        )
        store_attachments(complaint, checked, by=by, event=event, customer_visible=False)
    return event


def complaint_for_new_link(*, reference: str, email: str) -> Complaint | None:
    """ "Lost my link", first half: the complaint the reference and e-mail both match, if any. One
    indexed read, as quick for a match as for none, so the visitor can be answered before
    anything is written (``complaint_send_new_link``), and the time they wait tells them nothing
    about whose complaints exist."""
    reference = (reference or "").strip().upper()
    email = (email or "").strip()
    if not reference or not email:
        return None
    complaint = Complaint.objects.filter(reference=reference).first()
    if complaint is None or complaint.email.casefold() != email.casefold():
        return None
    return complaint


def complaint_send_new_link(*, complaint: Complaint | None) -> None:
    """ "Lost my link": for the complaint ``complaint_for_new_link`` found by reference and e-mail,
    replace its tracking secret (the old link stops working) and e-mail the new link; for None,
    nothing. The visitor is told the same either way, so the form cannot be used to find out
    whose complaints exist."""
    if complaint is None:
        return
    with transaction.atomic():
        secret = complaint_new_tracking_secret(complaint=complaint)
        event = write_event(
            complaint,
            kind=EventKind.LINK,
            by=Actor.customer(),
            text="A new tracking link was e-mailed at the customer's request.",
            customer_visible=False,
        )
        outbox.email_record(
            **outbox.customer_email(
                complaint,
                EmailTemplate.NEW_LINK,
                dedupe_key=f"new-link:{complaint.pk}:{event.pk}",
                tracking_url=tracking_url(complaint, secret),
            )
        )


WRITTEN_REPLY_REQUEST = "Please reply in writing."


def complaint_request_written_reply(
    *, complaint: Complaint, by: Actor, expected_state: str | None = None
) -> ComplaintEvent | None:
    """The customer's right to a written reply: records their message "Please reply in writing"
    and sets ``preferred_response`` to written, together, in one transaction. Only while the
    stage's reply is awaited: once it has been given, or with no stage clock running (a deadlock,
    CISAS), nothing would answer the request. Asking again once it is written is a no-op (returns
    None), so a double click adds one line.

    With ``expected_state`` the change happens only if the case is still in the state the caller
    saw (compare-and-set), otherwise ``ComplaintChanged``."""
    require_role(by, Role.CUSTOMER, Role.AGENT, Role.MANAGER, doing="ask for a written reply")
    if expected_state is not None and complaint.state != expected_state:
        raise ComplaintChanged(complaint)
    if not complaint.is_open:
        raise TransitionNotAllowed(
            f"A complaint that is “{complaint.get_state_display()}” takes no more requests.",
            allowed=[],
        )
    if not complaint.awaiting_reply:
        raise TransitionNotAllowed(
            "We have already replied at this stage of your complaint. If you are not happy with "
            "our reply, you can take your complaint to the next stage.",
            allowed=[],
        )
    now = timezone.now()
    with transaction.atomic():
        # Compare-and-set on the state the caller saw, on the reply still awaited, and on "not
        # yet written" so that two requests at once write one event between them.
        updated = (
            Complaint.objects.filter(pk=complaint.pk, state=complaint.state, responded_at=None)
            .exclude(preferred_response=ResponseMethod.WRITTEN)
            .update(preferred_response=ResponseMethod.WRITTEN, updated_at=now)
        )
        if not updated:
            complaint.reload()
            if complaint.preferred_response == ResponseMethod.WRITTEN and (
                expected_state is None or complaint.state == expected_state
            ):
                return None
            raise ComplaintChanged(complaint)
        complaint.preferred_response = ResponseMethod.WRITTEN
        event = write_event(
            complaint,
            kind=EventKind.MESSAGE,
            by=by,
            text=WRITTEN_REPLY_REQUEST,
            data={"preferred_response": ResponseMethod.WRITTEN, "files": 0},
            at=now,
        )
        if by.role == Role.CUSTOMER:
            # A phone call planned now no longer answers them: whoever has the case must know.
            _tell_handler(complaint, event, files=0)
        return event


# --- One service per transition ---------------------------------------------------------------


def _enter_new_stage(
    complaint: Complaint,
    name: str,
    *,
    by: Actor,
    text: str,
    expected_state: str | None,
    **kwargs: Any,
) -> Complaint:
    """A transition that starts a new 15-working-day reply clock, and the e-mail that tells the
    customer the new date, in one transaction."""
    with transaction.atomic():
        fire_transition(
            complaint,
            name,
            by=by,
            expected_state=expected_state,
            text=text.strip(),
            at=timezone.now(),
            **kwargs,
        )
        outbox.email_record(
            **outbox.customer_email(
                complaint,
                EmailTemplate.ESCALATION,
                dedupe_key=f"stage:{complaint.pk}:{complaint.stage_started_at.isoformat()}",
                reopened=name == "reopen",
            )
        )
    return complaint


def complaint_escalate(
    *, complaint: Complaint, by: Actor, reason: str = "", expected_state: str | None = None
) -> Complaint:
    """Stage 1 to stage 2: the manager reviews; a new reply clock starts. Staff say why it needs
    the manager (the case page and the API alike); a customer may simply ask. ``ValidationError``
    on ``reason`` when staff give none."""
    reason = staff_reason(
        complaint, "escalate_to_manager", by, expected_state, reason, "why it needs the manager"
    )
    return _enter_new_stage(
        complaint, "escalate_to_manager", by=by, text=reason, expected_state=expected_state
    )


def complaint_make_formal(
    *,
    complaint: Complaint,
    by: Actor,
    text: str,
    expected_state: str | None = None,
    received_at: dt.datetime | None = None,
) -> Complaint:
    """Stage 2 to stage 3: a formal written complaint; a new reply clock starts.

    The complaint's own words are required, whoever records it (the tracking page, the case
    page, the API): stage 3 is the manager's answer to them. ``ValidationError`` on ``text``
    when there are none.

    Staff recording a letter or e-mail that came in earlier give ``received_at``: the reply is
    due 15 working days after it reached us, not after it was typed in. It cannot be in the
    future, nor before stage 2 began (``ValidationError`` on ``received_at``)."""
    transition_check(complaint, "make_formal_complaint", by=by, expected_state=expected_state)
    wanted = (
        "your formal complaint: what is still wrong, and what you want us to do"
        if by.role == Role.CUSTOMER
        else "the customer's formal complaint, in their words"  # from their letter or call
    )
    text = require_text(text, "text", wanted)
    extra: dict[str, Any] = {}
    if received_at is not None:
        require_role(by, Role.AGENT, Role.MANAGER, doing="date a formal written complaint")
        _with_time_zone(received_at, "received_at")
        now = timezone.now()
        _not_in_future(received_at, "received_at", "The date received", now)
        if received_at >= now.replace(second=0, microsecond=0):
            received_at = None  # this minute, to the minute: it is being recorded as it came in
    if received_at is not None:
        began = timezone.localtime(complaint.stage_started_at)
        received_at = _not_before(
            received_at,
            complaint.stage_started_at,
            "A formal written complaint cannot have reached us before stage 2 began, on "
            f"{began:%-d %B %Y} at {began:%H:%M}.",
            field="received_at",
        )
        extra = {"received_at": received_at, "data": {"received_at": received_at.isoformat()}}
    return _enter_new_stage(
        complaint,
        "make_formal_complaint",
        by=by,
        text=text,
        expected_state=expected_state,
        **extra,
    )


def complaint_resolve(
    *, complaint: Complaint, by: Actor, summary: str, expected_state: str | None = None
) -> Complaint:
    transition_check(complaint, "resolve", by=by, expected_state=expected_state)
    summary = require_text(summary, "summary", "a summary of how it was resolved")
    with transaction.atomic():
        fire_transition(
            complaint,
            "resolve",
            by=by,
            expected_state=expected_state,
            text=summary,
            at=timezone.now(),
            summary=summary,
        )
        # Told by e-mail, with how long they have to reopen it.
        cisas_deadline = complaint.cisas_deadline  # resolved after a deadlock letter
        outbox.email_record(
            **outbox.customer_email(
                complaint,
                EmailTemplate.RESOLVED,
                dedupe_key=f"resolved:{complaint.pk}:{complaint.resolved_at.isoformat()}",
                summary=summary,
                reopen_until_date=complaint.reopen_last_date.isoformat(),
                cisas_deadline=cisas_deadline.isoformat() if cisas_deadline else None,
            )
        )
    return complaint


def complaint_reopen(
    *, complaint: Complaint, by: Actor, reason: str = "", expected_state: str | None = None
) -> Complaint:
    """Reopened cases go to the manager with a new reply clock: at stage 2, or at stage 3 if the
    case had reached a formal written complaint. Customers may reopen for 8 weeks after
    resolution; staff at any time, saying why (``ValidationError`` on ``reason`` when they give
    none)."""
    reason = staff_reason(
        complaint, "reopen", by, expected_state, reason, "why it is being reopened"
    )
    formal = complaint.events.filter(
        kind=EventKind.TRANSITION, to_state=State.FORMAL_WRITTEN
    ).exists()
    return _enter_new_stage(
        complaint, "reopen", by=by, text=reason, expected_state=expected_state, formal=formal
    )


def complaint_close(
    *, complaint: Complaint, by: Actor, note: str = "", expected_state: str | None = None
) -> Complaint:
    return fire_transition(
        complaint,
        "close",
        by=by,
        expected_state=expected_state,
        text=note.strip(),
        at=timezone.now(),
    )


def complaint_withdraw(
    *, complaint: Complaint, by: Actor, reason: str = "", expected_state: str | None = None
) -> Complaint:
    """Withdrawn at the customer's request, and confirmed to them by e-mail (once): a withdrawal
    staff record from a call is otherwise news to nobody who could object. The customer may
    simply withdraw; staff withdraw only when the customer asked, and say how and when on the
    timeline (the case page, the admin and the API alike). ``ValidationError`` on ``reason``
    when staff give none."""
    reason = staff_reason(
        complaint,
        "withdraw",
        by,
        expected_state,
        reason,
        "how and when the customer asked to withdraw",
    )
    with transaction.atomic():
        fire_transition(
            complaint,
            "withdraw",
            by=by,
            expected_state=expected_state,
            text=reason.strip(),
            at=timezone.now(),
        )
        outbox.email_record(
            **outbox.customer_email(
                complaint, EmailTemplate.WITHDRAWN, dedupe_key=f"withdrawn:{complaint.pk}"
            )
        )
    return complaint


# The field each transition's own service gives the note to, and names its errors after.
NOTE_FIELDS = {
    "issue_deadlock_letter": "final_position",
    "make_formal_complaint": "text",
    "record_adr_decision": "remedy",
    "resolve": "summary",
    "withdraw": "reason",
    "escalate_to_manager": "reason",
    "reopen": "reason",
}


def complaint_transition(
    *,
    complaint: Complaint,
    name: str,
    by: Actor,
    note: str = "",
    expected_state: str | None = None,
    **fields: Any,
) -> Complaint:
    """Fire a transition by name (the API's ``{"name", "note"}``), through its own service.

    A ``ValidationError`` on the note (a resolution without its summary, a deadlock letter
    without the final position) is raised on ``note``, the field the caller gave."""
    from adr.services import (
        complaint_issue_deadlock,
        complaint_record_adr_decision,
        complaint_refer_to_adr,
        complaint_start_court_action,
    )

    services = {
        "escalate_to_manager": lambda: complaint_escalate(
            complaint=complaint, by=by, reason=note, expected_state=expected_state
        ),
        "make_formal_complaint": lambda: complaint_make_formal(
            complaint=complaint,
            by=by,
            text=note,
            expected_state=expected_state,
            received_at=fields.get("received_at"),
        ),
        "issue_deadlock_letter": lambda: complaint_issue_deadlock(
            complaint=complaint, by=by, final_position=note, expected_state=expected_state
        ),
        "refer_to_adr": lambda: complaint_refer_to_adr(
            complaint=complaint,
            by=by,
            expected_state=expected_state,
            cisas_reference=fields.get("cisas_reference", ""),
            referred_on=fields.get("referred_on") or clocks.london_date(timezone.now()),
        ),
        "record_adr_decision": lambda: complaint_record_adr_decision(
            complaint=complaint,
            by=by,
            expected_state=expected_state,
            outcome=fields.get("outcome", ""),
            remedy=note,
            accepted_on=fields.get("accepted_on"),
        ),
        "start_court_action": lambda: complaint_start_court_action(
            complaint=complaint,
            by=by,
            note=note,
            expected_state=expected_state,
            started_on=fields.get("started_on") or clocks.london_date(timezone.now()),
        ),
        "resolve": lambda: complaint_resolve(
            complaint=complaint, by=by, summary=note, expected_state=expected_state
        ),
        "reopen": lambda: complaint_reopen(
            complaint=complaint, by=by, reason=note, expected_state=expected_state
        ),
        "close": lambda: complaint_close(
            complaint=complaint, by=by, note=note, expected_state=expected_state
        ),
        "withdraw": lambda: complaint_withdraw(
            complaint=complaint, by=by, reason=note, expected_state=expected_state
        ),
    }
    if name not in services:
        raise ValidationError({"name": f"Unknown transition “{name}”."})
    transition_check(complaint, name, by=by, expected_state=expected_state)
    try:
        return services[name]()
    except ValidationError as exc:
        field = NOTE_FIELDS.get(name)
        if not hasattr(exc, "error_dict") or field not in exc.error_dict:
            raise
        errors = {("note" if key == field else key): value for key, value in exc.error_dict.items()}
        raise ValidationError(errors) from None


# --- Letters by post ----------------------------------------------------------------------------


def letter_mark_posted(*, letter_id: int, by: Actor) -> Letter:
    """Staff record that they posted a letter to the customer's address: once, whoever clicks
    first (a conditional UPDATE); the timeline says so, and the customer sees it."""
    require_role(by, Role.AGENT, Role.MANAGER, doing="record posted letters")
    now = timezone.now()
    with transaction.atomic():
        posted = Letter.objects.filter(pk=letter_id, to_post=True, posted_at__isnull=True).update(
            posted_at=now, posted_by=by.user
        )
        letter = Letter.objects.select_related("complaint", "posted_by").get(pk=letter_id)
        if not posted:
            if not letter.to_post:
                raise ComplaintError(
                    f"This {letter.get_kind_display().lower()} is not to be posted."
                )
            when = timezone.localtime(letter.posted_at)
            who = staff_name(letter.posted_by)
            raise ComplaintError(
                f"The {letter.get_kind_display().lower()} to {letter.complaint.reference} was "
                f"already recorded as posted, by {who} on {when:%-d %B %Y} at {when:%H:%M}."
            )
        issued = clocks.london_date(letter.issued_at)
        write_event(
            letter.complaint,
            kind=EventKind.LETTER,
            by=by,
            text=f"Our {letter.get_kind_display().lower()} of {issued:%-d %B %Y} was posted to "
            "your address.",
            data={"letter": letter.pk, "posted": True},
            at=now,
        )
    return letter


# --- The audit trail of reads -----------------------------------------------------------------


def case_view_record(*, complaint: Complaint, by: Actor, via: str) -> None:
    """Log that a member of staff saw this complaint (one INSERT). Customers' own views are not
    logged: the link is theirs."""
    case_views_record(complaints=[complaint], by=by, via=via)


def case_views_record(*, complaints: Iterable[Complaint], by: Actor, via: str) -> None:
    """Log that a member of staff saw each of these complaints at once (a page of the API's
    list): one INSERT whatever their number."""
    if by.user is None or not by.user.pk:
        return
    now = timezone.now()
    CaseView.objects.bulk_create(
        CaseView(complaint=complaint, viewer=by.user, via=via, viewed_at=now)
        for complaint in complaints
    )


# --- Batches for the sweeps -------------------------------------------------------------------


def complaints_locked_batches(
    select: Callable[[], QuerySet[Complaint]], batch_size: int
) -> Iterator[list[Complaint]]:
    """Yield a sweep's due cases a batch at a time, each batch locked (the query's own ``FOR
    UPDATE SKIP LOCKED``) inside its own transaction, which commits when the caller asks for the
    next. Stops when a batch comes back short, or when the caller leaves the loop."""
    while True:
        with transaction.atomic():
            batch = list(select()[:batch_size])
            if not batch:
                return
            yield batch
        if len(batch) < batch_size:
            return


def complaints_fire_locked_batch(
    complaints: list[Complaint],
    name: str,
    *,
    by: Actor,
    at: dt.datetime,
    text: str = "",
    data: dict[str, Any] | None = None,
    **kwargs: Any,
) -> list[Complaint]:
    """Fire one transition on many cases the caller has locked (``SELECT ... FOR UPDATE``) inside
    its transaction, with one UPDATE per set of identical changes (one for a sweep's batch) and
    one INSERT.

    The same transition method as ``fire_transition`` decides the new state and fields, so a sweep
    follows exactly the rule a person would. Cases the transition does not apply to are left alone
    and not returned. No sweep restarts a stage clock; were one to, the rows' being locked before
    they are read makes each copy current, so what changed is all there is to write."""
    fired: list[Complaint] = []
    # Cases whose transition changed the same fields to the same values share one UPDATE
    # (for a sweep, usually the whole batch): {((field, value), ...): [pk, ...]}.
    groups: dict[tuple, list[int]] = {}
    events: list[ComplaintEvent] = []
    handed: dict[int, int] = {}  # cases taken from their agents: {case: agent}
    managers: set[int] | None = None
    fields = [f for f in Complaint._meta.concrete_fields if not f.primary_key]
    for complaint in complaints:
        method = getattr(complaint, name)
        if not (can_proceed(method) and has_transition_perm(method, by)):
            continue
        before = {f.attname: f.value_from_object(complaint) for f in fields}
        from_state = complaint.state
        method(at=at, **kwargs)
        complaint.updated_at = at
        agent = complaint.assigned_to_id
        if agent and _becomes_managers(from_state, complaint.state):
            # hand_to_managers, within the same UPDATE: the rows were locked before they were
            # read, so the assignee read is the current one. A second UPDATE of the batch's rows
            # cost the ADR clock 2.7 s for 10,000 cases (bench_sweeps.py).
            if managers is None:
                managers = set(_managers().values_list("pk", flat=True))
            if agent not in managers:
                handed[complaint.pk] = agent
                complaint.assigned_to = None
        changes = tuple(
            (f.attname, f.value_from_object(complaint))
            for f in fields
            if f.value_from_object(complaint) != before[f.attname] or f.name == "updated_at"
        )
        groups.setdefault(changes, []).append(complaint.pk)
        fired.append(complaint)
        events.append(
            ComplaintEvent(
                complaint=complaint,
                kind=EventKind.TRANSITION,
                actor=by.user,
                actor_role=by.role or "",
                actor_name=by.name,
                transition=name,
                from_state=from_state,
                to_state=complaint.state,
                customer_visible=True,
                text=text,
                data=data or {},
                created_at=at,
            )
        )
    for changes, pks in groups.items():
        # The rows are locked by the caller, so a plain UPDATE cannot race a person's transition.
        Complaint.objects.filter(pk__in=pks).update(**dict(changes))
    if handed:
        events += _handed_over_events(handed, at)
    if events:
        ComplaintEvent.objects.bulk_create(events)
    return fired
