"""``{{ form|crispy_once }}``: crispy's rendering of an unbound form, done once per distinct form.

The case page shows up to a dozen action forms, and rendering them through crispy's Bootstrap
templates is most of the page's time. An unbound form's markup is a function of its fields (type,
label, help, widget and its attributes, choices) and their initial values, so that is the cache
key, with crispy's and this module's versions; the markup is then read from the cache (Redis in
production; with the cache away, it is rendered as before). Bound forms, which show the visitor's
input and errors, are always rendered afresh.
"""

from __future__ import annotations

import hashlib
from importlib.metadata import version

from crispy_forms.templatetags.crispy_forms_filters import as_crispy_form
from django import forms, template
from django.core.cache import cache
from django.utils.safestring import SafeString, mark_safe

register = template.Library()

VERSION = f"1:{version('django-crispy-forms')}:{version('crispy-bootstrap5')}"
SECONDS = 24 * 3600


def _fingerprint(form: forms.BaseForm) -> str:
    parts: list[object] = [VERSION, type(form).__module__, type(form).__qualname__, form.prefix]
    for name, field in form.fields.items():
        widget = field.widget
        parts.append(
            (
                name,
                type(field).__name__,
                type(widget).__name__,
                str(field.label),
                str(field.help_text),
                field.required,
                field.disabled,
                sorted((k, str(v)) for k, v in widget.attrs.items()),
                [(str(k), str(v)) for k, v in getattr(field, "choices", ())],
                str(form[name].value()),
            )
        )
    return hashlib.blake2b(repr(parts).encode(), digest_size=16).hexdigest()


@register.filter
def crispy_once(form: forms.BaseForm) -> SafeString:
    if form.is_bound:
        return as_crispy_form(form)
    key = f"crispy-form:{_fingerprint(form)}"
    html = cache.get(key)
    if html is None:
        html = str(as_crispy_form(form))
        cache.set(key, html, SECONDS)
    return mark_safe(html)  # noqa: S308 (crispy's own rendering of our form)


@register.filter
def field_anchor(field: forms.BoundField) -> str:
    """The id an error summary links to: the field's own input, or for a group of radio buttons
    (whose ``id_for_label`` is empty: no one input stands for the group) its first choice."""
    return field.id_for_label or f"{field.auto_id}_0"
