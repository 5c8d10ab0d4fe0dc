"""What a visitor gets when a request cannot be answered normally.

- While the database is unreachable (stopped, restarting, failing over) every page that needs it
  answers 503 with a plain page and ``Retry-After``, never a 500: nothing the visitor sent was
  half-saved (each change is one transaction), and the next request after the database is back
  succeeds without restarting anything (``CONN_HEALTH_CHECKS`` drops the dead connection).
- A NUL byte in the address is refused before any view queries with it: PostgreSQL cannot store or
  compare text containing one. Forms refuse NUL bytes themselves, with a message beside the field.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable

from django.conf import settings
from django.core.exceptions import BadRequest
from django.db.utils import InterfaceError, OperationalError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.views import defaults

log = logging.getLogger(__name__)

# The database is away, not the request at fault: a restart takes seconds.
DATABASE_DOWN = (OperationalError, InterfaceError)
RETRY_AFTER_SECONDS = 60
API_PREFIX = "/api/"  # the page says "try again in a minute"
API_NOT_FOUND = "Not found: no complaint, letter or page with that reference."
STAFF_PREFIX = "/staff/"  # the staff pages' own 404, not the customers' advice about their links


class ExplainedNotFound(Http404):
    """A 404 whose message is written for the person who asked (a letter removed with the
    customer's personal data, say): the staff pages' 404 shows it. Django's own messages ("No
    Letter matches the given query") are not shown."""


def _database_down(exc: BaseException | None) -> bool:
    seen = 0
    while exc is not None and seen < 10:  # an error raised while handling the outage counts too
        if isinstance(exc, DATABASE_DOWN):
            return True
        exc, seen = exc.__cause__ or exc.__context__, seen + 1
    return False


def service_unavailable() -> HttpResponse:
    """The 503 page. Rendered without the request: its context processors would ask the database
    who is signed in, and the database is what is missing."""
    body = render_to_string("503.html", {"company": settings.COMPANY})
    response = HttpResponse(body, status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    response["Cache-Control"] = "no-store"
    return response


def server_error(request: HttpRequest) -> HttpResponse:
    """handler500: a 503 page while the database is unreachable, otherwise a 500 page in the
    site's layout with somewhere to turn (rendered without the request, like the 503 page: what
    went wrong may be in what the request would ask)."""
    if _database_down(sys.exc_info()[1]):
        return service_unavailable()
    body = render_to_string("500.html", {"company": settings.COMPANY})
    return HttpResponse(body, status=500)


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """CSRF_FAILURE_VIEW: a form sent without its cookie (blocked cookies, a page left open
    across a sign-in) gets a page in the site's layout that says nothing was saved and what to
    do, not Django's technical one."""
    return render(request, "403_csrf.html", status=403)


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    """handler400: Django reports a session it could not save as "session interrupted" (400),
    whatever the cause; when the cause is the database being away, that is the 503 page too."""
    if _database_down(exception):
        return service_unavailable()
    return defaults.bad_request(request, exception)


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """handler404: under the API, its JSON error for an address that matches none of its routes
    (a reference with an encoded "/" in it, say), as for a reference that names no complaint;
    under /staff/, a page for staff (an old bookmark to a letter since removed, say), with the
    reason where the view gave one; the customers' page elsewhere, with its advice about
    replaced tracking links."""
    if request.path.startswith(API_PREFIX):
        body = {"detail": API_NOT_FOUND, "code": "not_found"}
        return JsonResponse(body, status=404)
    if request.path.startswith(STAFF_PREFIX):
        reason = str(exception) if isinstance(exception, ExplainedNotFound) else ""
        return render(request, "complaints/staff/not_found.html", {"reason": reason}, status=404)
    return defaults.page_not_found(request, exception)


class RefuseNulBytesMiddleware:
    """404 for a path with a NUL byte (nothing is ever named that way), 400 for a page's query
    string with one; both before a view can hand the text to PostgreSQL.

    The API's query strings are left to the API: its filters validate their own parameters and
    answer bad ones in its documented ``{detail, code}`` form, and an operation that reads no
    parameters ignores them, as its schema promises."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if "\x00" in request.path:
            raise Http404("No such page")
        if not request.path.startswith(API_PREFIX) and any(
            "\x00" in key or "\x00" in value for key, value in _pairs(request)
        ):
            raise BadRequest("A NUL byte in the query string")
        return self.get_response(request)


def _pairs(request: HttpRequest):
    for key, values in request.GET.lists():
        for value in values:
            yield key, value
