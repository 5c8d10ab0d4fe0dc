"""``{{ user|staff_name }}``: a member of staff as the pages name them (``roles.staff_name``)."""

from __future__ import annotations

from django import template

from complaints import roles

register = template.Library()


@register.filter
def staff_name(user) -> str:
    return roles.staff_name(user)
