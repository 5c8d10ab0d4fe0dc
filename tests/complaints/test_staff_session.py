"""Staff sign-in: lockout after repeated failures, the idle timeout and its keep-alive, sign-out."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.utils import timezone
from rest_framework.test import APIClient

from complaints.api_auth import api_token_issue
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def sign_in(client, username="agent", password=PASSWORD):
    return client.post("/staff/login/", {"username": username, "password": password})


def test_staff_sign_in_and_land_on_the_queue(client, agent):
    response = sign_in(client)
    assert response.status_code == 302
    assert response["Location"] == "/staff/"
    assert client.get("/staff/").status_code == 200


def test_after_five_failures_the_right_password_is_refused_with_the_lockout_page(client, agent):
    for _ in range(4):
        response = sign_in(client, password="wrong")
        assert response.status_code == 200
        assert "Please enter a correct username and password" in response.content.decode()
    assert sign_in(client, password="wrong").status_code == 429  # the fifth failure locks
    response = sign_in(client)
    assert response.status_code == 429
    html = response.content.decode()
    assert "Sign-in locked for now" in html
    assert "15 minutes" in html
    assert "_auth_user_id" not in client.session
    assert client.get("/staff/").status_code == 302


def test_one_persons_failures_do_not_lock_out_colleagues_at_the_same_address(
    client, agent, manager, one_rate_window
):
    """An office, or the proxy in front of the portal, gives every member of staff one address:
    an agent who forgot their password must not lock the manager out."""
    for _ in range(5):
        sign_in(client, password="wrong")
    assert sign_in(client).status_code == 429  # the agent's account is locked
    response = sign_in(client, username="manager")
    assert response.status_code == 302 and response["Location"] == "/staff/"
    assert client.get("/staff/escalations/").status_code == 200


def test_an_address_trying_many_names_is_locked_out_whatever_name_it_tries_next(
    client, agent, settings, one_rate_window
):
    settings.STAFF_SIGN_IN_ADDRESS_FAILURES = 6
    for name in ("alice", "bob", "carol", "dave", "erin", "frank"):
        assert sign_in(client, username=name, password="guess").status_code == 200
    response = sign_in(client)  # the right password for a real account, from that address
    assert response.status_code == 429
    html = response.content.decode()
    assert "too many failed attempts to sign in from your network" in html
    assert "Try again in 15 minutes." in html
    assert "_auth_user_id" not in client.session
    # The admin's sign-in page is the same way in.
    response = client.post("/admin/login/", {"username": "agent", "password": PASSWORD})
    assert response.status_code == 429
    # Another address is not affected.
    response = client.post(
        "/staff/login/",
        {"username": "agent", "password": PASSWORD},
        REMOTE_ADDR="192.0.2.10",
    )
    assert response.status_code == 302


def test_behind_a_proxy_addresses_come_from_the_header_it_sets(
    client, agent, settings, one_rate_window
):
    behind_proxy(settings)
    settings.STAFF_SIGN_IN_ADDRESS_FAILURES = 3
    for name in ("alice", "bob", "carol"):
        client.post(
            "/staff/login/",
            {"username": name, "password": "guess"},
            HTTP_X_FORWARDED_FOR="203.0.113.7",
        )
    from axes.models import AccessAttempt

    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {"203.0.113.7"}
    blocked = client.post(
        "/staff/login/",
        {"username": "agent", "password": PASSWORD},
        HTTP_X_FORWARDED_FOR="203.0.113.7",
    )
    assert blocked.status_code == 429
    colleague = client.post(
        "/staff/login/",
        {"username": "agent", "password": PASSWORD},
        HTTP_X_FORWARDED_FOR="198.51.100.4",
    )
    assert colleague.status_code == 302


def behind_proxy(settings) -> None:
    """As production's settings are with ``RATELIMIT_IP_META_KEY=HTTP_X_FORWARDED_FOR`` set."""
    settings.CLIENT_ADDRESS_HEADER = "HTTP_X_FORWARDED_FOR"
    settings.RATELIMIT_IP_META_KEY = "config.client_address.from_proxy"


def test_behind_a_proxy_a_request_without_its_header_counts_by_its_own_address(
    client, agent, settings, one_rate_window
):
    """A request that did not come through the proxy (a check run on the host, say) is answered
    as any other, never with an error page, and counted against the address it came from."""
    behind_proxy(settings)
    refused = client.post("/staff/login/", {"username": "agent", "password": "guess"})
    assert refused.status_code == 200
    assert "Please enter a correct username and password" in refused.content.decode()
    from axes.models import AccessAttempt

    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {"127.0.0.1"}
    assert client.get("/track/CMP-2026-000001/no-such-secret/").status_code == 404
    signed_in = client.post("/staff/login/", {"username": "agent", "password": PASSWORD})
    assert signed_in.status_code == 302


def test_sign_out_ends_the_session(client, agent):
    sign_in(client)
    response = client.post("/staff/logout/")
    assert response.status_code == 302
    assert client.get("/staff/").status_code == 302


@pytest.fixture
def short_timeout(settings):
    settings.STAFF_IDLE_TIMEOUT_SECONDS = 600
    return 600


def test_the_server_signs_out_after_the_idle_timeout_and_says_why(client, agent, short_timeout):
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        sign_in(client)
        assert client.get("/staff/").status_code == 200
    with time_machine.travel(start + dt.timedelta(seconds=short_timeout + 5), tick=False):
        response = client.get("/staff/?assigned=me")
        assert response.status_code == 302
        assert response["Location"] == "/staff/login/?next=/staff/%3Fassigned%3Dme"
        login = client.get(response["Location"])
        assert "You were signed out because you had not used the portal for 10 minutes." in (
            login.content.decode()
        )
        assert client.get("/staff/").status_code == 302


def test_any_request_before_the_timeout_keeps_the_session(client, agent, short_timeout):
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        sign_in(client)
    with time_machine.travel(start + dt.timedelta(seconds=short_timeout - 30), tick=False):
        response = client.post("/staff/session/keepalive/")
        assert response.status_code == 204
    with time_machine.travel(start + dt.timedelta(seconds=short_timeout + 200), tick=False):
        assert client.get("/staff/").status_code == 200


def test_the_keepalive_after_the_timeout_does_not_revive_the_session(client, agent, short_timeout):
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        sign_in(client)
    with time_machine.travel(start + dt.timedelta(seconds=short_timeout + 1), tick=False):
        response = client.post("/staff/session/keepalive/")
        assert response.status_code == 302
        assert response["Location"] == "/staff/login/"
        assert client.get("/staff/").status_code == 302


def test_the_pages_keepalive_after_the_timeout_is_told_401_and_the_sign_in_page_says_why(
    client, agent, short_timeout
):
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        sign_in(client)
    with time_machine.travel(start + dt.timedelta(seconds=short_timeout + 1), tick=False):
        response = client.post("/staff/session/keepalive/", headers={"X-Requested-With": "fetch"})
        assert response.status_code == 401
        page = client.get("/staff/", follow=True).content.decode()
        assert "You were signed out because you had not used the portal" in page


def test_the_session_cookie_does_not_outlive_the_timeout_by_more_than_an_hour(
    client, agent, short_timeout
):
    sign_in(client)
    client.get("/staff/")
    assert client.session.get_expiry_age() == short_timeout + 3600


def test_staff_pages_carry_the_timeout_for_the_warning(client, agent, short_timeout):
    sign_in(client)
    html = client.get("/staff/").content.decode()
    assert 'id="idle-warning"' in html
    assert 'data-timeout="600"' in html
    assert "You will be signed out in 1 minute" in html
    assert "Stay signed in" in html
    assert "/static/js/staff.js" in html
    assert "<script>" not in html  # no inline scripts: the Content Security Policy forbids them


def test_public_pages_and_api_clients_are_not_affected(client, short_timeout):
    start = timezone.now()
    with time_machine.travel(start + dt.timedelta(days=1), tick=False):
        assert client.get("/").status_code == 200


def test_pages_with_customers_data_are_never_kept_in_the_browsers_cache(
    client, manager, file_complaint
):
    """Signed out (or timed out), the Back button must not bring a case back from the cache."""
    complaint = file_complaint().complaint
    client.force_login(manager)
    for url in (
        "/staff/",
        f"/staff/complaints/{complaint.reference}/",
        "/staff/escalations/",
        "/staff/reports/",
    ):
        response = client.get(url)
        assert response.status_code == 200, url
        assert "no-store" in response["Cache-Control"] and "private" in response["Cache-Control"]
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {api_token_issue(user=manager)}")
    for url in ("/api/v1/complaints/", f"/api/v1/complaints/{complaint.reference}/"):
        response = api.get(url)
        assert response.status_code == 200, url
        assert "no-store" in response["Cache-Control"] and "private" in response["Cache-Control"]
