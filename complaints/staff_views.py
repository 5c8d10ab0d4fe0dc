"""The staff side: the agents' queue, the case page and its actions, files and letters.

Every action on a case posts to one endpoint (``case_action``) with the state the page showed; the
service decides, and its errors come back as messages or form errors (POST, redirect, GET).
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import (
    FileResponse,
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBadRequest,
)
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import get_template, render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.dates import MONTHS_3
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from adr import services as adr_services
from config.cache_headers import never_cache
from config.sessions import lock_session

from . import clocks, documents, privacy, selectors, services
from . import staff_forms as f
from .access import actor, get_case, manager_required, staff_required
from .errors import ExplainedNotFound
from .keyset import KeysetPaginator
from .models import (
    CLOCK_STATES,
    Attachment,
    Complaint,
    EventKind,
    Letter,
    ResponseMethod,
    State,
)
from .roles import Actor, Role, staff_name

# --- The queue ------------------------------------------------------------------------------------


def with_case_links(cases: list[Complaint]) -> list[Complaint]:
    """Each row's links to its case page and to the case's actions, for the queues: one
    reverse() each for the page rather than two per row (a reverse() costs as much as the rest
    of a row's markup)."""
    placeholder = "CMP-0000-000000"
    case_url = reverse("staff:case", args=[placeholder])
    action_url = reverse("staff:case_action", args=[placeholder])
    for case in cases:
        case.case_url = case_url.replace(placeholder, case.reference)
        case.action_url = action_url.replace(placeholder, case.reference)
    return cases


def _queue_rows(cases: list[Complaint], by: Actor) -> list[Complaint]:
    """What each row of the queue shows that the template would otherwise work out per row:
    its links, the date received, and whether ``by`` may claim it. A page of 100 rows spent a
    third of its time on these."""
    months = {n: str(name).title() for n, name in MONTHS_3.items()}  # as date:"M" gives them
    for case in with_case_links(cases):
        case.claimable = case.assigned_to_id is None and services.may_claim(case, by)
        received = case.received_date
        case.received_label = f"{received.day} {months[received.month]} {received.year}"
        due = case.response_due_date
        # As date:"j M" and date:"j M Y" would give them.
        case.due_day = f"{due.day} {months[due.month]}" if due else ""
        case.due_label = f"{case.due_day} {due.year}" if due else ""
    return cases


@require_GET
@staff_required
def queue(request: HttpRequest) -> HttpResponse:
    form = f.QueueFilterForm(request.GET)
    filters = form.filters()
    now = timezone.now()
    cases = selectors.agent_queue(
        user=request.user,
        now=now,
        **{k: v for k, v in filters.items() if k != "per_page"},
    )
    paginator = KeysetPaginator(
        cases,
        selectors.agent_queue_segments(**filters),
        filters["per_page"],
        likely_one_page=bool(filters["q"].strip()),
    )
    page = paginator.get_page(request.GET)
    page.object_list = _queue_rows(selectors.with_days_left(page.object_list, now), actor(request))
    return render(
        request,
        "complaints/queue.html",
        {
            "next_url": request.get_full_path(),
            "form": form,
            "filters": filters,
            "filtered": any(filters[k] != v for k, v in f.QueueFilterForm.DEFAULTS.items()),
            "page": page,
            "now": now,
        },
    )


# --- Logging a complaint -------------------------------------------------------------------------

# The session's record of the complaints logged from it: the log page's one-time token -> the
# reference it filed. The latest few are kept, enough for any page still open in another tab.
LOGGED_KEY = "staff_logged"
LOGGED_KEPT = 20


@require_http_methods(["GET", "POST"])
@staff_required
def log_complaint(request: HttpRequest) -> HttpResponse:
    """A complaint taken by phone, or received by e-mail or letter, logged by staff. The customer
    is sent the acknowledgement letter and their private link, as if they had used the form."""
    form = f.LogComplaintForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        complaint = _log(request, form)
        if complaint is not None:
            sent = (
                f"The acknowledgement letter and the customer's private link are on their way "
                f"to {complaint.email}. "
                if complaint.email
                else "The customer gave no e-mail address: the acknowledgement letter is on the "
                "list of letters to post. "
            )
            messages.success(
                request,
                f"Complaint {complaint.reference} logged. {sent}" + _log_dates_note(complaint),
            )
            return redirect("staff:case", complaint.reference)
    if form.errors and request.FILES:
        # A browser cannot be given files back: say so, rather than let them go unnoticed.
        form.add_error(
            "files",
            "The files you chose were not kept because of the problems on this page: "
            "choose them again.",
        )
    return render(
        request,
        "complaints/staff/log.html",
        {"form": form},
        status=400 if form.errors else 200,
    )


def _log_dates_note(complaint: Complaint) -> str:
    """What the dates of a complaint just logged mean today: one logged long after it came in
    may be overdue already, or past its ADR date, when the ADR clock issues the deadlock letter
    at its next run (every minute) unless the case is resolved first."""
    today = clocks.london_date(timezone.now())
    due, adr = complaint.response_due_date, complaint.adr_eligible_date
    if adr <= today:
        return (
            f"It came in on {complaint.received_date:%-d %B %Y} and is already past its ADR date "
            f"({adr:%-d %B %Y}): the deadlock letter goes to the customer automatically within "
            "minutes."
        )
    if due < today:
        return f"Its reply was due by {due:%A %-d %B %Y}: it is overdue already."
    return f"The reply is due by {due:%A %-d %B %Y}."


def _log(request: HttpRequest, form: f.LogComplaintForm) -> Complaint | None:
    """File the complaint on a valid page, once: None (with the form's errors) when it was not
    filed, the complaint already logged from this page when the page comes again."""
    data = dict(form.cleaned_data)
    submission = data.pop("submission")
    log_anyway = data.pop("log_anyway")
    data["attachments"] = data.pop("files")
    with transaction.atomic():
        # A double click finds the page's one-time token spent: one complaint.
        lock_session(request)
        logged = dict(request.session.get(LOGGED_KEY) or {})
        if submission in logged:
            return Complaint.objects.get(reference=logged[submission])
        # The page sent again after Back carries a new token: ask before filing it twice.
        same = None
        if not log_anyway and data["email"]:
            same = selectors.recent_same_complaint(
                email=data["email"],
                description=data["description"],
                since=timezone.now() - dt.timedelta(days=1),
            )
        if same is not None:
            form.add_error(
                "log_anyway",
                f"{same.reference} was logged at "
                f"{timezone.localtime(same.created_at):%H:%M on %-d %B} with the same e-mail "
                "address and the same complaint. Open it to check; tick this box only if this is "
                "a different complaint.",
            )
            form.duplicate = same
            return None
        try:
            filed = services.complaint_file(**data, by=actor(request))
        except ValidationError as exc:
            _to_form_errors(form, exc)
            return None
        logged[submission] = filed.complaint.reference
        request.session[LOGGED_KEY] = dict(list(logged.items())[-LOGGED_KEPT:])
        # Saved inside the lock, so the second click reads it; not again afterwards.
        request.session.save()
        request.session.modified = False
    return filed.complaint


# --- The case page --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Action:
    """One thing staff can do on the case page: its form, what it is called, the service call."""

    label: str
    form: type[f.CaseActionForm]
    run: Callable[[Complaint, Actor, dict[str, Any]], str]
    transition: str = ""  # the state machine's transition, when it fires one
    # Whether a stale page (the case has changed state since) is refused. Assignment compares the
    # assignee instead; an internal note is safe to add whatever happened meanwhile.
    checks_state: bool = True
    button: str = ""
    danger: bool = False
    # The service e-mails the customer about it: the confirmation says so, or, for a customer
    # with no e-mail address, that telling them is staff's to do (_told).
    tells_customer: bool = False


class AssignmentChanged(services.ComplaintError):
    def __init__(self, complaint: Complaint) -> None:
        who = staff_name(complaint.assigned_to)
        super().__init__(
            f"Someone else changed who is working on {complaint.reference} first: it is now "
            f"assigned to {who}. Nothing was saved."
            if complaint.assigned_to_id
            else f"{complaint.reference} was released by someone else first and is now "
            "unassigned. Nothing was saved."
        )


def _assign(complaint: Complaint, by: Actor, assignee, expected) -> None:
    if complaint.assigned_to_id != expected:
        raise AssignmentChanged(complaint)
    try:
        services.complaint_assign(
            complaint=complaint, assignee=assignee, by=by, expected_assignee=expected
        )
    except services.ComplaintChanged:
        complaint.reload()
        raise AssignmentChanged(complaint) from None


def _claim(c: Complaint, by: Actor, d: dict) -> str:
    _assign(c, by, by.user, d["expected_assignee"])
    return f"You are now working on {c.reference}."


def _release(c: Complaint, by: Actor, d: dict) -> str:
    _assign(c, by, None, d["expected_assignee"])
    return f"You have released {c.reference}; it is now unassigned."


def _reassign(c: Complaint, by: Actor, d: dict) -> str:
    _assign(c, by, d["assignee"], d["expected_assignee"])
    return f"{c.reference} is now assigned to {staff_name(d['assignee'])}."


def _deadline_said(c: Complaint, was_running: bool) -> str:
    """What a reply that stopped the stage's clock did to its deadline."""
    if not was_running or c.answered_in_time is None:
        return ""
    if c.answered_in_time:
        return " The reply deadline is met."
    return f" The reply is late: it was due by {c.response_due_date:%-d %B %Y}."


def _reply_phone(c: Complaint, by: Actor, d: dict) -> str:
    was_running = c.awaiting_reply
    services.complaint_record_reply(
        complaint=c,
        by=by,
        method=ResponseMethod.PHONE,
        summary=d["summary"],
        replied_at=d["replied_at"],
        call_reference=d["call_reference"],
        phone_agreed=d.get("phone_agreed", False),
    )
    return "Phone reply logged." + _deadline_said(c, was_running)


def _letter_goes(c: Complaint) -> str:
    """Where a letter just issued goes, as documents.letter_issue sends it: by e-mail, and by
    post too to a customer who gave an address (documents.goes_by_post); to one with no e-mail
    address, by post alone (complaint_file asks for one or the other)."""
    if not c.email:
        return "waits on the list of letters to post (the customer has no e-mail address)"
    if documents.goes_by_post(c):
        return "is being e-mailed to the customer, and waits on the list of letters to post"
    return "is being e-mailed to the customer"


def _told(c: Complaint) -> str:
    if c.email:
        return "The customer is told."
    return "The customer has no e-mail address: tell them by phone or by letter."


def _reply_written(c: Complaint, by: Actor, d: dict) -> str:
    was_running = c.awaiting_reply
    services.complaint_record_reply(
        complaint=c, by=by, method=ResponseMethod.WRITTEN, summary=d["summary"]
    )
    sent = f"Written reply sent: the letter is on the case and {_letter_goes(c)}."
    return sent + _deadline_said(c, was_running)


def _message(c: Complaint, by: Actor, d: dict) -> str:
    services.complaint_add_message(complaint=c, by=by, text=d["text"], attachments=d["files"])
    return "Message sent to the customer."


def _note(c: Complaint, by: Actor, d: dict) -> str:
    services.complaint_add_note(complaint=c, by=by, text=d["text"], attachments=d["files"])
    return "Internal note added."


def _resolve(c: Complaint, by: Actor, d: dict) -> str:
    services.complaint_resolve(
        complaint=c, by=by, summary=d["summary"], expected_state=d["expected_state"]
    )
    return f"{c.reference} is resolved. The customer can reopen it for 8 weeks."


def _escalate(c: Complaint, by: Actor, d: dict) -> str:
    services.complaint_escalate(
        complaint=c, by=by, reason=d["reason"], expected_state=d["expected_state"]
    )
    return f"{c.reference} is escalated to the Customer Services Manager."


def _make_formal(c: Complaint, by: Actor, d: dict) -> str:
    services.complaint_make_formal(
        complaint=c,
        by=by,
        text=d["text"],
        expected_state=d["expected_state"],
        received_at=d["received_at"],
    )
    return f"{c.reference} is now a formal written complaint (stage 3)."


def _deadlock(c: Complaint, by: Actor, d: dict) -> str:
    adr_services.complaint_issue_deadlock(
        complaint=c, by=by, final_position=d["final_position"], expected_state=d["expected_state"]
    )
    return f"Deadlock letter issued: it {_letter_goes(c)}."


def _refer_adr(c: Complaint, by: Actor, d: dict) -> str:
    adr_services.complaint_refer_to_adr(
        complaint=c,
        by=by,
        cisas_reference=d["cisas_reference"],
        referred_on=d["referred_on"],
        expected_state=d["expected_state"],
    )
    return "CISAS referral recorded."


def _adr_decision(c: Complaint, by: Actor, d: dict) -> str:
    adr_services.complaint_record_adr_decision(
        complaint=c,
        by=by,
        outcome=d["outcome"],
        remedy=d["remedy"],
        accepted_on=d["accepted_on"],
        expected_state=d["expected_state"],
    )
    if c.state == State.RESOLVED and c.remedy_due_date is not None:
        return f"CISAS decision recorded. The remedy is due by {c.remedy_due_date:%-d %B %Y}."
    if c.state == State.RESOLVED:
        return "CISAS decision recorded. It did not uphold the complaint, so no remedy is due."
    return "CISAS decision recorded. The customer did not accept it, so the case is closed."


def _court(c: Complaint, by: Actor, d: dict) -> str:
    adr_services.complaint_start_court_action(
        complaint=c,
        by=by,
        started_on=d["started_on"],
        note=d["note"],
        expected_state=d["expected_state"],
    )
    return "Court action recorded."


def _remedy_done(c: Complaint, by: Actor, d: dict) -> str:
    adr_services.complaint_record_remedy_done(complaint=c, by=by, note=d["note"])
    return "The CISAS remedy is recorded as done."


def _reopen(c: Complaint, by: Actor, d: dict) -> str:
    services.complaint_reopen(
        complaint=c, by=by, reason=d["reason"], expected_state=d["expected_state"]
    )
    return f"{c.reference} is reopened and with the Customer Services Manager, at stage {c.stage}."


def _close(c: Complaint, by: Actor, d: dict) -> str:
    services.complaint_close(complaint=c, by=by, note=d["note"], expected_state=d["expected_state"])
    return f"{c.reference} is closed."


def _withdraw(c: Complaint, by: Actor, d: dict) -> str:
    services.complaint_withdraw(
        complaint=c, by=by, reason=d["reason"], expected_state=d["expected_state"]
    )
    return f"{c.reference} is withdrawn."


def _hold(c: Complaint, by: Actor, d: dict) -> str:
    privacy.complaint_set_legal_hold(
        complaint=c, by=by, hold=True, reason=d["reason"], expected=d["expected_hold"]
    )
    return f"{c.reference} is on legal hold: its personal data is kept until the hold is lifted."


def _lift_hold(c: Complaint, by: Actor, d: dict) -> str:
    privacy.complaint_set_legal_hold(
        complaint=c, by=by, hold=False, reason=d["reason"], expected=d["expected_hold"]
    )
    return f"The legal hold on {c.reference} is lifted."


def _erase(c: Complaint, by: Actor, d: dict) -> str:
    done = privacy.customer_erase(complaint=c, by=by, reason=d["reason"])
    kept = "".join(f" {ref} is kept because {' and '.join(why)}." for ref, why in done.kept.items())
    return f"Personal data erased from {', '.join(done.erased)}.{kept}"


ACTIONS: dict[str, Action] = {
    "claim": Action("Claim", f.ClaimForm, _claim, checks_state=False, button="Claim this case"),
    "release": Action("Release", f.ReleaseForm, _release, checks_state=False, button="Release"),
    "assign": Action("Assign", f.AssignForm, _reassign, checks_state=False, button="Assign"),
    "reply_phone": Action("Log a phone reply", f.PhoneReplyForm, _reply_phone),
    "reply_written": Action(
        "Send a written reply", f.WrittenReplyForm, _reply_written, button="Send the reply"
    ),
    "resolve": Action(
        "Resolve",
        f.ResolveForm,
        _resolve,
        "resolve",
        button="Resolve the case",
        tells_customer=True,
    ),
    "escalate": Action(
        "Escalate to the manager",
        f.EscalateForm,
        _escalate,
        "escalate_to_manager",
        button="Escalate",
        tells_customer=True,
    ),
    "make_formal": Action(
        "Record a formal written complaint",
        f.MakeFormalForm,
        _make_formal,
        "make_formal_complaint",
        button="Move to stage 3",
        tells_customer=True,
    ),
    "deadlock": Action(
        "Issue a deadlock letter",
        f.DeadlockForm,
        _deadlock,
        "issue_deadlock_letter",
        button="Issue the deadlock letter",
    ),
    "refer_adr": Action("Record a CISAS referral", f.ReferAdrForm, _refer_adr, "refer_to_adr"),
    "adr_decision": Action(
        "Record the CISAS decision",
        f.AdrDecisionForm,
        _adr_decision,
        "record_adr_decision",
        tells_customer=True,
    ),
    "remedy_done": Action("Record the remedy as done", f.RemedyDoneForm, _remedy_done),
    "court": Action("Record court action", f.CourtForm, _court, "start_court_action"),
    "message": Action("Message the customer", f.MessageForm, _message, button="Send the message"),
    "note": Action(
        "Add an internal note", f.NoteForm, _note, checks_state=False, button="Add the note"
    ),
    "reopen": Action(
        "Reopen", f.ReopenForm, _reopen, "reopen", button="Reopen the case", tells_customer=True
    ),
    "close": Action("Close", f.CloseForm, _close, "close", button="Close the case"),
    "withdraw": Action(
        "Withdraw",
        f.WithdrawForm,
        _withdraw,
        "withdraw",
        button="Withdraw",
        danger=True,
        tells_customer=True,
    ),
    "hold": Action(
        "Place a legal hold", f.LegalHoldForm, _hold, checks_state=False, button="Hold the data"
    ),
    "lift_hold": Action(
        "Lift the legal hold", f.LiftLegalHoldForm, _lift_hold, checks_state=False, button="Lift"
    ),
    "erase": Action(
        "Erase the customer's personal data",
        f.EraseForm,
        _erase,
        button="Erase their personal data",
        danger=True,
    ),
}


def actions_for(complaint: Complaint, by: Actor) -> list[str]:
    """What this member of staff may do to the case as it stands, the likely next step first."""
    transitions = set(services.available_transitions(complaint, by))
    waiting_for_reply = complaint.awaiting_reply
    replies = ["reply_phone", "reply_written"] if complaint.state in CLOCK_STATES else []
    if by.role == Role.AGENT and complaint.state in services.MANAGER_STAGES:
        replies = []  # the manager's to send (services.complaint_record_reply)
    if complaint.preferred_response == ResponseMethod.WRITTEN:
        replies.reverse()  # the way the customer asked to be answered first
    if complaint.state == State.FORMAL_WRITTEN and waiting_for_reply and replies:
        replies.remove("reply_phone")  # a formal written complaint is answered in writing
    names = [
        *(replies if waiting_for_reply else []),
        "resolve",
        "escalate",
        "make_formal",
        *([] if waiting_for_reply else replies),
        "deadlock",
        "refer_adr",
        "adr_decision",
        "court",
    ]
    shown = [n for n in names if not ACTIONS[n].transition or ACTIONS[n].transition in transitions]
    if (
        by.role == Role.MANAGER
        and complaint.remedy_due_date is not None
        and complaint.remedy_completed_at is None
    ):
        shown.append("remedy_done")
    if complaint.state not in (State.CLOSED, State.WITHDRAWN) and complaint.email:
        shown.append("message")  # with no e-mail address, it could not reach the customer
    shown.append("note")
    shown += [n for n in ("reopen", "close", "withdraw") if ACTIONS[n].transition in transitions]
    if complaint.is_open and by.role == Role.MANAGER:
        shown.append("assign")
    if by.role == Role.MANAGER and complaint.anonymised_at is None:
        shown.append("lift_hold" if complaint.legal_hold else "hold")
        if complaint.state in privacy.ENDED_STATES:
            shown.append("erase")
    return [n for n in shown if n in ACTIONS]


def next_step(complaint: Complaint, names: list[str]) -> str | None:
    """The form to open on arrival: a reply while one is awaited, then resolving the stage. Anything
    else is a decision (escalate, deadlock, withdraw...) that nobody should be nudged towards."""
    awaiting_reply = complaint.awaiting_reply
    if awaiting_reply:
        replies = [n for n in names if n in ("reply_phone", "reply_written")]
        if replies:
            return replies[0]  # the way the customer asked to be answered (actions_for)
    if complaint.state in CLOCK_STATES and "resolve" in names:
        return "resolve"
    return None


def _heading(kind: str, transition: str, label: str | None) -> str:
    if kind == EventKind.TRANSITION:
        return services.TRANSITION_LABELS.get(transition, "Status changed")
    if kind == EventKind.REPLY:
        return label or "Reply given"
    return EventKind(kind).label


def _author(actor, actor_role: str, actor_name: str = "") -> str:
    """Who acted: the name kept when they did, else (events from before names were kept) the
    account's name now."""
    if actor_name:
        return actor_name
    if actor is not None:
        return staff_name(actor)
    return {"customer": "The customer", "system": "The system"}.get(actor_role, "Staff")


EVENT_TEMPLATE = "complaints/staff/_event.html"
EVENT_HTML_SECONDS = 7 * 24 * 3600


@functools.cache
def _event_template_digest() -> str:
    """Changes when the entry's template does, so a deployment never serves old markup."""
    source = get_template(EVENT_TEMPLATE).template.source
    return hashlib.blake2b(source.encode(), digest_size=6).hexdigest()


def timeline_html(complaint: Complaint) -> list[str]:
    """The case page's timeline entries as HTML, each rendered once and then read from the cache.

    An event never changes, except that anonymising blanks its text; what the entry shows beside
    the event (its heading, who acted, the attachments) is in the key, with the template's own
    digest and whether the case is anonymised. The keys come from a light read of the timeline
    (a few columns, and the people who acted); only entries not in the cache are read in full and
    rendered. A 200-event timeline costs two queries and one cache read; with the cache away,
    every entry is rendered as before."""
    rows = list(selectors.case_timeline_heads(complaint))
    # Accounts are read only for events written before names were kept on them.
    people = selectors.people(row[3] for row in rows if not row[5])
    anonymised = complaint.anonymised_at.isoformat() if complaint.anonymised_at else ""
    digest = _event_template_digest()
    keys, shown = [], []
    for pk, kind, transition, actor_id, actor_role, actor_name, label in rows:
        heading = _heading(kind, transition, label)
        author = _author(people.get(actor_id), actor_role, actor_name)
        said = f"{heading}\x00{author}\x00{anonymised}\x00{complaint.reference}"
        said_digest = hashlib.blake2b(said.encode(), digest_size=8).hexdigest()
        keys.append(f"staff-event:{digest}:{pk}:{said_digest}")
        shown.append((heading, author))
    cached = cache.get_many(keys)
    missing = [row[0] for row, key in zip(rows, keys, strict=True) if key not in cached]
    fresh = {}
    if missing:
        full = {e.pk: e for e in selectors.case_timeline(complaint).filter(pk__in=missing)}
        for (pk, *_), key, (heading, author) in zip(rows, keys, shown, strict=True):
            if pk in full:
                event = full[pk]
                event.heading, event.author = heading, author
                fresh[key] = render_to_string(
                    EVENT_TEMPLATE, {"event": event, "complaint": complaint}
                )
        cache.set_many(fresh, EVENT_HTML_SECONDS)
    # (Our own template's output, from the cache or rendered just now.)
    return [mark_safe(cached.get(key) or fresh[key]) for key in keys]  # noqa: S308


def _form(name: str, complaint: Complaint, staff=None, **kwargs) -> f.CaseActionForm:
    extra = {"staff": staff} if name == "assign" else {}
    return ACTIONS[name].form(prefix=name, complaint=complaint, **extra, **kwargs)


def _render_case(
    request: HttpRequest,
    complaint: Complaint,
    *,
    bound: tuple[str, f.CaseActionForm] | None = None,
    status: int = 200,
) -> HttpResponse:
    by = actor(request)
    now = timezone.now()
    staff = selectors.staff_members() if by.role == Role.MANAGER else None
    names = actions_for(complaint, by)
    forms = []
    for name in names:
        if name in ("claim", "release"):
            continue
        form = bound[1] if bound and bound[0] == name else _form(name, complaint, staff=staff)
        forms.append({"name": name, "action": ACTIONS[name], "form": form})
    opened = bound[0] if bound else next_step(complaint, names)
    for entry in forms:
        entry["open"] = entry["name"] == opened
    running = complaint.awaiting_reply
    days_left = (
        clocks.working_days_left(complaint.response_due_at, now, complaint.nation)
        if running
        else None
    )
    unassigned = complaint.assigned_to_id is None
    return render(
        request,
        "complaints/staff/case.html",
        {
            "complaint": complaint,
            "now": now,
            "today": clocks.london_date(now),
            # Only where going to CISAS is still the customer's next step: not once referred,
            # not in court, not once the case has ended.
            "cisas_window_passed": complaint.state == State.DEADLOCK
            and complaint.cisas_window_passed(clocks.london_date(now)),
            "first_reply_ran_out": complaint.first_reply_ran_out(now),
            "clock_running": running,
            "days_left": days_left,
            "days_overdue": -days_left if days_left is not None and days_left < 0 else 0,
            "overdue": complaint.is_overdue(now),
            "ran_out_unanswered": complaint.ran_out_unanswered(now),
            "timeline": timeline_html(complaint),
            "letters": selectors.case_letters(complaint),
            "attachments": selectors.case_attachments(complaint),
            "privacy": {
                "holds": privacy.hold_reasons(complaint)
                if complaint.legal_hold or complaint.state in privacy.ENDED_STATES
                else [],
                "retention_ends": privacy.retention_ends(complaint),
                "retention_years": settings.RETENTION_YEARS,
                # Customers are matched by e-mail address: with none, nothing to count.
                "complaints_count": privacy.customer_complaints(complaint).count()
                if complaint.email
                else None,
            },
            "forms": forms,
            "error_action": bound[0] if bound else None,
            "error_form": bound[1] if bound else None,
            "claim_form": _form("claim", complaint)
            if unassigned and services.may_claim(complaint, by)
            else None,
            "release_form": _form("release", complaint)
            if complaint.is_open and complaint.assigned_to_id == request.user.pk
            else None,
        },
        status=status,
    )


@require_GET
@staff_required
def case(request: HttpRequest, reference: str) -> HttpResponse:
    complaint = get_case(request, reference)
    services.case_view_record(complaint=complaint, by=Actor.staff(request.user), via="page")
    return _render_case(request, complaint)


def _next_url(request: HttpRequest, complaint: Complaint) -> str:
    """Back where the action came from (the queue, the escalations page), or the case page."""
    return _back_to(request, reverse("staff:case", args=[complaint.reference]))


def _back_to(request: HttpRequest, default: str) -> str:
    """The staff page a form's ``next`` names, when it is one of this site's; else ``default``."""
    target = request.POST.get("next", "")
    if target.startswith("/staff/") and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return default


def _to_form_errors(form: f.CaseActionForm, exc: ValidationError) -> None:
    if not hasattr(exc, "error_dict"):
        form.add_error(None, exc)
        return
    for field, errors in exc.message_dict.items():
        form.add_error(field if field in form.fields else None, errors)


@require_POST
@staff_required
def case_action(request: HttpRequest, reference: str) -> HttpResponse:
    complaint = get_case(request, reference)
    name = request.POST.get("action", "")
    if name not in ACTIONS:
        return HttpResponseBadRequest("Unknown action.")
    action = ACTIONS[name]
    staff = selectors.staff_members() if name == "assign" else None
    form = _form(name, complaint, staff=staff, data=request.POST, files=request.FILES)
    if form.is_valid():
        data = form.cleaned_data
        try:
            if action.checks_state and data["expected_state"] != complaint.state:
                raise services.ComplaintChanged(complaint)
            done = action.run(complaint, actor(request), data)
        except ValidationError as exc:
            _to_form_errors(form, exc)
        except services.ComplaintChanged as exc:
            complaint.reload()
            if name not in actions_for(complaint, actor(request)):
                messages.error(request, exc.message)
                return redirect(_next_url(request, complaint))
            # Still possible in the new state: keep what was typed, for a second look.
            kept = _kept(request, name, complaint, exc, staff=staff)
            return _render_case(request, complaint, bound=(name, kept), status=409)
        except services.ComplaintError as exc:
            messages.error(request, exc.message)
            return redirect(_next_url(request, complaint))
        else:
            if action.tells_customer:
                done = f"{done} {_told(complaint)}"
            messages.success(request, done)
            return redirect(_next_url(request, complaint))
    complaint.reload()
    return _render_case(request, complaint, bound=(name, form), status=400)


def _kept(
    request: HttpRequest,
    name: str,
    complaint: Complaint,
    changed: services.ComplaintChanged,
    *,
    staff,
) -> f.CaseActionForm:
    """The action's form as it was sent, now for the case as it stands: what was typed is shown
    again, with the case's new state, so that sending it again is a decision made on the new
    page rather than a lost note."""
    data = request.POST.copy()
    data[f"{name}-expected_state"] = complaint.state
    form = _form(name, complaint, staff=staff, data=data)
    form.is_valid()
    form.add_error(
        None, f"{changed.message} What you typed is below: send it again if it still applies."
    )
    return form


# --- Files, letters and the session ----------------------------------------------------------


@require_GET
@staff_required
def attachment(request: HttpRequest, reference: str, attachment_id: int) -> FileResponse:
    """An evidence file, always as a download: never shown inline, never sniffed as HTML."""
    complaint = get_case(request, reference)
    item = get_object_or_404(Attachment, pk=attachment_id, complaint=complaint)
    services.case_view_record(complaint=complaint, by=Actor.staff(request.user), via="file")
    if not item.file:
        raise ExplainedNotFound("This file was removed with the customer's personal data.")
    try:
        handle = item.file.open("rb")
    except FileNotFoundError:
        raise ExplainedNotFound("This file is missing from storage.") from None
    response = FileResponse(
        handle, as_attachment=True, filename=item.name, content_type=item.content_type
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["Cache-Control"] = "private, no-store"
    return response


@require_GET
@staff_required
def letter_pdf(request: HttpRequest, letter_id: int) -> FileResponse:
    """A letter's PDF for staff; rendered now if the worker has not got to it yet."""
    letter = get_object_or_404(Letter.objects.select_related("complaint"), pk=letter_id)
    services.case_view_record(
        complaint=letter.complaint, by=Actor.staff(request.user), via="letter"
    )
    pdf = documents.letter_open(letter)
    if pdf is None:
        raise ExplainedNotFound("This letter was removed with the customer's personal data.")
    response = FileResponse(
        pdf,
        content_type="application/pdf",
        filename=letter.file_name,
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    return response


LETTERS_TO_POST_SHOWN = 200


@require_GET
@staff_required
def letters_to_post(request: HttpRequest) -> HttpResponse:
    """The letters waiting to go by post to customers who gave an address, oldest first: print
    each, post it, and record it. The page is the day's post, not an archive: at most 200 shown,
    with how many there are in all."""
    waiting = selectors.letters_to_post()
    shown = list(waiting[:LETTERS_TO_POST_SHOWN])
    total = len(shown) if len(shown) < LETTERS_TO_POST_SHOWN else waiting.count()
    return render(
        request,
        "complaints/staff/letters_to_post.html",
        {"letters": shown, "total": total},
    )


@require_POST
@staff_required
def letter_posted(request: HttpRequest, letter_id: int) -> HttpResponse:
    """Record that a letter was posted; back to the list, or the case page it came from."""
    try:
        letter = services.letter_mark_posted(letter_id=letter_id, by=actor(request))
    except Letter.DoesNotExist:
        raise Http404("No such letter") from None
    except services.ComplaintError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request,
            f"The {letter.get_kind_display().lower()} to {letter.complaint.reference} "
            f"({letter.complaint.customer_name}) is recorded as posted.",
        )
    return redirect(_back_to(request, reverse("staff:letters_to_post")))


@require_POST
@manager_required
def subject_access_export(request: HttpRequest, reference: str) -> FileResponse:
    """A zip of everything held about this customer, for a manager to send them."""
    complaint = get_case(request, reference)
    archive = privacy.customer_export(complaint=complaint, by=actor(request))
    response = FileResponse(
        archive,
        as_attachment=True,
        filename=f"{complaint.reference}-subject-access.zip",
        content_type="application/zip",
    )
    response["Cache-Control"] = "private, no-store"
    return response


@never_cache
@require_POST
@staff_required
def keepalive(request: HttpRequest) -> HttpResponse:
    """The idle-timeout dialog's "Stay signed in": the request itself refreshes the session (see
    ``middleware.StaffIdleTimeoutMiddleware``); there is nothing else to say."""
    return HttpResponse(status=204)
