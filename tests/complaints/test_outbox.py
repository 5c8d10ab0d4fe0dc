"""Letters and e-mails go out exactly once: recorded with the change, rendered and sent after."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import re

import pytest
import time_machine
from django.core import mail
from django.utils import timezone
from pypdf import PdfReader

from adr import services as adr_services
from complaints import documents, letters, outbox, services
from complaints.models import Category, Letter, LetterKind, OutboundEmail, State
from complaints.roles import Actor
from tests.conftest import fresh, mail_through_smtp, silent_server, wait_for

pytestmark = pytest.mark.django_db


def pdf_text(letter: Letter) -> str:
    with letter.pdf.open("rb") as f:
        reader = PdfReader(io.BytesIO(f.read()))
    return re.sub(r"\s+", " ", " ".join(page.extract_text() for page in reader.pages))


def test_filing_records_the_acknowledgement_letter_and_email_in_the_same_transaction(
    file_complaint,
):
    filed = file_complaint()
    (letter,) = filed.complaint.letters.all()
    (email,) = OutboundEmail.objects.filter(complaint=filed.complaint)
    assert letter.kind == LetterKind.ACKNOWLEDGEMENT and not letter.is_rendered
    assert email.template == "acknowledgement" and email.to == ["jane@example.com"]
    assert email.letter == letter and email.sent_at is None
    assert filed.tracking_secret in email.context["tracking_url"]


def test_delivery_renders_the_letter_attaches_it_and_marks_the_email_sent_once(file_complaint):
    filed = file_complaint()
    assert outbox.email_deliver_due() == 1
    assert outbox.email_deliver_due() == 0
    (message,) = mail.outbox
    assert message.to == ["jane@example.com"]
    assert filed.complaint.reference in message.subject
    assert f"/track/{filed.complaint.reference}/{filed.tracking_secret}/" in message.body
    (name, content, mimetype) = message.attachments[0]
    assert mimetype == "application/pdf" and name.endswith("-acknowledgement.pdf")
    letter = filed.complaint.letters.get()
    assert letter.is_rendered
    assert hashlib.sha256(content).hexdigest() == letter.sha256
    email = OutboundEmail.objects.get(complaint=filed.complaint)
    assert email.sent_at is not None and email.attempts == 1
    assert "tracking_url" not in email.context, "the secret is not kept once it has been sent"


def test_a_mail_server_that_never_answers_frees_the_worker_and_the_rest_wait(
    file_complaint, settings
):
    first = file_complaint(email="first@example.com").complaint
    second = file_complaint(email="second@example.com").complaint
    with silent_server() as port:
        mail_through_smtp(settings, port, timeout=0.5)
        start = timezone.now()
        assert outbox.email_deliver_due(now=start) == 0
    tried = OutboundEmail.objects.get(complaint=first)
    assert tried.sent_at is None and tried.attempts == 1
    assert "timed out" in tried.last_error
    assert tried.next_attempt_at == start + dt.timedelta(minutes=1)
    # The server is unreachable: the next e-mail was not tried, and waits for the next run.
    waiting = OutboundEmail.objects.get(complaint=second)
    assert waiting.attempts == 0 and waiting.last_error == "" and waiting.sent_at is None


def test_a_run_sends_its_emails_on_one_connection_to_the_mail_server(file_complaint, smtp_server):
    for n in range(3):
        file_complaint(email=f"customer{n}@example.com")
    assert outbox.email_deliver_due() == 3
    assert smtp_server.connections == 1
    assert len(smtp_server.messages) == 3
    assert OutboundEmail.objects.filter(sent_at__isnull=True).count() == 0
    assert outbox.email_deliver_due() == 0
    assert smtp_server.connections == 1  # nothing due: the server is not bothered


@pytest.mark.parametrize(
    "say_421, emails, connections",
    [(False, 5, 3), (True, 3, 2)],
    ids=["closed after two messages", "421 after two messages"],
)
def test_a_connection_the_server_closed_between_two_emails_is_opened_again(
    file_complaint, smtp_server, say_421, emails, connections
):
    smtp_server.messages_per_connection, smtp_server.say_421 = 2, say_421
    for n in range(emails):
        file_complaint(email=f"customer{n}@example.com")
    assert outbox.email_deliver_due() == emails
    assert len(smtp_server.messages) == emails
    assert smtp_server.connections == connections
    assert set(OutboundEmail.objects.values_list("attempts", "last_error")) == {(1, "")}


def test_a_refused_recipient_on_the_runs_connection_does_not_stop_the_others(
    file_complaint, smtp_server
):
    file_complaint(email="first@example.com")
    refused = file_complaint(email="refused@example.com").complaint
    file_complaint(email="third@example.com")
    assert outbox.email_deliver_due() == 2
    email = OutboundEmail.objects.get(complaint=refused)
    assert email.sent_at is None and email.attempts == 1
    assert "Recipient address rejected" in email.last_error
    assert len(smtp_server.messages) == 2
    assert smtp_server.connections == 2  # the one after the refusal is a new connection


@pytest.mark.django_db(transaction=True)
def test_a_letter_can_be_downloaded_while_its_email_waits_on_the_mail_server(
    file_complaint, settings
):
    """The delivery renders the letter, then sends it. A customer who opens the letter meanwhile
    (the confirmation page offers it) must not wait for a mail server that does not answer."""
    import threading
    import time

    from django.db import connection

    complaint = file_complaint().complaint
    letter = Letter.objects.get(complaint=complaint)
    with silent_server() as port:
        mail_through_smtp(settings, port, timeout=4)

        def deliver():
            try:
                outbox.email_deliver_due()
            finally:
                connection.close()

        delivery = threading.Thread(target=deliver)
        delivery.start()
        # The delivery has rendered the letter (its file is written) and is now at the server.
        pdf = settings.MEDIA_ROOT / f"letters/{complaint.reference}/acknowledgement-{letter.pk}.pdf"
        assert wait_for(pdf.exists, 10)
        time.sleep(0.5)
        started = time.monotonic()
        opened = documents.letter_open(Letter.objects.get(pk=letter.pk))
        waited = time.monotonic() - started
        delivery.join(15)
    assert opened.read().startswith(b"%PDF-")
    assert waited < 1, f"the customer waited {waited:.1f} s for the mail server"
    email = OutboundEmail.objects.get(complaint=complaint)
    assert email.sent_at is None and "timed out" in email.last_error
    assert Letter.objects.get(pk=letter.pk).is_rendered  # rendered once, kept


@pytest.mark.parametrize("emails", [2, 5])
def test_a_delivery_run_makes_the_same_few_queries_for_each_email(file_complaint, emails):
    """Per e-mail with its letter: taken with its letter and complaint (one query, in its own
    transaction), the letter rendered (its transaction: the locking read, the UPDATE), then taken
    again and marked sent (its transaction: one query, the UPDATE); so 11 statements with the
    transactions' own. The run ends with one more transaction that finds nothing due."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for n in range(emails):
        file_complaint(email=f"customer{n}@example.com")
    with CaptureQueriesContext(connection) as queries:
        assert outbox.email_deliver_due() == emails
    assert len(queries.captured_queries) == 11 * emails + 3


def test_the_mail_servers_time_out_is_set():
    """Django's own default is to wait for ever."""
    from django.conf import settings

    assert 0 < settings.EMAIL_TIMEOUT <= 60


def test_a_run_out_of_time_ends_at_the_email_in_hand_and_the_rest_wait(file_complaint, settings):
    """The worker's soft time limit comes once; the run must end before the hard one kills it."""
    first = file_complaint(email="first@example.com").complaint
    second = file_complaint(email="second@example.com").complaint
    settings.EMAIL_BACKEND = "tests.complaints.failing_backend.OutOfTimeBackend"
    settings.CELERY_TASK_SOFT_TIME_LIMIT = 300
    start = timezone.now()
    assert outbox.email_deliver_due(now=start) == 0
    tried = OutboundEmail.objects.get(complaint=first)
    assert tried.sent_at is None and tried.attempts == 1
    assert tried.last_error == (
        "SoftTimeLimitExceeded: the task's time limit (300 s) was reached while sending this e-mail"
    )
    assert tried.next_attempt_at == start + dt.timedelta(minutes=1)
    waiting = OutboundEmail.objects.get(complaint=second)
    assert waiting.attempts == 0 and waiting.last_error == "" and waiting.sent_at is None


def test_the_workers_tasks_have_time_limits():
    """A task stuck for ever held a worker for ever: soft, then hard, from the settings."""
    from config.celery import app

    assert 0 < app.conf.task_soft_time_limit < app.conf.task_time_limit <= 3600


def test_a_refused_recipient_does_not_stop_the_run(file_complaint, settings):
    file_complaint(email="first@example.com")
    file_complaint(email="second@example.com")
    settings.EMAIL_BACKEND = "tests.complaints.failing_backend.RefusingBackend"
    assert outbox.email_deliver_due() == 0
    emails = OutboundEmail.objects.order_by("id")
    assert [e.attempts for e in emails] == [1, 1]
    assert all("Recipient address rejected" in e.last_error for e in emails)


def test_a_failing_mail_server_is_retried_with_backoff_then_sent_once(file_complaint, settings):
    filed = file_complaint()
    settings.EMAIL_BACKEND = "tests.complaints.failing_backend.FailingBackend"
    start = timezone.now()
    assert outbox.email_deliver_due(now=start) == 0
    email = OutboundEmail.objects.get(complaint=filed.complaint)
    assert email.attempts == 1 and "refused" in email.last_error
    assert email.next_attempt_at == start + dt.timedelta(minutes=1)
    assert outbox.email_deliver_due(now=start + dt.timedelta(seconds=30)) == 0  # not due yet
    assert outbox.email_deliver_due(now=start + dt.timedelta(minutes=1)) == 0
    email.refresh_from_db()
    assert email.attempts == 2
    assert email.next_attempt_at == start + dt.timedelta(minutes=1) + dt.timedelta(minutes=2)
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    assert outbox.email_deliver_due(now=start + dt.timedelta(minutes=5)) == 1
    assert len(mail.outbox) == 1
    assert outbox.email_deliver_due(now=start + dt.timedelta(hours=1)) == 0


def test_backoff_is_capped_at_six_hours():
    assert [outbox.backoff(n).total_seconds() / 60 for n in (1, 2, 3, 4)] == [1, 2, 4, 8]
    assert outbox.backoff(20) == dt.timedelta(hours=6)


def test_recording_the_same_email_twice_keeps_one(file_complaint):
    complaint = file_complaint().complaint
    recorded = [
        outbox.email_record(
            template="escalation", to=["x@example.com"], dedupe_key="k1", complaint=complaint
        )
        for _ in range(2)
    ]
    assert recorded == [True, False]
    assert OutboundEmail.objects.filter(dedupe_key="k1").count() == 1


def test_nobody_to_tell_records_nothing():
    assert outbox.email_record(template="overdue_alert", to=[], dedupe_key="k2") is False
    assert outbox.email_record(template="overdue_alert", to=[""], dedupe_key="k2") is False
    assert not OutboundEmail.objects.filter(dedupe_key="k2").exists()


def test_escalation_tells_the_customer_the_new_reply_date(file_complaint):
    with time_machine.travel(dt.datetime(2026, 11, 16, 10, 0, tzinfo=dt.UTC), tick=False):
        c = file_complaint().complaint
        services.complaint_escalate(complaint=c, by=Actor.customer())
        outbox.email_deliver_due()
    escalation = next(m for m in mail.outbox if "Customer Services Manager" in m.subject)
    assert "7 December 2026" in escalation.body


def test_plain_text_emails_are_not_html_escaped(file_complaint):
    file_complaint(customer_name="Siân O'Brien & Sons <Ltd>")
    outbox.email_deliver_due()
    (message,) = mail.outbox
    assert "Dear Siân O'Brien & Sons <Ltd>," in message.body
    html = message.alternatives[0][0]
    assert "Dear Siân O&#x27;Brien &amp; Sons &lt;Ltd&gt;," in html


def test_a_formal_written_complaint_email_says_so_in_its_subject(complaint_in):
    c = complaint_in(State.CS_MANAGER)
    outbox.email_deliver_due()
    mail.outbox.clear()
    services.complaint_make_formal(
        complaint=c, by=Actor.customer(), text="The refund has still not arrived."
    )
    outbox.email_deliver_due()
    (message,) = mail.outbox
    assert message.subject == f"We have recorded your formal written complaint {c.reference}"
    assert "now at stage 3: a formal written complaint." in message.body


def logged_on_6_december(file_complaint, agent, *, received: dt.datetime):
    """A letter asking for a written reply, received on ``received`` (UTC) and logged by an agent
    on 6 December 2026, with its acknowledgement delivered."""
    with time_machine.travel(dt.datetime(2026, 12, 6, 10, 0, tzinfo=dt.UTC), tick=False):
        c = file_complaint(
            by=Actor.staff(agent),
            channel="letter",
            received_at=received.replace(tzinfo=dt.UTC),
            preferred_response="written",
        ).complaint
        outbox.email_deliver_due()
    return c


def test_a_complaint_logged_late_is_not_promised_dates_that_have_passed(file_complaint, agent):
    c = logged_on_6_december(file_complaint, agent, received=dt.datetime(2026, 9, 1, 9, 0))
    text = pdf_text(c.letters.get())
    assert "Our reply was due by: 22 September 2026" in text
    assert "We aim to reply by" not in text
    assert "You may go to CISAS now, since: 18 November 2026" in text
    # Its ADR date has passed too: the ADR clock's deadlock letter follows at once, so the
    # procedure's stages are not offered.
    assert (
        "We are also sending you a deadlock letter, our final response under our complaints "
        "procedure, because the 56 working days from when we received your complaint have "
        "passed. We will still look into your complaint, and we are sorry that we have not "
        "replied by 22 September 2026, 15 working days after we received it."
    ) in text
    assert "escalated" not in text and "formal written complaint" not in text
    (message,) = mail.outbox
    assert "Our reply was due by 22 September 2026." in message.body
    assert (
        "The 56 working days from when we received your complaint ended on 18 November 2026, so "
        "we are also sending you a deadlock letter, our final response, in a separate e-mail."
    ) in message.body
    assert "you can refer it now to CISAS" in message.body
    assert "We aim to reply by" not in message.body
    # They asked for a written reply: not told they may ask for one.
    assert "If you would like our reply in writing" not in message.body


def test_a_complaint_logged_after_its_reply_date_but_before_its_adr_date_keeps_its_stages(
    file_complaint, agent
):
    c = logged_on_6_december(file_complaint, agent, received=dt.datetime(2026, 11, 2, 9, 0))
    text = pdf_text(c.letters.get())
    assert "Our reply was due by: 23 November 2026" in text
    assert "we will reply as soon as we can" in text
    assert "escalated to our Customer Services Manager" in text
    assert "deadlock letter" not in text.replace("if we send you a deadlock letter", "")
    (message,) = mail.outbox
    assert "deadlock letter" not in message.body


def test_a_complaint_filed_today_is_told_when_to_expect_the_reply(file_complaint):
    with time_machine.travel(dt.datetime(2026, 11, 2, 10, 0, tzinfo=dt.UTC), tick=False):
        c = file_complaint().complaint
        outbox.email_deliver_due()
    text = pdf_text(c.letters.get())
    assert "We aim to reply by: 23 November 2026" in text
    assert "about your bill," in text
    (message,) = mail.outbox
    assert "We aim to reply by 23 November 2026." in message.body
    assert "If you would like our reply in writing" in message.body


def test_the_letters_put_the_category_in_words_that_read(file_complaint, manager):
    c = file_complaint(category=Category.OTHER).complaint
    adr_services.complaint_issue_deadlock(
        complaint=c, by=Actor.staff(manager), final_position="Our offer stands."
    )
    outbox.email_deliver_due()
    acknowledgement = pdf_text(c.letters.get(kind=LetterKind.ACKNOWLEDGEMENT))
    deadlock = pdf_text(c.letters.get(kind=LetterKind.DEADLOCK))
    assert "your complaint on" in acknowledgement and "about something else," in acknowledgement
    assert "We received your complaint about something else on" in deadlock
    assert "about other" not in acknowledgement + deadlock


def test_a_scottish_customer_is_pointed_to_the_sheriff_court(file_complaint, manager):
    c = file_complaint(nation="scotland").complaint
    adr_services.complaint_issue_deadlock(
        complaint=c, by=Actor.staff(manager), final_position="Our offer stands."
    )
    outbox.email_deliver_due()
    text = pdf_text(c.letters.get(kind=LetterKind.DEADLOCK))
    assert "simple procedure in the sheriff court" in text
    assert "small claims court" not in text


def test_a_message_from_staff_reaches_the_customer_by_email(file_complaint, agent):
    c = file_complaint().complaint
    outbox.email_deliver_due()
    mail.outbox.clear()
    services.complaint_add_message(
        complaint=c, by=Actor.staff(agent), text="Could you send us the October bill?"
    )
    services.complaint_add_message(complaint=c, by=Actor.customer(), text="Here it is.")
    outbox.email_deliver_due()
    (message,) = mail.outbox  # the customer's own message is not e-mailed back to them
    assert message.subject == f"A message about your complaint ({c.reference})"
    assert "Could you send us the October bill?" in message.body
    assert "/track/lost/" in message.body


def test_a_withdrawal_is_confirmed_to_the_customer_once(file_complaint):
    c = file_complaint().complaint
    outbox.email_deliver_due()
    mail.outbox.clear()
    services.complaint_withdraw(complaint=c, by=Actor.customer(), reason="Sorted by phone.")
    outbox.email_deliver_due()
    outbox.email_deliver_due()
    (message,) = mail.outbox
    assert message.to == [c.email]
    assert message.subject == f"Your complaint {c.reference} is withdrawn"
    assert f"As you asked, we have withdrawn your complaint {c.reference}" in message.body
    assert "If you did not ask us to withdraw it, please call us straight away" in message.body
    assert "/complain/" in message.body


def test_a_withdrawal_staff_record_from_a_call_is_news_to_the_customer_by_e_mail(
    file_complaint, agent
):
    c = file_complaint().complaint
    outbox.email_deliver_due()
    mail.outbox.clear()
    services.complaint_withdraw(complaint=c, by=Actor.staff(agent), reason="Asked on the phone.")
    outbox.email_deliver_due()
    (message,) = mail.outbox
    assert message.subject == f"Your complaint {c.reference} is withdrawn"
    assert "If you did not ask us to withdraw it" in message.body


def test_resolving_tells_the_customer_until_when_they_may_reopen(file_complaint, agent, manager):
    with time_machine.travel(dt.datetime(2026, 12, 3, 10, 0, tzinfo=dt.UTC), tick=False):
        c = file_complaint().complaint
        outbox.email_deliver_due()
        mail.outbox.clear()
        services.complaint_resolve(
            complaint=c, by=Actor.staff(agent), summary="We refunded the second charge."
        )
        outbox.email_deliver_due()
    (message,) = mail.outbox
    assert message.subject == f"We have resolved your complaint ({c.reference})"
    assert "We refunded the second charge." in message.body
    # 8 weeks from 10:00 on 3 December ends at 10:00 on 28 January: 27 January is the last
    # whole day, so the date that is true all day long.
    assert "reopen your complaint until 27 January 2027" in message.body
    assert "If your complaint is still not resolved by" in message.body  # no deadlock yet
    # Reopened and resolved again: told again.
    services.complaint_reopen(complaint=c, by=Actor.customer())
    services.complaint_resolve(complaint=c, by=Actor.staff(manager), summary="Credit added.")
    outbox.email_deliver_due()
    assert [m.subject for m in mail.outbox].count(message.subject) == 2


@pytest.mark.parametrize(
    ("state", "in_letter", "in_email"),
    [
        (
            State.CS_TEAM,
            "You can ask for your complaint to be escalated to our Customer Services Manager",
            "you can ask for your complaint to be escalated to our Customer Services Manager",
        ),
        (
            State.CS_MANAGER,
            "you can make a formal written complaint",
            "you can make a formal written complaint",
        ),
        (
            State.FORMAL_WRITTEN,
            "We will then send you a deadlock letter",
            "we will send you a deadlock letter",
        ),
    ],
)
def test_a_written_reply_offers_the_next_stage_not_one_already_taken(
    complaint_in, manager, state, in_letter, in_email
):
    c = complaint_in(state)
    outbox.email_deliver_due()
    mail.outbox.clear()
    services.complaint_record_reply(
        complaint=c, by=Actor.staff(manager), method="written", summary="We have refunded £40."
    )
    outbox.email_deliver_due()
    text = pdf_text(c.letters.get(kind=LetterKind.WRITTEN_REPLY))
    (message,) = mail.outbox
    assert in_letter in text and in_email in message.body
    # A stage already taken is not offered again, in the letter or in the e-mail.
    taken = {
        State.CS_TEAM: [],
        State.CS_MANAGER: ["to be escalated"],
        State.FORMAL_WRITTEN: ["to be escalated", "make a formal written complaint"],
    }[state]
    for offer in taken:
        assert offer not in text and offer not in message.body


def test_resolved_after_a_deadlock_letter_the_email_gives_the_cisas_deadline(complaint_in, manager):
    with time_machine.travel(dt.datetime(2026, 12, 3, 10, 0, tzinfo=dt.UTC), tick=False):
        c = complaint_in(State.DEADLOCK)
        outbox.email_deliver_due()
        mail.outbox.clear()
        services.complaint_resolve(complaint=c, by=Actor.staff(manager), summary="Refunded.")
        outbox.email_deliver_due()
    (message,) = mail.outbox
    assert "free of charge, until 3 December 2027" in message.body


def test_a_managers_deadlock_letter_holds_what_the_regulator_checks(file_complaint, manager):
    manager.first_name, manager.last_name = "Morgan", "Price"
    manager.save()
    with time_machine.travel(dt.datetime(2026, 11, 2, 10, 0, tzinfo=dt.UTC), tick=False):
        c = file_complaint(postal_address="1 High Street\nHertford\nSG14 1AA").complaint
    with time_machine.travel(dt.datetime(2026, 11, 25, 10, 0, tzinfo=dt.UTC), tick=False):
        services.complaint_escalate(complaint=c, by=Actor.customer())
        adr_services.complaint_issue_deadlock(
            complaint=c,
            by=Actor.staff(manager),
            final_position="We have refunded the duplicate charge of £42.50 and can do no more.",
        )
        outbox.email_deliver_due()
    letter = c.letters.get(kind=LetterKind.DEADLOCK)
    text = pdf_text(letter)
    for expected in (
        c.reference,
        "2 November 2026",  # received
        "25 November 2026",  # letter date
        "25 November 2027",  # CISAS accepts it until
        "Jane Doe",
        "SG14 1AA",
        "refunded the duplicate charge",
        "CISAS",
        "free of charge",
        "court",
        "small claims court",  # England and Wales
        "Morgan Price",
        "Express Telephony Limited",
        "SG12 0EF",
    ):
        assert expected in text, expected
    with letter.pdf.open("rb") as f:
        assert hashlib.sha256(f.read()).hexdigest() == letter.sha256
    deadlock_mail = next(m for m in mail.outbox if "CISAS" in m.subject)
    assert deadlock_mail.attachments[0][0].endswith("-deadlock.pdf")
    # The e-mail itself says until when CISAS will take the complaint, in both of its parts.
    assert "free of charge, until 25 November 2027:" in deadlock_mail.body
    assert "until 25 November 2027" in deadlock_mail.alternatives[0][0]
    assert fresh(c).state == State.DEADLOCK


def test_a_second_deadlock_letter_is_refused_even_after_reopening(complaint_in, manager):
    c = complaint_in(State.DEADLOCK)
    by = Actor.staff(manager)
    services.complaint_resolve(complaint=c, by=by, summary="Settled.")
    services.complaint_reopen(complaint=c, by=by, reason="Customer rang back.")
    with pytest.raises(services.TransitionNotAllowed) as refused:
        adr_services.complaint_issue_deadlock(complaint=c, by=by, final_position="Again")
    assert "already been issued" in refused.value.message
    assert c.letters.filter(kind=LetterKind.DEADLOCK).count() == 1


@pytest.fixture
def published(monkeypatch) -> list[tuple[str, tuple]]:
    """The tasks asked of the broker, by name and arguments, instead of publishing them."""
    from config.celery import app

    sent: list[tuple[str, tuple]] = []
    monkeypatch.setattr(app, "send_task", lambda name, args=(), **kw: sent.append((name, args)))
    # No run left waiting, nor a broker outage remembered, by an earlier test.
    outbox.run_started(DELIVER)
    monkeypatch.setattr(outbox, "_broker_down_until", 0.0)
    return sent


DELIVER = "complaints.tasks.deliver_outbox"


# In the tests of coalescing, each filing commits, as in production, and publishes then.
@pytest.mark.django_db(transaction=True)
def test_a_change_made_while_a_delivery_run_waits_publishes_no_other(file_complaint, published):
    file_complaint()
    file_complaint(email="sam@example.com")
    assert published == [(DELIVER, ())]  # the run waiting in the queue sends both

    assert outbox.email_deliver_due() == 2
    file_complaint(email="alex@example.com")  # after the run started: another is needed
    assert published == [(DELIVER, ()), (DELIVER, ())]
    assert outbox.email_deliver_due() == 1
    assert sorted(m.to[0] for m in mail.outbox) == [
        "alex@example.com",
        "jane@example.com",
        "sam@example.com",
    ]


@pytest.mark.django_db(transaction=True)
def test_a_delivery_run_stopped_by_its_limit_queues_another(file_complaint, published):
    for n in range(3):
        file_complaint(email=f"customer{n}@example.com")
    assert published == [(DELIVER, ())]  # one run waits for the three
    published.clear()
    assert outbox.email_deliver_due(limit=2) == 2
    assert published == [(DELIVER, ())]  # the third is not left for beat
    published.clear()
    assert outbox.email_deliver_due(limit=2) == 1
    assert published == []  # it found nothing more to send
    assert OutboundEmail.objects.filter(sent_at__isnull=True).count() == 0


@pytest.mark.django_db(transaction=True)
def test_with_the_queue_flag_unreachable_nothing_waits_and_nothing_is_lost(
    file_complaint, published, monkeypatch, caplog
):
    from redis.exceptions import ConnectionError as RedisDown

    class Unreachable:
        tries = 0  # each one a wait for the connection's timeout in production

        def set(self, *args, **kwargs):
            Unreachable.tries += 1
            raise RedisDown("Connection refused")

        delete = set

    monkeypatch.setattr(outbox, "_flags", Unreachable())
    monkeypatch.setattr(outbox, "_broker_down_until", 0.0)
    filed = file_complaint()
    file_complaint(email="sam@example.com")
    # No publish, and only one try of the broker: the second change does not wait on it again.
    assert published == []
    assert Unreachable.tries == 1
    assert [r.getMessage() for r in caplog.records if "broker unavailable" in r.getMessage()] == [
        f"broker unavailable, {DELIVER} left for the periodic run: Connection refused"
    ]
    assert OutboundEmail.objects.filter(sent_at__isnull=True).count() == 2
    assert outbox.email_deliver_due() == 2  # beat's run sends them
    assert filed.complaint.email in [m.to[0] for m in mail.outbox]


@pytest.mark.django_db(transaction=True)
def test_where_the_broker_is_not_redis_every_change_publishes(
    file_complaint, published, monkeypatch
):
    monkeypatch.setattr(outbox, "_flags", False)  # the embedded run's folders
    for n in range(2):
        file_complaint(email=f"customer{n}@example.com")
    assert published == [(DELIVER, ()), (DELIVER, ())]


def test_a_letter_sent_by_email_is_one_task_for_the_worker(
    file_complaint, published, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        filed = file_complaint()
    # The e-mail's delivery renders the letter it attaches: no second task to render it.
    assert published == [("complaints.tasks.deliver_outbox", ())]
    assert outbox.email_deliver_due() == 1
    assert filed.complaint.letters.get().is_rendered


def test_a_letter_whose_email_is_not_recorded_is_still_rendered(
    file_complaint, agent, published, django_capture_on_commit_callbacks
):
    complaint = file_complaint().complaint
    published.clear()
    for email in (
        None,
        {"template": "reply", "to": [""]},  # nobody to tell
        {
            "template": "reply",
            "to": ["x@example.com"],
            "dedupe_key": f"acknowledgement:{complaint.pk}",
        },
    ):
        with django_capture_on_commit_callbacks(execute=True):
            letter = documents.letter_issue(
                complaint=complaint,
                kind=LetterKind.WRITTEN_REPLY,
                context=documents.written_reply_context(
                    complaint, by=Actor.staff(agent), at=timezone.now(), text="We have refunded it."
                ),
                by=Actor.staff(agent),
                at=timezone.now(),
                email=email,
            )
        assert ("complaints.tasks.render_letters", ([letter.pk],)) in published
        published.clear()
        documents.letters_render_pending(letter_ids=[letter.pk])
        assert Letter.objects.get(pk=letter.pk).is_rendered
    assert not OutboundEmail.objects.filter(letter__kind=LetterKind.WRITTEN_REPLY).exists()


def test_each_written_reply_is_emailed_once_with_its_own_letter(file_complaint, agent):
    complaint = file_complaint().complaint
    for summary in ("We have refunded the charge.", "We have also added a credit."):
        services.complaint_record_reply(
            complaint=complaint, by=Actor.staff(agent), method="written", summary=summary
        )
        complaint.refresh_from_db()
    replies = OutboundEmail.objects.filter(template="reply").order_by("id")
    assert [email.letter.kind for email in replies] == [LetterKind.WRITTEN_REPLY] * 2
    assert len({email.letter_id for email in replies}) == 2


def test_a_written_reply_becomes_a_letter_emailed_to_the_customer(file_complaint, agent, settings):
    c = file_complaint().complaint
    services.complaint_record_reply(
        complaint=c,
        by=Actor.staff(agent),
        method="written",
        summary="We have refunded the duplicate charge.\n\nIt will reach you in 3 days.",
    )
    outbox.email_deliver_due()
    letter = c.letters.get(kind=LetterKind.WRITTEN_REPLY)
    assert "refunded the duplicate charge" in pdf_text(letter)
    # With the date the customer may go to CISAS, as the acknowledgement gave it.
    adr_date = f"{c.adr_eligible_date.day} {c.adr_eligible_date:%B %Y}"
    assert f"still not resolved by {adr_date} (56 working days after" in pdf_text(letter)
    reply = next(m for m in mail.outbox if m.subject.startswith("Our reply"))
    # The link from when they complained may have been replaced: where to ask for a new one.
    assert f"{settings.SITE_URL}/track/lost/" in reply.body
    html = reply.alternatives[0][0]
    assert f'<a href="{settings.SITE_URL}/track/lost/">ask for a new one</a>' in html


def test_a_written_reply_after_the_deadlock_letter_gives_no_adr_date(complaint_in, manager):
    """The date the customer may go to CISAS without a deadlock letter means nothing once they
    have one: a reply written then (the API allows it) does not give it."""
    c = complaint_in(State.DEADLOCK)
    services.complaint_record_reply(
        complaint=fresh(c), by=Actor.staff(manager), method="written", summary="A goodwill credit."
    )
    outbox.email_deliver_due()
    letter = c.letters.get(kind=LetterKind.WRITTEN_REPLY)
    assert "adr_eligible_date" not in letter.context
    text = pdf_text(letter)
    adr_date = f"{c.adr_eligible_date.day} {c.adr_eligible_date:%B %Y}"
    assert adr_date not in text
    # Where the complaint now is, not the procedure's next stage.
    deadlock, deadline = fresh(c).deadlock_issued_at, fresh(c).cisas_deadline
    assert f"This reply follows our deadlock letter of {deadlock.day} {deadlock:%B %Y}" in text
    assert f"refer your complaint to CISAS, free of charge, until {deadline.day} " in text
    assert "escalated to our Customer Services Manager" not in text


def test_a_written_reply_while_cisas_has_the_complaint_says_so(complaint_in, manager):
    c = complaint_in(State.ADR_REFERRED)
    services.complaint_record_reply(
        complaint=fresh(c), by=Actor.staff(manager), method="written", summary="A goodwill credit."
    )
    outbox.email_deliver_due()
    text = pdf_text(c.letters.get(kind=LetterKind.WRITTEN_REPLY))
    assert "Your complaint is with CISAS, and this letter does not change that" in text
    assert "refer your complaint to CISAS, free of charge, until" not in text
    assert "escalated to our Customer Services Manager" not in text


def test_a_render_that_dies_half_way_leaves_one_letter_and_one_file(
    file_complaint, monkeypatch, settings
):
    c = file_complaint().complaint
    letter = c.letters.get()
    real = letters.render_pdf

    def dies(kind, context):
        raise MemoryError("worker killed")

    monkeypatch.setattr(letters, "render_pdf", dies)
    with pytest.raises(MemoryError):
        documents.letter_render(letter_id=letter.pk)
    assert not fresh_letter(letter).is_rendered
    monkeypatch.setattr(letters, "render_pdf", real)
    documents.letter_render(letter_id=letter.pk)
    documents.letter_render(letter_id=letter.pk)  # a retry of the same task: nothing more
    assert c.letters.count() == 1
    folder = settings.MEDIA_ROOT / "letters" / c.reference
    assert [p.name for p in folder.iterdir()] == [f"acknowledgement-{letter.pk}.pdf"]


def fresh_letter(letter: Letter) -> Letter:
    return Letter.objects.get(pk=letter.pk)


def test_the_reply_to_a_formal_written_complaint_quotes_it(complaint_in, manager):
    c = complaint_in(State.FORMAL_WRITTEN)
    services.complaint_record_reply(
        complaint=c, by=Actor.staff(manager), method="written", summary="We have refunded £40."
    )
    outbox.email_deliver_due()
    text = pdf_text(c.letters.get(kind=LetterKind.WRITTEN_REPLY))
    assert (
        "Your formal written complaint Letter received: the refund has not arrived. Our reply"
        in text
    )


def test_a_reply_before_the_formal_written_complaint_has_none_to_quote(complaint_in, manager):
    c = complaint_in(State.CS_MANAGER)
    services.complaint_record_reply(
        complaint=c, by=Actor.staff(manager), method="written", summary="We have refunded £40."
    )
    outbox.email_deliver_due()
    assert "formal written complaint Letter" not in pdf_text(
        c.letters.get(kind=LetterKind.WRITTEN_REPLY)
    )
