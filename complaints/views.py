"""The customer's side: how to complain, the filing flow, the tracking page and "lost my link".

Customers have no account. Filing gives them a reference and a private tracking link, whose secret
is shown once (and e-mailed by the service). Every tracking view checks the secret with
``services.secret_matches``: an unknown reference, a wrong secret and a superseded link all get the
same 404 page. Views are thin: forms validate, services act.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from pathlib import Path
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Prefetch
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_GET, require_http_methods
from django_ratelimit.decorators import ratelimit

from config.cache_headers import never_cache
from config.jinja2 import reverse_fixed
from config.sessions import lock_session

from . import clocks, documents, evidence, letters, models, services
from . import forms as public_forms
from .drafts import FILED_KEY, Draft
from .forms import (
    REPLY_CHOICES,
    AboutYouForm,
    ActionForm,
    ComplaintForm,
    FormalComplaintForm,
    LostLinkForm,
    MessageForm,
    SendForm,
    SupportForm,
    filing_fields,
)
from .models import (
    CLOCK_STATES,
    Attachment,
    Category,
    Complaint,
    EventKind,
    Letter,
    LetterKind,
    Nation,
    ResponseMethod,
    State,
)
from .roles import Actor, Role

log = logging.getLogger(__name__)


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "complaints/home.html",
        {
            "response_working_days": settings.RESPONSE_WORKING_DAYS,
            "adr_policy_8_weeks": settings.ADR_CLOCK == "8-weeks",
            "ofcom_days": clocks.OFCOM_ADR_DAYS,
        },
    )


def rate_limited(request: HttpRequest, exception: Exception) -> HttpResponse:
    """django-ratelimit's answer when a limit is hit: a friendly page, status 429."""
    response = render(request, "429.html", status=429)
    response["Retry-After"] = "60"
    return response


# --- Rate limits per IP address -----------------------------------------------------------------

# Generous enough for a family sharing one connection; tight enough to stop a script. Read when
# each request is counted, so a test can lower one.
RATES = {
    "send": "10/h",  # complaints actually sent
    "steps": "120/h",  # answers and evidence files posted on the question pages
    "lost_link": "5/h",
    "tracking": "60/m",  # every view under /track/<reference>/<secret>/
}


def _rate(name: str) -> Callable[[str, HttpRequest], str]:
    def rate(group: str, request: HttpRequest) -> str:
        return RATES[name]

    return rate


# --- Filing: one topic per page, answers kept in the session -------------------------------------


@dataclass(frozen=True)
class Step:
    slug: str
    key: str  # where its answers are kept in the draft
    form_class: type
    title: str


STEPS = (
    Step("about-you", "about", AboutYouForm, "About you"),
    Step("your-complaint", "complaint", ComplaintForm, "Your complaint"),
    Step("support", "support", SupportForm, "Support and how we reply"),
)
STEP_BY_SLUG = {step.slug: step for step in STEPS}
NOT_ANSWERS = ("files", "remove_files", "website")


def _step_url(step: Step, *, returning: bool = False) -> str:
    url = reverse_fixed("complaints:complain_step", step.slug)
    return f"{url}?return=check" if returning else url


def _form_kwargs(step: Step, draft: Draft) -> dict[str, Any]:
    if step.key == "complaint":
        return {"stored_files": draft.files}
    if step.key == "support":
        return {"has_phone": bool((draft.answers("about") or {}).get("phone"))}
    return {}


def _saved_form(step: Step, draft: Draft):
    """The page's form filled with the answers already given: bound, so that an answer another
    page has made wrong (a phone reply with no phone number) shows its error."""
    answers = draft.answers(step.key)
    if answers is None:
        return step.form_class(**_form_kwargs(step, draft))
    return step.form_class(data=answers, **_form_kwargs(step, draft))


# The questions of a page nobody has answered yet, as HTML, by step and form arguments.
_UNANSWERED: dict[tuple, str] = {}


def _unanswered_key(step: Step, form_kwargs: dict[str, Any]) -> tuple | None:
    """Where ``_UNANSWERED`` keeps a page's questions for these form arguments; None when they
    depend on the customer (files they have added)."""
    if form_kwargs.get("stored_files"):
        return None
    return (step.key, repr(sorted(form_kwargs.items())))


def _questions(form: forms.Form, keep_as: tuple | None = None) -> str:
    """The page's questions as HTML: label, hint, any error and the control, each from its field's
    template. Before the customer has typed anything they are the same for everyone (the same
    labels, hints and empty boxes), so ``complain_step`` keeps them in ``_UNANSWERED`` under
    ``keep_as`` and renders them once a process, not on every page: about a third of the CPU the
    first visit to a page of questions cost."""
    html = mark_safe(  # noqa: S308 (each part is a field's rendered, escaped template)
        "\n".join(
            field.as_field_group()
            for field in form.visible_fields()
            if field.name != "remove_files"  # shown with the files
        )
    )
    if keep_as is not None:
        _UNANSWERED[keep_as] = html
    return html


# The code that checks the answers, and the choices they are checked against (the models'
# categories and nations): a page's answers checked before a release are checked again after it.
_CHECKS_DIGEST = hashlib.blake2b(
    b"".join(Path(module.__file__).read_bytes() for module in (public_forms, evidence, models)),
    digest_size=8,
).hexdigest()


def _answers_digest(step: Step, draft: Draft) -> str:
    """What a page's answers were found valid with: the answers, what the form is given from
    elsewhere (the phone number on the first page, the files kept) and the checks' code."""
    given = json.dumps(
        [_CHECKS_DIGEST, step.key, draft.answers(step.key), _form_kwargs(step, draft)],
        sort_keys=True,
        default=str,
    )
    return hashlib.blake2b(given.encode(), digest_size=16).hexdigest()


def _first_invalid_step(draft: Draft) -> Step | None:
    """The first page whose answers are missing, or no longer valid (another page changed what
    they are checked with: a phone number removed after a phone reply was chosen). Answers found
    valid when their page was sent, with nothing changed since, are not checked again: the check
    page and the send each checked all three pages, a tenth of a filing's CPU."""
    for step in STEPS:
        if draft.answers(step.key) is None:
            return step
        if draft.checked(step.key) == _answers_digest(step, draft):
            continue
        if not _saved_form(step, draft).is_valid():
            return step
    return None


@require_GET
def complain_start(request: HttpRequest) -> HttpResponse:
    return redirect("complaints:complain_step", STEPS[0].slug)


@never_cache  # the answers given so far, name and address among them, shown again
@require_http_methods(["GET", "POST"])
@ratelimit(key="ip", rate=_rate("steps"), method="POST", group="complaints:steps")
def complain_step(request: HttpRequest, slug: str) -> HttpResponse:
    step = STEP_BY_SLUG.get(slug)
    if step is None:
        raise Http404("No such page")
    draft = Draft(request.session)
    # The pages come in order: a later one needs the answers of the earlier ones.
    for earlier in STEPS[: STEPS.index(step)]:
        if draft.answers(earlier.key) is None:
            return HttpResponseRedirect(_step_url(earlier))
    returning = request.GET.get("return") == "check"
    form_kwargs = _form_kwargs(step, draft)
    questions = None

    if request.method == "POST":
        form = step.form_class(request.POST, request.FILES, **form_kwargs)
        valid = form.is_valid()
        if step.key == "complaint":
            _keep_evidence(draft, form)
        if valid:
            if getattr(form, "is_spam", False):
                draft.mark_spam()
            answers = {k: v for k, v in form.cleaned_data.items() if k not in NOT_ANSWERS}
            draft.set_answers(step.key, answers)
            draft.set_checked(step.key, _answers_digest(step, draft))
            draft.save()
            following = STEPS.index(step) + 1
            if returning or following == len(STEPS):
                return HttpResponseRedirect(reverse_fixed("complaints:complain_check"))
            return HttpResponseRedirect(_step_url(STEPS[following]))
        draft.set_typed(step.key, _typed(form, request))
        draft.save()
    elif draft.answers(step.key) is not None:
        form = _saved_form(step, draft)
    elif typed := draft.typed(step.key):
        form = step.form_class(initial=typed, **form_kwargs)
    elif (key := _unanswered_key(step, form_kwargs)) in _UNANSWERED:
        # Nothing typed yet and the questions kept: no form to build (deep copies of its
        # fields, a third of such a page's CPU), as it would show no answer and no error.
        form, questions = None, _UNANSWERED[key]
    else:
        form = step.form_class(**form_kwargs)
        questions = _questions(form, keep_as=key)

    index = STEPS.index(step)
    if returning:
        back_url = reverse("complaints:complain_check")
    elif index:
        back_url = _step_url(STEPS[index - 1])
    else:
        back_url = reverse("complaints:home")
    return render(
        request,
        "complaints/public/step.html",
        {
            "step": step,
            "form": form,
            "questions": questions if questions is not None else _questions(form),
            "error_forms": [form] if form is not None else [],
            "step_number": index + 1,
            "step_count": len(STEPS) + 1,  # and the check page
            "back_url": back_url,
            "action_url": _step_url(step, returning=returning),
        },
    )


def _typed(form: forms.Form, request: HttpRequest) -> dict[str, Any]:
    """The page's answers as typed, whether or not they passed its checks (files apart)."""
    return {
        name: field.widget.value_from_datadict(request.POST, request.FILES, form.add_prefix(name))
        for name, field in form.fields.items()
        if name not in NOT_ANSWERS
    }


def _keep_evidence(draft: Draft, form: ComplaintForm) -> None:
    """Files that passed the checks are kept even when another answer on the page is wrong, so the
    customer never chooses them twice; a file that failed is not stored, nor are the others
    chosen with it."""
    if "remove_files" not in form.errors:
        draft.remove_files(form.cleaned_data.get("remove_files") or [])
    if "files" not in form.errors and form.checked_files:
        draft.add_files(form.checked_files)
    form.stored_files = draft.files
    form.fields["remove_files"].choices = [(f["key"], f"Remove {f['name']}") for f in draft.files]


def _check_answers(draft: Draft) -> list[dict[str, Any]]:
    """The check page's sections: each answer with the page (and field) that changes it."""
    about = draft.answers("about") or {}
    complaint = draft.answers("complaint") or {}
    support = draft.answers("support") or {}

    change_urls = {step.key: _step_url(step, returning=True) for step in STEPS}

    def row(step_key: str, field: str, label: str, value: Any, *, multiline: bool = False):
        return {
            "label": label,
            "value": value,
            "multiline": multiline,
            "change_url": f"{change_urls[step_key]}#id_{field}",
        }

    nations = dict(Nation.choices)
    categories = dict(Category.choices)
    replies = dict(REPLY_CHOICES)
    return [
        {
            "title": "About you",
            "rows": [
                row("about", "customer_name", "Full name", about.get("customer_name")),
                row("about", "email", "E-mail address", about.get("email")),
                row("about", "phone", "Phone number", about.get("phone")),
                row(
                    "about",
                    "postal_address",
                    "Postal address",
                    about.get("postal_address"),
                    multiline=True,
                ),
                row("about", "account_number", "Account number", about.get("account_number")),
                row("about", "nation", "Where you live", nations.get(about.get("nation"))),
            ],
        },
        {
            "title": "Your complaint",
            "rows": [
                row(
                    "complaint",
                    "category",
                    "What it is about",
                    categories.get(complaint.get("category")),
                ),
                row(
                    "complaint",
                    "what_went_wrong",
                    "What went wrong",
                    complaint.get("what_went_wrong"),
                    multiline=True,
                ),
                row("complaint", "started", "When it started", complaint.get("started")),
                row(
                    "complaint",
                    "how_affected",
                    "How it has affected you",
                    complaint.get("how_affected"),
                    multiline=True,
                ),
                row(
                    "complaint",
                    "put_right",
                    "What would put it right",
                    complaint.get("put_right"),
                    multiline=True,
                ),
                row(
                    "complaint",
                    "files",
                    "Evidence",
                    [f["name"] for f in draft.files],
                ),
            ],
        },
        {
            "title": "Support and how we reply",
            "rows": [
                row(
                    "support",
                    "preferred_response",
                    "How we reply",
                    replies.get(support.get("preferred_response")),
                ),
                row(
                    "support",
                    "support_needs",
                    "Anything that makes it hard to deal with us",
                    support.get("support_needs"),
                    multiline=True,
                ),
            ],
        },
    ]


@never_cache
@require_http_methods(["GET", "POST"])
@ratelimit(key="ip", rate=_rate("send"), method="POST", group="complaints:send")
def complain_check(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        return _send(request)
    draft = Draft(request.session)
    if not draft.exists:
        if request.session.get(FILED_KEY):
            # The back button from the confirmation: show what was sent, not an empty form
            # that looks as though it was not (and invites sending it twice).
            return HttpResponseRedirect(reverse_fixed("complaints:complain_sent"))
        return redirect("complaints:complain_start")
    invalid = _first_invalid_step(draft)
    if invalid is not None:
        return HttpResponseRedirect(_step_url(invalid, returning=draft.first_unanswered() is None))
    return _render_check(request, draft)


def _render_check(request: HttpRequest, draft: Draft, errors: list[str] = ()) -> HttpResponse:
    return render(
        request,
        "complaints/public/check.html",
        {
            "sections": _check_answers(draft),
            "form": SendForm(initial={"token": draft.token}),
            "send_errors": list(errors),
        },
    )


def _send(request: HttpRequest) -> HttpResponse:
    form = SendForm(request.POST)
    form.is_valid()  # every field is optional: nothing to refuse
    token = form.cleaned_data.get("token") or ""
    with transaction.atomic():
        lock_session(request)
        filed = request.session.get(FILED_KEY) or {}
        if token and filed.get("token") == token:
            return redirect("complaints:complain_sent")  # the second click of a double click
        draft = Draft(request.session)
        if not draft.exists:
            return redirect("complaints:complain_start")
        if token != draft.token:
            messages.warning(
                request,
                "This page was out of date, so we have not sent your complaint yet. Please check "
                "your answers and send it again.",
            )
            return redirect("complaints:complain_check")
        invalid = _first_invalid_step(draft)
        if invalid is not None:
            return HttpResponseRedirect(_step_url(invalid, returning=True))

        if draft.spam or form.is_spam:
            # A robot filled in the field people never see: it gets a confirmation that looks
            # real, and nothing is filed.
            record = _pretend_filed(draft)
        else:
            fields = filing_fields(
                about=draft.answers("about"),
                complaint=draft.answers("complaint"),
                support=draft.answers("support"),
            )
            files = draft.open_files()
            try:
                result = services.complaint_file(**fields, attachments=files, by=Actor.customer())
            except ValidationError as exc:
                return _render_check(request, draft, errors=exc.messages)
            finally:
                for file in files:
                    file.close()
            record = {
                "id": result.complaint.pk,
                "reference": result.complaint.reference,
                "secret": result.tracking_secret,  # dropped once the confirmation is shown
                "email": result.complaint.email,
                **_confirmation(result.complaint, result.acknowledgement),
            }
        record["token"] = token
        request.session[FILED_KEY] = record
        draft.discard()
        # Written inside the lock, so the second click reads it; not again after the response.
        request.session.save()
        request.session.modified = False
    return redirect("complaints:complain_sent")


def _confirmation(complaint: Complaint, acknowledgement: Letter | None) -> dict[str, Any]:
    """What the confirmation shows of a complaint just filed, kept with the session's record of
    it, so that showing the page reads nothing more."""
    return {
        "response_due_date": complaint.response_due_date.isoformat(),
        "adr_eligible_date": complaint.adr_eligible_date.isoformat(),
        "written": complaint.preferred_response == ResponseMethod.WRITTEN,
        "letter_id": acknowledgement.pk if acknowledgement is not None else None,
    }


def _pretend_dates(received: dt.datetime, nation: str | None) -> dict[str, str]:
    """The dates a real confirmation would show for a complaint received then from that nation
    (the default one when not known): the same bank holidays, so nothing gives the robot away."""
    nation = nation or settings.WORKING_DAYS_NATION
    cal = clocks.calendar(nation)
    return {
        "response_due_date": clocks.due_date(
            clocks.response_due_at(received, nation, cal=cal)
        ).isoformat(),
        "adr_eligible_date": clocks.adr_eligible_date(received, nation, cal=cal).isoformat(),
    }


def _pretend_filed(draft: Draft) -> dict[str, Any]:
    now = timezone.now()
    about = draft.answers("about") or {}
    support = draft.answers("support") or {}
    return {
        "id": None,
        "reference": f"CMP-{clocks.london_date(now).year}-{secrets.randbelow(900000) + 100000:06d}",
        "secret": secrets.token_urlsafe(24),
        "email": about.get("email", ""),
        **_pretend_dates(now, about.get("nation")),
        "written": support.get("preferred_response") == ResponseMethod.WRITTEN,
        "letter_id": None,
    }


@never_cache
@require_GET
def complain_sent(request: HttpRequest) -> HttpResponse:
    """The confirmation: the reference, the dates, and the private link, shown once."""
    record = request.session.get(FILED_KEY)
    if not record:
        return redirect("complaints:home")
    secret = record.pop("secret", None)
    if secret is not None:
        request.session[FILED_KEY] = record  # the secret is shown now, and never again
    if "response_due_date" not in record:
        # Recorded before the record kept the confirmation's dates: work them out once.
        if record["id"] is None:  # the robot's, with the time it was "received"
            received = dt.datetime.fromisoformat(record["received_at"])
            record.update(_pretend_dates(received, None))
        else:
            complaint = Complaint.objects.filter(pk=record["id"]).first()
            if complaint is None:
                return redirect("complaints:home")
            acknowledgement = complaint.letters.filter(kind=LetterKind.ACKNOWLEDGEMENT).first()
            record.update(_confirmation(complaint, acknowledgement))
        request.session[FILED_KEY] = record
    context: dict[str, Any] = {
        "reference": record["reference"],
        "email": record["email"],
        "response_due_date": dt.date.fromisoformat(record["response_due_date"]),
        "adr_eligible_date": dt.date.fromisoformat(record["adr_eligible_date"]),
        "written": record.get("written", False),
    }
    if secret:
        context["tracking_url"] = request.build_absolute_uri(
            reverse("complaints:track", args=[record["reference"], secret])
        )
        if record.get("letter_id") is not None:
            args = [record["reference"], secret, record["letter_id"]]
            context["letter_url"] = reverse("complaints:track_letter", args=args)
            context["letter_pdf_url"] = reverse("complaints:track_letter_pdf", args=args)
    return render(request, "complaints/public/sent.html", context)


# --- The tracking page ----------------------------------------------------------------------------


def _complaint_for(reference: str, secret: str) -> Complaint:
    """The complaint this link opens, or the same 404 whatever is wrong with the link."""
    complaint = Complaint.objects.filter(reference=reference).first()
    if complaint is None or not services.secret_matches(complaint, secret):
        raise Http404("No complaint at this link")
    return complaint


def tracking_view(*methods: str) -> Callable:
    """For views under /track/<reference>/<secret>/: the methods allowed, the rate limit, the
    secret checked, no caching, and no Referer carrying the secret to another site."""

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapped(request: HttpRequest, reference: str, secret: str, **kwargs) -> HttpResponse:
            complaint = _complaint_for(reference, secret)
            response = view(request, complaint, secret, **kwargs)
            # The secret is in the address: never sent to another site as a Referer. (Not
            # "no-referrer": browsers then send "Origin: null" with forms, and CSRF refuses.)
            response["Referrer-Policy"] = "same-origin"
            response["X-Robots-Tag"] = "noindex, nofollow"
            return response

        limited = ratelimit(
            key="ip", rate=_rate("tracking"), method=ratelimit.ALL, group="complaints:tracking"
        )(never_cache(wrapped))
        return require_http_methods(list(methods))(limited)

    return decorator


def _track_url(complaint: Complaint, secret: str, name: str = "track", *args: Any) -> str:
    return reverse(f"complaints:{name}", args=[complaint.reference, secret, *args])


# What each state means to the customer, in plain words.
STATE_TEXT = {
    State.CS_TEAM: "Our Customer Services Team is looking into your complaint.",
    State.CS_MANAGER: "Our Customer Services Manager is reviewing your complaint.",
    State.FORMAL_WRITTEN: "We are dealing with your formal written complaint. Our Customer "
    "Services Manager will reply in writing.",
    State.DEADLOCK: "We have sent you a deadlock letter, our final response. You can now take "
    "your complaint to CISAS, free of charge.",
    State.ADR_REFERRED: "Your complaint has been referred to CISAS, the independent adjudication "
    "scheme.",
    State.COURT: "Court action about your complaint has started.",
    State.RESOLVED: "We have resolved your complaint.",
    State.CLOSED: "Your complaint is closed.",
    State.WITHDRAWN: "You withdrew your complaint.",
}

# A deadlock letter more than 12 months old: CISAS no longer takes the complaint (the letter said
# so, with the date); court stays open, as the letter also said.
CISAS_PASSED_TEXT = (
    "We sent you a deadlock letter, our final response, on {letter}. CISAS takes a complaint for "
    "12 months after the deadlock letter, so that time has passed. Court action remains open to "
    "you."
)


def _state_text(complaint: Complaint, today: dt.date) -> str:
    """What the case's state means to the customer now."""
    if complaint.state in REPLIED_TEXT and complaint.responded_at:
        return REPLIED_TEXT[complaint.state]
    if complaint.state == State.DEADLOCK and complaint.cisas_window_passed(today):
        letter = clocks.london_date(complaint.deadlock_issued_at)
        return CISAS_PASSED_TEXT.format(letter=f"{letter:%-d %B %Y}")
    return STATE_TEXT.get(complaint.state, complaint.get_state_display())


# Once the stage's reply is sent, what the customer can do next if it did not settle things, as
# the reply's e-mail says (templates/emails/reply-body.*).
REPLIED_TEXT = {
    State.CS_TEAM: "Our Customer Services Team has replied to your complaint. If you are not "
    "happy with the reply, you can ask for our Customer Services Manager to review it.",
    State.CS_MANAGER: "Our Customer Services Manager has replied to your complaint. If you are "
    "still not happy, you can make a formal written complaint.",
    State.FORMAL_WRITTEN: "Our Customer Services Manager has replied to your formal written "
    "complaint, the last stage of our procedure. If you are still not happy, send us a message "
    "asking for a deadlock letter: it is our final response, and with it you can take your "
    "complaint to CISAS, free of charge.",
}

CUSTOMER_EVENT_KINDS = (
    EventKind.FILED,
    EventKind.TRANSITION,
    EventKind.REPLY,
    EventKind.MESSAGE,
    EventKind.ATTACHMENT,
    EventKind.LETTER,
    EventKind.REMEDY,
)


def _timeline(complaint: Complaint) -> list[dict[str, Any]]:
    """The customer-visible events, newest first. Internal notes, assignments and overdue flags
    are never shown, whatever their flag says."""
    events = complaint.events.filter(
        customer_visible=True, kind__in=CUSTOMER_EVENT_KINDS
    ).prefetch_related(
        Prefetch(
            "attachments",
            queryset=Attachment.objects.filter(customer_visible=True),
            to_attr="visible_attachments",
        )
    )
    items = [
        {
            "event": event,
            "at": _happened_at(complaint, event),
            "title": _event_title(event),
            "from_customer": event.actor_role == Role.CUSTOMER,
            "attachments": event.visible_attachments,
        }
        for event in events
    ]
    items.sort(key=lambda item: (item["at"], item["event"].pk), reverse=True)
    return items


def _happened_at(complaint: Complaint, event) -> dt.datetime:
    """When it happened, which for a complaint or a phone call logged later is not when it was
    written down: the customer sees the day they sent it, or the day we called."""
    if event.kind == EventKind.FILED:
        return complaint.received_at
    return event.replied_at or event.received_at or event.created_at


def _event_title(event) -> str:
    by_customer = event.actor_role == Role.CUSTOMER
    if event.kind == EventKind.FILED:
        return "We received your complaint"
    if event.kind == EventKind.LETTER:
        return "We posted a letter to you"
    if event.kind == EventKind.MESSAGE:
        return "You sent us a message" if by_customer else "We sent you a message"
    if event.kind == EventKind.REPLY:
        if event.data.get("method") == ResponseMethod.WRITTEN:
            return "We sent you a written reply"
        return "We replied by phone"
    if event.kind == EventKind.TRANSITION:
        label = services.TRANSITION_LABELS.get(event.transition, "Status changed")
        if by_customer:
            return {
                "escalate_to_manager": "You asked for our Customer Services Manager to review it",
                "make_formal_complaint": "You made a formal written complaint",
                "reopen": "You reopened your complaint",
                "withdraw": "You withdrew your complaint",
            }.get(event.transition, label)
        if event.actor_role == Role.SYSTEM and event.transition == "issue_deadlock_letter":
            return "Deadlock letter issued automatically: you can now go to CISAS"
        return label
    return event.get_kind_display()


@dataclass(frozen=True)
class Action:
    transition: str
    service: Callable[..., Any]
    text_argument: str
    done: str
    button: str
    form: type[ActionForm] = ActionForm


ACTIONS = {
    "escalate": Action(
        "escalate_to_manager",
        services.complaint_escalate,
        "reason",
        "We have passed your complaint to our Customer Services Manager, who will review it. "
        "We have e-mailed you the date we aim to reply by.",
        "Ask for the manager to review it",
    ),
    "formal": Action(
        "make_formal_complaint",
        services.complaint_make_formal,
        "text",
        "We have recorded your formal written complaint. We have e-mailed you the date we aim to "
        "reply by.",
        "Make a formal written complaint",
        FormalComplaintForm,
    ),
    "reopen": Action(
        "reopen",
        services.complaint_reopen,
        "reason",
        "We have reopened your complaint and passed it to our Customer Services Manager. We "
        "have e-mailed you the date we aim to reply by.",
        "Reopen my complaint",
    ),
    "withdraw": Action(
        "withdraw",
        services.complaint_withdraw,
        "reason",
        "You have withdrawn your complaint, and we have e-mailed you to confirm it. If you are "
        "still unhappy, you can make a new complaint at any time.",
        "Yes, withdraw my complaint",
    ),
}


def _render_track(
    request: HttpRequest,
    complaint: Complaint,
    secret: str,
    *,
    message_form: MessageForm | None = None,
    action_forms: dict[str, ActionForm] | None = None,
) -> HttpResponse:
    state = {"expected_state": complaint.state}
    allowed = services.available_transitions(complaint, Actor.customer())
    action_forms = action_forms or {}
    actions = [
        {
            "name": name,
            "action": action,
            "form": action_forms.get(name) or action.form(initial=state, auto_id=f"id_{name}_%s"),
            "url": _track_url(complaint, secret, "track_action", name),
        }
        for name, action in ACTIONS.items()
        if action.transition in allowed and name != "withdraw"
    ]
    bound = [f for f in [message_form, *action_forms.values()] if f is not None]
    can_message = complaint.state not in (State.CLOSED, State.WITHDRAWN)
    now = timezone.now()
    return render(
        request,
        "complaints/public/track.html",
        {
            "complaint": complaint,
            "secret": secret,
            "state_text": _state_text(complaint, clocks.london_date(now)),
            "clock_running": complaint.state in CLOCK_STATES,
            # The rule the staff pages and the sweep use: past the due date with no reply.
            "overdue": complaint.is_overdue(now),
            "today": clocks.london_date(now),
            "action_names": [item["name"] for item in actions],
            "timeline": _timeline(complaint),
            "letters": list(complaint.letters.all()),
            "attachments": list(complaint.attachments.filter(customer_visible=True).with_sender()),
            "actions": actions,
            "can_withdraw": "withdraw" in allowed,
            "can_message": can_message,
            "message_form": message_form or MessageForm(initial=state),
            "can_ask_written": complaint.awaiting_reply
            and complaint.preferred_response != ResponseMethod.WRITTEN,
            "written_form": ActionForm(initial=state, auto_id="id_written_%s"),
            "response_working_days": settings.RESPONSE_WORKING_DAYS,
            "has_errors": any(form.errors for form in bound),
            "error_forms": bound,
        },
    )


def _changed(request: HttpRequest, complaint: Complaint) -> None:
    complaint.reload()
    messages.warning(
        request,
        "Your complaint changed while you had the page open: it is now "
        f"“{complaint.get_state_display()}”. We have not done what you asked. Please read the "
        "page again, and try again if you still want to.",
    )


@tracking_view("GET")
def track(request: HttpRequest, complaint: Complaint, secret: str) -> HttpResponse:
    return _render_track(request, complaint, secret)


@tracking_view("GET", "POST")
def track_message(request: HttpRequest, complaint: Complaint, secret: str) -> HttpResponse:
    if request.method == "GET":
        # The address a message with a problem was shown at, reloaded or reopened later.
        return redirect(_track_url(complaint, secret))
    form = MessageForm(request.POST, request.FILES)
    if not form.is_valid():
        if set(form.errors) <= {"expected_state"}:  # a tampered form: say nothing technical
            return redirect(_track_url(complaint, secret))
        return _render_track(request, complaint, secret, message_form=form)
    try:
        services.complaint_add_message(
            complaint=complaint,
            by=Actor.customer(),
            text=form.cleaned_data["text"],
            attachments=form.cleaned_data["files"],
        )
    except services.ComplaintError as exc:
        messages.error(request, exc.message)
        return redirect(_track_url(complaint, secret))
    except ValidationError as exc:
        form.add_error(None, exc)
        return _render_track(request, complaint, secret, message_form=form)
    # A message never changes the case, so it is kept even when the page was out of date.
    messages.success(request, "Thank you: we have received your message.")
    if form.cleaned_data["expected_state"] != complaint.state:
        messages.info(
            request,
            "Your complaint changed while you had the page open: it is now "
            f"“{complaint.get_state_display()}”.",
        )
    return redirect(_track_url(complaint, secret) + "#history")


@tracking_view("GET", "POST")
def track_written_reply(request: HttpRequest, complaint: Complaint, secret: str) -> HttpResponse:
    if request.method == "GET":
        return redirect(_track_url(complaint, secret))
    form = ActionForm(request.POST)
    if not form.is_valid():
        return redirect(_track_url(complaint, secret))
    try:
        services.complaint_request_written_reply(
            complaint=complaint,
            by=Actor.customer(),
            expected_state=form.cleaned_data["expected_state"],
        )
    except services.ComplaintChanged:
        _changed(request, complaint)
    except services.ComplaintError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request, "We will reply to you in writing. We have added your request to your case."
        )
    return redirect(_track_url(complaint, secret))


@tracking_view("GET", "POST")
def track_action(
    request: HttpRequest, complaint: Complaint, secret: str, name: str
) -> HttpResponse:
    action = ACTIONS.get(name)
    if action is None:
        raise Http404("No such action")
    if request.method == "GET":
        # Only withdrawing has a page of its own: "are you sure?".
        if name != "withdraw":
            return redirect(_track_url(complaint, secret))
        return _render_withdraw(request, complaint, secret)
    form = action.form(request.POST, auto_id=f"id_{name}_%s")
    if not form.is_valid():
        if set(form.errors) <= {"expected_state"}:
            return redirect(_track_url(complaint, secret))
        if name == "withdraw":
            return _render_withdraw(request, complaint, secret, form=form)
        return _render_track(request, complaint, secret, action_forms={name: form})
    try:
        action.service(
            complaint=complaint,
            by=Actor.customer(),
            expected_state=form.cleaned_data["expected_state"],
            **{action.text_argument: form.cleaned_data["reason"]},
        )
    except services.ComplaintChanged:
        _changed(request, complaint)
    except services.ComplaintError as exc:
        messages.error(request, _plain(exc))
    except ValidationError as exc:
        # The service's rule for the text (a formal complaint needs one), shown at the text box.
        form.add_error("reason", exc.messages)
        if name == "withdraw":
            return _render_withdraw(request, complaint, secret, form=form)
        return _render_track(request, complaint, secret, action_forms={name: form})
    else:
        messages.success(request, action.done)
    return redirect(_track_url(complaint, secret))


def _plain(exc: services.ComplaintError) -> str:
    if isinstance(exc, services.TransitionNotAllowed | services.NotPermitted):
        return (
            "We could not do that: it is not possible for your complaint as it stands now. "
            f"If you need help, please call us on {settings.COMPANY['phone']}."
        )
    return exc.message


def _render_withdraw(
    request: HttpRequest, complaint: Complaint, secret: str, form: ActionForm | None = None
) -> HttpResponse:
    if "withdraw" not in services.available_transitions(complaint, Actor.customer()):
        messages.info(request, "Your complaint can no longer be withdrawn.")
        return redirect(_track_url(complaint, secret))
    form = form or ActionForm(initial={"expected_state": complaint.state})
    return render(
        request,
        "complaints/public/withdraw.html",
        {
            "complaint": complaint,
            "secret": secret,
            "form": form,
            "error_forms": [form],
            "action_url": _track_url(complaint, secret, "track_action", "withdraw"),
            "track_url": _track_url(complaint, secret),
        },
    )


@tracking_view("GET")
def track_letter(
    request: HttpRequest, complaint: Complaint, secret: str, letter_id: int
) -> HttpResponse:
    """A letter as an accessible web page, from the content fixed when it was issued."""
    letter = complaint.letters.filter(pk=letter_id).first()
    if letter is None:
        raise Http404("No such letter")
    back = _track_url(complaint, secret) + "#letters-heading"
    return HttpResponse(letters.render_html(letter.kind, letter.context, back_url=back))


@tracking_view("GET")
def track_letter_pdf(
    request: HttpRequest, complaint: Complaint, secret: str, letter_id: int
) -> FileResponse:
    """A letter's PDF; rendered now if the worker has not got to it yet."""
    letter = complaint.letters.filter(pk=letter_id).first()
    if letter is None:
        raise Http404("No such letter")
    pdf = documents.letter_open(letter)
    if pdf is None:
        raise Http404("No such letter")
    return FileResponse(
        pdf,
        as_attachment=True,
        content_type="application/pdf",
        filename=letter.file_name,
    )


@tracking_view("GET")
def track_file(
    request: HttpRequest, complaint: Complaint, secret: str, attachment_id: int
) -> FileResponse:
    """Evidence the customer may see, always as a download, never shown in the browser."""
    attachment = complaint.attachments.filter(pk=attachment_id, customer_visible=True).first()
    if attachment is None:
        raise Http404("No such file")
    response = FileResponse(
        attachment.file.open("rb"),
        as_attachment=True,
        content_type=attachment.content_type,
        filename=attachment.name,
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


# --- Lost my link -------------------------------------------------------------------------------


class AnswerThen(HttpResponseRedirect):
    """A redirect whose work is done after it has been sent: the WSGI server writes the response
    and then closes it (gunicorn and runserver both; the test client too), so the time the
    visitor waits does not depend on what the work finds."""

    def __init__(self, url: str, then: Callable[[], None]) -> None:
        super().__init__(url)
        self._then = then

    def close(self) -> None:
        try:
            self._then()
        except Exception:
            # The visitor has had their answer; the failure is for us (no details: they are
            # what the visitor typed).
            log.exception("Lost my link: the request could not be acted on")
        finally:
            super().close()


@require_http_methods(["GET", "POST"])
@ratelimit(key="ip", rate=_rate("lost_link"), method="POST", group="complaints:lost_link")
def lost_link(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        form = LostLinkForm(request.POST)
        if form.is_valid():
            # E-mails a new link only when both match; the answer is the same either way, and as
            # quick: only the lookup, one read either way, comes before the answer, and the new
            # secret, event and e-mail a match writes come after it has gone (the difference in
            # time would tell whether someone with that address complained). With the database
            # away, the lookup fails first, and the visitor gets the page that says so.
            found = services.complaint_for_new_link(
                reference=form.cleaned_data["reference"], email=form.cleaned_data["email"]
            )
            return AnswerThen(
                reverse("complaints:lost_link_sent"),
                lambda: services.complaint_send_new_link(complaint=found),
            )
    else:
        form = LostLinkForm()
    return render(
        request, "complaints/public/lost_link.html", {"form": form, "error_forms": [form]}
    )


@require_GET
def lost_link_sent(request: HttpRequest) -> HttpResponse:
    return render(request, "complaints/public/lost_link_sent.html")
