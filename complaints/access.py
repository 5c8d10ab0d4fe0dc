"""Role checks for staff views: a logged-in user without the right role gets 403, never a page."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied

from .roles import Role, staff_role


def role_required(*roles: Role) -> Callable:
    def decorator(view: Callable) -> Callable:
        @login_required
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            role = staff_role(request.user)
            if role not in roles:
                raise PermissionDenied("Your account does not have access to this page.")
            request.portal_role = role
            return view(request, *args, **kwargs)

        return wrapped

    return decorator


staff_required = role_required(Role.AGENT, Role.MANAGER)
