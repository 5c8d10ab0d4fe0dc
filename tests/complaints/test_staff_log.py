"""Staff log a complaint that came by phone, e-mail or letter: the same filing as the web form's,
dated when it was received, once however often the page is sent."""

from __future__ import annotations

import datetime as dt
import re

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile

from complaints.models import Attachment, Complaint, ComplaintEvent, OutboundEmail
from complaints.staff_forms import LogComplaintForm

pytestmark = pytest.mark.django_db

URL = "/staff/complaints/new/"
NOW = dt.datetime(2026, 12, 7, 11, 0, tzinfo=dt.UTC)  # Monday 7 December 2026


def form_fields(client) -> dict[str, str]:
    page = client.get(URL)
    assert page.status_code == 200
    token = re.search(r'name="submission" value="([^"]+)"', page.content.decode()).group(1)
    return {
        "channel": "letter",
        "received_at": "2026-12-02T09:30",  # a letter opened last Wednesday
        "customer_name": "Siân O'Brien",
        "email": "sian@example.com",
        "phone": "",
        "postal_address": "3 Castle Street\nCardiff\nCF10 1BS",
        "account_number": "ET777001",
        "nation": "england-and-wales",
        "category": "billing",
        "description": "You charged me twice in November.",
        "preferred_response": "written",
        "vulnerability_notes": "",
        "submission": token,
    }


@time_machine.travel(NOW, tick=False)
def test_an_agent_logs_a_letter_and_its_clocks_run_from_the_day_it_came(client, agent):
    client.force_login(agent)
    data = form_fields(client)
    data["files"] = [SimpleUploadedFile("bill.pdf", b"%PDF-1.4 a bill", "application/pdf")]
    response = client.post(URL, data)
    complaint = Complaint.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/staff/complaints/{complaint.reference}/"
    assert complaint.channel == "letter" and complaint.preferred_response == "written"
    assert complaint.received_date == dt.date(2026, 12, 2)
    # Day 0 is Wednesday 2 December, not today: 15 working days on is Wednesday 23 December.
    assert complaint.response_due_date == dt.date(2026, 12, 23)
    assert Attachment.objects.get(complaint=complaint).name == "bill.pdf"
    (filed,) = ComplaintEvent.objects.filter(complaint=complaint, kind="filed")
    assert filed.actor == agent
    assert filed.text == "Complaint received (letter) on 2 December 2026."
    (email,) = OutboundEmail.objects.filter(complaint=complaint)
    assert email.to == ["sian@example.com"] and email.template == "acknowledgement"
    case = client.get(response["Location"])
    assert f"Complaint {complaint.reference} logged." in case.content.decode()
    assert "Wednesday 23 December 2026" in case.content.decode()
    # The bill came with the customer's letter: it is theirs, not staff's.
    assert "· from the customer" in case.content.decode()
    assert "· from staff" not in case.content.decode()


def act(client, complaint, action: str, **fields):
    """An action on the case page, as its form sends it; the page it leads to, or the refusal."""
    data = {"action": action, f"{action}-expected_state": complaint.state}
    data.update({f"{action}-{name}": value for name, value in fields.items()})
    return client.post(f"/staff/complaints/{complaint.reference}/actions/", data, follow=True)


@time_machine.travel(NOW, tick=False)
def test_a_customer_with_no_e_mail_address_is_written_to_by_post(client, agent):
    """Someone without e-mail writes in: their complaint is logged, every letter goes on the list
    of letters to post, nothing is e-mailed to nobody, and staff are not offered a message that
    could not reach them."""
    from complaints.models import Letter

    client.force_login(agent)
    response = client.post(URL, {**form_fields(client), "email": ""})
    assert response.status_code == 302
    complaint = Complaint.objects.get()
    assert complaint.email == ""
    case = client.get(response["Location"]).content.decode()
    assert "the acknowledgement letter is on the list of letters to post" in case
    assert "none: letters go by post" in case
    acknowledgement = Letter.objects.get(complaint=complaint)
    assert acknowledgement.to_post
    assert complaint.reference in client.get("/staff/letters/to-post/").content.decode()
    refused = act(client, complaint, "message", text="We are looking into it.")
    assert refused.status_code == 400  # the service refuses it, as through the API
    assert not ComplaintEvent.objects.filter(complaint=complaint, kind="message").exists()
    assert 'id="action-message"' not in case  # and the page does not offer it
    assert "a letter (PDF) on the list of letters to post" in case  # where the reply goes
    escalated = act(client, complaint, "escalate", reason="Asked for the manager on the phone.")
    assert "has no e-mail address: tell them by phone or by letter" in escalated.content.decode()
    assert not OutboundEmail.objects.filter(complaint=complaint).exists()


@time_machine.travel(NOW, tick=False)
def test_staff_are_told_to_tell_a_customer_with_no_e_mail_address_of_a_resolution(client, agent):
    client.force_login(agent)
    client.post(URL, {**form_fields(client), "email": ""})
    complaint = Complaint.objects.get()
    summary = "Refunded the second charge; the customer agreed on the phone."
    resolved = act(client, complaint, "resolve", summary=summary).content.decode()
    assert "is resolved. The customer can reopen it for 8 weeks." in resolved
    assert "has no e-mail address: tell them by phone or by letter" in resolved
    assert not OutboundEmail.objects.filter(complaint=complaint).exists()


@time_machine.travel(NOW, tick=False)
def test_the_case_page_says_how_a_written_reply_went_and_whose_complaints_it_cannot_count(
    client, agent
):
    client.force_login(agent)
    client.post(URL, {**form_fields(client), "email": ""})
    client.post(URL, {**form_fields(client), "submission": "second"})
    by_post, both = Complaint.objects.order_by("id")
    assert by_post.email == "" and both.email and both.postal_address
    page = act(client, by_post, "reply_written", summary="We have refunded you.").content.decode()
    assert "Written as a letter, to be posted" in page
    assert "not known: complaints are matched by e-mail address, and this customer gave none" in (
        page
    )
    page = act(client, both, "reply_written", summary="We have refunded you.").content.decode()
    assert "Sent as a letter by e-mail, and to be posted" in page
    # The confirmation says the same as the timeline.
    assert "is being e-mailed to the customer, and waits on the list of letters to post" in page
    assert "1 with this e-mail address" in page


@time_machine.travel(NOW, tick=False)
def test_a_reopened_case_shows_its_earlier_resolution_as_earlier(client, agent, manager):
    client.force_login(agent)
    client.post(URL, form_fields(client))
    complaint = Complaint.objects.get()
    page = act(client, complaint, "resolve", summary="Refunded the charge.").content.decode()
    assert "How it was resolved</h3>" in page
    client.force_login(manager)
    complaint.refresh_from_db()
    page = act(client, complaint, "reopen", reason="The charge is back.").content.decode()
    assert "How it was resolved before it was reopened</h3>" in page
    assert "Refunded the charge." in page


@time_machine.travel(NOW, tick=False)
def test_sending_the_page_twice_logs_one_complaint(client, agent):
    client.force_login(agent)
    data = form_fields(client)
    first = client.post(URL, data)
    second = client.post(URL, data)
    assert Complaint.objects.count() == 1
    assert second.status_code == 302 and second["Location"] == first["Location"]


@time_machine.travel(NOW, tick=False)
def test_the_same_complaint_logged_again_from_a_fresh_page_is_questioned(client, agent):
    client.force_login(agent)
    data = form_fields(client)
    client.post(URL, data)
    first = Complaint.objects.get()
    # Back, then send again: the page came afresh with a new token.
    again = client.post(URL, {**data, "submission": form_fields(client)["submission"]})
    assert again.status_code == 400
    (error,) = again.context["form"].errors["log_anyway"]
    assert error.startswith(f"{first.reference} was logged at 11:00 on 7 December")
    assert f'href="/staff/complaints/{first.reference}/"' in again.content.decode()
    assert Complaint.objects.count() == 1
    # A different complaint from the same customer is not questioned...
    other = {**data, "description": "And my broadband is down.", "submission": "fresh-1"}
    assert client.post(URL, other).status_code == 302
    # ...and the same text is logged when the agent says it is a different complaint.
    anyway = {**data, "log_anyway": "on", "submission": "fresh-2"}
    assert client.post(URL, anyway).status_code == 302
    assert Complaint.objects.count() == 3


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"received_at": "2026-12-08T09:00"}, "received_at", "cannot be in the future"),
        # 01:30 happened twice on 25 October 2026, and never on 29 March.
        ({"received_at": "2026-10-25T01:30"}, "received_at", "01:30 UK time is not one moment"),
        ({"received_at": "2026-03-29T01:30"}, "received_at", "before 01:00 or from 02:00"),
        ({"preferred_response": "phone"}, "preferred_response", "needs a phone number"),
        ({"email": "not an address"}, "email", "valid email"),
        ({"email": "", "postal_address": ""}, "email", "or their postal address"),
        ({"channel": "web"}, "channel", "Select a valid choice"),
        ({"category": ""}, "category", "required"),
        ({"vulnerability_notes": "Hard of hearing"}, "vulnerable", "Tick this box"),
    ],
)
@time_machine.travel(NOW, tick=False)
def test_bad_input_is_shown_on_its_field_and_logs_nothing(client, agent, change, field, message):
    client.force_login(agent)
    response = client.post(URL, {**form_fields(client), **change})
    assert response.status_code == 400
    assert message in " ".join(response.context["form"].errors[field])
    assert "There is a problem: nothing was saved" in response.content.decode()
    assert "Siân O&#39;Brien" in response.content.decode(), "what was typed is kept"
    assert not Complaint.objects.exists() and not ComplaintEvent.objects.exists()


@time_machine.travel(NOW, tick=False)
def test_every_bad_file_is_named(client, agent):
    client.force_login(agent)
    data = form_fields(client)
    data["files"] = [
        SimpleUploadedFile("fake.pdf", b"not a pdf", "application/pdf"),
        SimpleUploadedFile("evil.exe", b"MZ", "application/octet-stream"),
    ]
    response = client.post(URL, data)
    assert response.status_code == 400
    errors = " ".join(response.context["form"].errors["files"])
    assert "fake.pdf" in errors and "evil.exe" in errors
    assert not Complaint.objects.exists()


@time_machine.travel(NOW, tick=False)
def test_files_chosen_on_a_page_with_problems_must_be_chosen_again(client, agent):
    client.force_login(agent)
    data = {**form_fields(client), "preferred_response": "phone"}  # and no phone number
    data["files"] = [SimpleUploadedFile("bill.pdf", b"%PDF-1.4 a bill", "application/pdf")]
    response = client.post(URL, data)
    assert response.status_code == 400
    assert "choose them again" in " ".join(response.context["form"].errors["files"])


@time_machine.travel(NOW, tick=False)
def test_a_complaint_logged_long_after_it_came_in_is_flagged_at_once(client, agent):
    client.force_login(agent)
    overdue = {**form_fields(client), "received_at": "2026-11-02T10:00"}
    page = client.get(client.post(URL, overdue)["Location"]).content.decode()
    assert "Its reply was due by Monday 23 November 2026: it is overdue already." in page
    past_adr = {
        **form_fields(client),
        "received_at": "2026-09-01T10:00",
        "description": "Another one, from September.",
    }
    page = client.get(client.post(URL, past_adr)["Location"]).content.decode()
    assert "is already past its ADR date (18 November 2026)" in page


def test_only_complaints_staff_may_log(client, outsider):
    assert client.get(URL).status_code == 302  # to the sign-in page
    client.force_login(outsider)
    assert client.get(URL).status_code == 403


def test_the_menu_offers_it_to_agents_and_managers(client, agent, manager):
    for user in (agent, manager):
        client.force_login(user)
        assert f'href="{URL}"' in client.get("/staff/").content.decode()


def test_the_error_summary_lists_the_problems_in_the_pages_order(client, agent):
    """Read top to bottom, the summary follows the form: the complaint's own details come before
    the customer's, as on the page."""
    client.force_login(agent)
    page = client.get(URL).content.decode()
    shown = re.findall(r'<(?:input|textarea|select)[^>]*\bname="([a-z_]+)"', page)
    on_the_page = list(dict.fromkeys(n for n in shown if n != "csrfmiddlewaretoken"))
    # "Log it anyway" appears only beside a possible duplicate.
    assert on_the_page == [n for n in LogComplaintForm.base_fields if n != "log_anyway"]
    refused = client.post(URL, {"submission": "x", "received_at": "2099-01-01T09:00"})
    summary = refused.content.decode().split('id="error-summary"')[1].split("</ul>")[0]
    anchors = re.findall(r'<a href="#([^"]*)"', summary)
    # Each links to its field; a group of radio buttons, to its first.
    assert anchors == [
        "id_channel_0",
        "id_received_at",
        "id_category",
        "id_description",
        "id_customer_name",
        "id_nation",
        "id_preferred_response_0",
    ]
    assert all(f'id="{anchor}"' in refused.content.decode() for anchor in anchors)
