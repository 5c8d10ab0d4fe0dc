"""A letter is never sent or shown unless its stored PDF still matches the SHA-256 recorded when it
was rendered: a file changed or damaged on disk since is refused everywhere it would go out."""

from __future__ import annotations

import hashlib

import pytest
from django.test import Client
from rest_framework.test import APIClient

from complaints import documents, outbox
from complaints.models import Letter, OutboundEmail

pytestmark = pytest.mark.django_db


def rendered(filed) -> Letter:
    return documents.letter_render(letter_id=filed.acknowledgement.pk)


def tamper(letter: Letter) -> None:
    """A PDF changed after it was rendered: here, something written after its end."""
    with open(letter.pdf.path, "ab") as pdf:
        pdf.write(b"\n% changed afterwards\n")


def test_an_unchanged_letter_is_served_as_rendered(client, agent, file_complaint):
    filed = file_complaint()
    letter = rendered(filed)
    client.force_login(agent)
    response = client.get(f"/staff/letters/{letter.pk}.pdf")
    body = b"".join(response.streaming_content)
    assert response.status_code == 200
    assert hashlib.sha256(body).hexdigest() == letter.sha256


def test_a_letter_changed_on_disk_is_refused_to_staff_customer_api_export_and_email(
    agent, manager, file_complaint
):
    filed = file_complaint()
    letter = rendered(filed)
    tamper(letter)
    with pytest.raises(documents.LetterAltered, match=f"Letter {letter.pk} of complaint"):
        documents.letter_open(letter)

    staff = Client(raise_request_exception=False)
    staff.force_login(agent)
    assert staff.get(f"/staff/letters/{letter.pk}.pdf").status_code == 500
    customer = Client(raise_request_exception=False)
    track = f"/track/{filed.complaint.reference}/{filed.tracking_secret}/"
    assert customer.get(f"{track}letters/{letter.pk}.pdf").status_code == 500
    api = APIClient(raise_request_exception=False)
    api.force_authenticate(agent)
    url = f"/api/v1/complaints/{filed.complaint.reference}/letters/{letter.pk}/"
    assert api.get(url).status_code == 500
    email = OutboundEmail.objects.get(letter=letter)
    with pytest.raises(documents.LetterAltered):
        outbox.build_message(email)


def test_an_altered_letter_stops_its_email_and_is_logged_as_an_error(file_complaint, caplog):
    filed = file_complaint()
    letter = rendered(filed)
    tamper(letter)
    assert outbox.email_deliver_due() == 0
    email = OutboundEmail.objects.get(letter=letter)
    assert email.sent_at is None and email.attempts == 1
    assert email.last_error.startswith(f"LetterAltered: Letter {letter.pk} of complaint")
    (record,) = [r for r in caplog.records if r.name == "complaints.outbox"]
    assert record.levelname == "ERROR"
