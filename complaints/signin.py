"""Staff sign-in: failed attempts counted by account and by address, apart.

django-axes locks a username after ``AXES_FAILURE_LIMIT`` failures from anywhere. It is not asked
to lock addresses: its limit is one number for both, and colleagues share an address (an office's,
or the proxy's when ``RATELIMIT_IP_META_KEY`` is not set), so one person's five mistyped
passwords would lock every member of staff out. An address is stopped here instead, after
``STAFF_SIGN_IN_ADDRESS_FAILURES`` failures in ``STAFF_SIGN_IN_ADDRESS_MINUTES``, whatever names
it tried: enough for a team's mistakes, few enough to stop someone trying names and passwords.

Both count every way in (the staff sign-in page and the admin's): the address's failures are
counted from Django's ``user_login_failed`` signal, and the backend below, first in
``AUTHENTICATION_BACKENDS``, refuses an address over its limit before any password is checked;
``AddressLockoutMiddleware`` then answers with the lockout page.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.contrib.auth.signals import user_login_failed
from django.core.exceptions import ImproperlyConfigured, PermissionDenied
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django_ratelimit.core import _get_ip, get_usage

GROUP = "staff:sign-in-failures"


def client_ip(request: HttpRequest) -> str | None:
    """The address a request came from, as the rate limits see it (``RATELIMIT_IP_META_KEY``
    behind a proxy), for django-axes' records (``AXES_CLIENT_IP_CALLABLE``); None when the
    request names none (a sign-in made in code, as tests do)."""
    try:
        return _get_ip(request)
    except (KeyError, ValueError, ImproperlyConfigured):
        return None


def _rate() -> str:
    return f"{settings.STAFF_SIGN_IN_ADDRESS_FAILURES}/{settings.STAFF_SIGN_IN_ADDRESS_MINUTES}m"


def _failures(request: HttpRequest, *, increment: bool) -> tuple[int, int]:
    usage = get_usage(request, group=GROUP, key="ip", rate=_rate(), increment=increment)
    if usage is None:  # rate limits switched off
        return 0, 1
    return usage["count"], usage["limit"]


def address_locked(request: HttpRequest) -> bool:
    count, limit = _failures(request, increment=False)
    return count >= limit


@receiver(user_login_failed)
def count_failure_from_address(sender, credentials=None, request=None, **kwargs) -> None:
    if request is not None:
        _failures(request, increment=True)


class AddressLimitBackend:
    """Refuses every sign-in from an address over its limit of failures (before axes' check and
    the password's): the credentials are not tried at all."""

    def authenticate(self, request: HttpRequest | None, **credentials):
        if request is not None and address_locked(request):
            request.staff_address_locked = True
            raise PermissionDenied("Too many failed sign-ins from this address.")
        return None

    # No get_user(): this backend never signs anyone in, so a session never names it (and
    # Django's test client's force_login() picks the first backend that has one).


def lockout_page(request: HttpRequest) -> HttpResponse:
    """The lockout page for an address over its limit (axes renders the same template, without
    ``address``, for a locked username)."""
    minutes = settings.STAFF_SIGN_IN_ADDRESS_MINUTES
    return render(
        request,
        "registration/locked_out.html",
        {"address": True, "cooloff_timedelta": dt.timedelta(minutes=minutes)},
        status=429,
    )


class AddressLockoutMiddleware:
    """Turns a sign-in refused by ``AddressLimitBackend`` into the lockout page (as axes'
    middleware does for a locked username)."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if getattr(request, "staff_address_locked", False):
            return lockout_page(request)
        return response
