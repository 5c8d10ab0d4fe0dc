"""The admin is read-mostly: it shows everything, but changes go through the services."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from complaints import services
from complaints.models import CaseView, ClosureDay, ComplaintEvent, OutboundEmail, State
from complaints.roles import Actor
from tests.conftest import fresh

pytestmark = pytest.mark.django_db


def test_the_complaint_page_shows_the_case_with_its_timeline_and_no_editable_state(
    client, administrator, file_complaint
):
    complaint = file_complaint().complaint
    client.force_login(administrator)
    page = client.get(f"/admin/complaints/complaint/{complaint.pk}/change/")
    assert page.status_code == 200
    html = page.content.decode()
    assert complaint.reference in html
    assert "Complaint received" in html
    assert 'name="state"' not in html
    assert 'name="customer_name"' not in html
    assert 'name="_save"' not in html, "no Save button that would save nothing"


def test_the_complaint_page_gives_the_reply_due_date_as_the_portal_does(
    client, administrator, file_complaint
):
    with time_machine.travel(dt.datetime(2026, 12, 7, 11, 0, tzinfo=dt.UTC), tick=False):
        complaint = file_complaint().complaint
    assert complaint.response_due_date == dt.date(2026, 12, 30)  # 25 and 28 Dec: bank holidays
    client.force_login(administrator)
    html = client.get(f"/admin/complaints/complaint/{complaint.pk}/change/").content.decode()
    assert "Reply due by" in html and "30 Dec 2026" in html
    assert "Response due at" not in html and "31 Dec 2026" not in html
    # Once escalated, stage 1's date is kept beside the new stage's, as a date too.
    with time_machine.travel(dt.datetime(2026, 12, 8, 11, 0, tzinfo=dt.UTC), tick=False):
        services.complaint_escalate(complaint=fresh(complaint), by=Actor.customer())
    html = client.get(f"/admin/complaints/complaint/{complaint.pk}/change/").content.decode()
    assert "First reply due by" in html and "First response due at" not in html
    assert "30 Dec 2026" in html and "31 Dec 2026" in html  # stage 1's, and stage 2's
    assert "1 Jan 2027" not in html  # the day after stage 2's: the stored instant


def test_an_administrator_opening_a_customers_complaint_is_on_the_record_of_views(
    client, administrator, file_complaint
):
    """Who saw a customer's complaint: the complaint's page, one of its timeline entries and an
    e-mail to the customer all show personal data, in the admin as on the case page."""
    complaint = file_complaint().complaint
    event = complaint.events.get()
    email = OutboundEmail.objects.filter(complaint=complaint).first()
    client.force_login(administrator)
    pages = [
        f"/admin/complaints/complaint/{complaint.pk}/change/",
        f"/admin/complaints/complaintevent/{event.pk}/change/",
        f"/admin/complaints/outboundemail/{email.pk}/change/",
    ]
    for url in pages:
        assert client.get(url).status_code == 200
    views = CaseView.objects.filter(complaint=complaint)
    assert [(v.viewer, v.via) for v in views] == [(administrator, "admin")] * 3
    assert views[0].get_via_display() == "Admin page"
    client.get("/admin/complaints/complaint/")  # the list names no one in particular
    assert views.count() == 3


def test_an_administrator_opening_a_letter_is_on_the_record_of_views(
    client, administrator, file_complaint
):
    """A letter's page shows what it says: the customer's name, address and complaint."""
    complaint = file_complaint().complaint
    letter = complaint.letters.get()
    client.force_login(administrator)
    page = client.get(f"/admin/complaints/letter/{letter.pk}/change/")
    assert page.status_code == 200 and "1 High Street" in page.content.decode()
    views = CaseView.objects.filter(complaint=complaint)
    assert [(v.viewer, v.via) for v in views] == [(administrator, "admin")]


def test_the_admin_cannot_add_or_delete_complaints(client, administrator, file_complaint):
    complaint = file_complaint().complaint
    client.force_login(administrator)
    assert client.get("/admin/complaints/complaint/add/").status_code == 403
    assert client.post(f"/admin/complaints/complaint/{complaint.pk}/delete/").status_code == 403
    assert fresh(complaint).state == State.CS_TEAM


def test_events_are_read_only_in_the_admin(client, administrator, file_complaint):
    event = file_complaint().complaint.events.get()
    client.force_login(administrator)
    assert client.get(f"/admin/complaints/complaintevent/{event.pk}/change/").status_code == 200
    response = client.post(
        f"/admin/complaints/complaintevent/{event.pk}/change/", {"text": "rewritten"}
    )
    assert response.status_code == 403
    assert client.post(f"/admin/complaints/complaintevent/{event.pk}/delete/").status_code == 403
    assert ComplaintEvent.objects.get(pk=event.pk).text != "rewritten"


def test_the_withdraw_action_goes_through_the_service_and_writes_the_event(
    client, administrator, complaint_in
):
    open_case = complaint_in(State.CS_TEAM)
    closed_case = complaint_in(State.CLOSED)
    client.force_login(administrator)
    selected = {"action": "withdraw_selected", "_selected_action": [open_case.pk, closed_case.pk]}
    # First a page naming them and asking how the customer asked; nothing changes yet.
    page = client.post("/admin/complaints/complaint/", selected)
    assert page.status_code == 200
    assert open_case.reference in page.content.decode()
    assert "How and when did the customer ask?" in page.content.decode()
    no_reason = client.post("/admin/complaints/complaint/", {**selected, "confirm": "1"})
    assert "Say how and when the customer asked." in no_reason.content.decode()
    assert fresh(open_case).state == State.CS_TEAM
    response = client.post(
        "/admin/complaints/complaint/",
        {**selected, "confirm": "1", "reason": "She phoned on 4 December: sorted with her bank."},
        follow=True,
    )
    assert response.status_code == 200
    assert fresh(open_case).state == State.WITHDRAWN
    event = open_case.events.get(transition="withdraw")
    assert event.text == "She phoned on 4 December: sorted with her bank."
    assert open_case.events.filter(transition="withdraw").count() == 1
    assert fresh(closed_case).state == State.CLOSED
    assert (
        f"{closed_case.reference}: The complaint is “Closed”: you cannot withdraw the complaint "
        "now." in response.content.decode()
    )


def test_closure_days_are_managed_in_the_admin(client, administrator):
    client.force_login(administrator)
    with time_machine.travel(dt.datetime(2026, 12, 7, 10, 0, tzinfo=dt.UTC), tick=False):
        response = client.post(
            "/admin/complaints/closureday/add/", {"date": "2026-12-29", "reason": "Office closed"}
        )
    assert response.status_code == 302
    assert ClosureDay.objects.get().reason == "Office closed"


def test_the_admin_keeps_the_closure_day_rules(client, administrator):
    client.force_login(administrator)
    with time_machine.travel(dt.datetime(2026, 12, 7, 10, 0, tzinfo=dt.UTC), tick=False):
        for date, problem in (
            ("2026-12-02", "must be today or in the future"),
            ("2026-12-12", "already not a working day"),  # a Saturday
            ("2026-12-25", "already not a working day"),  # Christmas Day
        ):
            response = client.post(
                "/admin/complaints/closureday/add/", {"date": date, "reason": "Office closed"}
            )
            assert response.status_code == 200 and problem in response.content.decode()
        assert not ClosureDay.objects.exists()
        past = ClosureDay.objects.create(date=dt.date(2026, 12, 4), reason="Training")
        assert client.post(f"/admin/complaints/closureday/{past.pk}/delete/").status_code == 403
        response = client.post(
            f"/admin/complaints/closureday/{past.pk}/change/", {"date": "2026-12-30"}
        )
        assert response.status_code == 403
        assert ClosureDay.objects.get(pk=past.pk).date == dt.date(2026, 12, 4)


def test_the_complaint_list_gives_the_reply_date_not_the_instant_it_ends(
    client, administrator, file_complaint
):
    with time_machine.travel(dt.datetime(2026, 11, 30, 10, 0, tzinfo=dt.UTC), tick=False):
        file_complaint()
    client.force_login(administrator)
    html = client.get("/admin/complaints/complaint/").content.decode()
    assert "Reply due by" in html
    assert "21 Dec 2026" in html
    assert "midnight" not in html


def test_an_unsent_e_mail_is_shown_without_the_customers_tracking_secret(
    client, administrator, file_complaint
):
    """Whoever has the link can act on the complaint as the customer."""
    filed = file_complaint()
    email = filed.complaint.emails.get()  # the acknowledgement, not sent yet
    assert filed.tracking_secret in email.context["tracking_url"]
    client.force_login(administrator)
    page = client.get(f"/admin/complaints/outboundemail/{email.pk}/change/")
    html = page.content.decode()
    assert page.status_code == 200
    assert filed.tracking_secret not in html
    assert f"/track/{filed.complaint.reference}/[redacted]/" in html
    assert "jane@example.com" in html  # who it is for, as before


@pytest.mark.django_db(transaction=True)  # each step commits and publishes, as in production
def test_trying_unsent_e_mails_again_now_makes_them_due_and_queues_a_delivery(
    client, administrator, file_complaint, monkeypatch
):
    from complaints import outbox
    from config.celery import app

    published = []
    monkeypatch.setattr(app, "send_task", lambda name, args=(), **kw: published.append(name))
    monkeypatch.setattr(outbox, "_broker_down_until", 0.0)
    complaint = file_complaint().complaint
    email = OutboundEmail.objects.get(complaint=complaint)
    later = email.next_attempt_at + dt.timedelta(hours=6)
    OutboundEmail.objects.filter(pk=email.pk).update(attempts=3, next_attempt_at=later)
    outbox.run_started(outbox.DELIVERY_TASK)  # the filing's run has started (and failed)
    published.clear()
    client.force_login(administrator)
    page = client.post(
        "/admin/complaints/outboundemail/",
        {"action": "retry_now", "_selected_action": [email.pk]},
        follow=True,
    )
    assert "1 e-mail(s) will be tried again." in page.content.decode()
    assert OutboundEmail.objects.get(pk=email.pk).next_attempt_at < later
    assert published == ["complaints.tasks.deliver_outbox"]
