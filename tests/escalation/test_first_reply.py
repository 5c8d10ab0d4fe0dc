"""The first reply: when the customer first heard from us, at whichever stage, against stage 1's
deadline. An escalation restarts the stage clock; it does not restart this one."""

from __future__ import annotations

import datetime as dt
import importlib

import pytest
import time_machine
from django.apps import apps

from complaints import services
from complaints.models import Complaint
from complaints.roles import Actor
from escalation import reports
from tests.conftest import fresh
from tests.escalation.test_reports import LONDON, NOW, at

pytestmark = pytest.mark.django_db

# 4 March 2024 (a Monday): stage 1's reply is due by the end of 25 March.
RECEIVED = "2024-03-04"
START, END = dt.date(2024, 3, 1), dt.date(2024, 3, 31)


@pytest.fixture
def cases(file_complaint, agent, manager):
    """Late, then answered in time at stage 2 (the case the latest-stage figure calls in time);
    answered in time at stage 1, then escalated and never answered at stage 2."""
    by_agent, by_manager, customer = Actor.staff(agent), Actor.staff(manager), Actor.customer()
    with at(RECEIVED):
        late_first = file_complaint().complaint
        answered_first = file_complaint().complaint
    with at("2024-03-06"):
        services.complaint_record_reply(
            complaint=answered_first, by=by_agent, method="phone", summary="Refund agreed."
        )
    with at("2024-03-07"):
        services.complaint_escalate(complaint=fresh(answered_first), by=customer)
    with at("2024-04-02"):
        services.complaint_escalate(complaint=fresh(late_first), by=customer)
    with at("2024-04-03"):
        services.complaint_record_reply(
            complaint=fresh(late_first), by=by_manager, method="phone", summary="Refunded."
        )
    return fresh(late_first), fresh(answered_first)


def test_an_escalation_keeps_the_first_replys_deadline_and_time(cases):
    late_first, answered_first = cases
    assert late_first.first_reply_due_at == dt.datetime(2024, 3, 26, tzinfo=LONDON)
    assert late_first.first_replied_at == dt.datetime(2024, 4, 3, 10, tzinfo=LONDON)
    assert late_first.answered_in_time  # at stage 2, its own clock
    assert answered_first.first_replied_at == dt.datetime(2024, 3, 6, 10, tzinfo=LONDON)
    assert answered_first.responded_at is None  # stage 2 has not answered


def test_the_reports_count_the_first_reply_beside_the_latest_stage(cases):
    figures = reports.replied_in_time(START, END, now=NOW)
    # The latest stage: the stage 2 reply in time; the unanswered stage 2, late.
    assert (figures["measured"], figures["in_time"]) == (2, 1)
    # The first reply: the first case's came a week after stage 1's date; the second's in time.
    assert figures["first"] == {
        "measured": 2,
        "in_time": 1,
        "late": 1,
        "share": 0.5,
        "percent": 50.0,
    }
    rows = list(reports.figure_rows(reports.summary(START, END, now=NOW)))
    assert ["First replies", "First reply within 15 working days of the complaint", 1] in rows
    assert ["First replies", "Share with a first reply in time (%)", 50.0] in rows


def test_the_case_list_gives_each_cases_first_reply(cases):
    late_first, answered_first = cases
    with time_machine.travel(NOW, tick=False):
        body = list(reports.case_rows(START, END))
    header = reports.CASE_COLUMNS
    by_reference = {row[0]: dict(zip(header, row, strict=True)) for row in body}
    late = by_reference[late_first.reference]
    assert (late["Replied in time"], late["First reply in time"]) == ("yes", "no")
    assert late["First reply due (date)"] == "2024-03-25"
    assert late["First replied (date)"] == "2024-04-03"
    answered = by_reference[answered_first.reference]
    assert (answered["Replied in time"], answered["First reply in time"]) == ("no", "yes")
    assert answered["First replied (date)"] == "2024-03-06"


def test_a_reply_recorded_after_the_case_was_loaded_is_kept_by_the_escalation(
    file_complaint, agent
):
    """The escalation's copy of the case was read before the reply: the first reply is still the
    one the database holds when the clock restarts."""
    complaint = file_complaint().complaint
    seen_by_customer = fresh(complaint)
    services.complaint_record_reply(
        complaint=fresh(complaint), by=Actor.staff(agent), method="phone", summary="Called."
    )
    replied = fresh(complaint).responded_at
    services.complaint_escalate(complaint=seen_by_customer, by=Actor.customer())
    assert seen_by_customer.first_responded_at == replied
    assert fresh(complaint).first_replied_at == replied
    assert fresh(complaint).responded_at is None


def test_the_migration_fills_in_cases_escalated_before_it(file_complaint, agent, manager):
    """Migration 0029: a case already escalated had lost stage 1's deadline and reply."""
    with at(RECEIVED):
        complaint = file_complaint().complaint
        untouched = file_complaint().complaint
    with at("2024-03-06"):
        services.complaint_record_reply(
            complaint=complaint, by=Actor.staff(agent), method="phone", summary="Called."
        )
    with at("2024-03-07"):
        services.complaint_escalate(complaint=fresh(complaint), by=Actor.customer())
    with at("2024-03-08"):
        services.complaint_record_reply(
            complaint=fresh(complaint), by=Actor.staff(manager), method="phone", summary="Again."
        )
    # As the case was before the columns existed.
    Complaint.objects.filter(pk=complaint.pk).update(
        first_response_due_at=None, first_responded_at=None
    )
    migration = importlib.import_module("complaints.migrations.0029_complaint_first_reply")
    migration.fill_in(apps, None)
    filled = fresh(complaint)
    assert filled.first_response_due_at == dt.datetime(2024, 3, 26, tzinfo=LONDON)
    assert filled.first_responded_at == dt.datetime(2024, 3, 6, 10, tzinfo=LONDON)
    # A case whose clock never restarted needs nothing: its own stage is its first.
    assert fresh(untouched).first_response_due_at is None
    assert fresh(untouched).first_reply_due_at == fresh(untouched).response_due_at


def test_the_case_page_shows_the_first_reply_once_the_clock_has_restarted(client, manager, cases):
    late_first, answered_first = cases
    client.force_login(manager)
    with time_machine.travel(NOW, tick=False):
        late = client.get(f"/staff/complaints/{late_first.reference}/").content.decode()
        answered = client.get(f"/staff/complaints/{answered_first.reference}/").content.decode()
    assert "<dt>First reply</dt>" in late and "3 Apr 2024" in late
    assert "late (due 25 Mar)" in late
    assert "6 Mar 2024" in answered and "in time (due 25 Mar)" in answered


def test_the_case_page_has_no_first_reply_line_before_any_restart(client, agent, file_complaint):
    complaint = file_complaint().complaint
    client.force_login(agent)
    page = client.get(f"/staff/complaints/{complaint.reference}/").content.decode()
    assert "First reply" not in page
