"""The filing flow at /complain/: one topic per page, answers kept, check your answers, one send."""

from __future__ import annotations

import datetime as dt
import re
import threading
from pathlib import Path

import pytest
from django import forms
from django.contrib.sessions.models import Session
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from complaints import views
from complaints.drafts import FILED_KEY, SESSION_KEY, drafts_purge_abandoned
from complaints.models import Attachment, Complaint, ResponseMethod

pytestmark = pytest.mark.django_db

ABOUT = reverse("complaints:complain_step", args=["about-you"])
COMPLAINT = reverse("complaints:complain_step", args=["your-complaint"])
SUPPORT = reverse("complaints:complain_step", args=["support"])
CHECK = reverse("complaints:complain_check")
SENT = reverse("complaints:complain_sent")

ABOUT_ANSWERS = {
    "customer_name": "Jane Doe",
    "email": "jane@example.com",
    "phone": "07700 900123",
    "postal_address": "1 High Street\nHertford\nSG14 1AA",
    "account_number": "ET123456",
    "nation": "scotland",
}
COMPLAINT_ANSWERS = {
    "category": "billing",
    "what_went_wrong": "I was charged twice for October.",
    "started": "early October",
    "how_affected": "I went overdrawn.",
    "put_right": "Refund the second charge.",
}
SUPPORT_ANSWERS = {"preferred_response": "written", "support_needs": ""}


def pdf(name: str = "bill.pdf", size: int = 0) -> SimpleUploadedFile:
    body = b"%PDF-1.4\n" + b"0" * max(size - 9, 20)
    return SimpleUploadedFile(name, body, content_type="application/pdf")


def answer_all(client: Client, *, about=None, complaint=None, support=None) -> None:
    for url, answers in (
        (ABOUT, {**ABOUT_ANSWERS, **(about or {})}),
        (COMPLAINT, {**COMPLAINT_ANSWERS, **(complaint or {})}),
        (SUPPORT, {**SUPPORT_ANSWERS, **(support or {})}),
    ):
        response = client.post(url, answers)
        assert response.status_code == 302, response.content.decode()[:3000]


def send_token(client: Client) -> str:
    page = client.get(CHECK).content.decode()
    return re.search(r'name="token" value="([^"]+)"', page).group(1)


def incoming_files(settings) -> list[Path]:
    folder = Path(settings.MEDIA_ROOT) / "incoming"
    return [p for p in folder.rglob("*") if p.is_file()] if folder.exists() else []


# --- The pages and their order ------------------------------------------------------------------


def test_complain_starts_on_the_about_you_page(client):
    response = client.get("/complain/")
    assert response.status_code == 302 and response.url == ABOUT
    page = client.get(ABOUT).content.decode()
    assert "<title>About you – Make a complaint – Express Telephony</title>" in page
    assert "novalidate" in page


def test_a_later_page_sends_the_customer_back_to_the_first_unanswered_one(client):
    assert client.get(SUPPORT).url == ABOUT
    client.post(ABOUT, ABOUT_ANSWERS)
    assert client.get(SUPPORT).url == COMPLAINT
    assert client.get(CHECK).url == COMPLAINT


def test_the_pages_follow_each_other_to_the_check_page(client):
    assert client.post(ABOUT, ABOUT_ANSWERS).url == COMPLAINT
    assert client.post(COMPLAINT, COMPLAINT_ANSWERS).url == SUPPORT
    assert client.post(SUPPORT, SUPPORT_ANSWERS).url == CHECK
    assert client.get(CHECK).status_code == 200


def test_an_unknown_page_is_404(client):
    assert client.get("/complain/nonsense/").status_code == 404


def test_wrong_methods_get_405(client):
    assert client.put(ABOUT).status_code == 405
    assert client.delete(CHECK).status_code == 405
    assert client.post(SENT).status_code == 405
    assert client.post("/complain/").status_code == 405


def test_answers_are_kept_when_going_back_to_a_page(client):
    answer_all(client)
    page = client.get(ABOUT).content.decode()
    assert 'value="jane@example.com"' in page
    assert "1 High Street\nHertford" in page
    assert re.search(r'value="scotland"[^>]*checked', page)
    page = client.get(COMPLAINT).content.decode()
    assert "I was charged twice for October." in page


def test_the_check_page_lists_every_answer_with_a_change_link_back_to_its_field(client):
    answer_all(client)
    page = client.get(CHECK).content.decode()
    for text in (
        "Jane Doe",
        "jane@example.com",
        "07700 900123",
        "ET123456",
        "Scotland",
        "Billing",
        "I was charged twice for October.",
        "early October",
        "I went overdrawn.",
        "Refund the second charge.",
        "In writing",
        "Send your complaint",
    ):
        assert text in page, text
    assert f'href="{ABOUT}?return=check#id_email"' in page
    assert f'href="{COMPLAINT}?return=check#id_what_went_wrong"' in page
    assert f'href="{SUPPORT}?return=check#id_support_needs"' in page
    assert page.count(">Change<span") == 14


def test_a_change_link_returns_to_the_check_page_with_the_new_answer(client):
    answer_all(client)
    page = client.get(f"{ABOUT}?return=check").content.decode()
    assert f'action="{ABOUT}?return=check"' in page
    assert 'href="/complain/check/"' in page  # the back link goes to the check page too
    response = client.post(f"{ABOUT}?return=check", {**ABOUT_ANSWERS, "email": "new@example.com"})
    assert response.status_code == 302 and response.url == CHECK
    page = client.get(CHECK).content.decode()
    assert "new@example.com" in page and "jane@example.com" not in page


def test_sending_files_one_complaint_with_every_answer(client):
    answer_all(client, support={"preferred_response": "phone"})
    response = client.post(CHECK, {"token": send_token(client)})
    assert response.status_code == 302 and response.url == SENT
    complaint = Complaint.objects.get()
    assert complaint.customer_name == "Jane Doe"
    assert complaint.email == "jane@example.com"
    assert complaint.phone == "07700 900123"
    assert complaint.postal_address == "1 High Street\nHertford\nSG14 1AA"
    assert complaint.account_number == "ET123456"
    assert complaint.nation == "scotland"
    assert complaint.category == "billing"
    assert complaint.channel == "web"
    assert complaint.preferred_response == ResponseMethod.PHONE
    assert complaint.vulnerable is False and complaint.vulnerability_notes == ""
    assert complaint.description == (
        "What went wrong:\nI was charged twice for October.\n\n"
        "When it started:\nearly October\n\n"
        "How it has affected me:\nI went overdrawn.\n\n"
        "What would put it right:\nRefund the second charge."
    )
    assert SESSION_KEY not in client.session


def test_optional_answers_left_empty_are_left_out_of_the_description(client):
    answer_all(client, complaint={"started": "", "how_affected": "", "put_right": ""})
    client.post(CHECK, {"token": send_token(client)})
    assert Complaint.objects.get().description == (
        "What went wrong:\nI was charged twice for October."
    )


def test_anything_that_makes_it_hard_to_deal_with_us_flags_the_complaint_vulnerable(client):
    needs = "I am partially deaf, please write to me."
    answer_all(client, support={"support_needs": needs})
    client.post(CHECK, {"token": send_token(client)})
    complaint = Complaint.objects.get()
    assert complaint.vulnerable is True
    assert complaint.vulnerability_notes == needs


def test_a_phone_reply_needs_a_phone_number(client):
    client.post(ABOUT, {**ABOUT_ANSWERS, "phone": ""})
    client.post(COMPLAINT, COMPLAINT_ANSWERS)
    response = client.post(SUPPORT, {"preferred_response": "phone"})
    assert response.status_code == 200
    assert "You have not given us a phone number" in response.content.decode()


def test_a_choice_refused_for_want_of_a_phone_number_is_kept_while_it_is_added(client):
    client.post(ABOUT, {**ABOUT_ANSWERS, "phone": ""})
    client.post(COMPLAINT, COMPLAINT_ANSWERS)
    needs = "Large print, please."
    client.post(SUPPORT, {"preferred_response": "phone", "support_needs": needs})
    # As the message says: back to "About you" to add the number, then on through page 2.
    assert client.post(ABOUT, ABOUT_ANSWERS).status_code == 302
    assert client.post(COMPLAINT, COMPLAINT_ANSWERS).status_code == 302
    page = client.get(SUPPORT).content.decode()
    assert re.search(r'<input[^>]*value="phone"[^>]*checked', page)
    assert needs in page
    assert "There is a problem" not in page, "shown again, not refused again"


def test_removing_the_phone_number_later_sends_the_customer_to_fix_the_reply_method(client):
    answer_all(client, support={"preferred_response": "phone"})
    client.post(f"{ABOUT}?return=check", {**ABOUT_ANSWERS, "phone": ""})
    response = client.get(CHECK)
    assert response.status_code == 302 and response.url == f"{SUPPORT}?return=check"
    page = client.get(response.url).content.decode()
    assert "<title>Error: " in page and "You have not given us a phone number" in page


def test_answers_that_no_longer_pass_are_caught_before_sending_whatever_was_checked_before(
    client, monkeypatch
):
    """Answers found valid when their page was sent are not checked again while nothing has
    changed; answers that changed in the session, or checks changed by a release, are."""
    from complaints import views

    answer_all(client)
    session = client.session
    session[SESSION_KEY]["answers"]["about"]["email"] = "not an address"
    session.save()
    response = client.get(CHECK)
    assert response.status_code == 302 and response.url == f"{ABOUT}?return=check"

    client.post(f"{ABOUT}?return=check", ABOUT_ANSWERS)
    assert client.get(CHECK).status_code == 200
    # A release that refuses what was accepted: the check page sends the customer back.
    monkeypatch.setattr(views, "_CHECKS_DIGEST", "another-release")
    monkeypatch.setattr(
        views.STEPS[1].form_class,
        "clean_started",
        lambda form: (_ for _ in ()).throw(forms.ValidationError("Say when it started")),
        raising=False,
    )
    response = client.get(CHECK)
    assert response.status_code == 302 and response.url == f"{COMPLAINT}?return=check"
    assert client.post(CHECK, {"token": "x"}).status_code == 302
    assert Complaint.objects.count() == 0


# --- Validation --------------------------------------------------------------------------------


def test_one_customers_typed_answers_never_show_on_anothers_page():
    """Unanswered pages are the same for everyone and rendered once; what one customer typed,
    kept for them on a page with errors, must never appear on another customer's page."""
    from complaints import views

    def without_token(page: str) -> str:
        return re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", page)

    views._UNANSWERED.clear()
    alice, bob = Client(), Client()
    first = without_token(alice.get(ABOUT).content.decode())
    refused = alice.post(ABOUT, {"customer_name": "Alice Q. Private", "email": "not an address"})
    assert refused.status_code == 200
    assert 'value="Alice Q. Private"' in alice.get(ABOUT).content.decode()
    page = without_token(bob.get(ABOUT).content.decode())
    assert "Alice Q. Private" not in page and "not an address" not in page
    assert page == first
    views._UNANSWERED.clear()
    assert without_token(Client().get(ABOUT).content.decode()) == first


def test_an_empty_page_shows_every_error_in_a_summary_and_beside_its_field(client):
    response = client.post(ABOUT, {"phone": "07700 900123", "account_number": "ET1"})
    page = response.content.decode()
    assert response.status_code == 200
    assert "<title>Error: About you – Make a complaint" in page
    assert re.search(r'class="error-summary" role="alert" tabindex="-1"', page)
    for field, message in (
        ("customer_name", "Enter your full name"),
        ("email", "Enter your e-mail address"),
        ("nation", "Select where you live"),
    ):
        assert f'<a href="#id_{field}">{message}</a>' in page
        assert re.search(
            rf'id="id_{field}_error" class="error-message"><span class="visually-hidden">Error:'
            rf"</span> {message}",
            page,
        )
    # The message is linked to its control, and the radio group is the link's target.
    assert re.search(r'aria-describedby="id_customer_name_error"[^>]*id="id_customer_name"', page)
    assert re.search(r'<fieldset id="id_nation" aria-describedby="id_nation_helptext', page)
    # What was typed is kept.
    assert 'value="07700 900123"' in page and 'value="ET1"' in page
    assert SESSION_KEY not in client.session or not client.session[SESSION_KEY]["answers"]
    assert Complaint.objects.count() == 0


def test_a_bad_email_and_phone_get_plain_messages(client):
    page = client.post(
        ABOUT, {**ABOUT_ANSWERS, "email": "jane at example", "phone": "call me"}
    ).content.decode()
    assert "Enter an e-mail address in the correct format, like name@example.com" in page
    assert "Enter a phone number, like 01632 960 001" in page
    assert 'value="jane at example"' in page and 'value="call me"' in page


def test_optional_fields_say_so_and_personal_fields_have_autocomplete(client):
    page = client.get(ABOUT).content.decode()
    for label in ("Phone number (optional)", "Postal address (optional)", "Account number"):
        assert label in page
    assert "Full name (optional)" not in page
    assert re.search(r'name="customer_name"[^>]*autocomplete="name"', page)
    assert re.search(r'name="email"[^>]*autocomplete="email"', page)
    assert re.search(r'name="phone"[^>]*autocomplete="tel"', page)
    assert re.search(r'name="postal_address"[^>]*autocomplete="street-address"', page)
    assert " required" not in page and "maxlength" not in page
    assert "captcha" not in page.lower()


def test_the_description_has_no_maxlength_and_is_refused_past_10000_characters(client):
    client.post(ABOUT, ABOUT_ANSWERS)
    page = client.get(COMPLAINT).content.decode()
    assert "maxlength" not in page
    assert re.search(r'name="what_went_wrong"[^>]*data-maxchars="10000"', page)
    response = client.post(COMPLAINT, {**COMPLAINT_ANSWERS, "what_went_wrong": "x" * 10_001})
    page = response.content.decode()
    assert response.status_code == 200
    assert "What went wrong must be 10,000 characters or fewer. You have entered 10,001." in page
    assert "x" * 10_001 in page  # kept, so the customer can shorten it
    ok = client.post(COMPLAINT, {**COMPLAINT_ANSWERS, "what_went_wrong": "x" * 10_000})
    assert ok.status_code == 302


def test_line_breaks_count_once_as_in_the_box_so_pasted_text_that_fits_is_accepted(client):
    # A browser sends each line break in a text box as CR LF; the box and its count show one.
    lines = ["Line of pasted text from an e-mail"] * 300
    typed = "\n".join(lines)[:9_999] + "."
    assert len(typed) == 10_000
    client.post(ABOUT, ABOUT_ANSWERS)
    response = client.post(
        COMPLAINT, {**COMPLAINT_ANSWERS, "what_went_wrong": typed.replace("\n", "\r\n")}
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    client.post(SUPPORT, SUPPORT_ANSWERS)
    client.post(CHECK, {"token": send_token(client)})
    complaint = Complaint.objects.get()
    assert typed in complaint.description
    assert "\r" not in complaint.description


def test_the_complaint_page_uses_fieldsets_for_radios_and_a_plain_file_control(client):
    client.post(ABOUT, ABOUT_ANSWERS)
    page = client.get(COMPLAINT).content.decode()
    assert '<fieldset id="id_category"' in page
    assert "<legend" in page and "What is your complaint about?" in page
    assert re.search(r'<input type="file" name="files" accept="\.pdf,[^"]*"[^>]*multiple', page)
    assert 'enctype="multipart/form-data"' in page
    assert "Evidence (optional)" in page


# --- Evidence files ----------------------------------------------------------------------------


def _post_files(client, *files, **answers):
    client.post(ABOUT, ABOUT_ANSWERS)
    return client.post(COMPLAINT, {**COMPLAINT_ANSWERS, **answers, "files": list(files)})


@pytest.mark.parametrize(
    ("upload", "message"),
    [
        (
            SimpleUploadedFile("virus.exe", b"MZ\x90\x00", content_type="application/x-msdos"),
            "“virus.exe” must be a PDF, image",
        ),
        (
            SimpleUploadedFile("../../x.html", b"<script>alert(1)</script>", "text/html"),
            "x.html” must be a PDF, image",
        ),
        (
            SimpleUploadedFile("fake.pdf", b"<html>not a pdf</html>", "application/pdf"),
            "“fake.pdf” is not a real .pdf file.",
        ),
        (pdf("huge.pdf", size=10 * 1024 * 1024 + 1), "“huge.pdf” must be smaller than 10 MB."),
    ],
    ids=["disallowed type", "path in the name", "wrong content", "oversized"],
)
def test_a_bad_file_is_refused_with_a_message_and_nothing_is_stored(
    client, settings, upload, message
):
    response = _post_files(client, pdf("good.pdf"), upload)
    page = response.content.decode()
    assert response.status_code == 200
    assert "<title>Error: Your complaint" in page
    assert message in page
    assert '<a href="#id_files">' in page
    assert incoming_files(settings) == []  # not even the good file chosen with it
    assert client.session[SESSION_KEY]["files"] == []
    assert "I was charged twice for October." in page  # the typed answers are kept


def test_good_files_chosen_with_a_bad_one_are_said_to_be_not_added(client, settings):
    client.post(ABOUT, ABOUT_ANSWERS)
    virus = SimpleUploadedFile("virus.exe", b"MZ\x90\x00", content_type="application/x-msdos")
    response = client.post(COMPLAINT, {**COMPLAINT_ANSWERS, "files": [pdf("bill.pdf"), virus]})
    page = response.content.decode()
    assert "“virus.exe” must be a PDF, image" in page
    assert "We have not added the other files you chose: choose them again" in page
    assert "Remove bill.pdf" not in page
    assert incoming_files(settings) == []


def test_a_single_bad_file_gets_only_its_own_message(client):
    client.post(ABOUT, ABOUT_ANSWERS)
    huge = pdf("huge.pdf", size=10 * 1024 * 1024 + 1)
    response = client.post(COMPLAINT, {**COMPLAINT_ANSWERS, "files": [huge]})
    page = response.content.decode()
    assert "“huge.pdf” must be smaller than 10 MB." in page
    assert "other files you chose" not in page


def test_more_than_five_files_are_refused(client, settings):
    response = _post_files(client, *[pdf(f"f{i}.pdf") for i in range(6)])
    assert "Choose 5 files or fewer." in response.content.decode()
    assert incoming_files(settings) == []


def test_a_good_pdf_is_kept_through_a_change_and_filed_with_the_complaint(
    client, settings, django_capture_on_commit_callbacks
):
    response = _post_files(client, pdf("bill.pdf"))
    assert response.status_code == 302
    assert len(incoming_files(settings)) == 1
    client.post(SUPPORT, SUPPORT_ANSWERS)
    # Change an answer on the complaint page without choosing the file again.
    page = client.get(f"{COMPLAINT}?return=check").content.decode()
    assert "Remove bill.pdf" in page
    client.post(f"{COMPLAINT}?return=check", {**COMPLAINT_ANSWERS, "started": "1 October"})
    page = client.get(CHECK).content.decode()
    assert "bill.pdf" in page and "1 October" in page
    with django_capture_on_commit_callbacks(execute=True):
        client.post(CHECK, {"token": send_token(client)})

    complaint = Complaint.objects.get()
    attachment = Attachment.objects.get(complaint=complaint)
    assert attachment.name == "bill.pdf" and attachment.content_type == "application/pdf"
    assert attachment.file.read().startswith(b"%PDF-")
    assert incoming_files(settings) == []  # the draft's folder is gone
    # ... and linked from the tracking page, as a download.
    secret = re.search(r"/track/CMP-[\d-]+/([\w-]+)/", client.get(SENT).content.decode()).group(1)
    track = f"/track/{complaint.reference}/{secret}/"
    download = f"{track}files/{attachment.pk}/"
    assert f'href="{download}"' in client.get(track).content.decode()
    response = client.get(download)
    assert response["Content-Disposition"] == 'attachment; filename="bill.pdf"'
    assert b"".join(response.streaming_content).startswith(b"%PDF-")


def test_a_file_is_kept_when_another_answer_on_the_page_is_wrong(client, settings):
    response = _post_files(client, pdf("bill.pdf"), what_went_wrong="")
    page = response.content.decode()
    assert response.status_code == 200 and "Tell us what went wrong" in page
    assert "Remove bill.pdf" in page  # no need to choose it again
    assert len(incoming_files(settings)) == 1


def test_a_kept_file_can_be_removed(client, settings):
    _post_files(client, pdf("bill.pdf"), pdf("letter.pdf"))
    keys = [f["key"] for f in client.session[SESSION_KEY]["files"]]
    client.post(COMPLAINT, {**COMPLAINT_ANSWERS, "remove_files": [keys[0]]})
    assert [f["name"] for f in client.session[SESSION_KEY]["files"]] == ["letter.pdf"]
    assert len(incoming_files(settings)) == 1


def test_five_kept_files_leave_no_room_for_a_sixth(client):
    _post_files(client, *[pdf(f"f{i}.pdf") for i in range(5)])
    page = client.post(COMPLAINT, {**COMPLAINT_ANSWERS, "files": [pdf()]}).content.decode()
    assert "You have already added 5" in page


# --- Sending once -------------------------------------------------------------------------------


def test_a_second_send_of_the_same_answers_shows_the_same_confirmation(client):
    answer_all(client)
    token = send_token(client)
    first = client.post(CHECK, {"token": token})
    second = client.post(CHECK, {"token": token})
    assert first.url == second.url == SENT
    assert Complaint.objects.count() == 1
    reference = Complaint.objects.get().reference
    assert reference in client.get(SENT).content.decode()


@pytest.mark.django_db(transaction=True)
def test_a_double_click_sending_twice_at_once_files_one_complaint(client):
    answer_all(client)
    token = send_token(client)
    cookie = client.cookies["sessionid"].value
    results: list[int] = []
    barrier = threading.Barrier(2)

    def send() -> None:
        other = Client()
        other.cookies["sessionid"] = cookie
        barrier.wait()
        try:
            results.append(other.post(CHECK, {"token": token}).status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=send) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [302, 302]
    assert Complaint.objects.count() == 1


def test_the_back_button_after_sending_shows_the_confirmation_not_an_empty_form(client):
    answer_all(client)
    client.post(CHECK, {"token": send_token(client)})
    client.get(SENT)
    response = client.get(CHECK, follow=True)  # the page before the confirmation
    page = response.content.decode()
    assert response.redirect_chain[-1][0] == SENT
    assert "Complaint sent" in page and Complaint.objects.get().reference in page
    # A new complaint still starts afresh.
    assert client.get("/complain/").url == ABOUT


def test_an_answer_the_service_refuses_is_shown_on_the_check_page_with_a_number_to_call(
    client, monkeypatch
):
    from django.core.exceptions import ValidationError

    from complaints import services

    def refuse(**fields):
        raise ValidationError("Your e-mail address cannot be used.")

    monkeypatch.setattr(services, "complaint_file", refuse)
    answer_all(client)
    response = client.post(CHECK, {"token": send_token(client)})
    page = response.content.decode()
    assert response.status_code == 200
    assert "<title>Error: Check your answers" in page
    assert "Your e-mail address cannot be used." in page
    assert 'or call us on <a href="tel:08008493366">0800 849 3366</a>' in page
    assert Complaint.objects.count() == 0


def test_an_out_of_date_check_page_does_not_send(client):
    answer_all(client)
    response = client.post(CHECK, {"token": "not-the-token"}, follow=True)
    assert "This page was out of date" in response.content.decode()
    assert Complaint.objects.count() == 0


def test_a_message_is_kept_in_the_session_not_a_cookie_and_shown_once(client):
    answer_all(client)
    response = client.post(CHECK, {"token": "not-the-token"})
    assert response.status_code == 302 and "messages" not in response.cookies
    assert "This page was out of date" in client.get(CHECK).content.decode()
    assert "This page was out of date" not in client.get(CHECK).content.decode()


# --- The confirmation --------------------------------------------------------------------------


def test_the_confirmation_shows_the_reference_dates_and_the_link_once(client):
    answer_all(client)
    client.post(CHECK, {"token": send_token(client)})
    complaint = Complaint.objects.get()
    page = client.get(SENT).content.decode()
    assert "Complaint sent" in page and complaint.reference in page
    assert f'We aim to reply by <strong><time datetime="{complaint.response_due_date}' in page
    assert f'<time datetime="{complaint.adr_eligible_date}">' in page
    assert "you can take it to CISAS" in page and "It is free for you" in page
    link = re.search(rf"http://testserver/track/{complaint.reference}/([\w-]+)/", page)
    assert link, "the private link is shown"
    secret = link.group(1)
    assert "Download the letter (PDF)" in page
    assert f"/track/{complaint.reference}/{secret}/letters/" in page
    assert "secret" not in client.session[FILED_KEY]
    again = client.get(SENT).content.decode()
    assert complaint.reference in again and secret not in again
    assert "We have e-mailed you your private link" in again
    assert client.get(f"/track/{complaint.reference}/{secret}/").status_code == 200


def test_the_confirmation_reads_only_the_session(client, django_assert_num_queries):
    answer_all(client)
    client.post(CHECK, {"token": send_token(client)})
    # The session read, and its save without the secret: the dates and the letter came with
    # the session's record of the filing.
    with django_assert_num_queries(2):
        page = client.get(SENT).content.decode()
    complaint = Complaint.objects.get()
    assert f'<time datetime="{complaint.response_due_date}">' in page
    assert f"/letters/{complaint.letters.get().pk}/" in page


def test_a_confirmation_recorded_without_its_dates_reads_them_from_the_complaint(client):
    answer_all(client)
    client.post(CHECK, {"token": send_token(client)})
    complaint = Complaint.objects.get()
    session = client.session
    record = session[FILED_KEY]
    for key in ("response_due_date", "adr_eligible_date", "written", "letter_id"):
        del record[key]
    session[FILED_KEY] = record
    session.save()
    page = client.get(SENT).content.decode()
    assert f'We aim to reply by <strong><time datetime="{complaint.response_due_date}' in page
    assert f'<time datetime="{complaint.adr_eligible_date}">' in page
    assert ", in writing." in page
    assert f"/letters/{complaint.letters.get().pk}/" in page


def test_a_robots_confirmation_recorded_without_its_dates_is_dated_as_before(client):
    session = client.session
    session[FILED_KEY] = {
        "id": None,
        "reference": "CMP-2026-123456",
        "email": "robot@example.com",
        "token": "t",
        "received_at": "2026-12-03T10:00:00+00:00",
    }
    session.save()
    page = client.get(SENT).content.decode()
    # Thursday 3 December: 15 working days on is Thursday 24 December (no bank holiday between).
    assert 'We aim to reply by <strong><time datetime="2026-12-24">' in page
    assert "CMP-2026-123456" in page


def test_the_confirmation_without_a_complaint_goes_home(client):
    response = client.get(SENT)
    assert response.status_code == 302 and response.url == "/"


def test_the_pages_showing_the_answers_are_not_cached(client):
    """On a shared computer, Back after sending must not show the next person the answers."""
    answer_all(client)
    for url in (ABOUT, COMPLAINT, SUPPORT, CHECK):
        response = client.get(url)
        assert response.status_code == 200, url
        assert "no-store" in response["Cache-Control"], url


def test_the_confirmation_is_not_cached(client):
    answer_all(client)
    client.post(CHECK, {"token": send_token(client)})
    assert "no-store" in client.get(SENT)["Cache-Control"]


# --- Abuse --------------------------------------------------------------------------------------


def test_a_filled_honeypot_shows_a_confirmation_and_files_nothing(client):
    page = client.get(ABOUT).content.decode()
    assert re.search(r'<div class="hp-field" aria-hidden="true">', page)
    assert re.search(r'name="website" autocomplete="off" tabindex="-1"', page)
    client.post(ABOUT, {**ABOUT_ANSWERS, "website": "http://spam.example"})
    client.post(COMPLAINT, COMPLAINT_ANSWERS)
    client.post(SUPPORT, SUPPORT_ANSWERS)
    response = client.post(CHECK, {"token": send_token(client)})
    assert response.url == SENT
    page = client.get(SENT).content.decode()
    assert "Complaint sent" in page and re.search(r"CMP-\d{4}-\d{6}", page)
    # Dated as a real confirmation would be, so the robot cannot tell.
    assert re.search(r'We aim to reply by <strong><time datetime="\d{4}-\d\d-\d\d">', page)
    assert ", in writing." in page
    assert Complaint.objects.count() == 0


def test_a_robots_confirmation_has_the_dates_of_the_nation_it_gave(client, monkeypatch):
    """A robot, or a browser's autofill that filled the hidden box, sees the dates a real
    complaint from the same nation gets. Sent from Scotland on Thursday 3 December 2026:
    Scotland's bank holiday on Monday 4 January 2027 puts CISAS on 25 February, a day later than
    in England and Wales."""
    from types import SimpleNamespace

    from django.utils import timezone

    sent_at = dt.datetime(2026, 12, 3, 10, tzinfo=dt.UTC)
    clock = SimpleNamespace(**{**vars(timezone), "now": lambda: sent_at})
    monkeypatch.setattr(views, "timezone", clock)
    client.post(ABOUT, {**ABOUT_ANSWERS, "website": "http://spam.example"})
    client.post(COMPLAINT, COMPLAINT_ANSWERS)
    client.post(SUPPORT, SUPPORT_ANSWERS)
    client.post(CHECK, {"token": send_token(client)})
    page = client.get(SENT).content.decode()
    assert 'We aim to reply by <strong><time datetime="2026-12-24">' in page
    assert '<time datetime="2027-02-25">' in page
    assert Complaint.objects.count() == 0


def test_a_filled_honeypot_on_the_check_page_files_nothing(client):
    answer_all(client)
    client.post(CHECK, {"token": send_token(client), "website": "spam"})
    assert "Complaint sent" in client.get(SENT).content.decode()
    assert Complaint.objects.count() == 0


def test_sending_is_rate_limited_per_address(client, one_rate_window):
    for _ in range(10):
        assert client.post(CHECK, {"token": "x"}).status_code == 302
    response = client.post(CHECK, {"token": "x"})
    assert response.status_code == 429
    assert "Please wait a moment" in response.content.decode()
    # Another address is not affected.
    assert client.post(CHECK, {"token": "x"}, REMOTE_ADDR="10.0.0.2").status_code == 302


def test_the_question_pages_are_rate_limited_too(client, monkeypatch, one_rate_window):
    monkeypatch.setitem(views.RATES, "steps", "2/m")
    client.post(ABOUT, {})
    client.post(ABOUT, {})
    assert client.post(ABOUT, {}).status_code == 429
    assert client.get(ABOUT).status_code == 200  # reading a page is not limited


def test_forms_carry_a_csrf_token(client):
    enforcing = Client(enforce_csrf_checks=True)
    assert enforcing.post(ABOUT, ABOUT_ANSWERS).status_code == 403
    assert "csrfmiddlewaretoken" in client.get(ABOUT).content.decode()


# --- What a customer types is text, never markup -------------------------------------------------


def test_html_typed_into_the_form_is_shown_escaped_on_every_page(client):
    script = "<script>alert(1)</script>"
    answer_all(
        client,
        about={"customer_name": f"Jane {script}", "postal_address": script},
        complaint={"what_went_wrong": script, "started": script, "put_right": script},
        support={"support_needs": script},
    )
    escaped = "&lt;script&gt;alert(1)&lt;/script&gt;"
    for url in (ABOUT, COMPLAINT, SUPPORT, CHECK):
        page = client.get(url).content.decode()
        assert script not in page, url
        assert escaped in page, url
    client.post(CHECK, {"token": send_token(client)})
    page = client.get(SENT).content.decode()
    secret = re.search(r"/track/CMP-[\d-]+/([\w-]+)/", page).group(1)
    complaint = Complaint.objects.get()
    assert complaint.customer_name == f"Jane {script}"  # stored as typed
    track = client.get(f"/track/{complaint.reference}/{secret}/").content.decode()
    assert script not in track
    letter = complaint.letters.get()
    html = client.get(f"/track/{complaint.reference}/{secret}/letters/{letter.pk}/")
    assert script not in html.content.decode() and escaped in html.content.decode()


def test_the_answers_of_abandoned_drafts_go_when_their_session_expires(client):
    client.post(ABOUT, ABOUT_ANSWERS)
    key = client.session.session_key
    assert client.session[SESSION_KEY]  # the answers, name and address among them
    assert drafts_purge_abandoned() == 0
    assert Session.objects.filter(session_key=key).exists()  # a live draft keeps its answers
    Session.objects.filter(session_key=key).update(
        expire_date=timezone.now() - dt.timedelta(seconds=1)
    )
    drafts_purge_abandoned()
    assert not Session.objects.filter(session_key=key).exists()


def test_evidence_of_abandoned_drafts_is_purged_once_no_session_can_use_it(client, settings):
    _post_files(client, pdf("bill.pdf"))
    assert drafts_purge_abandoned() == 0  # a live draft keeps its file
    assert len(incoming_files(settings)) == 1
    assert drafts_purge_abandoned(older_than=dt.timedelta(seconds=-1)) == 1
    assert incoming_files(settings) == []
