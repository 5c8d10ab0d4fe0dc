"""The clocks as a customer and a regulator see them: London dates, working days, both policies."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.core.checks import run_checks
from django.utils import timezone

from complaints import clocks, services
from complaints.models import Channel, ClosureDay, State
from complaints.roles import Actor
from tests.conftest import fresh

pytestmark = pytest.mark.django_db
UTC = dt.UTC


def logged(file_complaint, agent, received_at, **kw):
    return file_complaint(
        by=Actor.staff(agent), channel=Channel.LETTER, received_at=received_at, **kw
    ).complaint


def test_a_reply_is_due_by_the_end_of_the_15th_working_day(file_complaint, agent):
    # Received Tue 28 Jul 2026; the 31 Aug bank holiday is after the 15th working day (18 Aug).
    c = logged(file_complaint, agent, dt.datetime(2026, 7, 28, 9, 0, tzinfo=UTC))
    assert c.received_date == dt.date(2026, 7, 28)
    assert c.response_due_date == dt.date(2026, 8, 18)
    # "By the end of" the day, London time (BST in August): midnight BST is 23:00 UTC.
    assert c.response_due_at == dt.datetime(2026, 8, 18, 23, 0, tzinfo=UTC)
    assert not c.is_overdue(now=dt.datetime(2026, 8, 18, 22, 59, tzinfo=UTC))
    assert c.is_overdue(now=dt.datetime(2026, 8, 18, 23, 0, tzinfo=UTC))


def test_a_complaint_received_late_on_a_summer_evening_counts_from_the_london_date(
    file_complaint, agent
):
    # 23:30 UTC on Fri 31 Jul 2026 is 00:30 BST on Sat 1 Aug: day 0 is the Saturday.
    c = logged(file_complaint, agent, dt.datetime(2026, 7, 31, 23, 30, tzinfo=UTC))
    assert c.received_date == dt.date(2026, 8, 1)
    # 3-7 Aug (5), 10-14 (10), 17-21 (15).
    assert c.response_due_date == dt.date(2026, 8, 21)


def test_received_just_before_the_clocks_go_back_counts_from_the_london_date(file_complaint, agent):
    # The clocks go back at 01:00 UTC on Sun 25 Oct 2026. 23:30 UTC on Sat 24 Oct is 00:30 BST Sun.
    c = logged(file_complaint, agent, dt.datetime(2026, 10, 24, 23, 30, tzinfo=UTC))
    assert c.received_date == dt.date(2026, 10, 25)
    # 26-30 Oct (5), 2-6 Nov (10), 9-13 Nov (15); GMT by then, so the day ends at midnight UTC.
    assert c.response_due_date == dt.date(2026, 11, 13)
    assert c.response_due_at == dt.datetime(2026, 11, 14, 0, 0, tzinfo=UTC)


def test_the_nation_decides_which_bank_holidays_count(file_complaint, agent):
    received = dt.datetime(2026, 8, 24, 10, 0, tzinfo=UTC)  # Mon 24 Aug 2026
    england = logged(file_complaint, agent, received)
    scotland = logged(file_complaint, agent, received, nation="scotland")
    # England and Wales lose Mon 31 Aug (Summer bank holiday); Scotland had its on 3 Aug.
    assert england.response_due_date == dt.date(2026, 9, 15)
    assert scotland.response_due_date == dt.date(2026, 9, 14)


def test_company_closure_days_push_the_due_date(file_complaint, agent):
    ClosureDay.objects.create(date=dt.date(2026, 8, 10), reason="Office move")
    c = logged(file_complaint, agent, dt.datetime(2026, 7, 28, 9, 0, tzinfo=UTC))
    assert c.response_due_date == dt.date(2026, 8, 19)


def test_each_escalation_restarts_the_reply_clock_from_its_own_date(file_complaint, agent):
    with time_machine.travel(dt.datetime(2026, 11, 2, 10, 0, tzinfo=UTC), tick=False):
        c = file_complaint().complaint
        first_due, adr = c.response_due_date, c.adr_eligible_date
    assert first_due == dt.date(2026, 11, 23)
    with time_machine.travel(dt.datetime(2026, 11, 16, 10, 0, tzinfo=UTC), tick=False):
        services.complaint_escalate(complaint=c, by=Actor.customer())
    c = fresh(c)
    # Mon 16 Nov + 15 working days = Mon 7 Dec.
    assert c.stage == 2 and c.response_due_date == dt.date(2026, 12, 7)
    with time_machine.travel(dt.datetime(2026, 12, 1, 10, 0, tzinfo=UTC), tick=False):
        services.complaint_make_formal(
            complaint=c, by=Actor.customer(), text="The refund has still not arrived."
        )
    c = fresh(c)
    # Tue 1 Dec + 15: 2-4 (3), 7-11 (8), 14-18 (13), 21, 22 (15) = Tue 22 Dec.
    assert c.stage == 3 and c.response_due_date == dt.date(2026, 12, 22)
    assert c.adr_eligible_date == adr, "the ADR date never moves"


def test_the_adr_date_is_56_working_days_by_the_published_procedure(file_complaint, agent):
    c = logged(file_complaint, agent, dt.datetime(2026, 11, 2, 10, 0, tzinfo=UTC))
    # Hand-counted: Nov 3-30 (20), Dec 1-24 (38), 29-31 (41; 25, 28 Dec holidays),
    # Jan 4-8 (46; 1 Jan holiday), 11-15 (51), 18-22 (56) = Fri 22 Jan 2027.
    assert c.adr_eligible_date == dt.date(2027, 1, 22)


def test_the_adr_date_is_8_calendar_weeks_under_ofcoms_policy(file_complaint, agent, settings):
    settings.ADR_CLOCK = "8-weeks"
    c = logged(file_complaint, agent, dt.datetime(2026, 11, 2, 10, 0, tzinfo=UTC))
    assert c.adr_eligible_date == dt.date(2026, 12, 28)


def test_the_adr_date_never_moves_when_the_policy_or_closures_change(
    file_complaint, agent, settings
):
    c = logged(file_complaint, agent, dt.datetime(2026, 11, 2, 10, 0, tzinfo=UTC))
    settings.ADR_CLOCK = "8-weeks"
    ClosureDay.objects.create(date=dt.date(2026, 12, 1), reason="Training")
    services.complaint_escalate(complaint=c, by=Actor.customer())
    assert fresh(c).adr_eligible_date == dt.date(2027, 1, 22)


def test_cisas_accepts_the_case_for_12_months_after_the_deadlock_letter(complaint_in):
    with time_machine.travel(dt.datetime(2026, 11, 25, 10, 0, tzinfo=UTC), tick=False):
        c = complaint_in(State.DEADLOCK)
    assert c.cisas_deadline == dt.date(2027, 11, 25)
    assert clocks.cisas_deadline(dt.date(2028, 2, 29)) == dt.date(2029, 2, 28)


def test_working_days_left_counts_down_to_zero_on_the_due_day(file_complaint, agent):
    c = logged(file_complaint, agent, dt.datetime(2026, 7, 28, 9, 0, tzinfo=UTC))
    on = dt.datetime(2026, 8, 14, 9, 0, tzinfo=UTC)  # Fri; due Tue 18 Aug
    assert clocks.working_days_left(c.response_due_at, on, c.nation) == 2
    assert (
        clocks.working_days_left(
            c.response_due_at, dt.datetime(2026, 8, 18, 9, tzinfo=UTC), c.nation
        )
        == 0
    )
    assert (
        clocks.working_days_left(
            c.response_due_at, dt.datetime(2026, 8, 20, 9, tzinfo=UTC), c.nation
        )
        == -2
    )


def test_a_system_check_warns_when_the_adr_policy_is_later_than_ofcoms(settings):
    settings.ADR_CLOCK = "56-working-days"
    warnings = [m for m in run_checks() if m.id == "complaints.W001"]
    assert len(warnings) == 1
    assert "ADR_CLOCK" in warnings[0].msg and "ADR_CLOCK=8-weeks" in warnings[0].hint
    settings.ADR_CLOCK = "8-weeks"
    assert not [m for m in run_checks() if m.id == "complaints.W001"]


def test_the_received_date_is_the_london_date_not_the_utc_one(file_complaint, agent):
    received = timezone.make_aware(dt.datetime(2026, 6, 1, 0, 30), clocks.LONDON)
    c = logged(file_complaint, agent, received)
    assert c.received_at.astimezone(UTC).date() == dt.date(2026, 5, 31)
    assert c.received_date == dt.date(2026, 6, 1)
