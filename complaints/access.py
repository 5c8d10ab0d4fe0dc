"""Role checks for staff views: a logged-in user without the right role gets 403, never a page.

Anonymous visitors are sent to the sign-in page. Views that act on one case fetch it through
``get_case``, so the role check and the lookup live in one place.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.shortcuts import get_object_or_404, render

from config.cache_headers import never_cache

from .models import Complaint
from .roles import Actor, Role, staff_role


def role_required(*roles: Role) -> Callable:
    def decorator(view: Callable) -> Callable:
        # Staff pages show customers' personal data: never kept in the browser's cache, where the
        # Back button (or the next person at a shared desk) would find them after signing out.
        @never_cache
        @login_required
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            role = staff_role(request.user)
            if role not in roles:
                return forbidden(request)
            request.portal_role = role
            return view(request, *args, **kwargs)

        return wrapped

    return decorator


def forbidden(request: HttpRequest):
    """A plain 403 page that says why, with the way back to the pages this user may see."""
    return render(
        request,
        "complaints/staff/forbidden.html",
        {"role": staff_role(request.user)},
        status=403,
    )


staff_required = role_required(Role.AGENT, Role.MANAGER)
manager_required = role_required(Role.MANAGER)


def actor(request: HttpRequest) -> Actor:
    """The member of staff making this request, as the services expect them."""
    return Actor.staff(request.user)


def get_case(request: HttpRequest, reference: str) -> Complaint:
    """The case at ``reference`` for a member of staff (the role is checked by the decorator;
    every agent and manager may see every case)."""
    if staff_role(request.user) not in (Role.AGENT, Role.MANAGER):  # defence in depth
        raise PermissionDenied("Your account does not have access to complaints.")
    return get_object_or_404(
        Complaint.objects.select_related("assigned_to"), reference=reference.upper()
    )
