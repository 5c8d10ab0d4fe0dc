"""Outages and hostile addresses get a clean answer: a 503 page while the database is away, a
request that goes through while the cache (Redis) is away, 404/400 for NUL bytes in the address."""

from __future__ import annotations

import re

import pytest
from django.db.utils import InterfaceError, OperationalError
from django.test import Client

from complaints import views
from complaints.api_auth import api_token_issue
from complaints.models import Complaint
from config.sessions import SessionStore

pytestmark = pytest.mark.django_db


def unreachable_redis(settings) -> None:
    """The cache as configured (CACHE_URL=rediscache://...), pointed where nothing listens."""
    settings.CACHES = {
        "default": {**settings.CACHES["default"], "LOCATION": "redis://127.0.0.1:1/0"}
    }


@pytest.fixture
def browser() -> Client:
    """A visitor's browser: errors come back as pages, as they would through the web server."""
    return Client(raise_request_exception=False)


def _sessions_fail_with(monkeypatch, error: Exception) -> None:
    def load(self):
        raise error

    monkeypatch.setattr(SessionStore, "load", load)


def assert_unavailable_page(response) -> None:
    assert response.status_code == 503
    assert response["Retry-After"] == "60"
    page = response.content.decode()
    assert "Sorry, the service is unavailable" in page
    assert "0800 849 3366" in page  # somewhere to turn: the phone number
    assert "Traceback" not in page and "OperationalError" not in page
    # No inline script: the Content Security Policy forbids it.
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", page)


def test_with_the_database_down_a_page_that_needs_it_is_a_503_with_retry_after(
    browser, monkeypatch
):
    _sessions_fail_with(monkeypatch, OperationalError("connection refused"))
    browser.cookies["sessionid"] = "a" * 32
    assert_unavailable_page(browser.get("/complain/check/"))
    assert_unavailable_page(browser.get("/staff/"))


def test_a_session_that_cannot_be_saved_because_the_database_went_away_is_a_503(
    browser, agent, monkeypatch
):
    from config.sessions import SessionStore

    browser.force_login(agent)

    def lost(self, *args, **kwargs):
        raise OperationalError("terminating connection due to administrator command")

    # Every staff request records the time in the session, saved after the view.
    monkeypatch.setattr(SessionStore, "save", lost)
    assert_unavailable_page(browser.get("/staff/"))


def test_a_session_deleted_by_a_concurrent_sign_out_is_still_a_400(browser, agent, monkeypatch):
    from django.contrib.sessions.models import Session

    from config.sessions import SessionStore

    browser.force_login(agent)
    real_encode = SessionStore.encode

    def signed_out_meanwhile(self, data):
        Session.objects.filter(pk=self.session_key).delete()
        return real_encode(self, data)

    # The row goes between the request's read of the session and its save.
    monkeypatch.setattr(SessionStore, "encode", signed_out_meanwhile)
    assert browser.get("/staff/").status_code == 400


def test_a_connection_lost_mid_request_is_a_503_too(browser, monkeypatch):
    def lost(reference, secret):
        raise InterfaceError("connection already closed")

    monkeypatch.setattr(views, "_complaint_for", lost)
    assert_unavailable_page(browser.get("/track/CMP-2026-000001/secret/"))


def test_an_outage_noticed_while_handling_another_error_is_a_503(browser, monkeypatch):
    def lost(reference, secret):
        try:
            raise OperationalError("server closed the connection unexpectedly")
        except OperationalError as exc:
            raise RuntimeError("could not load the complaint") from exc

    monkeypatch.setattr(views, "_complaint_for", lost)
    assert_unavailable_page(browser.get("/track/CMP-2026-000001/secret/"))


def test_any_other_error_is_still_a_500_and_not_passed_off_as_an_outage(browser, monkeypatch):
    def bug(reference, secret):
        raise RuntimeError("a bug")

    monkeypatch.setattr(views, "_complaint_for", bug)
    response = browser.get("/track/CMP-2026-000001/secret/")
    assert response.status_code == 500
    assert "Retry-After" not in response
    page = response.content.decode()
    assert "Sorry, something went wrong" in page
    assert "it may not have been saved" in page
    assert "0800 849 3366" in page  # somewhere to turn
    assert "a bug" not in page and "Traceback" not in page


def test_a_form_sent_without_its_cookie_gets_a_page_that_says_what_to_do():
    # Cookies blocked, or cleared while the page was open: Django refuses the form (CSRF).
    visitor = Client(enforce_csrf_checks=True)
    response = visitor.post(
        "/complain/about-you/", {"customer_name": "Siân Llŷr", "email": "sian@example.com"}
    )
    assert response.status_code == 403
    page = response.content.decode()
    assert "<title>Your form was not sent – Express Telephony</title>" in page
    assert "nothing on that page has been saved or sent" in page
    assert "Please go back, reload the page and try again." in page
    assert "0800 849 3366" in page
    assert "CSRF" not in page
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", page)


def test_with_the_cache_down_a_customer_can_still_answer_and_send(browser, settings):
    unreachable_redis(settings)
    from tests.complaints.test_public_filing import CHECK, SENT, answer_all, send_token

    answer_all(browser)  # each page posted is counted against the rate limit, in the cache
    response = browser.post(CHECK, {"token": send_token(browser)})
    assert response.status_code == 302 and response.url == SENT
    assert Complaint.objects.count() == 1


def test_with_the_cache_down_the_api_is_not_throttled_into_an_error(settings, agent):
    unreachable_redis(settings)
    token = api_token_issue(user=agent)
    response = Client().get("/api/v1/complaints/", HTTP_AUTHORIZATION=f"Token {token}")
    assert response.status_code == 200


@pytest.mark.parametrize(
    "address",
    ["/track/CMP-2026-000001%00/secret/", "/track/CMP/se%00cret/", "/staff/complaints/CMP%00/"],
)
def test_a_nul_byte_in_the_address_is_not_found(browser, agent, address):
    browser.force_login(agent)
    response = browser.get(address)
    assert response.status_code == 404
    assert "Page not found" in response.content.decode()


@pytest.mark.parametrize("query", ["q=%00", "state=cs_team%00", "page=1&%00=1"])
def test_a_nul_byte_in_the_query_string_is_a_bad_request(browser, agent, query):
    browser.force_login(agent)
    assert browser.get(f"/staff/?{query}").status_code == 400


def test_the_api_answers_nul_bytes_in_its_own_way(agent, file_complaint):
    """The API's contract holds: parameters an operation ignores stay ignored, and a bad filter is
    a 400 in the API's JSON form, not the pages' HTML one."""
    complaint = file_complaint().complaint
    token = api_token_issue(user=agent)
    api = Client(HTTP_AUTHORIZATION=f"Token {token}")
    events = api.get(f"/api/v1/complaints/{complaint.reference}/events/?overdue=%00")
    assert events.status_code == 200
    listed = api.get("/api/v1/complaints/?state=cs_team%00")
    assert listed.status_code == 400
    assert listed["Content-Type"] == "application/json"


def test_staff_get_the_staff_pages_404_without_djangos_own_words(browser, agent):
    browser.force_login(agent)
    for address in ["/staff/letters/999999.pdf", "/staff/no-such-page/"]:
        response = browser.get(address)
        assert response.status_code == 404
        page = response.content.decode()
        assert "Page not found" in page and 'href="/staff/"' in page
        assert "matches the given query" not in page and "Resolver404" not in page
        assert "Get a new link to your complaint" not in page  # the customers' advice
    customers = browser.get("/track/CMP-2026-000001/no-such-secret/").content.decode()
    assert "Get a new link to your complaint" in customers
