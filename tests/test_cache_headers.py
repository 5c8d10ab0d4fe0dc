"""Responses no cache may keep (config/cache_headers.py): Django's never-cache headers, written
directly for a response that has none yet."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.http import HttpResponse
from django.test import RequestFactory
from django.utils import cache

from config import cache_headers
from config.cache_headers import add_never_cache_headers, never_cache
from tests.api.test_api import api

NOON = dt.datetime(2026, 12, 7, 12, 0, 0, 400000, tzinfo=dt.UTC)


def both(prepare=lambda response: None) -> tuple[dict, dict]:
    """The headers of a response given ours and of one given Django's, prepared alike."""
    ours, djangos = HttpResponse("page"), HttpResponse("page")
    prepare(ours)
    prepare(djangos)
    add_never_cache_headers(ours)
    cache.add_never_cache_headers(djangos)
    return dict(ours.headers), dict(djangos.headers)


@time_machine.travel(NOON, tick=False)
def test_a_response_without_cache_headers_gets_exactly_djangos():
    ours, djangos = both()
    assert ours == djangos
    assert ours["Cache-Control"] == "max-age=0, no-cache, no-store, must-revalidate, private"
    assert ours["Expires"] == "Mon, 07 Dec 2026 12:00:00 GMT"


@pytest.mark.parametrize(
    "header, value",
    [
        ("Cache-Control", "public, max-age=3600"),
        ("Cache-Control", "private, no-store"),
        ("Expires", "Thu, 01 Jan 1970 00:00:00 GMT"),
    ],
)
@time_machine.travel(NOON, tick=False)
def test_a_response_with_its_own_cache_headers_is_merged_as_django_merges_them(header, value):
    ours, djangos = both(lambda response: response.headers.__setitem__(header, value))
    assert ours == djangos
    assert "no-store" in ours["Cache-Control"] and "public" not in ours["Cache-Control"]


def test_the_date_is_the_current_second_each_second():
    with time_machine.travel(NOON, tick=False) as clock:
        first = cache_headers.http_date_now()
        clock.shift(0.5)
        assert cache_headers.http_date_now() == first == "Mon, 07 Dec 2026 12:00:00 GMT"
        clock.shift(0.2)
        assert cache_headers.http_date_now() == "Mon, 07 Dec 2026 12:00:01 GMT"
        clock.shift(3600)
        assert cache_headers.http_date_now() == "Mon, 07 Dec 2026 13:00:01 GMT"


@time_machine.travel(NOON, tick=False)
def test_the_decorator_gives_a_view_djangos_headers():
    @never_cache
    def page(request):
        return HttpResponse("a customer's answers")

    response = page(RequestFactory().get("/"))
    reference = HttpResponse("a customer's answers")
    cache.add_never_cache_headers(reference)
    assert dict(response.headers) == dict(reference.headers)
    assert page.__name__ == "page"


@pytest.mark.django_db
def test_the_customers_pages_and_the_api_are_never_cached(client, agent):
    for url in ("/complain/about-you/", "/healthz"):
        response = client.get(url)
        assert response["Cache-Control"] == cache_headers.NEVER_CACHE_CONTROL, url
        assert response["Expires"]
    client.force_login(agent)
    staff_page = client.get("/staff/")
    api_answer = api(agent).get("/api/v1/complaints/")
    for response in (staff_page, api_answer):
        assert response.status_code == 200
        assert response["Cache-Control"] == cache_headers.NEVER_CACHE_CONTROL
