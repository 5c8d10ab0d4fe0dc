"""Public pages and the staff landing page."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from . import clocks


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "complaints/home.html",
        {
            "response_working_days": settings.RESPONSE_WORKING_DAYS,
            "adr_policy_8_weeks": settings.ADR_CLOCK == "8-weeks",
            "ofcom_days": clocks.OFCOM_ADR_DAYS,
        },
    )


def rate_limited(request: HttpRequest, exception: Exception) -> HttpResponse:
    """django-ratelimit's answer when a limit is hit: a friendly page, status 429."""
    response = render(request, "429.html", status=429)
    response["Retry-After"] = "60"
    return response
