"""What a web filing costs the database, request by request. The flow is nine requests a
complaint and the benchmark's figure that is hardest to reach (bench/README.md): another statement
on any of its pages fails here, with the statements of that page shown."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from complaints import documents
from complaints.models import Complaint, ComplaintEvent, Letter, OutboundEmail

from .test_public_filing import (
    ABOUT,
    ABOUT_ANSWERS,
    CHECK,
    COMPLAINT,
    COMPLAINT_ANSWERS,
    SENT,
    SUPPORT,
    SUPPORT_ANSWERS,
    answer_all,
    send_token,
)

# Statements by request. The first page reads nothing (no session yet); the first answers create
# the session; each later page reads it and each page of answers saves it. The send reads it,
# then reads it again locked (a double click waits there), files the complaint (the closure days
# for its clocks, its reference, the complaint, its event, its acknowledgement letter and e-mail)
# and records the filing in the session, in one transaction. The confirmation
# reads the session and saves it without the tracking secret, which it shows once. The filing
# makes no savepoint of its own inside the send's transaction (complaints/services.py).
EXPECTED = {
    "about": 0,
    "about_post": 1,
    "complaint": 1,
    "complaint_post": 2,
    "support": 1,
    "support_post": 2,
    "check": 1,
    "send": 11,
    "sent": 2,
}


@pytest.mark.django_db(transaction=True)  # in autocommit, as a request is
def test_a_web_filing_costs_the_same_statements_page_by_page(client):
    seen: dict[str, list[str]] = {}

    def request(name, url, data=None, status=302):
        with CaptureQueriesContext(connection) as queries:
            response = client.post(url, data) if data is not None else client.get(url)
        assert response.status_code == status, (name, response.status_code)
        seen[name] = [query["sql"][:120] for query in queries.captured_queries]
        return response.content.decode()

    request("about", ABOUT, status=200)
    request("about_post", ABOUT, ABOUT_ANSWERS)
    request("complaint", COMPLAINT, status=200)
    request("complaint_post", COMPLAINT, COMPLAINT_ANSWERS)
    request("support", SUPPORT, status=200)
    request("support_post", SUPPORT, SUPPORT_ANSWERS)
    page = request("check", CHECK, status=200)
    token = re.search(r'name="token" value="([^"]+)"', page).group(1)
    request("send", CHECK, {"token": token})
    request("sent", SENT, status=200)

    assert Complaint.objects.count() == 1
    counts = {name: len(statements) for name, statements in seen.items()}
    assert counts == EXPECTED, {n: s for n, s in seen.items() if len(s) != EXPECTED[n]}
    assert sum(counts.values()) == 21


@pytest.mark.django_db(transaction=True)  # the send's own transaction, committed or rolled back
def test_a_send_that_fails_while_filing_leaves_nothing_and_keeps_the_answers(client, monkeypatch):
    """Without a savepoint of its own, a failure inside the filing rolls back the send's whole
    transaction: no complaint, no letter, no e-mail, and the draft still there to send again."""
    answer_all(client)
    token = send_token(client)

    def broken(**kwargs):
        raise RuntimeError("the letter could not be written")

    monkeypatch.setattr(documents, "letter_issue", broken)
    client.raise_request_exception = False
    assert client.post(CHECK, {"token": token}).status_code == 500
    assert not Complaint.objects.exists()
    assert not Letter.objects.exists() and not OutboundEmail.objects.exists()
    assert not ComplaintEvent.objects.exists()

    monkeypatch.undo()  # the letter can be written again
    response = client.post(CHECK, {"token": token})
    assert response.status_code == 302 and response.url == SENT
    complaint = Complaint.objects.get()
    assert complaint.reference in client.get(SENT).content.decode()
    assert complaint.letters.count() == 1
