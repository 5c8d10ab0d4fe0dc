"""Every staff page checks the role: anonymous visitors sign in first, people without a
complaints role get 403, agents get 403 on the managers' pages, and a wrong method gets 405."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from complaints.models import ClosureDay

pytestmark = pytest.mark.django_db

STAFF, MANAGERS = "staff", "managers"


@pytest.fixture
def urls(file_complaint, tomorrow_closure):
    complaint = file_complaint(
        attachments=[SimpleUploadedFile("receipt.txt", b"paid twice", content_type="text/plain")]
    ).complaint
    ref = complaint.reference
    return {
        "queue": ("/staff/", "GET", STAFF),
        "case": (f"/staff/complaints/{ref}/", "GET", STAFF),
        "case_action": (f"/staff/complaints/{ref}/actions/", "POST", STAFF),
        "attachment": (
            f"/staff/complaints/{ref}/files/{complaint.attachments.get().pk}/",
            "GET",
            STAFF,
        ),
        "letter": (f"/staff/letters/{complaint.letters.get().pk}.pdf", "GET", STAFF),
        "keepalive": ("/staff/session/keepalive/", "POST", STAFF),
        "escalations": ("/staff/escalations/", "GET", MANAGERS),
        "reports": ("/staff/reports/", "GET", MANAGERS),
        "cases_csv": ("/staff/reports/cases.csv", "GET", MANAGERS),
        "figures_csv": ("/staff/reports/figures.csv", "GET", MANAGERS),
        "closure_days": ("/staff/closure-days/", "GET", MANAGERS),
        "closure_day_delete": (
            f"/staff/closure-days/{tomorrow_closure.pk}/delete/",
            "POST",
            MANAGERS,
        ),
    }


@pytest.fixture
def tomorrow_closure(db):
    import datetime as dt

    from django.utils import timezone

    from complaints import clocks

    day = clocks.london_date(timezone.now()) + dt.timedelta(days=30)
    return ClosureDay.objects.create(date=day, reason="Office move")


VIEWS = [
    "queue",
    "case",
    "case_action",
    "attachment",
    "letter",
    "keepalive",
    "escalations",
    "reports",
    "cases_csv",
    "figures_csv",
    "closure_days",
    "closure_day_delete",
]


def _call(client, method: str, url: str):
    return client.get(url) if method == "GET" else client.post(url, {})


@pytest.mark.parametrize("view", VIEWS)
def test_anonymous_visitors_are_sent_to_sign_in(client, urls, view):
    url, method, _ = urls[view]
    response = _call(client, method, url)
    assert response.status_code == 302
    assert response["Location"].startswith("/staff/login/?next=")


@pytest.mark.parametrize("view", VIEWS)
def test_staff_without_a_complaints_role_get_403(client, outsider, urls, view):
    url, method, _ = urls[view]
    client.force_login(outsider)
    response = _call(client, method, url)
    assert response.status_code == 403
    assert "not available to you" in response.content.decode()


@pytest.mark.parametrize(
    "view",
    [
        v
        for v in VIEWS
        if v
        in (
            "escalations",
            "reports",
            "cases_csv",
            "figures_csv",
            "closure_days",
            "closure_day_delete",
        )
    ],
)
def test_agents_get_403_on_the_managers_pages(client, agent, urls, view):
    url, method, _ = urls[view]
    client.force_login(agent)
    response = _call(client, method, url)
    assert response.status_code == 403
    assert "Customer Services Managers" in response.content.decode()


@pytest.mark.parametrize("view", VIEWS)
def test_the_wrong_method_gets_405(client, manager, urls, view):
    url, method, _ = urls[view]
    client.force_login(manager)
    response = client.post(url, {}) if method == "GET" else client.get(url)
    if view == "closure_days":  # takes GET and POST
        response = client.put(url)
    assert response.status_code == 405


@pytest.mark.parametrize(
    "view",
    [
        v
        for v in VIEWS
        if v
        in (
            "queue",
            "case",
            "attachment",
            "letter",
            "escalations",
            "reports",
            "cases_csv",
            "figures_csv",
            "closure_days",
        )
    ],
)
def test_the_right_role_gets_the_page(client, manager, urls, view):
    url, _, _ = urls[view]
    client.force_login(manager)
    assert client.get(url).status_code == 200


@pytest.mark.parametrize("view", ["queue", "case", "attachment", "letter"])
def test_agents_get_the_staff_pages(client, agent, urls, view):
    url, _, _ = urls[view]
    client.force_login(agent)
    assert client.get(url).status_code == 200


def test_administrators_are_managers(client, administrator, urls):
    client.force_login(administrator)
    assert client.get(urls["reports"][0]).status_code == 200


def test_an_unknown_case_is_404(client, agent):
    client.force_login(agent)
    assert client.get("/staff/complaints/CMP-2020-999999/").status_code == 404
