"""Lost my link, at /track/lost/: the same answer whatever is typed; a new link only on a match."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from django.core.signals import request_finished
from django.db import close_old_connections, connection
from django.test.utils import CaptureQueriesContext

from complaints import outbox, views
from complaints.models import OutboundEmail

pytestmark = pytest.mark.django_db

LOST = "/track/lost/"
SAME_ANSWER = "If those details match a complaint, we have e-mailed a new link to that address."


def ask(client, reference: str, email: str):
    return client.post(LOST, {"reference": reference, "email": email}, follow=True)


def test_the_form_asks_for_the_reference_and_email(client):
    page = client.get(LOST).content.decode()
    assert "Get a new link to your complaint" in page
    assert 'name="reference"' in page and 'name="email"' in page
    assert "novalidate" in page and "csrfmiddlewaretoken" in page


def test_the_answer_is_the_same_whether_or_not_the_details_match(client, file_complaint):
    complaint = file_complaint().complaint
    answers = [
        ask(client, complaint.reference, complaint.email),
        ask(client, complaint.reference, "someone.else@example.com"),
        ask(client, "CMP-2000-999999", complaint.email),
    ]
    pages = [r.content.decode() for r in answers]
    assert all(SAME_ANSWER in page for page in pages)
    assert pages[0] == pages[1] == pages[2]
    assert all(r.redirect_chain == [("/track/lost/sent/", 302)] for r in answers)


def test_a_new_link_is_emailed_only_on_a_match_and_the_old_link_stops_working(
    client, file_complaint
):
    filed = file_complaint()
    complaint = filed.complaint
    old = f"/track/{complaint.reference}/{filed.tracking_secret}/"
    outbox.email_deliver_due()
    mail.outbox.clear()

    ask(client, complaint.reference, "someone.else@example.com")
    ask(client, "CMP-2000-999999", complaint.email)
    assert not OutboundEmail.objects.filter(template="new_link").exists()
    assert client.get(old).status_code == 200

    # Typed as people do: lower case, spaces, a capitalised address.
    ask(client, f" {complaint.reference.lower()} ", "Jane@Example.com")
    assert outbox.email_deliver_due() == 1
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["jane@example.com"]
    new = re.search(rf"/track/{complaint.reference}/[\w-]+/", message.body).group(0)
    assert new != old
    assert client.get(old).status_code == 404
    assert client.get(new).status_code == 200


def sent(response) -> None:
    """What the server does once the answer has gone: close it (as the test client does, keeping
    the test's database connection open)."""
    request_finished.disconnect(close_old_connections)
    try:
        response.close()
    finally:
        request_finished.connect(close_old_connections)


@pytest.mark.parametrize("matches", [True, False], ids=["match", "mismatch"])
def test_the_answer_goes_before_the_details_are_looked_up(rf, file_complaint, matches):
    """A match writes a new secret, an event and an e-mail; a mismatch nothing. Done before the
    answer, the difference in time would tell whether someone with that address complained."""
    complaint = file_complaint().complaint
    email = complaint.email if matches else "someone.else@example.com"
    request = rf.post(LOST, {"reference": complaint.reference, "email": email})
    with CaptureQueriesContext(connection) as queries:
        response = views.lost_link(request)
    assert response.status_code == 302 and response["Location"] == "/track/lost/sent/"
    # The same work, match or not: one indexed read of the reference, nothing written.
    assert [q["sql"].split()[0] for q in queries.captured_queries] == ["SELECT"]
    assert not OutboundEmail.objects.filter(template="new_link").exists()
    sent(response)
    assert OutboundEmail.objects.filter(template="new_link").count() == (1 if matches else 0)


def test_a_failure_after_the_answer_is_logged_without_the_details(rf, monkeypatch, caplog):
    def broken(**kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(views.services, "complaint_send_new_link", broken)
    request = rf.post(LOST, {"reference": "CMP-2026-000001", "email": "jane@example.com"})
    response = views.lost_link(request)
    sent(response)
    assert response.status_code == 302
    assert "Lost my link: the request could not be acted on" in caplog.text
    assert "jane@example.com" not in caplog.messages[-1]


@pytest.mark.parametrize(
    "typed",
    [
        "{year} {number}",  # the digits alone, with a space
        "CMP {year} {number}",
        "cmp {year} {number}",
        "CMP{year}{number}",
        "cmp{year}{number}",
        "CMP – {year} – {number}",  # dashes, as some e-mail programs turn hyphens into
        "CMP-{year}-{short}",  # the number's leading zeros left off
    ],
)
def test_a_reference_typed_with_spaces_or_no_separators_still_gets_a_new_link(
    client, file_complaint, typed
):
    complaint = file_complaint().complaint
    outbox.email_deliver_due()
    mail.outbox.clear()
    _, year, number = complaint.reference.split("-")
    typed = typed.format(year=year, number=number, short=int(number))
    response = ask(client, typed, complaint.email)
    assert SAME_ANSWER in response.content.decode()
    assert outbox.email_deliver_due() == 1
    assert f"/track/{complaint.reference}/" in mail.outbox[0].body


@pytest.mark.parametrize("typed", ["CMP-1", "CMP-000009", "my complaint about billing", "2026"])
def test_what_cannot_be_a_reference_is_an_error_that_shows_one(client, file_complaint, typed):
    complaint = file_complaint().complaint
    response = client.post(LOST, {"reference": typed, "email": complaint.email})
    page = response.content.decode()
    assert response.status_code == 200
    assert "<title>Error: Get a new link" in page
    assert (
        '<a href="#id_reference">Enter your complaint reference as it is in our e-mails and '
        "letters, like CMP-2026-000123</a>"
    ) in page
    assert not OutboundEmail.objects.filter(template="new_link").exists()


def test_empty_or_malformed_details_are_errors_with_the_typing_kept(client):
    response = client.post(LOST, {"reference": "CMP-1", "email": "not an email"})
    page = response.content.decode()
    assert response.status_code == 200
    assert "<title>Error: Get a new link" in page
    assert '<a href="#id_email">Enter an e-mail address in the correct format' in page
    assert 'value="CMP-1"' in page and 'value="not an email"' in page
    page = client.post(LOST, {}).content.decode()
    assert '<a href="#id_reference">Enter your complaint reference</a>' in page


def test_lost_link_is_rate_limited_to_five_an_hour(client, one_rate_window):
    details = {"reference": "CMP-2000-1", "email": "a@example.com"}
    for _ in range(5):
        assert client.post(LOST, details).status_code == 302
    response = client.post(LOST, details)
    assert response.status_code == 429
    assert "Please wait a moment" in response.content.decode()


def test_the_new_link_e_mail_says_the_old_link_is_gone_and_what_to_do_if_not_asked(
    client, file_complaint
):
    complaint = file_complaint().complaint
    outbox.email_deliver_due()
    mail.outbox.clear()
    ask(client, complaint.reference, complaint.email)
    outbox.email_deliver_due()
    message = mail.outbox[0]
    html = message.alternatives[0][0]
    for text in (" ".join(message.body.split()), " ".join(html.split())):
        # The old link stopped working when this was sent: ignoring it would leave no link at all.
        assert "ignore this e-mail" not in text
        assert "Your old link has stopped working: please use this one from now on." in text
        assert "If you did not ask for a new link" in text
        assert "Please use this link, and tell us on 0800 849 3366 or at" in text
        assert "support@expresstelephony.co.uk" in text


def test_with_the_database_away_the_visitor_is_told_rather_than_sent_on(monkeypatch):
    """The lookup comes before the answer: an outage is the page that says so, not "we have
    sent you a link" for a request that went nowhere."""
    from django.db.utils import OperationalError
    from django.test import Client

    def down(**kwargs):
        raise OperationalError("connection refused")

    monkeypatch.setattr(views.services, "complaint_for_new_link", down)
    response = Client(raise_request_exception=False).post(
        LOST, {"reference": "CMP-2026-000001", "email": "jane@example.com"}
    )
    assert response.status_code == 503
    assert "Sorry, the service is unavailable" in response.content.decode()
