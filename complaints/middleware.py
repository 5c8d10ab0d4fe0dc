"""Staff sessions end after ``STAFF_IDLE_TIMEOUT_SECONDS`` without a request.

The browser warns a minute before (static/js/staff.js) and its "Stay signed in" button pings the
keep-alive endpoint, which is a request like any other. The server does not trust the browser to
sign anyone out: this middleware does, whatever the page's script did or did not run.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import SESSION_KEY, logout
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect

LAST_ACTIVITY_KEY = "staff_last_activity"


def idle_timeout_minutes() -> str:
    seconds = settings.STAFF_IDLE_TIMEOUT_SECONDS
    minutes = max(1, round(seconds / 60))
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


class StaffIdleTimeoutMiddleware:
    """Sign out a signed-in user whose previous request was longer ago than the idle timeout.

    Goes after the authentication and messages middleware. Every request of a signed-in user
    writes its time to the session and pushes the session's expiry on, so a browser left open
    overnight holds nothing that still works in the morning."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        timeout = settings.STAFF_IDLE_TIMEOUT_SECONDS
        now = int(time.time())
        if user is not None and user.is_authenticated:
            last = request.session.get(LAST_ACTIVITY_KEY)
            if isinstance(last, int) and now - last > timeout:
                logout(request)
                messages.info(
                    request,
                    f"You were signed out because you had not used the portal for "
                    f"{idle_timeout_minutes()}. Please sign in again.",
                )
                if request.headers.get("X-Requested-With") == "fetch":
                    # The page's keep-alive: it reloads on anything but 204, and the sign-in
                    # page it then reaches shows the message above.
                    return HttpResponse(status=401)
                if request.method == "GET":
                    return redirect_to_login(request.get_full_path())
                # A form posted after the timeout cannot be replayed after signing in again.
                return redirect(settings.LOGIN_URL)
            # For the page's warning (static/js/staff.js), read from the request in templates.
            request.staff_idle_timeout = timeout
        response = self.get_response(request)
        # After the view, so that signing in counts as activity and signing out leaves no trace.
        # Only for a user signed in by this session: an API client authenticated by its token
        # has none, and writing one would add a session row and a cookie to every API call.
        if (
            getattr(request, "user", None) is not None
            and request.user.is_authenticated
            and SESSION_KEY in request.session
        ):
            request.session[LAST_ACTIVITY_KEY] = now
            # The stored session outlives the timeout by an hour only so that this middleware,
            # not a silently empty session, signs the user out and can tell them why.
            request.session.set_expiry(timeout + 3600)
        return response
