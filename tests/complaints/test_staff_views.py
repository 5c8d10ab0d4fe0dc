"""Staff pages check the role on every request."""

from __future__ import annotations

import hashlib

import pytest

pytestmark = pytest.mark.django_db


def test_staff_download_a_letter_rendered_on_demand_if_the_worker_is_behind(
    client, agent, file_complaint
):
    letter = file_complaint().complaint.letters.get()
    client.force_login(agent)
    response = client.get(f"/staff/letters/{letter.pk}.pdf")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    body = b"".join(response.streaming_content)
    assert body.startswith(b"%PDF")
    letter.refresh_from_db()
    assert hashlib.sha256(body).hexdigest() == letter.sha256


@pytest.mark.parametrize("who", ["anonymous", "outsider"])
def test_letters_are_not_served_to_anyone_else(client, outsider, file_complaint, who):
    letter = file_complaint().complaint.letters.get()
    if who == "outsider":
        client.force_login(outsider)
    response = client.get(f"/staff/letters/{letter.pk}.pdf")
    assert response.status_code == (302 if who == "anonymous" else 403)


def test_an_unknown_letter_is_404(client, manager):
    client.force_login(manager)
    assert client.get("/staff/letters/999999.pdf").status_code == 404


def test_letters_answer_get_only(client, manager, file_complaint):
    letter = file_complaint().complaint.letters.get()
    client.force_login(manager)
    assert client.post(f"/staff/letters/{letter.pk}.pdf").status_code == 405
