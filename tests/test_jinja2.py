"""The customers' pages' Jinja2 environment finds what Jinja2's own would, by cheaper lookups."""

from __future__ import annotations

from django.template import engines


def render(source: str, **context) -> str:
    return engines["jinja2"].from_string(source).render(context)


def test_a_dicts_keys_read_as_attributes_and_its_methods_stay_methods():
    row = {"label": "Full name", "items": "not the method"}
    assert render("{{ row.label }}|{{ row.missing }}|", row=row) == "Full name||"
    # A key named like a dict method does not hide the method, as in Jinja2 itself.
    assert render("{% for k, v in row.items() %}{{ k }};{% endfor %}", row=row) == "label;items;"
    assert render("{{ row.get('label') }}", row=row) == "Full name"


def test_a_missing_key_is_undefined_and_an_object_still_gives_its_attribute():
    class Step:
        title = "About you"

    assert render("{{ row.nothing is defined }}", row={}) == "False"
    assert render("{{ step.title }}", step=Step()) == "About you"


def test_the_sites_helpers_and_a_templates_own_globals():
    assert render("{{ url('complaints:home') }}") == "/"
    template = engines["jinja2"].env.from_string("{{ url }}|{{ 'url' in site }}", {"url": "mine"})
    assert template.render(site={}) == "mine|False"
