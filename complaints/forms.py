"""The customer's forms: the three question pages of the filing flow, the tracking page's actions
and "lost my link".

Forms validate; they never act (the views call the services). Every message is written for a
customer who may be upset and on a phone: it says what to do, in plain words, like the GOV.UK
Design System's error messages. No field carries a ``maxlength`` attribute, which would cut a
customer's words off without telling them: lengths are checked here, with a message, and
``static/js/public.js`` shows a live count on the long text boxes.
"""

from __future__ import annotations

import copy
import re

from django import forms
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.core.validators import MaxLengthValidator

from . import evidence
from .models import Category, Nation, ResponseMethod, State

TEXT_LIMIT = 10_000  # the long text boxes: what went wrong, messages
NOTE_LIMIT = 5_000  # reasons given with an action


class TextField(forms.CharField):
    """A text field whose length is checked on the server with a plain message, never limited by
    a ``maxlength`` attribute in the browser."""

    def __init__(self, *, noun: str, max_length: int, required: bool = True, **kwargs) -> None:
        messages = {"required": kwargs.pop("required_message", f"Enter {noun}")}
        super().__init__(
            max_length=max_length, required=required, error_messages=messages, **kwargs
        )
        # Checked in validate() rather than by Django's validator, to write both numbers the
        # same way (10,000 and 10,001).
        self.validators = [v for v in self.validators if not isinstance(v, MaxLengthValidator)]
        self.too_long = f"{noun[0].upper()}{noun[1:]} must be {max_length:,} characters or fewer."

    def to_python(self, value) -> str:
        # Browsers send each line break in a multi-line box as two characters (CR LF), where the
        # box and its live count show one: counted as sent, pasted text with many lines was
        # refused while the count said it fitted.
        value = super().to_python(value)
        if isinstance(self.widget, forms.Textarea):
            value = value.replace("\r\n", "\n")
        return value

    def validate(self, value: str) -> None:
        super().validate(value)
        if value and len(value) > self.max_length:
            raise ValidationError(
                f"{self.too_long} You have entered {len(value):,}.", code="max_length"
            )

    def widget_attrs(self, widget: forms.Widget) -> dict:
        attrs = super().widget_attrs(widget)
        attrs.pop("maxlength", None)
        if isinstance(widget, forms.Textarea) and self.max_length:
            attrs["data-maxchars"] = str(self.max_length)  # public.js shows a live count
        return attrs


class EmailAddressField(forms.EmailField):
    """An e-mail address, checked on the server (no ``maxlength`` in the browser)."""

    def __init__(self, **kwargs) -> None:
        super().__init__(
            max_length=254,
            error_messages={
                "required": "Enter your e-mail address",
                "invalid": "Enter an e-mail address in the correct format, like name@example.com",
                "max_length": "Your e-mail address must be 254 characters or fewer",
            },
            widget=forms.EmailInput(attrs={"autocomplete": "email", "spellcheck": "false"}),
            **kwargs,
        )

    def widget_attrs(self, widget: forms.Widget) -> dict:
        attrs = super().widget_attrs(widget)
        attrs.pop("maxlength", None)
        return attrs


def long_text(noun: str, *, label: str, hint: str = "", required: bool = True, **kwargs):
    return TextField(
        noun=noun,
        max_length=kwargs.pop("max_length", TEXT_LIMIT),
        required=required,
        label=label,
        help_text=hint,
        widget=forms.Textarea(attrs={"rows": 6, "spellcheck": "true"}),
        **kwargs,
    )


class MultipleFileInput(forms.FileInput):
    """A plain "Choose file" control that takes several files."""

    allow_multiple_selected = True


class EvidenceField(forms.FileField):
    """Up to five evidence files at once, each checked by ``complaints.evidence``."""

    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("required", False)
        kwargs.setdefault("label", "Evidence")
        kwargs.setdefault("template_name", "complaints/public/files.html")
        kwargs.setdefault(
            "help_text",
            "For example a bill, a screenshot or a letter. You can add up to "
            f"{evidence.MAX_FILES} files, each smaller than 10 MB: a {evidence.ALLOWED_LABEL}.",
        )
        super().__init__(
            widget=MultipleFileInput(attrs={"accept": evidence.ACCEPT_ATTRIBUTE}), **kwargs
        )

    def clean(self, data, initial=None) -> list[UploadedFile]:
        if not data:
            return []
        uploads = data if isinstance(data, list | tuple) else [data]
        return [upload for upload in uploads if upload]


def check_evidence(uploads: list[UploadedFile], *, already: int = 0) -> list[evidence.CheckedFile]:
    """The evidence rules, as one field's errors (nothing is stored unless all files pass)."""
    room = evidence.MAX_FILES - already
    if len(uploads) > room:
        if already:
            raise ValidationError(
                f"You can add up to {evidence.MAX_FILES} files. You have already added {already}, "
                f"so choose {room} or fewer" + ("." if room else ": remove one first.")
            )
        raise ValidationError(f"Choose {evidence.MAX_FILES} files or fewer.")
    try:
        return evidence.check_uploads(uploads)
    except ValidationError as exc:
        problems = exc.message_dict.get("files", exc.messages)
        if len(uploads) > len(problems):
            # The good files chosen with a bad one are not added either (all or none): say so,
            # or the customer believes they are there.
            problems = [*problems, "We have not added the other files you chose: choose them again"]
        raise ValidationError(problems) from None


def _prepared(field: forms.Field, template_name: str) -> forms.Field:
    """A public form's field as every page shows it: its question drawn by ``template_name``
    unless it names its own, and Bootstrap's class on its control. Done once a class, on the
    class's own copy of the declared field; each form's copy keeps it."""
    field.template_name = field.template_name or template_name
    widget = field.widget
    if not widget.is_hidden:
        if isinstance(widget, forms.RadioSelect | forms.CheckboxSelectMultiple):
            css = "form-check-input"
        else:
            css = "form-control"
        classes = widget.attrs.get("class", "").split()
        if css not in classes:
            widget.attrs["class"] = " ".join([css, *classes])
    return field


# The copies Django makes of a field for each form, when the field and its widget copy
# themselves no other way (a field of several fields, a widget of several widgets does).
_PLAIN_FIELD_COPIES = {forms.Field.__deepcopy__, forms.ChoiceField.__deepcopy__}
_PLAIN_WIDGET_COPIES = {forms.Widget.__deepcopy__, forms.widgets.ChoiceWidget.__deepcopy__}


def _shallow(obj: object) -> object:
    """``copy.copy`` of a plain object: a new one with the same attributes."""
    new = object.__new__(type(obj))
    new.__dict__.update(obj.__dict__)
    return new


def _field_copy(field: forms.Field) -> forms.Field:
    """A form's own copy of a declared field, as Django's ``Field.__deepcopy__`` makes it: its
    widget, widget attributes, error messages, validators and choices are the form's own, so a
    form that changes them (the files a customer may remove) changes no other form's. Choices
    are copied as a list, not deep: their values and labels are strings, never changed in place.
    Django's ``copy.deepcopy`` of the fields made the same objects at more than twice the cost
    (bench/README.md)."""
    widget = field.widget
    if (
        type(field).__deepcopy__ not in _PLAIN_FIELD_COPIES
        or type(widget).__deepcopy__ not in _PLAIN_WIDGET_COPIES
    ):
        return copy.deepcopy(field)
    new = _shallow(field)
    new.widget = new_widget = _shallow(widget)
    new_widget.attrs = widget.attrs.copy()
    if isinstance(widget, forms.widgets.ChoiceWidget):
        new_widget.choices = copy.copy(widget.choices)
    new.error_messages = field.error_messages.copy()
    new.validators = field.validators[:]
    if isinstance(field, forms.ChoiceField):
        new._choices = copy.copy(field._choices)
    return new


class _PublicFields(dict):
    """A public form's declared fields, each copied for a form by ``_field_copy``: Django's
    ``BaseForm`` copies ``base_fields`` with ``copy.deepcopy``, which asks this."""

    def __deepcopy__(self, memo: dict) -> dict[str, forms.Field]:
        return {name: _field_copy(field) for name, field in self.items()}


class _PublicFormMetaclass(forms.forms.DeclarativeFieldsMetaclass):
    def __new__(mcs, name, bases, attrs):
        cls = super().__new__(mcs, name, bases, attrs)
        # Each class prepares copies of its own, as each form did: the declared fields, which
        # subclasses inherit, are left as declared.
        template_name = cls.field_template_name
        cls.base_fields = _PublicFields(
            (name, _prepared(copy.deepcopy(field), template_name))
            for name, field in cls.base_fields.items()
        )
        return cls


class PublicForm(forms.Form, metaclass=_PublicFormMetaclass):
    """Bootstrap's classes on every control. Errors and hints are linked by Django itself
    (``aria-describedby`` to ``<id>_helptext`` and ``<id>_error``, and ``aria-invalid``); the
    templates give those elements their ids. No ``required`` attributes: the labels say which
    answers are optional, and the server says what is missing (GOV.UK's advice).

    A page shows a question with ``{{ form.<name>.as_field_group }}``: label, hint, error and
    control, from ``complaints/jinja2/complaints/public/field.html`` unless the field names its
    own template. Those are Jinja2 templates, rendered by the form renderer with the widgets
    (``config.form_renderer``): the first page's request costs 14 % less than with the same
    markup included by Django's engine (bench/README.md)."""

    use_required_attribute = False
    field_template_name = "complaints/public/field.html"

    def __init__(self, *args, **kwargs) -> None:
        # No label suffix: the templates write each label whole (and Django's default, a
        # translated colon, is looked up for every form).
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)


class HoneypotMixin(PublicForm):
    """A field people never see or reach, which form-filling robots fill in. A filled one is
    treated as spam without saying so."""

    website = forms.CharField(
        required=False,
        label="Leave this box empty (it is for spam robots)",
        template_name="complaints/public/honeypot.html",
        widget=forms.TextInput(attrs={"autocomplete": "off", "tabindex": "-1"}),
    )

    @property
    def is_spam(self) -> bool:
        return bool((self.cleaned_data.get("website") or "").strip())


# --- The filing flow --------------------------------------------------------------------------

PHONE_RE = re.compile(r"^\+?\d{10,15}$")


class AboutYouForm(HoneypotMixin):
    title = "About you"

    customer_name = TextField(
        noun="your full name",
        max_length=200,
        label="Full name",
        widget=forms.TextInput(attrs={"autocomplete": "name", "spellcheck": "false"}),
    )
    email = EmailAddressField(
        label="E-mail address",
        help_text="We will send your complaint reference and your private link here.",
    )
    phone = TextField(
        noun="your phone number",
        max_length=40,
        required=False,
        label="Phone number (optional)",
        help_text="If you would like us to call you. For example 07700 900 982.",
        widget=forms.TextInput(
            attrs={"autocomplete": "tel", "type": "tel", "class": "input-width-20"}
        ),
    )
    postal_address = TextField(
        noun="your postal address",
        max_length=500,
        required=False,
        label="Postal address (optional)",
        help_text="If you would like our letters by post as well as by e-mail.",
        widget=forms.Textarea(attrs={"rows": 4, "autocomplete": "street-address"}),
    )
    account_number = TextField(
        noun="your account number",
        max_length=40,
        required=False,
        label="Account number (optional)",
        help_text="It is at the top of your bill.",
        widget=forms.TextInput(attrs={"spellcheck": "false", "class": "input-width-20"}),
    )
    nation = forms.ChoiceField(
        label="Where do you live?",
        help_text="We count working days around the bank holidays where you live.",
        choices=Nation.choices,
        widget=forms.RadioSelect,
        error_messages={"required": "Select where you live"},
    )
    field_order = ["customer_name", "email", "phone", "postal_address", "account_number"]

    def clean_phone(self) -> str:
        phone = self.cleaned_data["phone"].strip()
        if phone and not PHONE_RE.match(re.sub(r"[\s()\-.]", "", phone)):
            raise ValidationError(
                "Enter a phone number, like 01632 960 001, 07700 900 982 or +44 808 157 0192"
            )
        return phone


class ComplaintForm(PublicForm):
    title = "Your complaint"

    category = forms.ChoiceField(
        label="What is your complaint about?",
        choices=Category.choices,
        widget=forms.RadioSelect,
        error_messages={"required": "Select what your complaint is about"},
    )
    what_went_wrong = long_text(
        "what went wrong",
        label="What went wrong?",
        hint="Tell us in your own words. Include any dates, amounts or phone numbers involved.",
        required_message="Tell us what went wrong",
    )
    started = TextField(
        noun="when it started",
        max_length=200,
        required=False,
        label="When did it start? (optional)",
        help_text="An approximate date is fine, for example ‘early March’ or ‘3 weeks ago’.",
        widget=forms.TextInput(attrs={"class": "input-width-20"}),
    )
    how_affected = long_text(
        "how it has affected you", label="How has it affected you? (optional)", required=False
    )
    put_right = long_text(
        "what would put it right",
        label="What would put it right for you? (optional)",
        required=False,
    )
    files = EvidenceField(label="Evidence (optional)")
    remove_files = forms.MultipleChoiceField(
        required=False, widget=forms.CheckboxSelectMultiple, label="Files you have added"
    )

    def __init__(self, *args, stored_files: list[dict] | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.stored_files = stored_files or []
        self.fields["remove_files"].choices = [
            (f["key"], f"Remove {f['name']}") for f in self.stored_files
        ]
        self.checked_files: list[evidence.CheckedFile] = []

    def clean_files(self) -> list[UploadedFile]:
        uploads = self.cleaned_data["files"]
        removing = set(self.data.getlist("remove_files")) if hasattr(self.data, "getlist") else ()
        kept = len([f for f in self.stored_files if f["key"] not in removing])
        self.checked_files = check_evidence(uploads, already=kept)
        return uploads


REPLY_CHOICES = [
    (ResponseMethod.PHONE, "By phone"),
    (ResponseMethod.WRITTEN, "In writing (a letter by e-mail, and by post if you gave an address)"),
]


class SupportForm(PublicForm):
    title = "Support and how we reply"

    preferred_response = forms.ChoiceField(
        label="How would you like us to reply?",
        help_text="You have the right to a reply in writing. We may sometimes need to call you "
        "to talk it through.",
        choices=REPLY_CHOICES,
        widget=forms.RadioSelect,
        error_messages={"required": "Select how you would like us to reply"},
    )
    support_needs = long_text(
        "what makes it hard for you to deal with us",
        label="Is there anything that makes it hard for you to deal with us? (optional)",
        hint="For example a disability or health condition, a bereavement, or difficulty reading, "
        "hearing or using the phone. We will use this only to help you, and keep it private.",
        required=False,
        max_length=NOTE_LIMIT,
    )

    def __init__(self, *args, has_phone: bool = True, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.has_phone = has_phone

    def clean_preferred_response(self) -> str:
        value = self.cleaned_data["preferred_response"]
        if value == ResponseMethod.PHONE and not self.has_phone:
            raise ValidationError(
                "You have not given us a phone number. Select ‘In writing’, or go back to "
                "‘About you’ and add your phone number"
            )
        return value


class SendForm(HoneypotMixin):
    """The check page's "Send your complaint": a one-time token against double sending."""

    token = forms.CharField(widget=forms.HiddenInput, required=False)


# --- The tracking page ------------------------------------------------------------------------


class ExpectedStateMixin(PublicForm):
    """The state the page showed, so an action on a stale page is refused, not applied."""

    expected_state = forms.ChoiceField(choices=State.choices, widget=forms.HiddenInput)


class MessageForm(ExpectedStateMixin):
    text = long_text(
        "your message",
        label="Your message",
        hint="We will reply in the way you asked. Please do not include passwords or full card "
        "numbers.",
        required_message="Write your message",
    )
    files = EvidenceField(label="Add files (optional)")

    def clean_files(self) -> list[UploadedFile]:
        uploads = self.cleaned_data["files"]
        check_evidence(uploads)
        return uploads

    def clean(self) -> dict:
        cleaned = super().clean()
        # A page sent back with an error cannot hold on to the files chosen with it: say so, or
        # the customer fixes the message, sends it, and believes their evidence went too.
        if self.errors and cleaned.get("files"):
            self.add_error(
                "files",
                "Choose your files again: we have not kept them, because of the problem with "
                "your message",
            )
        return cleaned


class ActionForm(ExpectedStateMixin):
    """Escalate, make a formal complaint, reopen, withdraw, ask for a written reply."""

    reason = long_text(
        "your reason",
        label="Tell us why (optional)",
        required=False,
        max_length=NOTE_LIMIT,
    )


class FormalComplaintForm(ActionForm):
    """A formal written complaint: the customer's words are what the manager answers, so they are
    not optional (``services.complaint_make_formal`` refuses it without them)."""

    reason = long_text(
        "your formal complaint",
        label="Your formal complaint",
        hint="Tell us what is still wrong, and what you want us to do to put it right.",
        required=False,  # the service's rule, and its message, apply: not a second copy here
        max_length=NOTE_LIMIT,
    )


# --- Lost my link -----------------------------------------------------------------------------


# A reference as people type it: any case, with spaces, hyphens (or dashes, dots, slashes) or
# nothing between its parts, and "CMP" sometimes left off. The year is 20xx, which tells
# "CMP 2026 000009" apart from a number typed without its year.
TYPED_REFERENCE = re.compile(
    r"(?:CMP)?[\s\-\u2010-\u2015_./]*(20\d\d)[\s\-\u2010-\u2015_./]*(\d{1,9})", re.IGNORECASE
)


def normalise_reference(typed: str) -> str | None:
    """``CMP-YYYY-NNNNNN`` for a reference typed any of the ways people do, or None when what was
    typed cannot be a complaint reference."""
    match = TYPED_REFERENCE.fullmatch(typed.strip())
    if match is None:
        return None
    year, number = match.groups()
    return f"CMP-{year}-{int(number):06d}"


class LostLinkForm(PublicForm):
    reference = TextField(
        noun="your complaint reference",
        max_length=40,
        label="Complaint reference",
        help_text="It starts with CMP, for example CMP-2026-000123. It is in our e-mails and "
        "letters to you.",
        widget=forms.TextInput(
            attrs={"spellcheck": "false", "autocapitalize": "characters", "class": "input-width-20"}
        ),
    )
    email = EmailAddressField(
        label="E-mail address", help_text="The address you gave us when you complained."
    )

    def clean_reference(self) -> str:
        reference = normalise_reference(self.cleaned_data["reference"])
        if reference is None:
            raise ValidationError(
                "Enter your complaint reference as it is in our e-mails and letters, like "
                "CMP-2026-000123"
            )
        return reference


# --- From the answers to the service's fields -------------------------------------------------

DESCRIPTION_SECTIONS = (
    ("what_went_wrong", "What went wrong"),
    ("started", "When it started"),
    ("how_affected", "How it has affected me"),
    ("put_right", "What would put it right"),
)


def compose_description(complaint: dict) -> str:
    """One description from the complaint page's answers, each under its heading, so staff and
    letters see all of it. Empty optional answers are left out."""
    parts = []
    for key, heading in DESCRIPTION_SECTIONS:
        text = (complaint.get(key) or "").strip()
        if text:
            parts.append(f"{heading}:\n{text}")
    return "\n\n".join(parts)


def filing_fields(*, about: dict, complaint: dict, support: dict) -> dict:
    """The keyword arguments of ``services.complaint_file`` from the three pages' answers."""
    needs = (support.get("support_needs") or "").strip()
    return {
        "customer_name": about["customer_name"],
        "email": about["email"],
        "phone": about.get("phone", ""),
        "postal_address": about.get("postal_address", ""),
        "account_number": about.get("account_number", ""),
        "nation": about["nation"],
        "category": complaint["category"],
        "description": compose_description(complaint),
        "preferred_response": support["preferred_response"],
        # Ofcom GC C5: anything that makes it hard to deal with us flags the case for support.
        "vulnerable": bool(needs),
        "vulnerability_notes": needs,
    }
