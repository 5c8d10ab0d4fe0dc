"""Every customer page, in its normal and its error states, against WCAG 2.2 AA (axe-core), and
the filing and tracking pages reflowed to 320 CSS pixels without sideways scrolling."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from complaints import services, views
from complaints.roles import Actor
from tests.browser.axe import serious_violations, violations_of
from tests.browser.conftest import SCREENSHOTS
from tests.browser.focus import assert_portal_focus, focus_by_keyboard

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def accessible(page, name: str) -> None:
    """No serious or critical axe failures; a screenshot of the state for people to look at."""
    page.wait_for_load_state("load")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"customer-{name}.png"), full_page=True)
    assert serious_violations(page) == [], name


def reflows(page) -> bool:
    page.wait_for_load_state("load")
    return page.evaluate("document.documentElement.scrollWidth") <= 320


def fill_about_you(page) -> None:
    page.get_by_label("Full name").fill("Jane Doe")
    page.get_by_label("E-mail address").fill("jane@example.com")
    page.get_by_label("Phone number (optional)").fill("07700 900123")
    page.get_by_label("Scotland").check()
    page.get_by_role("button", name="Continue").click()


def fill_complaint(page) -> None:
    page.get_by_label("Number porting").check()
    page.get_by_label("What went wrong?").fill("My number was not moved on the agreed date.")
    page.get_by_role("button", name="Continue").click()


def test_the_filing_pages_and_their_errors_are_accessible(page):
    page.goto("/")
    accessible(page, "home")

    page.goto("/complain/")
    accessible(page, "about-you")
    page.get_by_role("button", name="Continue").click()
    expect(page).to_have_title(re.compile("^Error: "))
    accessible(page, "about-you-errors")
    fill_about_you(page)

    accessible(page, "your-complaint")
    page.get_by_role("button", name="Continue").click()
    expect(page).to_have_title(re.compile("^Error: "))
    accessible(page, "your-complaint-errors")
    fill_complaint(page)

    accessible(page, "support")
    page.get_by_role("button", name="Continue").click()
    expect(page).to_have_title(re.compile("^Error: "))
    accessible(page, "support-errors")
    page.get_by_label("By phone").check()
    page.get_by_label("Is there anything that makes it hard").fill("I use a screen reader.")
    page.get_by_role("button", name="Continue").click()

    accessible(page, "check-your-answers")
    page.get_by_role("button", name="Send your complaint").click()
    expect(page.get_by_role("heading", name="Complaint sent")).to_be_visible()
    accessible(page, "complaint-sent")


def test_the_tracking_pages_and_letters_are_accessible(page, file_complaint, agent):
    filed = file_complaint()
    complaint = filed.complaint
    services.complaint_add_message(
        complaint=complaint, by=Actor.staff(agent), text="We are looking into the charge."
    )
    url = f"/track/{complaint.reference}/{filed.tracking_secret}/"
    page.goto(url)
    accessible(page, "tracking")

    page.get_by_role("button", name="Send message").click()
    expect(page).to_have_title(re.compile("^Error: "))
    assert page.evaluate("document.activeElement.hasAttribute('data-error-summary')")
    accessible(page, "tracking-errors")

    page.goto(f"{url}withdraw/")
    accessible(page, "withdraw")

    letter = complaint.letters.get()
    page.goto(f"{url}letters/{letter.pk}/")
    accessible(page, "letter")


def test_lost_link_404_and_429_pages_are_accessible(page, file_complaint, monkeypatch):
    page.goto("/track/lost/")
    accessible(page, "lost-link")
    page.get_by_role("button", name="Send me a new link").click()
    expect(page).to_have_title(re.compile("^Error: "))
    accessible(page, "lost-link-errors")
    page.get_by_label("Complaint reference").fill("CMP-2026-000001")
    page.get_by_label("E-mail address").fill("jane@example.com")
    page.get_by_role("button", name="Send me a new link").click()
    expect(page.get_by_role("heading", name="Check your e-mail")).to_be_visible()
    accessible(page, "lost-link-sent")

    complaint = file_complaint().complaint
    response = page.goto(f"/track/{complaint.reference}/not-the-secret/")
    assert response.status == 404
    expect(page.get_by_role("link", name="Get a new link to your complaint")).to_be_visible()
    accessible(page, "not-found")

    monkeypatch.setitem(views.RATES, "lost_link", "1/h")
    page.goto("/track/lost/")
    page.get_by_role("button", name="Send me a new link").click()  # errors: counted
    page.get_by_role("button", name="Send me a new link").click()
    expect(page.get_by_role("heading", name="Please wait a moment")).to_be_visible()
    accessible(page, "too-many-requests")


def test_the_filing_and_tracking_pages_reflow_at_320_pixels(page, file_complaint, agent):
    page.set_viewport_size({"width": 320, "height": 800})
    page.goto("/")
    assert reflows(page), "home"
    page.goto("/complain/")
    assert reflows(page), "about you"
    page.get_by_role("button", name="Continue").click()
    assert reflows(page), "about you, with errors"
    fill_about_you(page)
    assert reflows(page), "your complaint"
    fill_complaint(page)
    assert reflows(page), "support"
    page.get_by_label("In writing").check()
    page.get_by_role("button", name="Continue").click()
    assert reflows(page), "check your answers"
    page.screenshot(path=str(SCREENSHOTS / "customer-check-320.png"), full_page=True)
    page.get_by_role("button", name="Send your complaint").click()
    expect(page.get_by_role("heading", name="Complaint sent")).to_be_visible()
    assert reflows(page), "complaint sent (with the long private link)"
    page.screenshot(path=str(SCREENSHOTS / "customer-sent-320.png"), full_page=True)
    page.locator(".tracking-link a").click()
    assert reflows(page), "tracking"
    page.screenshot(path=str(SCREENSHOTS / "customer-tracking-320.png"), full_page=True)


def test_buttons_text_boxes_and_radios_show_the_portals_strong_focus(page):
    page.goto("/complain/")
    for name, control in [
        ("text box", page.get_by_label("Full name")),
        ("address box", page.get_by_label("Postal address (optional)")),
        ("radio", page.get_by_label("England and Wales")),
        ("button", page.get_by_role("button", name="Continue")),
        ("link", page.get_by_role("link", name="Back")),
    ]:
        assert_portal_focus(focus_by_keyboard(page, control), name)


def test_focus_is_always_visible_and_targets_are_big_enough(page):
    page.goto("/complain/")
    page.keyboard.press("Tab")  # the skip link first
    assert page.evaluate("document.activeElement.textContent") == "Skip to main content"
    radio = page.get_by_label("England and Wales")
    box = radio.bounding_box()
    assert box["width"] >= 24 and box["height"] >= 24
    radio.focus()
    outline = radio.evaluate("el => getComputedStyle(el).outlineStyle")
    shadow = radio.evaluate("el => getComputedStyle(el).boxShadow")
    assert outline != "none" or shadow != "none"
    button = page.get_by_role("button", name="Continue").bounding_box()
    assert button["height"] >= 24


# A 1-by-1 pixel PNG: evidence is checked for what it really is, not only for its name.
TINY_PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000001e221bc330000000049454e44ae426082"
)
LONG_NAME = "IMG_20261201_134501_Portrait_Mode_Edited_Final_Copy.png"


def test_a_long_file_name_wraps_on_a_phone_wherever_it_is_listed(page, tmp_path):
    photo = tmp_path / LONG_NAME
    photo.write_bytes(TINY_PNG)
    page.set_viewport_size({"width": 375, "height": 800})
    page.goto("/complain/")
    fill_about_you(page)
    page.get_by_label("Number porting").check()
    page.get_by_label("What went wrong?").fill("My number was not moved on the agreed date.")
    page.get_by_label("Evidence (optional)").set_input_files(str(photo))
    page.get_by_role("button", name="Continue").click()
    page.goto("/complain/your-complaint/")
    expect(page.get_by_label(f"Remove {LONG_NAME}")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 375, "your complaint"
    page.screenshot(path=str(SCREENSHOTS / "customer-long-file-name-375.png"), full_page=True)
    page.get_by_role("button", name="Continue").click()
    page.get_by_label("In writing").check()
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_text(LONG_NAME)).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 375, "check your answers"
    page.get_by_role("button", name="Send your complaint").click()
    page.locator(".tracking-link a").click()
    expect(page.get_by_role("link", name=LONG_NAME).first).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 375, "tracking"


LONG_EMAIL = "maximiliana.featherstonehaugh-cholmondeley@a-very-long-family-domain-name.co.uk"
PASTED_ADDRESS = "https://www.example.com/account/billing/statements/" + "a1b2c3d4e5" * 12


def test_a_long_email_address_and_a_pasted_web_address_wrap_on_a_phone(page):
    page.set_viewport_size({"width": 375, "height": 800})
    page.goto("/complain/")
    page.get_by_label("Full name").fill("Maximiliana Featherstonehaugh-Cholmondeley")
    page.get_by_label("E-mail address").fill(LONG_EMAIL)
    page.get_by_label("England and Wales").check()
    page.get_by_role("button", name="Continue").click()
    page.get_by_label("Billing").check()
    page.get_by_label("What went wrong?").fill(f"See {PASTED_ADDRESS} for the bill.")
    page.get_by_role("button", name="Continue").click()
    page.get_by_label("In writing").check()
    page.get_by_role("button", name="Continue").click()
    assert page.evaluate("document.documentElement.scrollWidth") <= 375, "check your answers"
    page.get_by_role("button", name="Send your complaint").click()
    expect(page.get_by_text(LONG_EMAIL)).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 375, "complaint sent"
    page.get_by_role("link", name="Read the letter as a web page").click()
    expect(page.get_by_text(PASTED_ADDRESS[:40])).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 375, "the letter"
    page.get_by_role("link", name="Back to your complaint").click()
    expect(page.get_by_role("heading", name="Our letters to you")).to_be_visible()


def test_every_landmark_is_named_once_and_the_contact_bar_stays_a_landmark(page):
    for url in ("/", "/complain/", "/track/lost/"):
        page.goto(url)
        # Best-practice rules, which the WCAG run above leaves out.
        rules = ("landmark-unique", "landmark-complementary-is-top-level")
        assert violations_of(page, *rules) == [], url
        contact_bar = page.get_by_role("complementary", name="Contact Customer Services")
        expect(contact_bar).to_have_count(1)
        expect(contact_bar).to_contain_text("0800 849 3366")
