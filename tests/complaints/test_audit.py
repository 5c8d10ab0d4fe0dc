"""Staff reads are logged: an auditor can ask who looked at whose complaint, and how."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from complaints.api_auth import api_token_issue
from complaints.models import CaseView

pytestmark = pytest.mark.django_db


def test_opening_the_case_page_and_its_letter_is_logged(client, agent, file_complaint):
    complaint = file_complaint().complaint
    client.force_login(agent)
    assert client.get(f"/staff/complaints/{complaint.reference}/").status_code == 200
    letter = complaint.letters.get()
    assert client.get(f"/staff/letters/{letter.pk}.pdf").status_code == 200
    views = list(CaseView.objects.filter(complaint=complaint).order_by("id"))
    assert [(v.viewer, v.via) for v in views] == [(agent, "page"), (agent, "letter")]


def test_reading_a_complaint_through_the_api_is_logged(manager, file_complaint):
    complaint = file_complaint().complaint
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {api_token_issue(user=manager)}")
    client.get(f"/api/v1/complaints/{complaint.reference}/")
    client.get(f"/api/v1/complaints/{complaint.reference}/events/")
    assert list(CaseView.objects.values_list("viewer__username", "via")) == [
        ("manager", "api"),
        ("manager", "api"),
    ]


def test_each_complaint_on_a_page_of_the_api_list_is_logged_as_read(manager, file_complaint):
    """A page of the list carries each complaint's name, contact details and text, as reading
    them one at a time does."""
    first, second, third = (file_complaint().complaint for _ in range(3))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {api_token_issue(user=manager)}")
    body = client.get("/api/v1/complaints/", {"page_size": 2, "ordering": "received_at"}).json()
    assert [row["email"] for row in body["results"]] == ["jane@example.com"] * 2
    read = CaseView.objects.values_list("complaint__reference", "viewer__username", "via")
    assert sorted(read) == [
        (first.reference, "manager", "api"),
        (second.reference, "manager", "api"),
    ]
    client.get(body["next"])
    assert read.filter(complaint=third).count() == 1


def test_a_refused_look_is_not_logged_and_the_customer_is_not_logged(
    client, outsider, file_complaint
):
    filed = file_complaint()
    client.force_login(outsider)
    assert client.get(f"/staff/complaints/{filed.complaint.reference}/").status_code == 403
    client.logout()
    assert (
        client.get(f"/track/{filed.complaint.reference}/{filed.tracking_secret}/").status_code
        == 200
    )
    assert not CaseView.objects.exists()


def test_the_log_of_views_cannot_be_changed(client, agent, file_complaint):
    complaint = file_complaint().complaint
    client.force_login(agent)
    client.get(f"/staff/complaints/{complaint.reference}/")
    view = CaseView.objects.get()
    with pytest.raises(PermissionError):
        view.save()
    with pytest.raises(PermissionError):
        CaseView.objects.all().delete()
    with pytest.raises(PermissionError):
        CaseView.objects.all().update(via="api")
