"""Closure days: managers add and remove them, and the calendar uses them for new deadlines."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import time_machine

from complaints import clocks
from complaints.models import ClosureDay

pytestmark = pytest.mark.django_db

LONDON = ZoneInfo("Europe/London")


@pytest.fixture
def on_a_monday():
    # Monday 2 June 2031, with the working days that follow all ordinary.
    with time_machine.travel(dt.datetime(2031, 6, 2, 10, tzinfo=LONDON), tick=False):
        yield dt.date(2031, 6, 2)


def test_a_manager_adds_a_closure_day_and_new_deadlines_skip_it(
    client, manager, file_complaint, on_a_monday
):
    before = file_complaint().complaint.response_due_date
    client.force_login(manager)
    closed = on_a_monday + dt.timedelta(days=3)  # Thursday
    response = client.post(
        "/staff/closure-days/", {"date": closed.isoformat(), "reason": "Office move"}
    )
    assert response.status_code == 302
    assert ClosureDay.objects.get().reason == "Office move"
    assert not clocks.calendar().is_working_day(closed)
    after = file_complaint().complaint.response_due_date
    assert after == before + dt.timedelta(days=1)
    html = client.get("/staff/closure-days/").content.decode()
    assert "Thursday 5 June 2031 is now a closure day: Office move." in html
    assert "Thursday 5 June 2031" in html


@pytest.mark.parametrize(
    "date, error",
    [
        ("2031-05-30", "A closure day must be today or in the future."),
        ("2031-06-07", "Saturday 7 June 2031 is already not a working day"),
        ("2031-12-25", "Thursday 25 December 2031 is already not a working day"),
        ("", "This field is required."),
    ],
)
def test_a_closure_day_that_makes_no_sense_is_refused(client, manager, on_a_monday, date, error):
    client.force_login(manager)
    response = client.post("/staff/closure-days/", {"date": date, "reason": "Why not"})
    assert response.status_code == 400
    assert error in response.content.decode()
    assert not ClosureDay.objects.exists()


def test_a_day_twice_is_refused(client, manager, on_a_monday):
    ClosureDay.objects.create(date=dt.date(2031, 6, 5), reason="Office move")
    client.force_login(manager)
    response = client.post("/staff/closure-days/", {"date": "2031-06-05", "reason": "Again"})
    assert response.status_code == 400
    assert "Thursday 5 June 2031 is already a closure day." in response.content.decode()


def test_a_scottish_bank_holiday_can_be_a_closure_day_for_everyone(client, manager):
    with time_machine.travel(dt.datetime(2031, 11, 3, 10, tzinfo=LONDON), tick=False):
        client.force_login(manager)
        response = client.post(
            "/staff/closure-days/", {"date": "2031-12-01", "reason": "St Andrew's Day (observed)"}
        )
    assert response.status_code == 302


def test_future_closure_days_can_be_removed_past_ones_cannot(client, manager, on_a_monday):
    future = ClosureDay.objects.create(date=dt.date(2031, 6, 5), reason="Office move")
    past = ClosureDay.objects.create(date=dt.date(2031, 5, 29), reason="Power cut")
    today = ClosureDay.objects.create(date=on_a_monday, reason="Snow")
    client.force_login(manager)
    html = client.get("/staff/closure-days/").content.decode()
    assert f"/staff/closure-days/{future.pk}/delete/" in html
    assert f"/staff/closure-days/{past.pk}/delete/" not in html
    assert f"/staff/closure-days/{today.pk}/delete/" not in html

    response = client.post(f"/staff/closure-days/{future.pk}/delete/")
    assert response.status_code == 302
    assert not ClosureDay.objects.filter(pk=future.pk).exists()

    response = client.post(f"/staff/closure-days/{past.pk}/delete/")
    assert ClosureDay.objects.filter(pk=past.pk).exists()
    assert "has already started or passed" in client.get(response["Location"]).content.decode()
    client.post(f"/staff/closure-days/{today.pk}/delete/")
    assert ClosureDay.objects.filter(pk=today.pk).exists()


def test_removing_an_unknown_day_is_404(client, manager):
    client.force_login(manager)
    assert client.post("/staff/closure-days/999/delete/").status_code == 404


def test_who_added_and_removed_a_closure_day_is_on_record(client, manager, on_a_monday):
    from django.contrib.admin.models import LogEntry

    manager.first_name, manager.last_name = "Morgan", "Manager"
    manager.save()
    client.force_login(manager)
    client.post("/staff/closure-days/", {"date": "2031-06-05", "reason": "Office move"})
    day = ClosureDay.objects.get(date=dt.date(2031, 6, 5))
    client.post(f"/staff/closure-days/{day.pk}/delete/")
    assert not ClosureDay.objects.exists()
    added, removed = LogEntry.objects.order_by("action_time", "id")
    assert (added.user, added.object_repr) == (manager, "05 Jun 2031: Office move")
    assert added.is_addition() and removed.is_deletion() and removed.user == manager
    html = client.get("/staff/closure-days/").content.decode()
    assert "Changes to closure days" in html
    assert "Morgan Manager added 05 Jun 2031: Office move" in html
    assert "Morgan Manager removed 05 Jun 2031: Office move" in html
