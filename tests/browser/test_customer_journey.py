"""A customer in a real browser: files a complaint with evidence, changes an answer, follows the
case through the private link, writes to us, escalates and saves the acknowledgement letter."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from complaints.models import Complaint, State

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def evidence_pdf(tmp_path):
    path = tmp_path / "october-bill.pdf"
    path.write_bytes(b"%PDF-1.4\n% a bill\n" + b"0" * 200)
    return path


def test_a_customer_files_a_complaint_follows_it_and_escalates(page, tmp_path):
    page.goto("/")
    page.get_by_role("link", name="Make a complaint").first.click()

    # About you
    expect(page.get_by_role("heading", name="About you")).to_be_visible()
    page.get_by_label("Full name").fill("Jane Doe")
    page.get_by_label("E-mail address").fill("jane@example.com")
    page.get_by_label("Phone number (optional)").fill("07700 900123")
    page.get_by_label("Postal address (optional)").fill("1 High Street\nHertford\nSG14 1AA")
    page.get_by_label("England and Wales").check()
    page.get_by_role("button", name="Continue").click()

    # Your complaint, with a file
    page.get_by_label("Billing").check()
    page.get_by_label("What went wrong?").fill("I was charged twice for October.")
    expect(page.get_by_text("You have 9,968 characters remaining")).to_be_visible()
    page.get_by_label("When did it start? (optional)").fill("early October")
    page.get_by_label("Evidence (optional)").set_input_files(str(evidence_pdf(tmp_path)))
    page.get_by_role("button", name="Continue").click()

    # Support and how we reply
    page.get_by_label("In writing").check()
    page.get_by_role("button", name="Continue").click()

    # Check your answers: change the e-mail address, and come back with the file still there.
    expect(page.get_by_role("heading", name="Check your answers")).to_be_visible()
    expect(page.get_by_text("october-bill.pdf")).to_be_visible()
    page.get_by_role("link", name="Change e-mail address").click()
    assert page.get_by_label("E-mail address").input_value() == "jane@example.com"
    page.get_by_label("E-mail address").fill("jane.doe@example.com")
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", name="Check your answers")).to_be_visible()
    expect(page.get_by_text("jane.doe@example.com")).to_be_visible()
    expect(page.get_by_text("october-bill.pdf")).to_be_visible()
    page.get_by_role("button", name="Send your complaint").click()

    # The confirmation: reference, dates, the private link, the letter.
    expect(page.get_by_role("heading", name="Complaint sent")).to_be_visible()
    complaint = Complaint.objects.get()
    assert complaint.email == "jane.doe@example.com"
    assert complaint.attachments.get().name == "october-bill.pdf"
    expect(page.locator(".confirmation-panel").get_by_text(complaint.reference)).to_be_visible()
    expect(page.get_by_text(f"{complaint.response_due_date:%-d %B %Y}").first).to_be_visible()
    expect(page.get_by_text(f"{complaint.adr_eligible_date:%-d %B %Y}").first).to_be_visible()
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download the letter (PDF)").click()
    download = download_info.value
    assert download.suggested_filename == f"{complaint.reference}-acknowledgement.pdf"
    assert download.path().read_bytes()[:5] == b"%PDF-"
    tracking_link = page.locator(".tracking-link a").get_attribute("href")
    assert re.search(rf"/track/{complaint.reference}/[\w-]+/$", tracking_link)

    # The tracking page
    page.goto(tracking_link)
    expect(
        page.get_by_role("heading", name="Where it is now: With our Customer Services Team")
    ).to_be_visible()
    expect(page.get_by_role("link", name="october-bill.pdf").first).to_be_visible()
    page.get_by_label("Your message").fill("My bank statement is attached.")
    page.get_by_role("button", name="Send message").click()
    expect(page.get_by_text("Thank you: we have received your message.")).to_be_visible()
    expect(page.get_by_text("My bank statement is attached.")).to_be_visible()

    page.get_by_label("Tell us why (optional)").fill("Nobody has called me back.")
    page.get_by_role("button", name="Ask for the manager to review it").click()
    expect(
        page.get_by_role("heading", name="Where it is now: With our Customer Services Manager")
    ).to_be_visible()
    expect(
        page.get_by_text("You asked for our Customer Services Manager to review it")
    ).to_be_visible()
    assert Complaint.objects.get().state == State.CS_MANAGER

    with page.expect_download() as download_info:
        page.get_by_role("link", name="download the PDF (acknowledgement)").click()
    assert download_info.value.path().read_bytes()[:5] == b"%PDF-"


def test_an_empty_page_shows_a_focused_linked_error_summary_and_keeps_the_typing(page):
    page.goto("/complain/about-you/")
    page.get_by_label("Phone number (optional)").fill("07700 900123")
    page.get_by_label("Account number (optional)").fill("ET123456")
    page.get_by_role("button", name="Continue").click()

    expect(page).to_have_title(re.compile("^Error: "))
    summary = page.get_by_role("alert")
    expect(summary).to_be_visible()
    assert page.evaluate("document.activeElement.hasAttribute('data-error-summary')")
    assert page.get_by_label("Phone number (optional)").input_value() == "07700 900123"
    assert page.get_by_label("Account number (optional)").input_value() == "ET123456"
    # The same messages beside the fields.
    beside = page.locator("#id_customer_name_error").text_content()
    assert " ".join(beside.split()) == "Error: Enter your full name"
    # Each link in the summary takes the customer to the field.
    summary.get_by_role("link", name="Enter your full name").click()
    assert page.evaluate("document.activeElement.id") == "id_customer_name"
    summary.get_by_role("link", name="Select where you live").click()
    assert page.evaluate("document.activeElement.id") == "id_nation_0"


def test_the_send_button_clicked_twice_files_one_complaint(page):
    page.goto("/complain/about-you/")
    page.get_by_label("Full name").fill("Sam Quick")
    page.get_by_label("E-mail address").fill("sam@example.com")
    page.get_by_label("Northern Ireland").check()
    page.get_by_role("button", name="Continue").click()
    page.get_by_label("Service fault").check()
    page.get_by_label("What went wrong?").fill("No dial tone.")
    page.get_by_role("button", name="Continue").click()
    page.get_by_label("In writing").check()
    page.get_by_role("button", name="Continue").click()
    page.get_by_role("button", name="Send your complaint").dblclick()
    page.wait_for_url("**/complain/sent/")
    expect(page.get_by_role("heading", name="Complaint sent")).to_be_visible()
    assert Complaint.objects.count() == 1
    assert Complaint.objects.get().nation == "northern-ireland"


def test_the_live_count_agrees_with_the_server_on_line_breaks_and_emoji(page):
    page.goto("/complain/about-you/")
    page.get_by_label("Full name").fill("Siân Llŷr")
    page.get_by_label("E-mail address").fill("sian@example.com")
    page.get_by_label("England and Wales").check()
    page.get_by_role("button", name="Continue").click()
    page.get_by_label("Billing").check()
    # 9,990 letters, 5 line breaks and 5 emoji: 10,000 characters, which the server accepts.
    text = "\n".join(["x" * 1997] * 5) + "\n" + "😡" * 4 + "x" * 5 + "😡"
    assert len(text) == 10_000
    box = page.get_by_label("What went wrong?")
    box.fill(text)
    expect(page.get_by_text("You have 0 characters remaining")).to_be_visible()
    box.press("End")
    box.press("Enter")
    expect(page.get_by_text("You have 1 character too many")).to_be_visible()
    box.press("Backspace")
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", name="Support and how we reply")).to_be_visible()
