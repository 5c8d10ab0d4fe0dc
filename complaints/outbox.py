"""E-mail that is never lost and never marked sent twice.

``email_record`` writes an ``OutboundEmail`` row inside the caller's transaction and asks, on
commit, for a delivery run, unless one is already waiting in the queue (``COALESCED_TASKS``).
``email_deliver_due`` sends due rows one at a time, each under a row lock (``SELECT ... FOR UPDATE
SKIP LOCKED``), so two workers never send the same row, and marks each sent once. A failed send is
retried with backoff. If the broker is down when the change commits, nothing is lost: the row
waits and the periodic delivery (beat, every minute) picks it up.

Delivery is at least once towards the mail server: a worker killed after the SMTP server accepted a
message but before the row was marked sent will send it again on the next run. That window is the
length of one SMTP conversation; everything else is exactly once.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import smtplib
import socket
import time
from typing import Any

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import EmailMultiAlternatives, get_connection
from django.core.mail.backends.smtp import EmailBackend as SMTPBackend
from django.db import transaction
from django.template import Context, engines
from django.template.loader import render_to_string
from django.utils import timezone

from . import bulk, clocks
from .models import Complaint, EmailTemplate, Letter, OutboundEmail
from .roles import MANAGERS_GROUP, staff_role

log = logging.getLogger(__name__)

MAX_BACKOFF = dt.timedelta(hours=6)

# Failures after which a delivery run stops. The mail server cannot be reached or stopped
# answering, rather than refused one message: every e-mail after it would fail the same way, each
# after EMAIL_TIMEOUT. Or the worker's time limit for the task (CELERY_TASK_SOFT_TIME_LIMIT), raised
# once, after which the run must end before the hard limit.
STOP_THE_RUN = (
    ConnectionError,
    TimeoutError,
    socket.gaierror,
    smtplib.SMTPConnectError,
    smtplib.SMTPServerDisconnected,
    SoftTimeLimitExceeded,
)


def backoff(attempts: int) -> dt.timedelta:
    """1, 2, 4, 8 ... minutes after each failure, at most 6 hours."""
    return min(dt.timedelta(minutes=2 ** max(attempts - 1, 0)), MAX_BACKOFF)


# After a failed publish, further publishes are skipped for this long: during a broker outage a
# request or a sweep must not wait for a connection timeout per message. The work is in the
# database either way, and the periodic tasks pick it up.
BROKER_RETRY_AFTER = 30.0
_broker_down_until = 0.0

# Tasks that take no arguments and work through whatever is due: one waiting in the queue does
# the work of any number. While one waits, a change that commits publishes none; a flag in the
# broker's Redis, beside the queue, says that one waits, and the run clears it as it starts
# (``run_started``), before it reads what is due, so a change committed after that publishes
# again. A publish cost a web filing 7 % of its worker's CPU (bench/README.md). Should the flag
# outlive its message (lost with a worker, say), it lapses after a minute, and beat starts the
# same run every minute anyway.
# The task that runs email_deliver_due (complaints.tasks.deliver_outbox).
DELIVERY_TASK = "complaints.tasks.deliver_outbox"
COALESCED_TASKS = frozenset({DELIVERY_TASK})
QUEUED_FLAG_SECONDS = 60
_flags: Any = None  # a redis.Redis on the broker, made on first use; False: the broker is not Redis


def _flag_store() -> Any:
    global _flags
    if _flags is None:
        url = settings.CELERY_BROKER_URL
        if url.startswith(("redis://", "rediss://")):
            import redis

            options = settings.CELERY_BROKER_TRANSPORT_OPTIONS
            _flags = redis.Redis.from_url(
                url,
                socket_connect_timeout=options.get("socket_connect_timeout"),
                socket_timeout=options.get("socket_timeout"),
            )
        else:  # the embedded run's folders, or a broker reached otherwise: every change publishes
            _flags = False
    return _flags or None


def _queued_flag(task_name: str) -> str:
    return f"complaints:queued:{task_name}"


def run_started(task_name: str) -> None:
    """A run of a coalesced task has started: a change committed from now on is not seen by it,
    and publishes another. Best effort: a flag left set lapses by itself."""
    store = _flag_store()
    if store is not None:
        try:
            store.delete(_queued_flag(task_name))
        except Exception as exc:
            log.warning("broker unavailable, %s flag left to lapse: %s", task_name, exc)


def queue_after_commit(task_name: str, *args: Any) -> None:
    """Ask a worker to run a task once the current transaction commits (once per transaction for
    the same task and arguments; for a task in ``COALESCED_TASKS``, not at all while a run of it
    is waiting in the queue). A broker outage is logged, not raised: the rows that record the
    work are committed, and the periodic task will do it."""
    key = (task_name, repr(args))
    pending = transaction.get_connection().run_on_commit
    if any(getattr(entry[1], "publish_key", None) == key for entry in pending):
        return

    def publish() -> None:
        global _broker_down_until
        from config.celery import app

        if time.monotonic() < _broker_down_until:
            return
        store = _flag_store() if task_name in COALESCED_TASKS else None
        try:
            # SET NX: only the change that finds no run waiting publishes one.
            if store is not None and not store.set(
                _queued_flag(task_name), 1, nx=True, ex=QUEUED_FLAG_SECONDS
            ):
                return
            app.send_task(task_name, args=args, retry=False)
        except Exception as exc:
            _broker_down_until = time.monotonic() + BROKER_RETRY_AFTER
            # A flag set before the publish failed is left to lapse: clearing it would wait on
            # the broker again, and no change publishes meanwhile (BROKER_RETRY_AFTER) anyway.
            log.warning("broker unavailable, %s left for the periodic run: %s", task_name, exc)

    publish.publish_key = key
    transaction.on_commit(publish)


def manager_addresses() -> list[str]:
    """Who is told about overdue cases: the active Customer Services Managers, plus any extra
    addresses configured (e.g. a shared complaints mailbox)."""
    users = (
        get_user_model()
        .objects.filter(is_active=True, groups__name=MANAGERS_GROUP)
        .exclude(email="")
    )
    addresses = list(users.order_by("email").values_list("email", flat=True).distinct())
    for extra in settings.MANAGER_ALERT_EMAILS:
        if extra not in addresses:
            addresses.append(extra)
    return addresses


def handler_addresses(complaint: Complaint) -> list[str]:
    """Who is told when the customer writes: the member of staff the case is assigned to, or,
    while nobody active with an address has it, the managers (``manager_addresses``)."""
    user = complaint.assigned_to
    if user is not None and user.email and staff_role(user) is not None:  # still on the team
        return [user.email]
    return manager_addresses()


def complaint_email_context(complaint: Complaint) -> dict[str, Any]:
    """What an e-mail about a complaint may say, fixed when it is recorded (JSON-serialisable)."""
    due = complaint.response_due_date
    return {
        "reference": complaint.reference,
        "customer_name": complaint.customer_name,
        "state_label": complaint.get_state_display(),
        "stage": complaint.stage,
        "received_date": complaint.received_date.isoformat(),
        "response_due_date": due.isoformat() if due else None,
        "adr_eligible_date": complaint.adr_eligible_date.isoformat(),
        "preferred_response": complaint.preferred_response,
        "case_url": f"{settings.SITE_URL}/staff/complaints/{complaint.reference}/",
    }


def customer_email(
    complaint: Complaint, template: str, *, dedupe_key: str | None = None, **context: Any
) -> dict[str, Any]:
    """An e-mail to a complaint's customer about it, as ``email_record``'s arguments (and, with
    no ``dedupe_key``, as ``documents.letter_issue``'s ``email``): their address, and the
    complaint's e-mail context with ``context`` added."""
    email = {
        "template": template,
        "to": [complaint.email],
        "complaint": complaint,
        "context": {**complaint_email_context(complaint), **context},
    }
    if dedupe_key is not None:
        email["dedupe_key"] = dedupe_key
    return email


def email_record(
    *,
    template: str,
    to: list[str],
    dedupe_key: str,
    complaint: Complaint | None = None,
    context: dict[str, Any] | None = None,
    letter: Letter | None = None,
) -> bool:
    """Record an e-mail to send after commit; returns whether it was recorded. Recording the same
    ``dedupe_key`` twice is a no-op, so a retried caller cannot send an e-mail twice. Records
    nothing when there is nobody to tell (``email_record_many``)."""
    if template not in EmailTemplate.values:
        raise ValueError(f"unknown e-mail template {template!r}")
    # email_record_many's one INSERT ... ON CONFLICT DO NOTHING: no read first, and no savepoint,
    # since a duplicate is skipped rather than raised.
    return bool(
        email_record_many(
            [
                {
                    "complaint_id": complaint.pk if complaint is not None else None,
                    "template": template,
                    "to": to,
                    "context": context or {},
                    "letter_id": letter.pk if letter is not None else None,
                    "dedupe_key": dedupe_key,
                }
            ]
        )
    )


def deadlock_email(complaint: Complaint, *, by_clock: bool) -> dict[str, Any]:
    """The customer's deadlock e-mail, the same whether a manager or the ADR clock issued the
    letter: one dedupe key per complaint, so the two can never both send one."""
    return {
        "template": EmailTemplate.DEADLOCK,
        "to": [complaint.email],
        "dedupe_key": f"deadlock:{complaint.pk}",
        "context": {
            **complaint_email_context(complaint),
            "cisas_deadline": complaint.cisas_deadline.isoformat(),
            "by_clock": by_clock,
        },
    }


def email_record_many(emails: list[dict[str, Any]]) -> int:
    """Record a batch of e-mails with one INSERT and return how many were new; rows already
    recorded (same ``dedupe_key``) are skipped, and a delivery run queued for them finds nothing
    new to send. Each e-mail is a dict of ``OutboundEmail`` columns by attname (``complaint_id``,
    ``template``, ``to``, ``context``, ``dedupe_key`` ...). An e-mail with no address (a
    customer who gave none, and is written to by post) is not recorded."""
    emails = [{**e, "to": to} for e in emails if (to := [a for a in e["to"] if a])]
    if not emails:
        return 0
    inserted = bulk.insert_rows(OutboundEmail, emails, returning=("id",), ignore_conflicts=True)
    queue_after_commit(DELIVERY_TASK)
    return len(inserted)


# The keys of an e-mail's context that hold a date (stored as ISO text in the JSON context), for
# the templates' date filter, which prints nothing for text.
DATE_KEYS = ("_date", "_deadline")


def _dates(context: dict[str, Any]) -> dict[str, Any]:
    out = dict(context)
    for key, value in context.items():
        if key.endswith(DATE_KEYS) and isinstance(value, str):
            with contextlib.suppress(ValueError):
                out[key] = dt.date.fromisoformat(value)
    return out


def _render_text(name: str, context: dict[str, Any]) -> str:
    """A subject or plain-text body: Django's template without HTML escaping, so that a name
    like O'Brien stays O'Brien (the HTML part is escaped as usual)."""
    template = engines["django"].get_template(name).template
    return template.render(Context(context, autoescape=False))


def build_message(email: OutboundEmail) -> EmailMultiAlternatives:
    context = {
        **_dates(email.context),
        # The day it is sent: a complaint logged late may have dates that have already passed.
        "today": clocks.london_date(timezone.now()),
        "company": settings.COMPANY,
        "cisas": settings.CISAS,
        "site_url": settings.SITE_URL,
    }
    base = f"emails/{email.template}"
    subject = " ".join(_render_text(f"{base}-subject.txt", context).split())
    message = EmailMultiAlternatives(
        subject=subject,
        body=_render_text(f"{base}-body.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=list(email.to),
        reply_to=[settings.COMPANY["email"]],
        headers={"X-Complaint-Reference": email.context.get("reference", "")},
    )
    message.attach_alternative(render_to_string(f"{base}-body.html", context), "text/html")
    if email.letter_id:
        from .documents import letter_bytes

        letter = email.letter
        message.attach(
            letter.file_name,
            letter_bytes(letter),  # checked against its SHA-256
            "application/pdf",
        )
    return message


# What became of an e-mail a delivery run took (``_deliver``).
SENT, FAILED, STOP = "sent", "failed", "stop"


def email_deliver_due(*, now: dt.datetime | None = None, limit: int = 200) -> int:
    """Send up to ``limit`` due e-mails; returns how many were sent. Safe to run in parallel.
    A run stops at the first e-mail that fails because the mail server cannot be reached, or that
    was being sent when the task's time ran out: that one waits its backoff, and the rest, not
    tried, wait for the next run (beat, every minute).

    An e-mail's letter not rendered yet is rendered first, in a transaction of its own, and the
    e-mail is taken again to be sent: the letter's row is locked while it renders, not while the
    mail server is waited on. (Rendered inside the e-mail's transaction, the letter stayed locked
    until the e-mail was sent, and a customer opening it from the confirmation page waited as long:
    up to EMAIL_TIMEOUT on a server that did not answer, and gunicorn's timeout is as long.)

    Through SMTP, a run keeps one connection to the server for all its e-mails, opened for the
    first: a connection for each e-mail (TCP, EHLO, STARTTLS, AUTH, QUIT) cost the run several
    round trips to the server per e-mail. Other backends (the file per e-mail of ``make run``, the
    tests' outbox) get a connection per e-mail, as Django makes it."""
    from .documents import letter_render

    # Before anything due is read: a change committed from here on publishes another run.
    run_started(DELIVERY_TASK)
    sent = 0
    smtp = get_connection()
    if not isinstance(smtp, SMTPBackend):
        smtp = None
    try:
        for _ in range(limit):
            moment = now or timezone.now()
            # Served by email_unsent_idx; SKIP LOCKED lets parallel runs take different rows. The
            # letter and its complaint (for its file's name) come with the row, unlocked.
            due = (
                OutboundEmail.objects.select_for_update(skip_locked=True, of=("self",))
                .select_related("letter__complaint")
                .filter(sent_at__isnull=True, next_attempt_at__lte=moment)
                .order_by("next_attempt_at", "id")
            )
            with transaction.atomic():
                email = due.first()
                if email is None:
                    break
                unrendered = email.letter_id is not None and not email.letter.is_rendered
                if not unrendered:
                    outcome = _deliver(email, moment, smtp)
            if unrendered:
                try:
                    letter_render(letter_id=email.letter_id)
                    failure = None
                except Exception as exc:
                    failure = exc
                with transaction.atomic():
                    email = due.filter(pk=email.pk).first()
                    if email is None:  # sent or taken by another run meanwhile
                        continue
                    outcome = _deliver(email, moment, smtp, failure=failure)
            if outcome == STOP:
                break
            sent += outcome == SENT
        else:
            # Stopped by the limit, not for want of e-mails: more may be due, and with no run
            # waiting (COALESCED_TASKS) they would wait for beat. Another run goes on with them.
            queue_after_commit(DELIVERY_TASK)
    finally:
        if smtp is not None:
            with contextlib.suppress(Exception):  # a QUIT unanswered changes nothing sent
                smtp.close()  # and lets go of the connection whatever happens
    return sent


def _deliver(
    email: OutboundEmail,
    moment: dt.datetime,
    smtp: SMTPBackend | None,
    *,
    failure: Exception | None = None,
) -> str:
    """Send an e-mail the caller has locked, or record ``failure`` (its letter's, say) instead,
    and mark it sent or failed with its backoff, in the caller's transaction. Returns SENT, FAILED
    or STOP (a failure after which the run ends: ``STOP_THE_RUN``)."""
    from .documents import LetterAltered

    if failure is None:
        try:
            _send(build_message(email), smtp)
        except Exception as exc:
            failure = exc
    if failure is not None:
        _drop(smtp)  # in whatever state the failure left it; the next e-mail opens one
        email.attempts += 1
        email.last_error = f"{type(failure).__name__}: {failure}"[:2000]
        if isinstance(failure, SoftTimeLimitExceeded):  # whose own text is its repr
            email.last_error = (
                f"{type(failure).__name__}: the task's time limit "
                f"({settings.CELERY_TASK_SOFT_TIME_LIMIT} s) was reached while sending this e-mail"
            )
        email.next_attempt_at = moment + backoff(email.attempts)
        email.save(update_fields=["attempts", "last_error", "next_attempt_at"])
        # A letter whose file no longer matches what was issued is for someone to look into now.
        level = logging.ERROR if isinstance(failure, LetterAltered) else logging.WARNING
        log.log(level, "e-mail %s failed (attempt %s): %s", email.pk, email.attempts, failure)
        return STOP if isinstance(failure, STOP_THE_RUN) else FAILED
    email.sent_at = timezone.now()
    email.attempts += 1
    # The tracking link's secret is kept only until it has been sent.
    email.context.pop("tracking_url", None)
    email.save(update_fields=["sent_at", "attempts", "context"])
    return SENT


def _send(message: EmailMultiAlternatives, smtp: SMTPBackend | None) -> None:
    """Send ``message`` on the run's SMTP connection (opened if it is not), or, without one, on a
    connection of its own. A server may close a connection it kept open between two e-mails (an
    idle time-out, a limit of messages per connection): on a connection kept from an earlier
    e-mail, that is retried once on a new one."""
    if smtp is None:
        message.send()
        return
    kept = smtp.connection is not None
    if not kept:
        smtp.open()
    message.connection = smtp
    try:
        message.send()
    except smtplib.SMTPException as exc:
        # 421: the server is closing this connection.
        closed = (
            isinstance(exc, smtplib.SMTPServerDisconnected) or getattr(exc, "smtp_code", 0) == 421
        )
        if not (kept and closed):
            raise
        _drop(smtp)
        smtp.open()
        message.send()


def _drop(smtp: SMTPBackend | None) -> None:
    """Close the run's SMTP connection without a QUIT, which a server that has stopped answering
    would make wait out EMAIL_TIMEOUT once more."""
    if smtp is not None and smtp.connection is not None:
        with contextlib.suppress(Exception):
            smtp.connection.close()
        smtp.connection = None
