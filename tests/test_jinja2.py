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


def test_addresses_are_looked_up_once_for_the_prefix_they_were_asked_under():
    from django.urls import set_script_prefix

    from config.jinja2 import url

    assert url("complaints:home") == "/"
    set_script_prefix("/portal/")
    try:
        assert url("complaints:home") == "/portal/"
    finally:
        set_script_prefix("/")
    assert url("complaints:home") == "/"


def test_a_tracking_links_address_is_never_kept():
    """A visitor's reference and secret are arguments: looked up each time, never cached."""
    from config.jinja2 import _reversed, url

    _reversed.cache_clear()
    link = url("complaints:track", "CMP-2026-000001", "s3cret-s3cret-s3cret")
    assert link == "/track/CMP-2026-000001/s3cret-s3cret-s3cret/"
    assert _reversed.cache_info().currsize == 0
