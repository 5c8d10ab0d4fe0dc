"""The first reply: when the customer first heard from us, at whichever stage, against stage 1's
deadline. An escalation restarts the stage clock; it does not restart this one."""

from __future__ import annotations

import datetime as dt
import importlib

import pytest
import time_machine
from django.apps import apps

from complaints import services
from complaints.models import ClosureDay, Complaint
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
    """Migration 0029: a case already escalated had lost stage 1's deadline and reply. The
    deadline is the one the acknowledgement gave, even if closure days added since would move
    it; the reply, the first the live rules would have kept."""
    with at(RECEIVED):
        complaint = file_complaint().complaint
        untouched = file_complaint().complaint
    with at("2024-03-08"):
        # A call on the 6th, logged two days later.
        services.complaint_record_reply(
            complaint=complaint,
            by=Actor.staff(agent),
            method="phone",
            summary="Called.",
            replied_at=dt.datetime(2024, 3, 6, 15, tzinfo=LONDON),
        )
    with at("2024-03-11"):
        services.complaint_escalate(complaint=fresh(complaint), by=Actor.customer())
    with at("2024-03-12"):
        services.complaint_record_reply(
            complaint=fresh(complaint), by=Actor.staff(manager), method="phone", summary="Again."
        )
    ClosureDay.objects.create(date=dt.date(2024, 3, 15), reason="Office move")
    # As the case was before the columns existed.
    Complaint.objects.filter(pk=complaint.pk).update(
        first_response_due_at=None, first_responded_at=None
    )
    migration = importlib.import_module("complaints.migrations.0029_complaint_first_reply")
    migration.fill_in(apps, None)
    filled = fresh(complaint)
    assert filled.first_response_due_at == dt.datetime(2024, 3, 26, tzinfo=LONDON)
    assert filled.first_responded_at == dt.datetime(2024, 3, 6, 15, tzinfo=LONDON)
    # A case whose clock never restarted needs nothing: its own stage is its first.
    assert fresh(untouched).first_response_due_at is None
    assert fresh(untouched).first_reply_due_at == fresh(untouched).response_due_at


def event(kind, when, transition="", to_state="", role="manager", data=None):
    return (kind, transition, to_state, role, data or {}, dt.datetime.fromisoformat(when))


@pytest.mark.parametrize(
    ("timeline", "first"),
    [
        # Escalated unanswered; the manager's reply is the first.
        (
            [
                event("transition", "2024-03-05", "escalate_to_manager", "cs_manager"),
                event("reply", "2024-03-07"),
            ],
            "2024-03-07",
        ),
        # A reply recorded after the ADR clock's deadlock letter answers nothing; the manager's
        # resolution later does.
        (
            [
                event("transition", "2024-05-20", "issue_deadlock_letter", "deadlock", "system"),
                event("reply", "2024-06-03"),
                event("transition", "2024-06-10", "resolve", "resolved"),
                event("transition", "2024-06-11", "reopen", "cs_manager", "customer"),
            ],
            "2024-06-10",
        ),
        # Resolved at stage 1, then reopened: the resolution answered.
        (
            [
                event("transition", "2024-03-08", "resolve", "resolved", "agent"),
                event("transition", "2024-03-09", "reopen", "cs_manager", "customer"),
            ],
            "2024-03-08",
        ),
        # A manager's deadlock letter at stage 1 answers it.
        ([event("transition", "2024-03-08", "issue_deadlock_letter", "deadlock")], "2024-03-08"),
        # A call logged later counts at the time it was made.
        ([event("reply", "2024-03-08", data={"replied_at": "2024-03-06T15:00:00+00:00"})], None),
        # Nothing answered yet.
        ([event("transition", "2024-03-05", "escalate_to_manager", "cs_manager")], ""),
    ],
)
def test_the_migration_replays_a_timeline_with_the_live_rules(timeline, first):
    migration = importlib.import_module("complaints.migrations.0029_complaint_first_reply")
    found = migration.first_reply(timeline)
    if first is None:
        assert found == dt.datetime(2024, 3, 6, 15, tzinfo=dt.UTC)
    elif first == "":
        assert found is None
    else:
        assert found == dt.datetime.fromisoformat(first)


def test_the_case_page_shows_the_first_reply_once_the_clock_has_restarted(
    client, manager, cases, file_complaint
):
    late_first, answered_first = cases
    never_restarted = file_complaint().complaint
    client.force_login(manager)
    with time_machine.travel(NOW, tick=False):
        late = client.get(f"/staff/complaints/{late_first.reference}/").content.decode()
        answered = client.get(f"/staff/complaints/{answered_first.reference}/").content.decode()
    assert "<dt>First reply</dt>" in late and "3 Apr 2024" in late
    assert "late (due 25 Mar)" in late
    assert "6 Mar 2024" in answered and "in time (due 25 Mar)" in answered
    # Before any restart the stage's own reply is the first: no second line for it.
    client.force_login(manager)
    page = client.get(f"/staff/complaints/{never_restarted.reference}/").content.decode()
    assert "Reply due" in page and "First reply" not in page


def test_the_case_page_says_when_a_first_reply_is_late_and_still_missing(
    client, manager, file_complaint
):
    with at(RECEIVED):
        unanswered, withdrawn = file_complaint().complaint, file_complaint().complaint
    with at("2024-03-05"):
        for complaint in (unanswered, withdrawn):
            services.complaint_escalate(complaint=fresh(complaint), by=Actor.customer())
    with at("2024-03-06"):
        services.complaint_withdraw(complaint=fresh(withdrawn), by=Actor.customer())
    client.force_login(manager)
    with time_machine.travel(NOW, tick=False):
        late = client.get(f"/staff/complaints/{unanswered.reference}/").content.decode()
        gone = client.get(f"/staff/complaints/{withdrawn.reference}/").content.decode()
    assert "Not answered" in late and "late: it was due 25 Mar 2024" in late
    # Withdrawn before it was due: not late, as the reports leave it out.
    assert "withdrawn before it was due (25 Mar 2024)" in gone and "late: it was due" not in gone
    assert "None" not in late and "None" not in gone
    assert not fresh(withdrawn).first_reply_ran_out(NOW)
