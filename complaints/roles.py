"""Who is acting: a customer with a tracking link, a member of staff in a role, or the system.

Roles come from the groups in DESIGN.md. A staff user in neither group (and not a superuser) has no
role and may do nothing to a complaint.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from django.db.models import Q

AGENTS_GROUP = "CS Team"
MANAGERS_GROUP = "CS Managers"


class Role(enum.StrEnum):
    CUSTOMER = "customer"
    AGENT = "agent"
    MANAGER = "manager"
    SYSTEM = "system"


def staff_role(user: Any) -> Role | None:
    """The portal role of a logged-in user, or None for anyone else (customers have no account)."""
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return None
    if user.is_superuser:
        return Role.MANAGER
    # One query per request at most: the names are cached on the user object.
    names = getattr(user, "_portal_group_names", None)
    if names is None:
        names = set(user.groups.values_list("name", flat=True))
        user._portal_group_names = names
    if MANAGERS_GROUP in names:
        return Role.MANAGER
    if AGENTS_GROUP in names:
        return Role.AGENT
    return None


def managers_q() -> Q:
    """The users ``staff_role`` counts as managers, as a query on the user model: active, and
    in the managers' group or superusers."""
    return Q(is_active=True) & (Q(is_superuser=True) | Q(groups__name=MANAGERS_GROUP))


def staff_name(user: Any) -> str:
    """A member of staff as pages, timelines, letters and e-mails name them: their full name, or
    their sign-in name when they have none; "nobody" for no one (an unassigned case)."""
    if user is None:
        return "nobody"
    return user.get_full_name() or user.get_username()


def staff_label(user: Any) -> str:
    """A member of staff where a list names them (the assign list, the case-list CSV): their name,
    with the sign-in name after it, since two people may share a name."""
    name = user.get_full_name()
    return f"{name} ({user.get_username()})" if name else user.get_username()


@dataclass(frozen=True)
class Actor:
    """The one doing something to a complaint; passed to services and FSM permission checks."""

    role: Role | None
    user: Any = None

    @classmethod
    def customer(cls) -> Actor:
        return cls(Role.CUSTOMER)

    @classmethod
    def system(cls) -> Actor:
        return cls(Role.SYSTEM)

    @classmethod
    def staff(cls, user: Any) -> Actor:
        return cls(staff_role(user), user)

    @property
    def is_staff(self) -> bool:
        return self.role in (Role.AGENT, Role.MANAGER)

    @property
    def user_id(self) -> int | None:
        return getattr(self.user, "pk", None)

    @property
    def name(self) -> str:
        """The member of staff's name as it is now, kept on what they do (blank for others)."""
        if self.user is None or self.user_id is None:
            return ""
        return staff_name(self.user)[:300]

    def __str__(self) -> str:
        if self.user is not None:
            return staff_name(self.user)
        return {Role.CUSTOMER: "Customer", Role.SYSTEM: "System"}.get(self.role, "Unknown")
