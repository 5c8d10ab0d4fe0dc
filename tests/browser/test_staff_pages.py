"""The staff side in a real browser: an agent's morning, a manager's deadlock letter, the pages an
agent may not see, the idle-timeout warning, and axe-core on every staff page."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from playwright.sync_api import expect

from complaints import services
from complaints.models import Category, Channel, Complaint, State
from complaints.roles import Actor
from tests.browser.axe import serious_violations
from tests.browser.conftest import SCREENSHOTS
from tests.browser.focus import assert_portal_focus, focus_by_keyboard
from tests.conftest import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def sign_in(page, username: str) -> None:
    page.goto("/staff/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/staff/")


def logged(file_complaint, agent, days_ago: float, **fields) -> Complaint:
    return file_complaint(
        by=Actor.staff(agent),
        channel=fields.pop("channel", Channel.PHONE),
        received_at=timezone.now() - dt.timedelta(days=days_ago),
        **fields,
    ).complaint


@pytest.fixture
def busy_queue(file_complaint, agent, agent2):
    """A morning's queue: one case overdue, the rest due over the coming weeks."""
    people = [
        ("Margaret Okafor", Category.BILLING, 2, {}),
        ("Tom Price", Category.SERVICE_FAULT, 5, {"channel": Channel.EMAIL}),
        (
            "Aled Hughes",
            Category.NUMBER_PORTING,
            8,
            {"vulnerable": True, "vulnerability_notes": "Hard of hearing: prefers e-mail."},
        ),
        ("Sarah Lee", Category.CONTRACT, 12, {"channel": Channel.LETTER}),
        ("Ben Carter", Category.CUSTOMER_SERVICE, 1, {"channel": Channel.WEB}),
    ]
    made = {}
    for name, category, days_ago, extra in people:
        made[name] = logged(
            file_complaint,
            agent,
            days_ago,
            customer_name=name,
            category=category,
            email=f"{name.split()[0].lower()}@example.com",
            **extra,
        )
    services.complaint_assign(complaint=made["Sarah Lee"], assignee=agent2, by=Actor.staff(agent2))
    made["overdue"] = logged(
        file_complaint,
        agent,
        30,
        customer_name="Priya Sharma",
        description="My number was ported without my consent and I have lost business calls.",
        category=Category.PROVISIONING_SECURITY,
    )
    return made


def test_an_agent_claims_the_case_at_the_top_and_a_phone_reply_takes_it_off_the_overdue_list(
    page, agent, busy_queue
):
    overdue = busy_queue["overdue"]
    sign_in(page, "agent")
    first_row = page.locator("table.queue-table tbody tr").first
    expect(first_row).to_contain_text(overdue.reference)
    expect(first_row).to_contain_text("Overdue")

    first_row.get_by_role("button", name=f"Claim {overdue.reference}").click()
    expect(page.get_by_text(f"You are now working on {overdue.reference}.")).to_be_visible()
    expect(page.locator("table.queue-table tbody tr").first).to_contain_text("You")

    page.get_by_role("link", name=overdue.reference).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(overdue.reference)
    expect(page.get_by_text("The reply is overdue.")).to_be_visible()
    reply = page.locator("#action-reply_phone")
    reply.get_by_label("What did you tell the customer?").fill(
        "Apologised, reversed the port and credited a month's line rental."
    )
    reply.get_by_label("Call recording reference").fill("REC-4471")
    reply.get_by_role("button", name="Log a phone reply").click()
    due = f"{overdue.response_due_date:%-d %B %Y}"
    expect(
        page.get_by_text(f"Phone reply logged. The reply is late: it was due by {due}.")
    ).to_be_visible()
    expect(page.get_by_text("The reply is overdue.")).to_have_count(0)
    expect(page.locator(".case-timeline")).to_contain_text("recording REC-4471")

    page.goto("/staff/?overdue=on")
    expect(page.get_by_text("No cases match.")).to_be_visible()
    assert Complaint.objects.get(pk=overdue.pk).responded_at is not None


def test_a_manager_issues_a_deadlock_letter_and_downloads_it(page, manager, file_complaint, agent):
    case = logged(file_complaint, agent, 20, customer_name="Derek Walsh")
    services.complaint_escalate(complaint=case, by=Actor.staff(agent), reason="Wants a refund.")
    sign_in(page, "manager")
    page.get_by_role("link", name="Escalations").click()
    page.get_by_role("link", name=case.reference).click()

    deadlock = page.locator("#action-deadlock")
    deadlock.locator("summary").click()
    deadlock.get_by_label("Our final position").fill(
        "We have refunded the disputed calls. We will not refund the line rental, which was used."
    )
    page.once("dialog", lambda dialog: dialog.accept())
    deadlock.get_by_role("button", name="Issue the deadlock letter").click()
    expect(page.get_by_text("Deadlock letter issued: it is being e-mailed")).to_be_visible()
    expect(page.locator(".case-header")).to_contain_text("Deadlock letter issued")
    expect(page.get_by_text("CISAS deadline")).to_be_visible()

    with page.expect_download() as download_info:
        page.get_by_role("link", name="Deadlock letter (PDF)").click()
    download = download_info.value
    assert re.fullmatch(rf"{case.reference}-deadlock\.pdf", download.suggested_filename)
    with open(download.path(), "rb") as pdf:
        assert pdf.read(5) == b"%PDF-"
    assert Complaint.objects.get(pk=case.pk).state == State.DEADLOCK


def test_an_agent_cannot_see_the_managers_pages(page, agent):
    sign_in(page, "agent")
    expect(page.get_by_role("link", name="Escalations")).to_have_count(0)
    for url in ("/staff/escalations/", "/staff/reports/", "/staff/closure-days/"):
        response = page.goto(url)
        assert response.status == 403, url
        expect(
            page.get_by_role("heading", name="This page is not available to you")
        ).to_be_visible()


def test_the_idle_warning_appears_and_stay_signed_in_keeps_the_session(page, agent, settings):
    settings.STAFF_IDLE_TIMEOUT_SECONDS = 120
    page.clock.install()
    sign_in(page, "agent")
    dialog = page.get_by_role("alertdialog", name="You will be signed out in 1 minute")
    expect(dialog).to_be_hidden()

    page.clock.fast_forward(30_000)
    expect(dialog).to_be_hidden()
    page.clock.fast_forward(31_000)  # 61 seconds without activity: 59 left
    expect(dialog).to_be_visible()
    expect(dialog.get_by_role("button", name="Stay signed in")).to_be_focused()

    with page.expect_response("**/staff/session/keepalive/") as pinged:
        dialog.get_by_role("button", name="Stay signed in").click()
    assert pinged.value.status == 204
    expect(dialog).to_be_hidden()
    page.clock.fast_forward(50_000)  # counted from the keep-alive, not from the page load
    expect(dialog).to_be_hidden()

    page.reload()
    expect(page.get_by_role("heading", name="Case queue")).to_be_visible()


def test_typing_keeps_the_session_alive_without_a_warning(page, agent, settings, busy_queue):
    settings.STAFF_IDLE_TIMEOUT_SECONDS = 120
    page.clock.install()
    sign_in(page, "agent")
    page.goto(f"/staff/complaints/{busy_queue['overdue'].reference}/")
    page.clock.fast_forward(35_000)
    with page.expect_response("**/staff/session/keepalive/"):
        page.locator("#action-reply_phone textarea").type("Spoke to the customer")
        page.clock.fast_forward(1_000)
    page.clock.fast_forward(40_000)  # 76 seconds since the page loaded, 41 since the keep-alive
    expect(page.get_by_role("alertdialog")).to_be_hidden()


# --- Accessibility --------------------------------------------------------------------------------


@pytest.fixture
def rich_case(file_complaint, agent, manager):
    """A stage 2 case with a vulnerable customer, files, notes, a reply and letters."""
    case = file_complaint(
        customer_name="Aled Hughes",
        vulnerable=True,
        vulnerability_notes="Hard of hearing: contact by e-mail or text relay.",
        attachments=[
            SimpleUploadedFile("bill-october.pdf", b"%PDF-1.4 test", content_type="application/pdf")
        ],
    ).complaint
    services.complaint_assign(complaint=case, assignee=agent, by=Actor.staff(agent))
    services.complaint_add_note(
        complaint=case,
        by=Actor.staff(agent),
        text="Checked the billing system: two direct debits on 1 October.",
        attachments=[SimpleUploadedFile("export.csv", b"date,amount\n", content_type="text/csv")],
    )
    services.complaint_add_message(
        complaint=case, by=Actor.staff(agent), text="We are looking into the double charge."
    )
    services.complaint_escalate(
        complaint=case, by=Actor.staff(agent), reason="Customer wants compensation."
    )
    services.complaint_record_reply(
        complaint=case,
        by=Actor.staff(manager),
        method="written",
        summary="We have refunded the second payment of £24.99.",
    )
    return case


def _open_every_form(page) -> None:
    page.evaluate("document.querySelectorAll('details').forEach(d => d.open = true)")


@pytest.mark.parametrize(
    "who, url",
    [
        ("agent", "queue"),
        ("agent", "case"),
        ("manager", "case"),
        ("manager", "escalations"),
        ("manager", "reports"),
        ("manager", "closure-days"),
    ],
)
def test_staff_pages_have_no_serious_accessibility_failures(
    page, agent, manager, busy_queue, rich_case, who, url
):
    from complaints.models import ClosureDay

    ClosureDay.objects.create(
        date=timezone.localdate() + dt.timedelta(days=40), reason="Office move"
    )
    sign_in(page, who)
    target = {
        "queue": "/staff/",
        "case": f"/staff/complaints/{rich_case.reference}/",
        "escalations": "/staff/escalations/",
        "reports": "/staff/reports/",
        "closure-days": "/staff/closure-days/",
    }[url]
    page.goto(target)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"staff-{who}-{url}.png"), full_page=True)
    _open_every_form(page)
    assert serious_violations(page) == []


def test_a_case_page_with_form_errors_has_no_serious_accessibility_failures(
    page, manager, rich_case
):
    sign_in(page, "manager")
    page.goto(f"/staff/complaints/{rich_case.reference}/")
    resolve = page.locator("#action-resolve")
    expect(resolve).to_have_attribute("open", "")  # replied: resolving is the likely next step
    resolve.get_by_role("button", name="Resolve the case").click()
    expect(page.get_by_text("There is a problem")).to_be_visible()
    expect(page.locator("#error-summary")).to_be_focused()
    expect(page.locator("#action-resolve")).to_have_attribute("open", "")
    assert serious_violations(page) == []


def test_the_idle_warning_has_no_serious_accessibility_failures(page, agent, settings):
    settings.STAFF_IDLE_TIMEOUT_SECONDS = 120
    page.clock.install()
    sign_in(page, "agent")
    page.clock.fast_forward(61_000)
    expect(page.get_by_role("alertdialog")).to_be_visible()
    assert serious_violations(page) == []


def test_the_queues_filters_and_buttons_show_the_portals_strong_focus(page, agent):
    sign_in(page, "agent")
    for name, control in [
        ("search box", page.locator("#id_q")),
        ("select", page.locator("#id_state")),
        ("checkbox", page.get_by_label("Overdue only")),
        ("button", page.get_by_role("button", name="Search and filter")),
    ]:
        assert_portal_focus(focus_by_keyboard(page, control), name)


def test_the_escalations_page_fits_a_phone_without_scrolling_sideways(page, manager, complaint_in):
    complaint_in(State.CS_MANAGER)  # a row with its "Assign ... to" form and hidden label
    page.set_viewport_size({"width": 375, "height": 800})
    sign_in(page, "manager")
    page.goto(page.url.split("/staff/")[0] + "/staff/escalations/")
    expect(page.locator("table.queue-table tbody tr")).to_have_count(1)
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    # The table scrolls inside its own box instead; the reference stays whole on one line.
    reference = page.locator("table.queue-table tbody").get_by_role("link", name=re.compile("CMP-"))
    assert reference.evaluate("a => a.getClientRects().length") == 1


def test_letters_to_post_fit_a_small_laptop_with_a_long_place_name(page, manager, file_complaint):
    """At 1,024 px, a long word in the address wraps in its own cell: the table does not scroll
    sideways, and neither the reference nor the letter's link breaks mid-word."""
    place = "Llanfairpwllgwyngyllgogerychwyrndrobwllllantysiliogogogoch"
    file_complaint(postal_address=f"Tŷ Gwyn\n{place}\nLL61 5UJ")
    page.set_viewport_size({"width": 1024, "height": 800})
    sign_in(page, "manager")
    page.goto(page.url.split("/staff/")[0] + "/staff/letters/to-post/")
    table = page.locator("table")
    expect(table.locator("tbody tr")).to_have_count(1)
    widths = table.evaluate("t => [t.scrollWidth, t.parentElement.clientWidth]")
    assert widths[0] <= widths[1], widths
    for name in ("CMP-", "Acknowledgement (PDF)"):
        link = table.get_by_role("link", name=re.compile(re.escape(name)))
        box = link.evaluate("a => a.getClientRects().length")
        assert box == 1, f"{name} wraps onto {box} lines"


def test_a_long_case_header_leaves_assigned_to_and_claim_aligned(page, manager, complaint_in):
    """A header too wide for the assignment beside it puts it below, still at the right edge,
    with "Claim this case" under "Assigned to", not indented from it."""
    complaint = complaint_in(State.CS_MANAGER)
    services.complaint_add_message(
        complaint=complaint, by=Actor.customer(), text="Any news on my refund?"
    )
    page.set_viewport_size({"width": 1280, "height": 900})
    sign_in(page, "manager")
    page.goto(page.url.split("/staff/")[0] + f"/staff/complaints/{complaint.reference}/")
    header = page.locator(".case-header").bounding_box()
    assigned = page.locator(".assignment p").first.bounding_box()
    claim = page.get_by_role("button", name="Claim this case").bounding_box()
    assert assigned["y"] > header["y"] + 60, "the assignment wrapped below the header's text"
    right = header["x"] + header["width"]
    assert abs(assigned["x"] + assigned["width"] - right) < 2
    assert abs(claim["x"] + claim["width"] - right) < 2
