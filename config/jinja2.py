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

``PortalEnvironment`` draws the same pages as Jinja2's own ``Environment`` without the exceptions
its lookups raise and catch on every page: a filing's nine pages raised about 770 of them, each a
few microseconds of CPU (bench/README.md).
"""

from __future__ import annotations

import functools
from collections import ChainMap
from typing import Any

from django.core.signals import setting_changed
from django.dispatch import receiver
from django.template import defaultfilters
from django.templatetags.static import static as static_url
from django.urls import get_script_prefix, reverse
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
    if args or kwargs:  # a case's or a tracking link's: never kept
        return reverse(name, args=args or None, kwargs=kwargs or None)
    return reverse_fixed(name)


def reverse_fixed(name: str, *args: str) -> str:
    """``reverse()`` of a name, and arguments fixed in the code (a filing page's slug; never a
    visitor's reference or secret), looked up once a process for each, with the site's address
    prefix: every page's layout links to the same few addresses, and a reverse() costs some 20
    microseconds each time, 4 % of a web filing's CPU."""
    return _reversed(get_script_prefix(), name, args)


@functools.lru_cache(maxsize=256)
def _reversed(prefix: str, name: str, args: tuple[str, ...]) -> str:
    return reverse(name, args=args or None)


@receiver(setting_changed)
def _forget_addresses(*, setting: str, **kwargs: Any) -> None:
    if setting == "ROOT_URLCONF":
        _reversed.cache_clear()


def date(value: Any, format_string: str | None = None) -> str:
    return defaultfilters.date(template_localtime(value), format_string)


class _Globals(ChainMap):
    """A template's globals over the environment's, looked up without exceptions. Every render
    copies them into the page's context; ChainMap's lookup tries the template's own map first,
    nearly always empty, and raised and caught a KeyError there for each of the environment's
    globals (eight of them, on each of the five or so templates a page draws)."""

    def __getitem__(self, key: str) -> Any:
        for mapping in self.maps:
            if key in mapping:
                return mapping[key]
        return self.__missing__(key)

    def __contains__(self, key: object) -> bool:
        # A loop, not any() over a generator: closing one early raises GeneratorExit inside it.
        for mapping in self.maps:  # noqa: SIM110
            if key in mapping:
                return True
        return False


# What a template's ``value.name`` finds on a plain dict as an attribute: its methods.
_DICT_ATTRIBUTES = frozenset(dir(dict))


class PortalEnvironment(Environment):
    def make_globals(self, d: Any) -> ChainMap:
        return _Globals({} if d is None else d, self.globals)

    def getattr(self, obj: Any, attribute: str) -> Any:
        """``row.label`` on a dict: Jinja2 asks for the attribute first and, when a dict has no
        such attribute (raising and catching an AttributeError), for the item. A dict's only
        attributes are its class's, so for any other name the item is what Jinja2 would find."""
        if type(obj) is dict and attribute not in _DICT_ATTRIBUTES:
            try:
                return obj[attribute]
            except KeyError:
                return self.undefined(obj=obj, name=attribute)
        return super().getattr(obj, attribute)


def environment(**options: Any) -> Environment:
    env = PortalEnvironment(**options)  # Django's backend passes autoescape=True
    env.globals.update(static=static, url=url)
    env.filters.update(
        date=date,
        linebreaksbr=defaultfilters.linebreaksbr,
        filesizeformat=defaultfilters.filesizeformat,
    )
    return env
