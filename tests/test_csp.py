"""The Content-Security-Policy header, built once from the settings (config/csp.py): the same
header django-csp itself builds, and its per-response changes still honoured."""

from __future__ import annotations

from csp.decorators import csp_update
from csp.utils import build_policy
from django.http import HttpResponse
from django.test import RequestFactory

from config.csp import CSPMiddleware


def respond(view, path: str = "/somewhere/") -> HttpResponse:
    request = RequestFactory().get(path)
    middleware = CSPMiddleware(view)
    middleware.process_request(request)
    return middleware.process_response(request, view(request))


def test_a_page_gets_the_header_django_csp_builds_from_the_settings(client):
    response = client.get("/")
    assert response["Content-Security-Policy"] == build_policy()
    assert "script-src 'self'" in response["Content-Security-Policy"]


def test_a_changed_setting_is_used_at_once(client, settings):
    settings.CONTENT_SECURITY_POLICY = {"DIRECTIVES": {"default-src": ["'none'"]}}
    assert client.get("/")["Content-Security-Policy"] == "default-src 'none'"


def test_a_view_that_changes_its_policy_or_sets_its_own_header_keeps_it():
    @csp_update({"img-src": ["https://maps.example"]})
    def with_maps(request):
        return HttpResponse("ok")

    def own_header(request):
        response = HttpResponse("file")
        response["Content-Security-Policy"] = "default-src 'none'; sandbox"
        return response

    assert (
        "img-src 'self' data: https://maps.example" in respond(with_maps)["Content-Security-Policy"]
    )
    assert respond(own_header)["Content-Security-Policy"] == "default-src 'none'; sandbox"


def test_a_nonce_asked_for_after_the_header_is_written_is_an_error():
    import pytest
    from csp.exceptions import CSPNonceError

    request = RequestFactory().get("/")
    middleware = CSPMiddleware(lambda r: HttpResponse())
    middleware.process_request(request)
    middleware.process_response(request, HttpResponse())
    with pytest.raises(CSPNonceError):
        str(request.csp_nonce)
