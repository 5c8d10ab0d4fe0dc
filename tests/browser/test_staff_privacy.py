"""Personal data in a real browser: a manager exports what is held about a customer, then erases
it on their request; both pages stay accessible."""

from __future__ import annotations

import json
import zipfile

import pytest
from playwright.sync_api import expect

from complaints import services
from complaints.models import Complaint
from complaints.roles import Actor
from tests.browser.axe import serious_violations
from tests.browser.test_staff_pages import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def closed_case(file_complaint, manager):
    case = file_complaint(customer_name="Derek Walsh", email="derek@example.com").complaint
    by = Actor.staff(manager)
    services.complaint_resolve(complaint=case, by=by, summary="Refunded £24.99.")
    services.complaint_close(complaint=case, by=by)
    return case


def test_a_manager_exports_then_erases_a_customers_data(page, manager, closed_case):
    sign_in(page, "manager")
    page.goto(f"/staff/complaints/{closed_case.reference}/")
    privacy = page.get_by_role("region", name="Personal data")
    expect(privacy).to_contain_text("6 years after the complaint ended")
    page.evaluate("document.querySelectorAll('details').forEach(d => d.open = true)")
    assert serious_violations(page) == []

    with page.expect_download() as download_info:
        privacy.get_by_role("button", name="Download a subject access export (zip)").click()
    download = download_info.value
    assert download.suggested_filename == f"{closed_case.reference}-subject-access.zip"
    with zipfile.ZipFile(download.path()) as archive:
        held = json.loads(archive.read("complaints.json"))
    assert held["complaints"][0]["your_details"]["name"] == "Derek Walsh"

    page.reload()
    page.on("dialog", lambda dialog: dialog.accept())  # "Erase ...? This cannot be undone."
    erase = page.locator("#action-erase")
    erase.locator("summary").click()
    erase.get_by_label("Whose request is this").fill("E-mail of 25 November; ID checked by phone.")
    erase.get_by_role("button", name="Erase their personal data").click()
    expect(page.get_by_text("Confirm that you have checked the request.").first).to_be_visible()
    assert Complaint.objects.get(pk=closed_case.pk).anonymised_at is None

    erase = page.locator("#action-erase")
    erase.get_by_label("I have checked").check()
    erase.get_by_role("button", name="Erase their personal data").click()
    expect(page.get_by_text(f"Personal data erased from {closed_case.reference}.")).to_be_visible()
    expect(page.locator("h1")).to_contain_text("Anonymised")
    expect(page.locator("body")).not_to_contain_text("derek@example.com")
    assert serious_violations(page) == []
