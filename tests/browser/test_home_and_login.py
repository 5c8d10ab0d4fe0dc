"""A newcomer's first minute: the home page loads with its own assets, and staff can sign in."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.conftest import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_home_page_loads_styled_from_local_assets(page):
    failed: list[str] = []
    page.on("requestfailed", lambda r: failed.append(r.url))
    page.goto("/")
    expect(page).to_have_title("How to complain – Express Telephony")
    expect(page.get_by_role("heading", name="How to complain")).to_be_visible()
    expect(page.get_by_text("0800 849 3366").first).to_be_visible()
    # Bootstrap really applied: the contact card has its rounded border, not the browser default.
    radius = page.locator(".card").first.evaluate("el => getComputedStyle(el).borderTopLeftRadius")
    assert radius not in ("0px", "")
    assert failed == []


def test_an_agent_signs_in_and_sees_the_case_queue(page, agent):
    page.goto("/")
    page.get_by_role("link", name="Staff sign in").click()
    page.get_by_label("Username").fill("agent")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/staff/")
    expect(page.get_by_role("heading", name="Case queue")).to_be_visible()
    expect(page.get_by_role("button", name="Sign out agent")).to_be_visible()


def test_a_wrong_password_keeps_the_user_on_the_sign_in_page_with_an_error(page, agent):
    page.goto("/staff/login/")
    page.get_by_label("Username").fill("agent")
    page.get_by_label("Password").fill("wrong")
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_title(re.compile("^Error:"))
    expect(page.get_by_role("alert")).to_be_visible()


def test_the_home_and_sign_in_pages_have_no_serious_accessibility_failures(page):
    from tests.browser.axe import serious_violations

    for url in ("/", "/staff/login/"):
        page.goto(url)
        assert serious_violations(page) == [], url
