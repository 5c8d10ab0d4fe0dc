"""The form renderer: Django's widgets through Jinja2, with the markup Django's own engine gives."""

from __future__ import annotations

import re

import pytest
from django.forms.renderers import DjangoTemplates, get_default_renderer

from complaints.forms import (
    AboutYouForm,
    ActionForm,
    ComplaintForm,
    LostLinkForm,
    MessageForm,
    SendForm,
    SupportForm,
)
from config.form_renderer import FormRenderer


def _same_html(html: str) -> str:
    """Markup compared the way a browser reads it: runs of white space are one space, and the two
    engines' spellings of an escaped apostrophe are one."""
    return re.sub(r"\s+", " ", html.replace("&#x27;", "&#39;")).replace("> <", "><").strip()


def test_the_site_renders_forms_with_it():
    assert isinstance(get_default_renderer(), FormRenderer)


def test_widgets_come_from_jinja2_and_the_admins_from_djangos_engine():
    renderer = FormRenderer()
    radio = renderer.get_template("django/forms/widgets/radio.html")
    wrapper = renderer.get_template("admin/widgets/related_widget_wrapper.html")
    assert type(radio).__module__ == "django.template.backends.jinja2"
    assert type(wrapper).__module__ == "django.template.backends.django"
    # Asked again, the admin's template still comes from Django's engine.
    assert type(renderer.get_template("admin/widgets/related_widget_wrapper.html")) is type(wrapper)


ANSWERS = {
    "customer_name": "Jane <b>O'Brien</b>",
    "email": "not an address",
    "nation": "scotland",
    "category": "not a category",
    "what_went_wrong": "Charged twice & nobody's fixed it.",
    "preferred_response": "",
    "support_needs": "I'm deaf",
}


@pytest.mark.parametrize("form_class", [AboutYouForm, ComplaintForm, SupportForm])
@pytest.mark.parametrize("data", [None, ANSWERS], ids=["empty", "answered with errors"])
def test_customers_questions_render_as_djangos_engine_renders_them(form_class, data):
    """Every field of the filing flow's pages, with its errors: text boxes, radio buttons, the
    file control, an answer with HTML and apostrophes in it."""
    fast = form_class(data=data, renderer=FormRenderer())
    plain = form_class(data=data, renderer=DjangoTemplates())
    if data is not None:
        assert not fast.is_valid() and not plain.is_valid()
    for name in fast.fields:
        assert _same_html(str(fast[name])) == _same_html(str(plain[name])), name
        assert _same_html(str(fast[name].errors)) == _same_html(str(plain[name].errors)), name
    assert _same_html(str(fast.non_field_errors())) == _same_html(str(plain.non_field_errors()))


@pytest.mark.parametrize(
    "form_class",
    [AboutYouForm, ComplaintForm, SupportForm, SendForm, MessageForm, ActionForm, LostLinkForm],
)
def test_every_question_a_customer_sees_is_rendered_by_a_public_field_template_in_jinja2(
    form_class,
):
    form = form_class()
    for field in form.visible_fields():
        assert field.template_name.startswith("complaints/public/"), field.name
        template = form.renderer.get_template(field.template_name)
        assert type(template).__module__ == "django.template.backends.jinja2", field.name


def test_a_question_shows_its_label_hint_error_and_control_in_that_order_and_linked():
    form = AboutYouForm(data={"email": "not an address", "nation": ""})
    assert not form.is_valid()
    email = str(form["email"].as_field_group())
    order = [
        '<label class="form-label" for="id_email">',
        'id="id_email_helptext"',
        '<p id="id_email_error" class="error-message"><span class="visually-hidden">Error:</span>',
        '<input type="email" name="email" value="not an address"',
    ]
    assert [email.find(part) for part in order] == sorted(email.find(part) for part in order)
    assert all(part in email for part in order)
    assert 'aria-describedby="id_email_helptext id_email_error"' in email
    assert 'aria-invalid="true"' in email
    nation = str(form["nation"].as_field_group())
    assert nation.startswith('<div class="form-group form-group-error">')
    assert '<fieldset id="id_nation" aria-describedby=' in nation
    assert '<legend class="form-label">' in nation and 'id="id_nation_error"' in nation
