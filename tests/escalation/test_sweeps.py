"""The sweeps, moved through time: each case acted on once, however often or in parallel."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
import time_machine
from django.db import connection

from complaints.models import Channel, ComplaintEvent, EventKind, State
from complaints.roles import Actor
from escalation import services as sweeps
from tests.conftest import fresh

UTC = dt.UTC
RECEIVED = dt.datetime(2026, 7, 28, 9, 0, tzinfo=UTC)  # due 18 Aug; ADR date 15 Oct 2026


@pytest.fixture
def logged(file_complaint, agent):
    def log(received_at=RECEIVED):
        return file_complaint(
            by=Actor.staff(agent), channel=Channel.LETTER, received_at=received_at
        ).complaint

    return log


@pytest.mark.django_db
def test_a_case_crossing_its_reply_date_is_flagged_once(logged):
    c = logged()
    assert sweeps.sweep_overdue_replies(now=dt.datetime(2026, 8, 18, 22, 59, tzinfo=UTC)) == 0
    assert sweeps.sweep_overdue_replies(now=dt.datetime(2026, 8, 18, 23, 0, tzinfo=UTC)) == 1
    assert sweeps.sweep_overdue_replies(now=dt.datetime(2026, 8, 19, 9, 0, tzinfo=UTC)) == 0
    c = fresh(c)
    assert c.overdue_flagged_at == dt.datetime(2026, 8, 18, 23, 0, tzinfo=UTC)
    (event,) = c.events.filter(kind=EventKind.OVERDUE)
    assert not event.customer_visible
    assert "Tuesday 18 August 2026" in event.text


@pytest.mark.django_db
def test_a_replied_case_is_never_flagged(logged, agent):
    from complaints import services

    c = logged()
    with time_machine.travel(dt.datetime(2026, 8, 10, 9, 0, tzinfo=UTC), tick=False):
        services.complaint_record_reply(
            complaint=c, by=Actor.staff(agent), method="phone", summary="Called."
        )
    assert sweeps.sweep_overdue_replies(now=dt.datetime(2026, 9, 1, tzinfo=UTC)) == 0


@pytest.mark.django_db
def test_the_adr_clock_issues_one_deadlock_however_often_the_sweep_runs(logged):
    c = logged()
    assert sweeps.sweep_adr_clock(now=dt.datetime(2026, 10, 14, 22, 59, tzinfo=UTC)) == 0
    # 15 Oct 2026 begins at 23:00 UTC on the 14th (BST).
    assert sweeps.sweep_adr_clock(now=dt.datetime(2026, 10, 14, 23, 0, tzinfo=UTC)) == 1
    for _ in range(3):
        assert sweeps.sweep_adr_clock(now=dt.datetime(2026, 10, 20, tzinfo=UTC)) == 0
    c = fresh(c)
    assert c.state == State.DEADLOCK
    (event,) = c.events.filter(transition="issue_deadlock_letter")
    assert event.actor is None and event.actor_role == "system"
    assert event.data == {"by_clock": True}
    assert "56 working days" in event.text
    assert c.cisas_deadline == dt.date(2027, 10, 15)  # issued 00:00 BST on 15 Oct


@pytest.mark.django_db
def test_the_adr_clocks_deadlock_letter_is_not_counted_as_a_reply(logged, manager):
    from complaints import services
    from escalation import reports

    # Escalated on 12 October, three days before the ADR date: stage 2's reply is due 2 November.
    c = logged()
    with time_machine.travel(dt.datetime(2026, 10, 12, 9, 0, tzinfo=UTC), tick=False):
        services.complaint_escalate(complaint=c, by=Actor.customer(), reason="No answer yet")
    assert sweeps.sweep_adr_clock(now=dt.datetime(2026, 10, 15, 9, 0, tzinfo=UTC)) == 1
    c = fresh(c)
    assert c.state == State.DEADLOCK and c.responded_at is None
    period = (dt.date(2026, 7, 1), dt.date(2026, 7, 31))
    # Not measured while stage 2's reply was not yet due; late once it was, never "in time".
    figures = reports.replied_in_time(*period, now=dt.datetime(2026, 10, 20, tzinfo=UTC))
    assert (figures["measured"], figures["in_time"]) == (0, 0)
    figures = reports.replied_in_time(*period, now=dt.datetime(2026, 11, 10, tzinfo=UTC))
    assert (figures["measured"], figures["in_time"], figures["late"]) == (1, 0, 1)


@pytest.mark.django_db
def test_the_systems_deadlock_letter_through_the_service_is_not_counted_as_a_reply_either(logged):
    """The one rule, whichever way the system's letter is issued: the sweep's batch, or the
    service it shares with managers."""
    from adr import services as adr_services

    c = logged()
    with time_machine.travel(dt.datetime(2026, 8, 10, 9, 0, tzinfo=UTC), tick=False):
        adr_services.complaint_issue_deadlock(complaint=c, by=Actor.system())
    c = fresh(c)
    assert c.state == State.DEADLOCK and c.responded_at is None
    assert c.events.get(transition="issue_deadlock_letter").data == {"by_clock": True}


@pytest.mark.django_db
def test_the_adr_clock_leaves_cases_already_in_deadlock_or_resolved_alone(logged, manager):
    from complaints import services

    resolved = logged()
    services.complaint_resolve(complaint=resolved, by=Actor.staff(manager), summary="Refunded.")
    assert sweeps.sweep_adr_clock(now=dt.datetime(2026, 12, 1, tzinfo=UTC)) == 0
    assert fresh(resolved).state == State.RESOLVED


@pytest.mark.django_db
def test_resolved_cases_close_eight_weeks_after_resolution(logged, manager):
    from complaints import services

    with time_machine.travel(dt.datetime(2026, 9, 1, 12, 0, tzinfo=UTC), tick=False):
        c = logged()
        services.complaint_resolve(complaint=c, by=Actor.staff(manager), summary="Refunded.")
    assert sweeps.sweep_auto_close(now=dt.datetime(2026, 10, 27, 11, 59, tzinfo=UTC)) == 0
    assert sweeps.sweep_auto_close(now=dt.datetime(2026, 10, 27, 12, 0, tzinfo=UTC)) == 1
    assert sweeps.sweep_auto_close(now=dt.datetime(2026, 10, 28, tzinfo=UTC)) == 0
    assert fresh(c).state == State.CLOSED


@pytest.mark.django_db
def test_sweeps_work_through_more_cases_than_one_batch(logged):
    cases = [logged() for _ in range(7)]
    assert sweeps.sweep_overdue_replies(now=dt.datetime(2026, 9, 1, tzinfo=UTC), batch_size=3) == 7
    assert sweeps.sweep_adr_clock(now=dt.datetime(2026, 11, 1, tzinfo=UTC), batch_size=3) == 7
    assert {fresh(c).state for c in cases} == {State.DEADLOCK}


@pytest.mark.django_db(transaction=True)
def test_two_sweeps_in_parallel_act_on_each_case_once(logged):
    cases = [logged() for _ in range(40)]
    when = dt.datetime(2026, 11, 1, tzinfo=UTC)
    counts: list[int] = []
    barrier = threading.Barrier(2)

    def run():
        try:
            barrier.wait()
            counts.append(sweeps.sweep_overdue_replies(now=when, batch_size=5))
            counts.append(sweeps.sweep_adr_clock(now=when, batch_size=5))
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sum(counts) == 80
    ids = [c.pk for c in cases]
    assert ComplaintEvent.objects.filter(complaint_id__in=ids, kind=EventKind.OVERDUE).count() == 40
    assert (
        ComplaintEvent.objects.filter(
            complaint_id__in=ids, transition="issue_deadlock_letter"
        ).count()
        == 40
    )


@pytest.mark.django_db
def test_a_sweep_batch_costs_the_same_queries_for_5_cases_as_for_50(
    logged, django_assert_max_num_queries
):
    from django.db import connection as conn
    from django.test.utils import CaptureQueriesContext

    for _ in range(5):
        logged()
    with CaptureQueriesContext(conn) as few:
        sweeps.sweep_adr_clock(now=dt.datetime(2026, 11, 1, tzinfo=UTC), batch_size=100)
    for _ in range(50):
        logged()
    with CaptureQueriesContext(conn) as many:
        sweeps.sweep_adr_clock(now=dt.datetime(2026, 11, 1, tzinfo=UTC), batch_size=100)
    assert len(many.captured_queries) == len(few.captured_queries)


# --- What the sweeps send -----------------------------------------------------------------


@pytest.mark.django_db
def test_an_overdue_case_alerts_the_managers_once(logged, manager):
    from django.core import mail

    from complaints import outbox

    c = logged()
    for _ in range(3):
        sweeps.sweep_overdue_replies(now=dt.datetime(2026, 8, 19, 9, 0, tzinfo=UTC))
    outbox.email_deliver_due()
    alerts = [m for m in mail.outbox if m.subject.startswith("Reply overdue")]
    assert len(alerts) == 1
    assert alerts[0].to == [manager.email]
    assert c.reference in alerts[0].subject
    assert "Tuesday 18 August 2026" in alerts[0].body


@pytest.mark.django_db
def test_a_case_past_its_reply_date_is_flagged_even_when_the_adr_clock_reaches_it_first(
    logged, manager
):
    """A letter logged after its reply date and its ADR date: whichever sweep runs first, the
    case is flagged overdue once and the managers told, as for any other late reply."""
    from django.core import mail

    from complaints import outbox

    now = dt.datetime(2026, 10, 20, 9, 0, tzinfo=UTC)
    with time_machine.travel(now - dt.timedelta(minutes=5), tick=False):
        c = logged()
    assert sweeps.sweep_adr_clock(now=now) == 1
    assert sweeps.sweep_overdue_replies(now=now) == 0
    assert sweeps.sweep_adr_clock(now=now) == 0
    c = fresh(c)
    assert c.state == State.DEADLOCK and c.overdue_flagged_at == now
    (event,) = c.events.filter(kind=EventKind.OVERDUE)
    assert "Tuesday 18 August 2026" in event.text and not event.customer_visible
    outbox.email_deliver_due()
    alerts = [m for m in mail.outbox if m.subject.startswith("Reply overdue")]
    assert len(alerts) == 1 and alerts[0].to == [manager.email]


@pytest.mark.django_db
def test_the_adr_clock_takes_stage_1_cases_from_their_agents_and_says_so_as_of_now(
    logged, agent, manager
):
    """A case the clock moves to deadlock from stage 1 is the managers' from then on; the
    overdue alert it sends gives the status after the move."""
    from complaints import services
    from complaints.models import OutboundEmail

    kept, handed = logged(), logged()
    services.complaint_assign(complaint=kept, assignee=manager, by=Actor.staff(manager))
    services.complaint_assign(complaint=handed, assignee=agent, by=Actor.staff(agent))
    assert sweeps.sweep_adr_clock(now=dt.datetime(2026, 10, 15, 9, 0, tzinfo=UTC)) == 2
    assert fresh(kept).assigned_to == manager and fresh(handed).assigned_to is None
    (event,) = handed.events.filter(kind=EventKind.ASSIGNMENT, actor_role="system")
    assert event.text == (
        "Unassigned from Agent: at stage 2 or 3, or with a deadlock letter, a case is the "
        "Customer Services Manager's."
    )
    alert = OutboundEmail.objects.get(complaint=handed, template="overdue_alert")
    assert alert.context["state_label"] == "Deadlock letter issued"


@pytest.mark.django_db
def test_the_adr_clock_leaves_the_overdue_flag_of_a_replied_or_flagged_case_alone(logged, agent):
    from complaints import services

    replied, flagged = logged(), logged()
    with time_machine.travel(dt.datetime(2026, 8, 10, 9, 0, tzinfo=UTC), tick=False):
        services.complaint_record_reply(
            complaint=replied, by=Actor.staff(agent), method="phone", summary="Called."
        )
    assert sweeps.sweep_overdue_replies(now=dt.datetime(2026, 8, 19, 9, 0, tzinfo=UTC)) == 1
    assert sweeps.sweep_adr_clock(now=dt.datetime(2026, 10, 15, 9, 0, tzinfo=UTC)) == 2
    assert fresh(replied).overdue_flagged_at is None
    assert fresh(flagged).overdue_flagged_at == dt.datetime(2026, 8, 19, 9, 0, tzinfo=UTC)
    assert ComplaintEvent.objects.filter(kind=EventKind.OVERDUE).count() == 1


@pytest.mark.django_db
def test_the_adr_clock_sends_one_deadlock_letter_and_one_email(logged, manager):
    from django.core import mail

    from complaints import outbox
    from complaints.models import Letter, OutboundEmail

    c = logged()
    for _ in range(3):
        sweeps.sweep_adr_clock(now=dt.datetime(2026, 10, 15, 9, 0, tzinfo=UTC))
    outbox.email_deliver_due()
    (letter,) = Letter.objects.filter(complaint=c, kind="deadlock")
    assert letter.context["by_clock"] is True
    assert letter.context["signed_by"] == "Manager"  # the CS Manager, by name
    assert letter.context["cisas_deadline"] == "2027-10-15"
    assert letter.issued_by is None and letter.is_rendered
    assert OutboundEmail.objects.filter(complaint=c, template="deadlock").count() == 1
    deadlock_mails = [m for m in mail.outbox if m.to == [c.email] and "CISAS" in m.subject]
    assert len(deadlock_mails) == 1
    assert deadlock_mails[0].attachments[0][0] == f"{c.reference}-deadlock.pdf"


@pytest.mark.django_db
def test_the_adr_clocks_deadlock_letter_goes_by_post_as_a_managers_would(file_complaint, agent):
    """To a customer who gave an address it waits on the list of letters to post, as every other
    letter does; to one with no e-mail address, that is the only way it reaches them."""
    from complaints.models import Letter, OutboundEmail

    by, received = Actor.staff(agent), {"channel": Channel.LETTER, "received_at": RECEIVED}
    by_post_only = file_complaint(by=by, email="", **received).complaint
    by_both = file_complaint(by=by, email="raj@example.com", **received).complaint
    no_address = file_complaint(by=by, postal_address="", **received).complaint
    assert sweeps.sweep_adr_clock(now=dt.datetime(2026, 10, 15, 9, 0, tzinfo=UTC)) == 3
    to_post = dict(Letter.objects.filter(kind="deadlock").values_list("complaint", "to_post"))
    assert to_post == {by_post_only.pk: True, by_both.pk: True, no_address.pk: False}
    e_mailed = set(
        OutboundEmail.objects.filter(template="deadlock").values_list("complaint", flat=True)
    )
    assert e_mailed == {by_both.pk, no_address.pk}


@pytest.mark.django_db(transaction=True)
def test_two_adr_sweeps_in_parallel_issue_one_letter_and_one_email_per_case(logged):
    from complaints.models import Letter, OutboundEmail

    cases = [logged() for _ in range(30)]
    when = dt.datetime(2026, 11, 1, tzinfo=UTC)
    barrier = threading.Barrier(2)
    counts: list[int] = []

    def run():
        try:
            barrier.wait()
            counts.append(sweeps.sweep_adr_clock(now=when, batch_size=4))
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    ids = [c.pk for c in cases]
    assert sum(counts) == 30
    assert Letter.objects.filter(complaint_id__in=ids, kind="deadlock").count() == 30
    assert OutboundEmail.objects.filter(complaint_id__in=ids, template="deadlock").count() == 30


@pytest.mark.django_db
def test_an_accepted_cisas_remedy_not_done_in_20_working_days_is_flagged_once(
    complaint_in, manager
):
    from adr import services as adr_services
    from complaints.models import ComplaintEvent

    # Filed, deadlocked, referred and accepted on Friday 20 November 2026.
    with time_machine.travel(dt.datetime(2026, 11, 20, 10, tzinfo=UTC), tick=False):
        c = complaint_in(State.ADR_REFERRED)
        adr_services.complaint_record_adr_decision(
            complaint=c,
            by=Actor.staff(manager),
            outcome="upheld",
            remedy="Refund £40",
            accepted_on=dt.date(2026, 11, 20),
        )
    c = fresh(c)
    assert c.remedy_due_date == dt.date(2026, 12, 18)
    assert sweeps.sweep_overdue_remedies(now=dt.datetime(2026, 12, 18, 12, tzinfo=UTC)) == 0
    assert sweeps.sweep_overdue_remedies(now=dt.datetime(2026, 12, 19, 12, tzinfo=UTC)) == 1
    assert sweeps.sweep_overdue_remedies(now=dt.datetime(2026, 12, 20, 12, tzinfo=UTC)) == 0
    assert ComplaintEvent.objects.filter(complaint=c, kind="remedy").count() == 1
    # Not closed while the remedy is outstanding; closed once it is done and 8 weeks pass.
    assert sweeps.sweep_auto_close(now=dt.datetime(2027, 6, 1, tzinfo=UTC)) == 0
    adr_services.complaint_record_remedy_done(complaint=c, by=Actor.staff(manager))
    assert sweeps.sweep_auto_close(now=dt.datetime(2027, 6, 1, tzinfo=UTC)) == 1


@pytest.mark.django_db
def test_cases_the_clock_deadlocked_before_are_no_longer_counted_as_answered(logged, manager):
    import importlib

    from django.apps import apps

    from adr import services as adr_services
    from complaints.models import Complaint

    migration = importlib.import_module("complaints.migrations.0016_clock_deadlock_is_not_a_reply")
    by_clock, by_manager = logged(), logged()
    # The manager's letter, whose final position answers the stage: the migration leaves it.
    with time_machine.travel(dt.datetime(2026, 10, 1, 9, 0, tzinfo=UTC), tick=False):
        adr_services.complaint_issue_deadlock(
            complaint=by_manager, by=Actor.staff(manager), final_position="Our offer stands."
        )
    assert sweeps.sweep_adr_clock(now=dt.datetime(2026, 10, 15, 9, 0, tzinfo=UTC)) == 1
    # As the clock recorded its letter before: the letter's time as the reply's.
    clocked = fresh(by_clock)
    Complaint.objects.filter(pk=clocked.pk).update(responded_at=clocked.deadlock_issued_at)
    answered = fresh(by_manager).responded_at
    assert answered == fresh(by_manager).deadlock_issued_at
    migration.forwards(apps, None)
    assert fresh(by_clock).responded_at is None
    assert fresh(by_manager).responded_at == answered
