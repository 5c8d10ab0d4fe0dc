"""The dates a manager records for CISAS and the courts must fit the case's own dates."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.core import mail
from django.core.exceptions import ValidationError

from adr import services as adr_services
from complaints import outbox
from complaints.models import ComplaintEvent, State
from complaints.roles import Actor
from tests.conftest import fresh

pytestmark = pytest.mark.django_db

RECEIVED = dt.datetime(2026, 11, 2, 10, 0, tzinfo=dt.UTC)
DEADLOCKED = dt.datetime(2026, 11, 25, 10, 0, tzinfo=dt.UTC)
LATER = dt.datetime(2026, 12, 4, 10, 0, tzinfo=dt.UTC)


@pytest.fixture
def deadlocked(file_complaint, manager):
    with time_machine.travel(RECEIVED, tick=False):
        complaint = file_complaint().complaint
    with time_machine.travel(DEADLOCKED, tick=False):
        adr_services.complaint_issue_deadlock(
            complaint=complaint, by=Actor.staff(manager), final_position="Our offer stands."
        )
    return complaint


@pytest.fixture
def referred(deadlocked, manager):
    """The deadlocked case, referred to CISAS on Tuesday 1 December 2026."""
    with time_machine.travel(LATER, tick=False):
        adr_services.complaint_refer_to_adr(
            complaint=deadlocked,
            by=Actor.staff(manager),
            cisas_reference="CIS-1",
            referred_on=dt.date(2026, 12, 1),
        )
    return deadlocked


def refused(call, field: str) -> str:
    with pytest.raises(ValidationError) as raised:
        call()
    return raised.value.message_dict[field][0]


def test_a_referral_dated_before_the_deadlock_letter_is_refused(deadlocked, manager):
    events = ComplaintEvent.objects.filter(complaint=deadlocked).count()
    with time_machine.travel(LATER, tick=False):
        message = refused(
            lambda: adr_services.complaint_refer_to_adr(
                complaint=deadlocked,
                by=Actor.staff(manager),
                cisas_reference="CIS-1",
                referred_on=dt.date(2026, 11, 24),
            ),
            "referred_on",
        )
    assert message == (
        "The referral date cannot be before 25 November 2026, when the deadlock letter was issued."
    )
    assert fresh(deadlocked).state == State.DEADLOCK
    assert ComplaintEvent.objects.filter(complaint=deadlocked).count() == events


def test_a_referral_on_the_day_of_the_deadlock_letter_is_recorded(deadlocked, manager):
    with time_machine.travel(LATER, tick=False):
        adr_services.complaint_refer_to_adr(
            complaint=deadlocked,
            by=Actor.staff(manager),
            cisas_reference="CIS-1",
            referred_on=dt.date(2026, 11, 25),
        )
    assert fresh(deadlocked).adr_referred_on == dt.date(2026, 11, 25)
    event = ComplaintEvent.objects.filter(complaint=deadlocked).latest("id")
    assert event.text == "CISAS case CIS-1, referred on 25 November 2026."


def test_an_acceptance_before_the_referral_is_refused(referred, manager):
    by = Actor.staff(manager)
    with time_machine.travel(LATER, tick=False):
        message = refused(
            lambda: adr_services.complaint_record_adr_decision(
                complaint=referred, by=by, outcome="upheld", accepted_on=dt.date(2026, 11, 30)
            ),
            "accepted_on",
        )
    assert message == (
        "The acceptance date cannot be before 1 December 2026, "
        "when the complaint was referred to CISAS."
    )
    assert fresh(referred).state == State.ADR_REFERRED


def test_court_action_dated_before_the_complaint_is_refused(deadlocked, manager):
    by = Actor.staff(manager)
    with time_machine.travel(LATER, tick=False):
        message = refused(
            lambda: adr_services.complaint_start_court_action(
                complaint=deadlocked, by=by, started_on=dt.date(2026, 1, 15)
            ),
            "started_on",
        )
        assert message == (
            "The date court action started cannot be before 2 November 2026, "
            "when we received the complaint."
        )
        adr_services.complaint_start_court_action(
            complaint=deadlocked, by=by, started_on=dt.date(2026, 11, 2)
        )
    assert fresh(deadlocked).state == State.COURT


def test_court_action_dated_before_the_cisas_referral_is_refused(referred, manager):
    by = Actor.staff(manager)
    with time_machine.travel(LATER, tick=False):
        message = refused(
            lambda: adr_services.complaint_start_court_action(
                complaint=referred, by=by, started_on=dt.date(2026, 11, 30)
            ),
            "started_on",
        )
    assert message == (
        "The date court action started cannot be before 1 December 2026, "
        "when the complaint was referred to CISAS."
    )
    assert fresh(referred).state == State.ADR_REFERRED


def test_the_customer_is_told_the_cisas_decision_and_what_it_means(referred, manager):
    by = Actor.staff(manager)
    with time_machine.travel(LATER, tick=False):
        adr_services.complaint_record_adr_decision(
            complaint=referred,
            by=by,
            outcome="upheld",
            remedy="Refund the £40 charged twice.",
            accepted_on=dt.date(2026, 12, 3),
        )
        outbox.email_deliver_due()
    message = next(m for m in mail.outbox if "decision" in m.subject)
    assert message.subject == f"CISAS's decision on your complaint ({referred.reference})"
    assert "You accepted the decision on 3 December 2026" in message.body
    # 20 working days from 3 December: Christmas and the 28th are not working days.
    assert "by 5 January 2027:" in message.body
    assert "Refund the £40 charged twice." in message.body


def test_a_decision_the_customer_rejected_closes_the_complaint_and_says_so(referred, manager):
    by = Actor.staff(manager)
    with time_machine.travel(LATER, tick=False):
        adr_services.complaint_record_adr_decision(
            complaint=referred, by=by, outcome="not_upheld", accepted_on=None
        )
        outbox.email_deliver_due()
    message = next(m for m in mail.outbox if "decision" in m.subject)
    assert "not upheld" in message.body
    assert "your complaint is now closed with us" in message.body
    assert fresh(referred).state == State.CLOSED


def test_an_accepted_decision_that_did_not_uphold_the_complaint_leaves_no_remedy_due(
    referred, manager, client
):
    by = Actor.staff(manager)
    with time_machine.travel(LATER, tick=False):
        adr_services.complaint_record_adr_decision(
            complaint=referred, by=by, outcome="not_upheld", accepted_on=dt.date(2026, 12, 3)
        )
        outbox.email_deliver_due()
    after = fresh(referred)
    assert after.state == State.RESOLVED
    assert after.remedy_due_date is None
    message = next(m for m in mail.outbox if "decision" in m.subject)
    assert "You accepted the decision on 3 December 2026" in message.body
    assert "We will carry out" not in message.body
    # Nothing to record as done, so the manager is not offered it.
    client.force_login(manager)
    page = client.get(f"/staff/complaints/{after.reference}/").content.decode()
    assert "Remedy due" not in page and "Record the remedy as done" not in page
    # As the customer's tracking page: an accepted decision settles it, so they cannot reopen.
    assert "customer may reopen" not in page
    assert "settled by the CISAS decision the customer accepted" in page


def test_the_timeline_records_what_cisas_decided_and_whether_it_was_accepted(
    referred, manager, client
):
    with time_machine.travel(LATER, tick=False):
        adr_services.complaint_record_adr_decision(
            complaint=referred, by=Actor.staff(manager), outcome="not_upheld", accepted_on=None
        )
    client.force_login(manager)
    page = client.get(f"/staff/complaints/{referred.reference}/").content.decode()
    timeline = page.split("Timeline")[1]
    assert "CISAS decision recorded" in timeline
    assert (
        "CISAS&#x27;s decision: not upheld. Not accepted, so the complaint is closed." in timeline
    )


def test_an_accepted_decision_on_the_timeline_names_the_day_and_the_remedy(referred, manager):
    with time_machine.travel(LATER, tick=False):
        adr_services.complaint_record_adr_decision(
            complaint=referred,
            by=Actor.staff(manager),
            outcome="partly_upheld",
            remedy="Refund the £40 charged twice.",
            accepted_on=dt.date(2026, 12, 3),
        )
    event = ComplaintEvent.objects.get(complaint=referred, transition="record_adr_decision")
    assert event.text == (
        "CISAS's decision: partly upheld. Accepted on 3 December 2026.\n\n"
        "Remedy: Refund the £40 charged twice."
    )
    assert event.actor == manager


def test_the_timeline_records_the_day_court_action_started(deadlocked, manager):
    with time_machine.travel(LATER, tick=False):
        adr_services.complaint_start_court_action(
            complaint=deadlocked, by=Actor.staff(manager), started_on=dt.date(2026, 12, 1)
        )
    event = ComplaintEvent.objects.get(complaint=deadlocked, transition="start_court_action")
    assert event.text == "Court action started on 1 December 2026."
