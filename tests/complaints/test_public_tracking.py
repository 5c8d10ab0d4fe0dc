"""The tracking page at /track/<reference>/<secret>/: what the customer sees and may do."""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile

from complaints import letters, services, views
from complaints.models import (
    Complaint,
    ComplaintEvent,
    EventKind,
    OutboundEmail,
    ResponseMethod,
    State,
)
from complaints.roles import Actor
from tests.conftest import fresh

pytestmark = pytest.mark.django_db


def pdf(name: str = "bill.pdf") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, b"%PDF-1.4\n" + b"0" * 40, content_type="application/pdf")


@pytest.fixture
def tracked(file_complaint):
    filed = file_complaint()
    return filed.complaint, f"/track/{filed.complaint.reference}/{filed.tracking_secret}/"


@pytest.fixture
def tracked_in(complaint_in):
    """A complaint in the given state, with a working tracking link."""

    def make(state: str):
        complaint = complaint_in(state)
        secret = services.complaint_new_tracking_secret(complaint=complaint)
        return fresh(complaint), f"/track/{complaint.reference}/{secret}/"

    return make


# --- Who may see what ---------------------------------------------------------------------------


def test_the_right_link_shows_the_complaint(client, tracked):
    complaint, url = tracked
    response = client.get(url)
    page = response.content.decode()
    assert response.status_code == 200
    assert f"<title>Your complaint {complaint.reference} – Express Telephony</title>" in page
    assert "With our Customer Services Team" in page
    assert "Our Customer Services Team is looking into your complaint." in page
    assert f'<time datetime="{complaint.response_due_date}">' in page
    assert f'<time datetime="{complaint.adr_eligible_date}">' in page
    assert response["Referrer-Policy"] == "same-origin"
    assert "no-store" in response["Cache-Control"]


def test_a_wrong_secret_and_an_unknown_reference_get_the_same_404(client, tracked):
    complaint, _ = tracked
    wrong_secret = client.get(f"/track/{complaint.reference}/not-the-secret/")
    no_such_case = client.get("/track/CMP-2000-999999/not-the-secret/")
    assert wrong_secret.status_code == no_such_case.status_code == 404
    assert wrong_secret.content == no_such_case.content
    page = wrong_secret.content.decode()
    assert complaint.reference not in page and "Jane" not in page
    assert "Links to complaints can be replaced" in page
    assert 'href="/track/lost/"' in page


def test_a_superseded_link_gets_404_with_the_way_to_a_new_one(client, tracked):
    complaint, old = tracked
    services.complaint_send_new_link(
        complaint=services.complaint_for_new_link(
            reference=complaint.reference, email=complaint.email
        )
    )
    response = client.get(old)
    assert response.status_code == 404
    assert "Get a new link to your complaint" in response.content.decode()
    letter = complaint.letters.get()
    assert client.get(f"{old}letters/{letter.pk}/").status_code == 404
    assert client.post(f"{old}escalate/", {"expected_state": "cs_team"}).status_code == 404
    assert fresh(complaint).state == State.CS_TEAM


def test_a_link_for_one_complaint_never_shows_another(client, file_complaint):
    a = file_complaint(customer_name="Alice Able")
    b = file_complaint(customer_name="Bob Baker", email="bob@example.com")
    b_letter = b.complaint.letters.get()
    services.complaint_add_message(
        complaint=b.complaint, by=Actor.customer(), text="Bob's evidence", attachments=[pdf()]
    )
    b_file = b.complaint.attachments.get()
    # A's secret with B's reference, and B's letters and files through A's link.
    assert client.get(f"/track/{b.complaint.reference}/{a.tracking_secret}/").status_code == 404
    a_url = f"/track/{a.complaint.reference}/{a.tracking_secret}/"
    assert client.get(f"{a_url}letters/{b_letter.pk}/").status_code == 404
    assert client.get(f"{a_url}letters/{b_letter.pk}.pdf").status_code == 404
    assert client.get(f"{a_url}files/{b_file.pk}/").status_code == 404
    page = client.get(a_url).content.decode()
    assert "Bob" not in page and b.complaint.reference not in page


def test_wrong_methods_get_405(client, tracked):
    complaint, url = tracked
    letter = complaint.letters.get()
    assert client.post(url).status_code == 405
    assert client.put(f"{url}message/").status_code == 405
    assert client.put(f"{url}written-reply/").status_code == 405
    assert client.post(f"{url}letters/{letter.pk}/").status_code == 405
    assert client.post(f"{url}letters/{letter.pk}.pdf").status_code == 405
    assert client.put(f"{url}escalate/").status_code == 405
    assert client.put("/track/lost/").status_code == 405
    assert client.post("/track/lost/sent/").status_code == 405


def test_an_unknown_action_is_404(client, tracked):
    _, url = tracked
    assert client.post(f"{url}delete-everything/", {"expected_state": "cs_team"}).status_code == 404


def test_the_tracking_pages_are_rate_limited(client, tracked, monkeypatch, one_rate_window):
    _, url = tracked
    monkeypatch.setitem(views.RATES, "tracking", "3/m")
    for _ in range(3):
        assert client.get(url).status_code == 200
    response = client.get(url)
    assert response.status_code == 429
    assert response["Retry-After"] == "60"
    # Guessing secrets counts too.
    assert client.get(url.replace("/track/", "/track/x")).status_code == 429


def test_the_default_tracking_limit_is_sixty_a_minute(client, tracked, one_rate_window):
    _, url = tracked
    for _ in range(60):
        assert client.get(url).status_code == 200
    assert client.get(url).status_code == 429


# --- The timeline --------------------------------------------------------------------------------


def test_the_timeline_shows_only_what_the_customer_may_see(client, tracked, agent):
    complaint, url = tracked
    staff = Actor.staff(agent)
    services.complaint_assign(complaint=complaint, assignee=agent, by=staff)
    services.complaint_add_note(
        complaint=complaint,
        by=staff,
        text="INTERNAL: check their credit history",
        attachments=[pdf("internal-notes.pdf")],
    )
    services.write_event(
        complaint,
        kind=EventKind.OVERDUE,
        by=Actor.system(),
        text="OVERDUE-FLAG: reply overdue, manager told",
        customer_visible=False,
    )
    # Even if a staff-only kind were ever flagged visible by mistake, it stays hidden.
    services.write_event(complaint, kind=EventKind.NOTE, by=staff, text="MISFLAGGED NOTE")
    services.complaint_add_message(
        complaint=complaint,
        by=staff,
        text="We have refunded the second charge.",
        attachments=[pdf("refund.pdf")],
    )
    services.complaint_record_reply(
        complaint=complaint, by=staff, method="phone", summary="Called and explained the refund."
    )
    page = client.get(url).content.decode()
    for hidden in (
        "INTERNAL",
        "internal-notes.pdf",
        "OVERDUE-FLAG",
        "MISFLAGGED",
        "Assigned to",
        "Agent",
    ):
        assert hidden not in page, hidden
    for shown in (
        "We received your complaint",
        "We sent you a message",
        "We have refunded the second charge.",
        "refund.pdf",
        "We replied by phone",
        "Called and explained the refund.",
    ):
        assert shown in page, shown
    internal = complaint.attachments.get(name="internal-notes.pdf")
    assert client.get(f"{url}files/{internal.pk}/").status_code == 404


def test_letters_are_listed_as_web_pages_and_pdfs(client, tracked):
    complaint, url = tracked
    letter = complaint.letters.get()
    page = client.get(url).content.decode()
    assert f'href="{url}letters/{letter.pk}/"' in page
    assert f'href="{url}letters/{letter.pk}.pdf"' in page
    html = client.get(f"{url}letters/{letter.pk}/")
    assert html.status_code == 200 and html["Content-Type"].startswith("text/html")
    body = html.content.decode()
    assert '<html lang="en-GB">' in body and complaint.reference in body
    assert "We have received your complaint" in body
    # The web page's only way back, besides the browser's own; the PDF's document has none.
    back = f'<a href="{url}#letters-heading">Back to your complaint {complaint.reference}</a>'
    assert back in body
    assert '<nav class="letter-back"' not in letters.render_html(letter.kind, letter.context)


def test_a_letter_pdf_is_rendered_on_demand_and_downloaded(client, tracked):
    complaint, url = tracked
    letter = complaint.letters.get()
    assert not letter.is_rendered
    response = client.get(f"{url}letters/{letter.pk}.pdf")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == (
        f'attachment; filename="{complaint.reference}-acknowledgement.pdf"'
    )
    assert b"".join(response.streaming_content).startswith(b"%PDF-")
    assert complaint.letters.get().is_rendered


def test_evidence_is_served_as_a_download_that_is_never_sniffed(client, tracked):
    complaint, url = tracked
    services.complaint_add_message(
        complaint=complaint,
        by=Actor.customer(),
        text="A text file",
        attachments=[SimpleUploadedFile("notes.txt", b"<script>alert(1)</script>", "text/plain")],
    )
    attachment = complaint.attachments.get()
    response = client.get(f"{url}files/{attachment.pk}/")
    assert response.status_code == 200
    assert response["Content-Disposition"] == 'attachment; filename="notes.txt"'
    assert response["Content-Type"] == "text/plain"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in response["Content-Security-Policy"]


# --- Actions, allowed per state only -----------------------------------------------------------

ACTION_URLS = ("escalate/", "formal/", "reopen/", "withdraw/", "written-reply/", "message/")
EXPECTED = {
    State.CS_TEAM: {"escalate/", "withdraw/", "written-reply/", "message/"},
    State.CS_MANAGER: {"formal/", "withdraw/", "written-reply/", "message/"},
    # Answered in writing already: a formal written complaint sets the written reply.
    State.FORMAL_WRITTEN: {"withdraw/", "message/"},
    # No stage reply awaited, so no written reply to ask for.
    State.DEADLOCK: {"withdraw/", "message/"},
    State.ADR_REFERRED: {"withdraw/", "message/"},
    State.COURT: {"withdraw/", "message/"},
    State.RESOLVED: {"reopen/", "message/"},
    State.CLOSED: set(),
    State.WITHDRAWN: set(),
}


@pytest.mark.parametrize("state", list(EXPECTED))
def test_the_page_offers_only_the_actions_the_state_allows(client, tracked_in, state):
    _, url = tracked_in(state)
    page = client.get(url).content.decode()
    offered = {a for a in ACTION_URLS if f'"{url}{a}"' in page}
    assert offered == EXPECTED[state]


@pytest.mark.parametrize("state", [State.DEADLOCK, State.ADR_REFERRED, State.COURT])
def test_no_what_you_can_do_heading_stands_over_nothing(client, tracked_in, state):
    _, url = tracked_in(state)
    page = client.get(url).content.decode()
    assert "What you can do" not in page
    assert "Send us a message" in page


def test_what_you_can_do_heads_the_actions_while_there_are_some(client, tracked_in):
    _, url = tracked_in(State.CS_TEAM)
    page = client.get(url).content.decode()
    heading = page.index("What you can do")
    escalate = page.index("Ask for the manager to review it")
    assert heading < escalate < page.index("Send us a message")


def test_phone_numbers_on_the_withdraw_and_deadlock_pages_can_be_tapped_to_call(client, tracked_in):
    _, url = tracked_in(State.DEADLOCK)
    deadlock = client.get(url).content.decode()
    assert '<a href="tel:02075203827">020 7520 3827</a>' in deadlock  # CISAS
    withdraw = client.get(f"{url}withdraw/").content.decode()
    assert 'call <a href="tel:08008493366">0800 849 3366</a>' in withdraw


def test_the_customer_escalates_to_the_manager(client, tracked, mailoutbox):
    complaint, url = tracked
    response = client.post(
        f"{url}escalate/", {"expected_state": "cs_team", "reason": "Nobody called me back."}
    )
    assert response.status_code == 302 and response.url == url
    complaint = fresh(complaint)
    assert complaint.state == State.CS_MANAGER
    event = complaint.events.get(kind=EventKind.TRANSITION)
    assert event.actor_role == "customer" and event.text == "Nobody called me back."
    page = client.get(url).content.decode()
    assert "We have passed your complaint to our Customer Services Manager" in page
    assert "You asked for our Customer Services Manager to review it" in page
    assert "Nobody called me back." in page


def test_the_customer_makes_a_formal_written_complaint_from_stage_two(client, tracked_in):
    complaint, url = tracked_in(State.CS_MANAGER)
    assert fresh(complaint).preferred_response == ResponseMethod.PHONE
    form = client.get(url).content.decode()
    assert '<label class="form-label" for="id_formal_reason">Your formal complaint' in form
    assert "Tell us what is still wrong, and what you want us to do" in form
    statement = "The manager did not answer my question about the second charge."
    client.post(f"{url}formal/", {"expected_state": "cs_manager", "reason": statement})
    complaint = fresh(complaint)
    assert complaint.state == State.FORMAL_WRITTEN
    event = complaint.events.get(transition="make_formal_complaint")
    assert event.actor_role == "customer" and event.text == statement
    # A formal written complaint is answered in writing: no offer to ask for what is given.
    assert complaint.preferred_response == ResponseMethod.WRITTEN
    page = client.get(url).content.decode()
    assert "Ask for a written reply" not in page


@pytest.mark.parametrize("reason", ["", "   \n  "])
def test_a_formal_complaint_with_nothing_in_it_is_an_error_and_changes_nothing(
    client, tracked_in, reason
):
    complaint, url = tracked_in(State.CS_MANAGER)
    emails = OutboundEmail.objects.count()
    response = client.post(f"{url}formal/", {"expected_state": "cs_manager", "reason": reason})
    page = response.content.decode()
    assert response.status_code == 200
    assert "<title>Error: Your complaint" in page
    assert (
        '<a href="#id_formal_reason">Enter your formal complaint: what is still wrong, and what '
        "you want us to do.</a>"
    ) in page
    assert fresh(complaint).state == State.CS_MANAGER
    assert not complaint.events.filter(transition="make_formal_complaint").exists()
    assert OutboundEmail.objects.count() == emails  # not told of a stage 3 that never began


def test_the_history_is_dated_when_things_happened_not_when_they_were_logged(
    client, file_complaint, agent
):
    with time_machine.travel(dt.datetime(2026, 12, 4, 12, 0, tzinfo=dt.UTC), tick=False):
        filed = file_complaint(
            by=Actor.staff(agent),
            channel="letter",
            received_at=dt.datetime(2026, 11, 30, 9, 0, tzinfo=dt.UTC),
        )
        services.complaint_record_reply(
            complaint=filed.complaint,
            by=Actor.staff(agent),
            method="phone",
            summary="Called to explain the charge.",
            replied_at=dt.datetime(2026, 12, 3, 15, 0, tzinfo=dt.UTC),
        )
    page = client.get(f"/track/{filed.complaint.reference}/{filed.tracking_secret}/")
    history = page.content.decode().split('id="history"')[1]
    assert re.findall(r'<time datetime="([^"]+)"', history) == [
        "2026-12-03T15:00:00+00:00",  # the call, not when it was written up
        "2026-11-30T09:00:00+00:00",  # the letter's arrival, not the day it was logged
    ]


def test_after_an_accepted_cisas_decision_the_customer_sees_it_and_cannot_reopen(
    client, tracked_in, manager
):
    from adr import services as adr_services

    complaint, url = tracked_in(State.ADR_REFERRED)
    adr_services.complaint_record_adr_decision(
        complaint=complaint,
        by=Actor.staff(manager),
        outcome="upheld",
        remedy="Refund of £40",
        accepted_on=complaint.adr_referred_on,
    )
    page = client.get(url).content.decode()
    assert "CISAS decision" in page and "Upheld, accepted by you on" in page
    assert "Refund of £40" in page and "We will carry out the remedy by" in page
    assert "Reopen" not in page and "You can go to CISAS until" not in page
    response = client.post(f"{url}reopen/", {"expected_state": "resolved", "reason": "No."})
    assert fresh(complaint).state == State.RESOLVED
    assert response.status_code in (302, 400, 403, 409)


def test_an_action_the_state_does_not_allow_changes_nothing(client, tracked):
    complaint, url = tracked
    response = client.post(f"{url}formal/", {"expected_state": "cs_team"}, follow=True)
    assert "We could not do that" in response.content.decode()
    assert fresh(complaint).state == State.CS_TEAM
    assert not complaint.events.filter(kind=EventKind.TRANSITION).exists()


def test_a_stale_page_gets_the_case_changed_message_and_the_fresh_page(client, tracked, manager):
    complaint, url = tracked
    services.complaint_escalate(
        complaint=complaint, by=Actor.staff(manager), reason="Needs the manager's review."
    )  # meanwhile
    response = client.post(f"{url}withdraw/", {"expected_state": "cs_team"}, follow=True)
    page = response.content.decode()
    assert "Your complaint changed while you had the page open" in page
    assert "With our Customer Services Manager" in page
    assert "We have not done what you asked" in page
    assert fresh(complaint).state == State.CS_MANAGER


def test_withdrawing_asks_first_then_withdraws(client, tracked):
    complaint, url = tracked
    page = client.get(f"{url}withdraw/").content.decode()
    assert "Are you sure you want to withdraw your complaint?" in page
    assert 'name="expected_state" value="cs_team"' in page
    assert fresh(complaint).state == State.CS_TEAM  # asking changes nothing
    response = client.post(f"{url}withdraw/", {"expected_state": "cs_team", "reason": "Sorted."})
    assert response.url == url
    assert fresh(complaint).state == State.WITHDRAWN
    page = client.get(url).content.decode()
    assert "You have withdrawn your complaint, and we have e-mailed you to confirm it." in page
    assert f'"{url}withdraw/"' not in page and f'"{url}message/"' not in page
    assert complaint.emails.filter(template="withdrawn").count() == 1


def test_a_withdrawn_complaint_cannot_be_withdrawn_again(client, tracked_in):
    _, url = tracked_in(State.WITHDRAWN)
    response = client.get(f"{url}withdraw/", follow=True)
    assert "can no longer be withdrawn" in response.content.decode()


def test_a_too_long_reason_is_an_error_on_the_same_page_with_the_text_kept(client, tracked):
    complaint, url = tracked
    reason = "why " * 1500
    page = client.post(f"{url}escalate/", {"expected_state": "cs_team", "reason": reason})
    body = page.content.decode()
    assert page.status_code == 200
    assert "<title>Error: Your complaint" in body
    assert '<a href="#id_escalate_reason">Your reason must be 5,000 characters or fewer' in body
    assert reason.strip() in body
    assert fresh(complaint).state == State.CS_TEAM


# --- Messages and the written reply --------------------------------------------------------------


def test_the_customer_sends_a_message_with_a_file(client, tracked):
    complaint, url = tracked
    response = client.post(
        f"{url}message/",
        {"expected_state": "cs_team", "text": "Here is my bill.", "files": [pdf("oct.pdf")]},
    )
    assert response.status_code == 302
    event = complaint.events.get(kind=EventKind.MESSAGE)
    assert event.text == "Here is my bill." and event.actor_role == "customer"
    assert event.attachments.get().name == "oct.pdf"
    page = client.get(url).content.decode()
    assert "Thank you: we have received your message." in page
    assert "You sent us a message" in page and "oct.pdf" in page


def test_the_customers_message_is_brought_to_the_notice_of_whoever_has_the_case(
    client, tracked, agent, manager
):
    """Whoever the case is assigned to is told the customer has written; while nobody has it,
    the managers. The message itself stays behind the sign-in."""
    from django.core import mail

    from complaints import outbox

    complaint, url = tracked
    agent.email = "sam@expresstelephony.example"
    agent.save()
    text = "The engineer did not come. My account number is 12345678."
    client.post(f"{url}message/", {"expected_state": "cs_team", "text": text})
    services.complaint_assign(complaint=complaint, assignee=agent, by=Actor.staff(manager))
    client.post(
        f"{url}message/", {"expected_state": "cs_team", "text": "Bill.", "files": [pdf("b.pdf")]}
    )
    alerts = OutboundEmail.objects.filter(template="customer_wrote").order_by("id")
    assert [alert.to for alert in alerts] == [[manager.email], ["sam@expresstelephony.example"]]
    assert [alert.context["files"] for alert in alerts] == [0, 1]
    outbox.email_deliver_due()
    to_staff = [m for m in mail.outbox if m.subject.startswith("The customer has written")]
    assert len(to_staff) == 2
    assert to_staff[0].subject == f"The customer has written: {complaint.reference} (Jane Doe)"
    assert f"/staff/complaints/{complaint.reference}/" in to_staff[0].body
    assert "with 1 file." in to_staff[1].body
    assert all(text not in m.body and "12345678" not in m.body for m in to_staff)
    # Staff writing to the customer tell no one but the customer.
    services.complaint_add_message(complaint=fresh(complaint), by=Actor.staff(agent), text="OK.")
    assert OutboundEmail.objects.filter(template="customer_wrote").count() == 2


def test_files_chosen_with_a_message_that_has_a_problem_are_asked_for_again(client, tracked):
    complaint, url = tracked
    response = client.post(
        f"{url}message/", {"expected_state": "cs_team", "text": "", "files": [pdf("oct.pdf")]}
    )
    page = response.content.decode()
    assert response.status_code == 200
    start = page.index("There is a problem")
    summary = page[start : page.index("</ul>", start)]
    assert "Write your message" in summary
    assert '<a href="#id_files">Choose your files again: we have not kept them' in summary
    assert 'id="id_files_error"' in page
    assert not complaint.attachments.filter(name="oct.pdf").exists()


def test_an_empty_message_is_an_error_and_a_bad_file_is_refused(client, tracked):
    complaint, url = tracked
    response = client.post(f"{url}message/", {"expected_state": "cs_team", "text": ""})
    page = response.content.decode()
    assert response.status_code == 200
    assert "<title>Error: Your complaint" in page
    assert '<a href="#id_text">Write your message</a>' in page
    bad = SimpleUploadedFile("../../x.html", b"<script>alert(1)</script>", "text/html")
    response = client.post(
        f"{url}message/", {"expected_state": "cs_team", "text": "See file", "files": [bad]}
    )
    page = response.content.decode()
    assert "x.html” must be a PDF, image" in page
    assert "See file" in page  # the message typed is kept
    assert not complaint.events.filter(kind=EventKind.MESSAGE).exists()
    assert not complaint.attachments.exists()


@pytest.mark.parametrize("action", ["message/", "written-reply/"])
def test_reloading_an_actions_address_goes_to_the_tracking_page_not_a_blank_page(
    client, tracked, action
):
    """A message sent with a problem leaves the browser at .../message/; reloading it later, or
    a phone reopening the tab, asks for it with GET."""
    complaint, url = tracked
    response = client.get(f"{url}{action}")
    assert response.status_code == 302 and response["Location"] == url
    assert client.get(f"/track/{complaint.reference}/wrong-secret/{action}").status_code == 404
    assert not complaint.events.filter(kind=EventKind.MESSAGE).exists()


def test_a_message_on_a_stale_page_is_kept_and_the_change_is_mentioned(client, tracked, manager):
    complaint, url = tracked
    services.complaint_escalate(
        complaint=complaint, by=Actor.staff(manager), reason="Needs the manager's review."
    )
    response = client.post(
        f"{url}message/", {"expected_state": "cs_team", "text": "Any news?"}, follow=True
    )
    page = response.content.decode()
    assert "we have received your message" in page
    assert "Your complaint changed while you had the page open" in page
    assert complaint.events.filter(kind=EventKind.MESSAGE, text="Any news?").exists()


def test_a_closed_complaint_takes_no_messages(client, tracked_in):
    complaint, url = tracked_in(State.CLOSED)
    response = client.post(
        f"{url}message/", {"expected_state": "closed", "text": "Hello?"}, follow=True
    )
    assert "This complaint is closed" in response.content.decode()
    assert not complaint.events.filter(kind=EventKind.MESSAGE).exists()


def test_the_customer_asks_for_a_written_reply(client, tracked, manager):
    complaint, url = tracked
    assert complaint.preferred_response == ResponseMethod.PHONE
    response = client.post(f"{url}written-reply/", {"expected_state": "cs_team"})
    assert response.url == url
    complaint = fresh(complaint)
    assert complaint.preferred_response == ResponseMethod.WRITTEN
    event = complaint.events.get(kind=EventKind.MESSAGE)
    assert event.text == "Please reply in writing." and event.customer_visible
    page = client.get(url).content.decode()
    assert "We will reply to you in writing" in page
    assert "You have asked us to reply in writing." in page
    assert f'"{url}written-reply/"' not in page
    # Asking twice (a double click) adds nothing.
    client.post(f"{url}written-reply/", {"expected_state": "cs_team"})
    assert complaint.events.filter(kind=EventKind.MESSAGE).count() == 1
    # Whoever would have phoned them is told, once (the managers: nobody has the case yet).
    (alert,) = OutboundEmail.objects.filter(template="customer_wrote")
    assert alert.complaint_id == complaint.pk and alert.to


def test_asking_for_a_written_reply_on_a_stale_page_changes_nothing(client, tracked, manager):
    complaint, url = tracked
    services.complaint_escalate(
        complaint=complaint, by=Actor.staff(manager), reason="Needs the manager's review."
    )
    response = client.post(f"{url}written-reply/", {"expected_state": "cs_team"}, follow=True)
    assert "Your complaint changed while you had the page open" in response.content.decode()
    assert fresh(complaint).preferred_response == ResponseMethod.PHONE


def test_the_written_reply_service_records_the_message_and_the_preference_together(
    file_complaint,
):
    complaint = file_complaint().complaint
    event = services.complaint_request_written_reply(complaint=complaint, by=Actor.customer())
    assert isinstance(event, ComplaintEvent) and event.kind == EventKind.MESSAGE
    assert fresh(complaint).preferred_response == ResponseMethod.WRITTEN
    again = services.complaint_request_written_reply(complaint=complaint, by=Actor.customer())
    assert again is None


def test_the_written_reply_service_refuses_a_closed_case_and_the_wrong_role(complaint_in, outsider):
    closed = complaint_in(State.CLOSED)
    with pytest.raises(services.TransitionNotAllowed):
        services.complaint_request_written_reply(complaint=closed, by=Actor.customer())
    with pytest.raises(services.NotPermitted):
        services.complaint_request_written_reply(
            complaint=complaint_in(State.CS_TEAM), by=Actor.staff(outsider)
        )


def test_a_written_reply_is_offered_only_while_a_reply_is_awaited(client, tracked, agent):
    complaint, url = tracked
    services.complaint_record_reply(
        complaint=complaint, by=Actor.staff(agent), method="phone", summary="Called."
    )
    page = client.get(url).content.decode()
    assert f'"{url}written-reply/"' not in page
    assert "You have asked us to reply in writing" not in page
    # A page opened before the reply, sent after it: refused, with nothing promised or recorded.
    response = client.post(f"{url}written-reply/", {"expected_state": "cs_team"}, follow=True)
    page = response.content.decode()
    assert "We have already replied at this stage" in page
    assert "We will reply to you in writing" not in page
    after = fresh(complaint)
    assert after.preferred_response == ResponseMethod.PHONE
    assert not after.events.filter(kind=EventKind.MESSAGE).exists()


@pytest.mark.parametrize(
    "state, said, next_step",
    [
        (State.CS_TEAM, "Our Customer Services Team has replied", "Ask for the manager"),
        (State.CS_MANAGER, "Our Customer Services Manager has replied", "formal written"),
        (State.FORMAL_WRITTEN, "asking for a deadlock letter", "Send us a message"),
    ],
)
def test_once_we_have_replied_the_page_says_so_and_what_to_do_if_still_unhappy(
    client, tracked_in, manager, state, said, next_step
):
    complaint, url = tracked_in(state)
    services.complaint_record_reply(
        complaint=complaint, by=Actor.staff(manager), method="written", summary="Our answer."
    )
    page = client.get(url).content.decode()
    assert said in page and next_step in page
    assert "will reply in writing" not in page and "is looking into" not in page
    assert "We replied" in page


@pytest.mark.parametrize("state", [State.DEADLOCK, State.ADR_REFERRED, State.RESOLVED])
def test_no_written_reply_is_promised_where_no_reply_is_awaited(client, tracked_in, state):
    complaint, url = tracked_in(state)
    Complaint.objects.filter(pk=complaint.pk).update(preferred_response=ResponseMethod.WRITTEN)
    page = client.get(url).content.decode()
    assert 'id="written-heading"' not in page
    assert "We will send our reply as a letter" not in page


def test_html_in_messages_is_shown_escaped(client, tracked):
    _, url = tracked
    client.post(f"{url}message/", {"expected_state": "cs_team", "text": "<b>bold</b><script>x"})
    page = client.get(url).content.decode()
    assert "<b>bold</b>" not in page and "<script>x" not in page
    assert "&lt;b&gt;bold&lt;/b&gt;&lt;script&gt;x" in page


def test_forms_on_the_tracking_page_carry_the_state_shown(client, tracked):
    _, url = tracked
    page = client.get(url).content.decode()
    assert len(re.findall(r'name="expected_state" value="cs_team"', page)) == 3
    assert page.count("csrfmiddlewaretoken") == 3


def test_the_customer_reopens_a_resolved_complaint(client, tracked_in):
    complaint, url = tracked_in(State.RESOLVED)
    page = client.get(url).content.decode()
    assert "You can reopen it until" in page
    response = client.post(f"{url}reopen/", {"expected_state": "resolved", "reason": "Not fixed."})
    assert response.url == url
    assert fresh(complaint).state == State.CS_MANAGER
    assert "We have reopened your complaint" in client.get(url).content.decode()


def test_the_reopen_date_given_is_one_the_customer_can_reopen_on_all_day(
    client, file_complaint, agent
):
    with time_machine.travel(dt.datetime(2026, 12, 3, 10, 0, tzinfo=dt.UTC), tick=False):
        filed = file_complaint()
        by = Actor.staff(agent)
        services.complaint_resolve(complaint=filed.complaint, by=by, summary="Done.")
    url = f"/track/{filed.complaint.reference}/{filed.tracking_secret}/"
    # Late on the day the page gives, reopening is still offered...
    with time_machine.travel(dt.datetime(2027, 1, 27, 23, 30, tzinfo=dt.UTC), tick=False):
        page = client.get(url).content.decode()
        until = r"You can reopen it until</dt>\s*<dd[^>]*><time[^>]*>27 January 2027"
        assert re.search(until, page)
        assert f'"{url}reopen/"' in page
    # ... and the next afternoon, 8 weeks on, it is not.
    with time_machine.travel(dt.datetime(2027, 1, 28, 15, 0, tzinfo=dt.UTC), tick=False):
        assert f'"{url}reopen/"' not in client.get(url).content.decode()


def test_the_history_shows_london_time_in_summer(client, file_complaint):
    # 11:15 UTC on 1 July is 12:15 in London (British Summer Time).
    with time_machine.travel(dt.datetime(2026, 7, 1, 11, 15, tzinfo=dt.UTC), tick=False):
        filed = file_complaint()
    page = client.get(f"/track/{filed.complaint.reference}/{filed.tracking_secret}/")
    text = page.content.decode()
    assert "1 July 2026, 12:15 p.m." in text
    assert '<time datetime="2026-07-01T12:15:00+01:00">' in text


# --- A late reply -------------------------------------------------------------------------------

RECEIVED = dt.datetime(2026, 11, 2, 10, 0, tzinfo=dt.UTC)  # a Monday: due Monday 23 November
DUE_DAY = dt.datetime(2026, 11, 23, 15, 0, tzinfo=dt.UTC)
DAY_AFTER = dt.datetime(2026, 11, 24, 9, 0, tzinfo=dt.UTC)


def page_text(client, url: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", client.get(url).content.decode()).split())


@pytest.fixture
def filed_2_november(file_complaint):
    with time_machine.travel(RECEIVED, tick=False):
        filed = file_complaint()
    return filed.complaint, f"/track/{filed.complaint.reference}/{filed.tracking_secret}/"


def test_an_overdue_reply_is_called_late_with_an_apology_and_what_to_do_now(
    client, filed_2_november
):
    complaint, url = filed_2_november
    with time_machine.travel(DAY_AFTER, tick=False):
        assert fresh(complaint).is_overdue()  # what the staff pages and the sweep call overdue
        text = page_text(client, url)
    assert "We aim to reply by" not in text
    assert "Our reply was due by 23 November 2026 (late)" in text
    assert "Our reply is late" in text
    assert "Our reply was due by 23 November 2026 and we have not sent it yet." in text
    assert "We are sorry." in text
    # What the page offers now: the manager, CISAS when the procedure allows, or a call.
    assert "you can ask for our Customer Services Manager to review your complaint now" in text
    assert 'href="#escalate-heading"' in client.get(url).content.decode()
    adr_date = f"{complaint.adr_eligible_date:%-d %B %Y}"  # 56 working days after 2 November
    assert (
        f"you can take your complaint to CISAS, free of charge, from {adr_date} if it is not "
        "resolved by then, or straight away if we send you a deadlock letter before then"
    ) in text
    assert "you can call us on 0800 849 3366" in text


def test_an_overdue_reply_at_stage_two_points_to_the_formal_complaint(
    client, filed_2_november, manager
):
    complaint, url = filed_2_november
    with time_machine.travel(RECEIVED + dt.timedelta(days=1), tick=False):
        services.complaint_escalate(
            complaint=complaint, by=Actor.staff(manager), reason="Needs the manager's review."
        )
    # Escalated Tuesday 3 November: the manager's reply is due Tuesday 24 November.
    with time_machine.travel(dt.datetime(2026, 11, 25, 9, 0, tzinfo=dt.UTC), tick=False):
        text = page_text(client, url)
    assert "Our reply was due by 24 November 2026 (late)" in text
    assert "you can make a formal written complaint now" in text
    assert "review your complaint now" not in text


def test_an_overdue_case_past_its_adr_date_says_cisas_now(client, filed_2_november):
    complaint, url = filed_2_november
    # On the ADR date, before the sweep has issued the deadlock letter.
    adr_day = dt.datetime.combine(complaint.adr_eligible_date, dt.time(9, 0), tzinfo=dt.UTC)
    with time_machine.travel(adr_day, tick=False):
        text = page_text(client, url)
    assert "Our reply is late" in text
    assert "you can take your complaint to CISAS now, free of charge" in text


@pytest.mark.parametrize("moment", [RECEIVED + dt.timedelta(days=7), DUE_DAY])
def test_a_reply_not_yet_due_is_not_called_late(client, filed_2_november, moment):
    complaint, url = filed_2_november
    with time_machine.travel(moment, tick=False):
        assert not fresh(complaint).is_overdue()
        text = page_text(client, url)
    assert "We aim to reply by 23 November 2026" in text
    assert "Our reply is late" not in text and "(late)" not in text


def test_a_reply_given_stops_the_page_calling_it_late(client, filed_2_november, agent):
    complaint, url = filed_2_november
    with time_machine.travel(DAY_AFTER, tick=False):
        services.complaint_record_reply(
            complaint=complaint,
            by=Actor.staff(agent),
            method=ResponseMethod.PHONE,
            summary="Called: refund agreed.",
        )
        text = page_text(client, url)
    assert "Our reply is late" not in text
    assert "We replied 24 November 2026" in text


def test_a_cisas_decision_the_customer_rejected_is_on_their_page(client, tracked_in, manager):
    from adr import services as adr_services

    complaint, url = tracked_in(State.ADR_REFERRED)
    adr_services.complaint_record_adr_decision(
        complaint=complaint, by=Actor.staff(manager), outcome="not_upheld", accepted_on=None
    )
    page = client.get(url).content.decode()
    assert "Not upheld, not accepted by you" in page
    history = page.split('id="history"')[1]
    assert "Not accepted, so the complaint is closed." in history


def test_a_complaint_in_court_is_not_offered_cisas(client, tracked_in):
    _, url = tracked_in(State.COURT)
    page = client.get(url).content.decode()
    assert "Court action" in page
    # Neither until a deadline nor "from" the ADR date: CISAS does not take it now.
    assert "You can go to CISAS" not in page


def test_a_deadlocked_complaint_is_offered_cisas_until_its_deadline(client, tracked_in):
    complaint, url = tracked_in(State.DEADLOCK)
    page = client.get(url).content.decode()
    assert "You can go to CISAS until" in page
    assert f'<time datetime="{complaint.cisas_deadline}">' in page


def test_a_deadlock_letter_more_than_12_months_old_no_longer_offers_cisas(client, tracked_in):
    """CISAS takes a complaint for 12 months after the deadlock letter: on the last of them the
    page still offers it; the day after, it says the time has passed, and that court is open."""
    complaint, url = tracked_in(State.DEADLOCK)
    deadline = complaint.cisas_deadline
    letter = complaint.deadlock_issued_at.astimezone(ZoneInfo("Europe/London")).date()
    on_the_day = dt.datetime.combine(deadline, dt.time(12, 0), tzinfo=dt.UTC)
    with time_machine.travel(on_the_day, tick=False):
        page = client.get(url).content.decode()
    assert "You can now take your complaint to CISAS, free of charge." in page
    assert "You can go to CISAS until" in page and "that date has passed" not in page
    with time_machine.travel(on_the_day + dt.timedelta(days=1), tick=False):
        page = client.get(url).content.decode()
    assert "You can now take your complaint to CISAS" not in page
    assert "You can go to CISAS until" not in page
    assert (
        f"We sent you a deadlock letter, our final response, on {letter.day} {letter:%B %Y}. "
        "CISAS takes a complaint for 12 months after the deadlock letter, so that time has "
        "passed. Court action remains open to you."
    ) in page
    assert "You could go to CISAS until" in page
    assert (
        f'<time datetime="{deadline}">{deadline.day} {deadline:%B %Y}</time>: that date has passed'
        in (page)
    )
