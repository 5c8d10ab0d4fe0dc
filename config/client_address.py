"""The address a request came from, behind the production proxy, for the rate limits and the
staff sign-in lockouts (``RATELIMIT_IP_META_KEY`` names ``from_proxy`` when the operator sets it).

django-ratelimit, given a header's name instead, answers 500 to any request without that header:
a customer's tracking page, their complaint's pages, a sign-in, all refused with an error page
because one request came in some other way than through the proxy (a check run on the host, a
proxy rule that forgot the header). Here such a request counts against its own connection's
address, as it would with no proxy at all."""

from __future__ import annotations

import ipaddress

from django.conf import settings
from django.http import HttpRequest


def from_proxy(request: HttpRequest) -> str:
    """The address the proxy wrote in ``CLIENT_ADDRESS_HEADER``, or the connection's own
    (``REMOTE_ADDR``) when the header is missing or names no address. The proxy overwrites the
    header; were it one that appends, the last address is the one it saw, and any before it are
    the client's own words, so the last is taken."""
    forwarded = request.META.get(settings.CLIENT_ADDRESS_HEADER, "")
    address = forwarded.rsplit(",", 1)[-1].strip()
    try:
        ipaddress.ip_address(address)
    except ValueError:
        return request.META.get("REMOTE_ADDR", "")
    return address
