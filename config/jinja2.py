"""The Jinja2 environment of the site's layout and the customers' pages (``complaints/jinja2/``).

The filing flow is the portal's busiest path, and its pages were a quarter of a filing's Python
when Django's engine drew them (bench/README.md). Jinja2 compiles a template to Python and draws
the same page in less time. The staff pages stay in Django's engine (``templates/``), which
crispy-forms needs; they draw the same layout, ``complaints/jinja2/base.html``, through the
``{% layout %}`` tag (``complaints/templatetags/layout.py``).

A page here sees what a Django template sees: the context processors of ``TEMPLATES`` (``request``,
``user``, ``messages``, ``company``, ``cisas``, ``portal_role``), ``csrf_input``, and these helpers
with Django's meaning:

- ``static(path)`` and ``url(name, *args)``; a static file's address is looked up once a process
  (in the manifest of hashed names, in production), not on every page;
- the filters ``date`` (converted to the current time zone first, as Django's ``date`` does),
  ``linebreaksbr`` and ``filesizeformat`` (Django's "1.2 KB", not Jinja2's "1.2 kB").
"""

from __future__ import annotations

import functools
from typing import Any

from django.core.signals import setting_changed
from django.dispatch import receiver
from django.template import defaultfilters
from django.templatetags.static import static as static_url
from django.urls import reverse
from django.utils.timezone import template_localtime
from jinja2 import Environment


@functools.cache
def static(path: str) -> str:
    return static_url(path)


@receiver(setting_changed)
def _forget_static_addresses(*, setting: str, **kwargs: Any) -> None:
    if setting in {"STATIC_URL", "STORAGES"}:
        static.cache_clear()


def url(name: str, *args: Any, **kwargs: Any) -> str:
    return reverse(name, args=args or None, kwargs=kwargs or None)


def date(value: Any, format_string: str | None = None) -> str:
    return defaultfilters.date(template_localtime(value), format_string)


def environment(**options: Any) -> Environment:
    env = Environment(**options)  # noqa: S701 - Django's backend passes autoescape=True
    env.globals.update(static=static, url=url)
    env.filters.update(
        date=date,
        linebreaksbr=defaultfilters.linebreaksbr,
        filesizeformat=defaultfilters.filesizeformat,
    )
    return env
