"""The customers' forms copy their declared fields for each form more cheaply than Django's
``copy.deepcopy`` (complaints/forms.py): each form must still get fields of its own, the same as
Django's copy would have made them, so that what one customer's page changes (the files they may
remove) never shows on another's."""

from __future__ import annotations

import copy

import pytest
from django import forms

from complaints import forms as public_forms


def _public_form_classes() -> list[type[public_forms.PublicForm]]:
    found, todo = [], [public_forms.PublicForm]
    while todo:
        cls = todo.pop()
        found.append(cls)
        todo.extend(cls.__subclasses__())
    return found


FORMS = [cls for cls in _public_form_classes() if cls.base_fields]


def test_every_customer_form_is_checked():
    names = {cls.__name__ for cls in FORMS}
    assert {"AboutYouForm", "ComplaintForm", "SupportForm", "SendForm", "MessageForm"} <= names


@pytest.mark.parametrize("form_class", FORMS, ids=lambda cls: cls.__name__)
def test_a_forms_fields_are_djangos_copies_and_its_own(form_class):
    declared = form_class.base_fields
    django_copy = copy.deepcopy(dict(declared))  # Django's own copy, field by field
    first, second = form_class().fields, form_class().fields

    assert set(first) == set(declared)
    for name, field in first.items():
        expected = django_copy[name]
        assert type(field) is type(expected)
        assert vars(field).keys() == vars(expected).keys(), name
        assert vars(field.widget) == vars(expected.widget), name
        assert field.error_messages == expected.error_messages, name
        assert field.validators == expected.validators, name
        assert getattr(field, "choices", None) == getattr(expected, "choices", None), name
        # Nothing a form may change is shared with the declared field or another form.
        for other in (declared[name], second[name]):
            assert field is not other
            assert field.widget is not other.widget, name
            assert field.widget.attrs is not other.widget.attrs, name
            assert field.error_messages is not other.error_messages, name
            assert field.validators is not other.validators, name
            if isinstance(field, forms.ChoiceField):
                assert field.choices is not other.choices, name
            if isinstance(field.widget, forms.widgets.ChoiceWidget):
                assert field.widget.choices is not other.widget.choices, name


def test_the_files_one_customer_may_remove_are_not_offered_to_another():
    mine = public_forms.ComplaintForm(stored_files=[{"key": "k1", "name": "bill.pdf"}])
    theirs = public_forms.ComplaintForm()
    mine.fields["widget_marker"] = None  # a form's own dict of fields, too
    mine.fields["remove_files"].widget.attrs["data-mine"] = "yes"
    mine.fields["what_went_wrong"].error_messages["required"] = "changed"

    assert list(mine.fields["remove_files"].choices) == [("k1", "Remove bill.pdf")]
    assert list(theirs.fields["remove_files"].choices) == []
    assert "widget_marker" not in theirs.fields
    assert "data-mine" not in theirs.fields["remove_files"].widget.attrs
    fresh = public_forms.ComplaintForm()
    assert fresh.fields["what_went_wrong"].error_messages["required"] != "changed"
    assert "data-mine" not in fresh.fields["remove_files"].widget.attrs


def test_each_control_has_bootstraps_class_once_even_where_two_forms_share_a_field():
    # The honeypot is declared once and inherited by the first page and the send button's form.
    for form_class in (public_forms.AboutYouForm, public_forms.SendForm):
        attrs = form_class().fields["website"].widget.attrs
        assert attrs["class"].split().count("form-control") == 1
    support = public_forms.SupportForm()
    assert support.fields["preferred_response"].widget.attrs["class"] == "form-check-input"
    html = str(support["support_needs"].as_field_group())
    assert 'class="form-control' in html
    assert 'for="id_support_needs">Is there anything' in html  # the label as written


def test_a_form_that_draws_its_questions_otherwise_does_so_for_the_fields_it_inherits():
    class Elsewhere(public_forms.SupportForm):
        field_template_name = "complaints/public/other_field.html"

    assert Elsewhere().fields["support_needs"].template_name == Elsewhere.field_template_name
    assert public_forms.SupportForm().fields["support_needs"].template_name == (
        public_forms.PublicForm.field_template_name
    )
    # The declared field, which both inherit, is left as declared.
    assert public_forms.SupportForm.declared_fields["support_needs"].template_name is None
