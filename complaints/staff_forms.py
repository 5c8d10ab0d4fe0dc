"""Forms for the staff pages. They validate input; the services act on it.

Every action form on the case page carries the state the page showed (``expected_state``), so a
stale page cannot change a case that has moved on; field names match the services' own, so a
``ValidationError`` from a service lands on the field it is about.
"""

from __future__ import annotations

import datetime as dt
import secrets

from django import forms
from django.conf import settings
from django.utils import timezone

from . import clocks, evidence, services
from .calendar import calendar_for
from .models import AdrOutcome, Category, Channel, Nation, ResponseMethod, State
from .roles import staff_label
from .selectors import ALL_CASES, ALL_OPEN, staff_members

# --- The queue's filters ------------------------------------------------------------------------

STATE_FILTER_CHOICES = [
    (State.CS_TEAM.value, "Stage 1 (Customer Services Team)"),
    (State.CS_MANAGER.value, "Stage 2 (manager)"),
    (State.FORMAL_WRITTEN.value, "Stage 3 (formal written)"),
    (State.DEADLOCK.value, "Deadlock letter issued"),
    (State.ADR_REFERRED.value, "Referred to CISAS"),
    (State.COURT.value, "Court action"),
    (ALL_OPEN, "All open cases"),
    (State.RESOLVED.value, "Resolved"),
    (State.CLOSED.value, "Closed"),
    (State.WITHDRAWN.value, "Withdrawn"),
    (ALL_CASES, "All cases, open or not"),
]
PAGE_SIZES = (25, 50, 100)


class QueueFilterForm(forms.Form):
    q = forms.CharField(
        label="Search by reference, name, e-mail, phone or account number",
        required=False,
        max_length=200,
    )
    state = forms.ChoiceField(label="Status", choices=STATE_FILTER_CHOICES, required=False)
    category = forms.ChoiceField(
        label="Category", choices=[("", "Any category"), *Category.choices], required=False
    )
    channel = forms.ChoiceField(
        label="Came in by", choices=[("", "Any channel"), *Channel.choices], required=False
    )
    assigned = forms.ChoiceField(
        label="Assigned to",
        choices=[("", "Anyone"), ("me", "Me"), ("unassigned", "Nobody yet")],
        required=False,
    )
    overdue = forms.BooleanField(label="Overdue only", required=False)
    vulnerable = forms.BooleanField(label="Vulnerable customers only", required=False)
    per_page = forms.TypedChoiceField(
        label="Cases per page",
        choices=[(n, str(n)) for n in PAGE_SIZES],
        coerce=int,
        required=False,
        empty_value=PAGE_SIZES[0],
    )

    DEFAULTS = {
        "q": "",
        "state": State.CS_TEAM.value,
        "category": "",
        "channel": "",
        "assigned": "",
        "overdue": False,
        "vulnerable": False,
        "per_page": PAGE_SIZES[0],
    }

    def clean_state(self) -> str:
        return self.cleaned_data["state"] or State.CS_TEAM.value

    def filters(self) -> dict:
        """The filters to apply: the valid ones given, the defaults for the rest."""
        self.is_valid()
        given = {k: v for k, v in getattr(self, "cleaned_data", {}).items() if k in self.DEFAULTS}
        return {**self.DEFAULTS, **given}


# --- Widgets --------------------------------------------------------------------------------------


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, attrs=None):
        super().__init__(attrs, format="%Y-%m-%d")


class DateTimeInput(forms.DateTimeInput):
    input_type = "datetime-local"

    def __init__(self, attrs=None):
        super().__init__(attrs, format="%Y-%m-%dT%H:%M")


class UKDateTimeField(forms.DateTimeField):
    """A date and time given in UK time. In the hour the clocks change, a time is not one moment
    (in October it happens twice, in March never): Django's own message for that names the time
    zone's code and says "it may be ambiguous", which tells nobody what to type instead."""

    def to_python(self, value):
        try:
            return super().to_python(value)
        except forms.ValidationError as error:
            if error.code != "ambiguous_timezone":
                raise
            when = error.params["datetime"]
            raise forms.ValidationError(
                f"The clocks changed in the early hours of {when:%-d %B %Y}, so {when:%H:%M} UK "
                "time is not one moment: it happened twice, or not at all. Enter the nearest time "
                "before 01:00 or from 02:00.",
                code="clock_change",
            ) from None


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Up to five evidence files; the content checks are the service's (evidence.check_uploads)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", MultipleFileInput(attrs={"accept": evidence.ACCEPT_ATTRIBUTE}))
        kwargs.setdefault("required", False)
        kwargs.setdefault(
            "help_text",
            f"Optional. Up to {evidence.MAX_FILES} files, 10 MB each: {evidence.ALLOWED_LABEL}.",
        )
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        files = data if isinstance(data, list | tuple) else [data] if data else []
        single = super().clean
        return [single(f, initial) for f in files]


def _today():
    return clocks.london_date(timezone.now())


def _now_local():
    return timezone.localtime(timezone.now()).replace(second=0, microsecond=0)


# The help of a field whose text goes on the customer's timeline.
SEEN_BY_CUSTOMER = "The customer sees this on their tracking page."


def text_area(rows: int = 4) -> forms.Textarea:
    return forms.Textarea(attrs={"rows": rows})


# --- Actions on a case ----------------------------------------------------------------------------


class CaseActionForm(forms.Form):
    """The base of every action on the case page: the state the page showed, hidden."""

    expected_state = forms.ChoiceField(choices=State.choices, widget=forms.HiddenInput)

    # A field whose help says the letter is e-mailed, and what it says instead to a customer with
    # no e-mail address, whose letters go by post alone.
    by_post_help: tuple[str, str] | None = None

    def __init__(self, *args, complaint=None, **kwargs):
        super().__init__(*args, **kwargs)
        if complaint is not None and not self.is_bound:
            self.initial.setdefault("expected_state", complaint.state)
        if complaint is not None and not complaint.email and self.by_post_help:
            field, help_text = self.by_post_help
            self.fields[field].help_text = help_text


class AssigneeField(forms.CharField):
    """Who the page showed the case assigned to: a user id, or empty for nobody."""

    widget = forms.HiddenInput

    def __init__(self, **kwargs):
        super().__init__(required=False, **kwargs)

    def to_python(self, value):
        value = super().to_python(value)
        if value in ("", None):
            return None
        try:
            return int(value)
        except ValueError:
            raise forms.ValidationError("This form is out of date: reload the page.") from None


class ClaimForm(CaseActionForm):
    expected_assignee = AssigneeField()

    def __init__(self, *args, complaint=None, **kwargs):
        super().__init__(*args, complaint=complaint, **kwargs)
        if complaint is not None and not self.is_bound:
            self.initial.setdefault("expected_assignee", complaint.assigned_to_id or "")


class ReleaseForm(ClaimForm):
    pass


class StaffChoiceField(forms.ModelChoiceField):
    """A member of staff by name, as the queues and the case page name them, with the sign-in
    name after it: two people may share a name."""

    def label_from_instance(self, user) -> str:
        return staff_label(user)


class AssignForm(ClaimForm):
    assignee = StaffChoiceField(
        label="Assign to",
        queryset=None,
        required=False,
        empty_label="Nobody (unassigned)",
    )

    def __init__(self, *args, staff=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["assignee"].queryset = staff if staff is not None else staff_members()
        complaint = kwargs.get("complaint")
        if complaint is not None and not self.is_bound:
            self.initial.setdefault("assignee", complaint.assigned_to_id)


class PhoneReplyForm(CaseActionForm):
    replied_at = UKDateTimeField(
        label="When was the call?",
        widget=DateTimeInput,
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"],
        help_text="UK time",
    )
    summary = forms.CharField(
        label="What did you tell the customer?", widget=text_area(5), max_length=20000
    )
    call_reference = forms.CharField(
        label="Call recording reference",
        max_length=100,
        required=False,
        help_text="If the call was recorded",
    )

    def __init__(self, *args, complaint=None, **kwargs):
        super().__init__(*args, complaint=complaint, **kwargs)
        if not self.is_bound:
            self.initial.setdefault("replied_at", _now_local())
        if complaint is not None and complaint.preferred_response == ResponseMethod.WRITTEN:
            self.fields["summary"].help_text = (
                "The customer asked for a written reply. Log a call only if they agreed to be "
                "answered by phone; otherwise send a written reply."
            )
            self.fields["phone_agreed"] = forms.BooleanField(
                label="The customer agreed on this call to be answered by phone, not in writing",
                required=False,
            )


class WrittenReplyForm(CaseActionForm):
    summary = forms.CharField(
        label="Your reply",
        widget=text_area(8),
        max_length=20000,
        help_text="This becomes a letter (PDF) and is e-mailed to the customer when you send it. "
        "Write the reply itself: the letter adds the greeting, the date and the signature.",
    )
    by_post_help = (
        "summary",
        "This becomes a letter (PDF) on the list of letters to post: the customer has no e-mail "
        "address. Write the reply itself: the letter adds the greeting, the date and the "
        "signature.",
    )


class MessageForm(CaseActionForm):
    text = forms.CharField(
        label="Message to the customer",
        widget=text_area(5),
        max_length=20000,
        help_text=SEEN_BY_CUSTOMER,
    )
    files = MultipleFileField(label="Files")


class NoteForm(CaseActionForm):
    text = forms.CharField(
        label="Internal note",
        widget=text_area(4),
        max_length=20000,
        help_text="Only staff see internal notes; the customer never does.",
    )
    files = MultipleFileField(label="Files")


class ResolveForm(CaseActionForm):
    summary = forms.CharField(
        label="How was it resolved?",
        widget=text_area(4),
        max_length=20000,
        help_text="The customer sees this. They can reopen the case for 8 weeks.",
    )


class EscalateForm(CaseActionForm):
    reason = forms.CharField(
        label="Why does it need the manager?",
        widget=text_area(3),
        max_length=20000,
        help_text="A new 15 working day reply deadline starts and the customer is told.",
    )


class MakeFormalForm(CaseActionForm):
    received_at = UKDateTimeField(
        label="When did it reach us?",
        widget=DateTimeInput,
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"],
        required=False,
        help_text="UK time: when the letter or e-mail arrived, or the call was taken (now, if "
        "left empty). The 15 working days to reply run from then.",
    )
    text = forms.CharField(
        label="The customer's formal complaint, in their words",
        widget=text_area(4),
        max_length=20000,
        error_messages={"required": "Enter the customer's formal complaint, in their words."},
        help_text="From their letter or e-mail, or what they said on the phone: the manager "
        "answers it. A new 15 working day reply deadline starts and the customer is told.",
    )


class DeadlockForm(CaseActionForm):
    final_position = forms.CharField(
        label="Our final position",
        widget=text_area(8),
        max_length=20000,
        help_text="Printed in the deadlock letter, which is e-mailed to the customer. They may "
        "then take the complaint to CISAS for 12 months.",
    )
    by_post_help = (
        "final_position",
        "Printed in the deadlock letter, which goes on the list of letters to post: the customer "
        "has no e-mail address. They may then take the complaint to CISAS for 12 months.",
    )


class ReferAdrForm(CaseActionForm):
    cisas_reference = forms.CharField(label="CISAS case reference", max_length=60)
    referred_on = forms.DateField(label="Date referred", widget=DateInput)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not self.is_bound:
            self.initial.setdefault("referred_on", _today())


class AdrDecisionForm(CaseActionForm):
    outcome = forms.ChoiceField(label="CISAS decision", choices=AdrOutcome.choices)
    remedy = forms.CharField(
        label="Remedy awarded",
        widget=text_area(3),
        max_length=20000,
        required=False,
        help_text="What we must do, if anything",
    )
    accepted = forms.TypedChoiceField(
        label="Did the customer accept the decision?",
        choices=[
            (
                "yes",
                "Yes: the case is resolved, and any remedy of an upheld decision is due in 20 "
                "working days",
            ),
            ("no", "No: the case is closed"),
        ],
        widget=forms.RadioSelect,
        coerce=lambda v: v == "yes",
    )
    accepted_on = forms.DateField(
        label="Date the customer accepted", widget=DateInput, required=False
    )

    def clean(self):
        data = super().clean()
        if data.get("accepted") and not data.get("accepted_on"):
            self.add_error("accepted_on", "Enter the date the customer accepted the decision.")
        if data.get("accepted") is False:
            data["accepted_on"] = None
        return data


class CourtForm(CaseActionForm):
    started_on = forms.DateField(label="Date court action started", widget=DateInput)
    note = forms.CharField(
        label="Note",
        widget=text_area(3),
        max_length=20000,
        required=False,
        help_text=SEEN_BY_CUSTOMER,
    )


class RemedyDoneForm(CaseActionForm):
    note = forms.CharField(
        label="What was done",
        widget=text_area(3),
        max_length=20000,
        required=False,
        help_text=SEEN_BY_CUSTOMER,
    )


class ReopenForm(CaseActionForm):
    reason = forms.CharField(
        label="Why is it being reopened?",
        widget=text_area(3),
        max_length=20000,
        help_text="It goes to the Customer Services Manager with a new reply deadline.",
    )


class CloseForm(CaseActionForm):
    note = forms.CharField(label="Note", widget=text_area(3), max_length=20000, required=False)


class WithdrawForm(CaseActionForm):
    reason = forms.CharField(
        label="Why is it being withdrawn?",
        widget=text_area(3),
        max_length=20000,
        help_text="Only when the customer asks to withdraw their complaint.",
    )


class LegalHoldForm(CaseActionForm):
    """Place a legal hold, or lift it: ``expected_hold`` is what the page showed."""

    expected_hold = forms.BooleanField(required=False, widget=forms.HiddenInput)
    reason = forms.CharField(
        label="Why is it being held?",
        max_length=500,
        help_text="For example a claim number or a regulator's inquiry (no personal details: it "
        "stays on the timeline). While it is held, the customer's personal data is neither "
        "anonymised nor erased.",
    )

    def __init__(self, *args, complaint=None, **kwargs):
        super().__init__(*args, complaint=complaint, **kwargs)
        if complaint is not None and not self.is_bound:
            self.initial.setdefault("expected_hold", complaint.legal_hold)


class LiftLegalHoldForm(LegalHoldForm):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["reason"].label = "Why is the hold being lifted?"
        self.fields[
            "reason"
        ].help_text = "Once lifted, the personal data is anonymised when the retention period ends."


class EraseForm(CaseActionForm):
    reason = forms.CharField(
        label="Whose request is this, and how did it come in?",
        widget=text_area(3),
        max_length=2000,
        help_text="For example: request by e-mail of 3 March, identity checked by phone. Kept on "
        "the timeline as the record of the erasure; do not repeat personal details here.",
    )
    confirm = forms.BooleanField(
        label="I have checked that the request comes from the customer, and that no claim or "
        "inquiry needs this data kept.",
        error_messages={"required": "Confirm that you have checked the request."},
    )


# --- Closure days ---------------------------------------------------------------------------------


class ClosureDayForm(forms.Form):
    date = forms.DateField(label="Date", widget=DateInput)
    reason = forms.CharField(label="Reason", max_length=200)

    def clean_date(self):
        return check_new_closure_day(self.cleaned_data["date"])


def check_new_closure_day(day: dt.date) -> dt.date:
    """The rules for adding a closure day, on the managers' page and in the admin alike: today or
    later (deadlines already given to customers never move), a day that is otherwise a working
    day somewhere in the UK, and not one already added."""
    from .models import ClosureDay

    if day < _today():
        raise forms.ValidationError("A closure day must be today or in the future.")
    try:
        # A Scottish bank holiday is still a working day for cases in England and Wales.
        working = any(calendar_for(n).is_working_day(day) for n in settings.NATIONS)
    except ValueError:
        raise forms.ValidationError("Choose a date before 2080.") from None
    if not working:
        raise forms.ValidationError(
            f"{day:%A %-d %B %Y} is already not a working day (a weekend or bank holiday)."
        )
    if ClosureDay.objects.filter(date=day).exists():
        raise forms.ValidationError(f"{day:%A %-d %B %Y} is already a closure day.")
    return day


# --- Reports ---------------------------------------------------------------------------------


def last_twelve_months(today: dt.date) -> tuple[dt.date, dt.date]:
    """From the day after this date last year to today: twelve whole months."""
    try:
        year_ago = today.replace(year=today.year - 1)
    except ValueError:  # 29 February
        year_ago = today.replace(year=today.year - 1, day=28)
    return year_ago + dt.timedelta(days=1), today


def _period_date(label: str, which: str, example: str) -> forms.DateField:
    """One end of a report's period. Its messages name which date they are about: the error
    summary and the exports' refusal show them without the field's label."""
    return forms.DateField(
        label=label,
        widget=DateInput,
        error_messages={
            "required": f"Enter the {which} date.",
            "invalid": f"Enter the {which} date as a real date, for example {example}.",
        },
    )


class ReportPeriodForm(forms.Form):
    start = _period_date("Received from", "start", "2026-01-31")
    end = _period_date("to", "end", "2026-12-31")

    @classmethod
    def asked(cls, query) -> ReportPeriodForm:
        """The period an address asks for: bound when it gives either date, else unbound (the
        last twelve months). Another parameter alone (a tag on a bookmark) asks for no period."""
        return cls(query if "start" in query or "end" in query else None)

    def clean(self):
        data = super().clean()
        start, end = data.get("start"), data.get("end")
        if start and end:
            if end < start:
                self.add_error("end", "The end date must be on or after the start date.")
            else:
                # The error on whichever date is out of range (both, if both are).
                if start.year < 2000:
                    self.add_error("start", "Choose a start date from 2000 to 2079.")
                if end.year > 2079:
                    self.add_error("end", "Choose an end date from 2000 to 2079.")
        return data

    def period(self) -> tuple[dt.date, dt.date]:
        """The period asked for, or the last twelve months when none (or a bad one) was given."""
        if self.is_bound and self.is_valid():
            return self.cleaned_data["start"], self.cleaned_data["end"]
        return last_twelve_months(_today())


# --- Logging a complaint that came by phone, e-mail or letter ------------------------------------

STAFF_CHANNELS = [(c.value, c.label) for c in (Channel.PHONE, Channel.EMAIL, Channel.LETTER)]


class LogComplaintForm(forms.Form):
    """A complaint taken by phone or received by e-mail or letter. Field names are the filing
    service's own, so its errors land on the field they are about. The fields are in the page's
    order (templates/complaints/staff/log.html), which the error summary lists them in."""

    channel = forms.ChoiceField(
        label="How did the complaint reach us?", choices=STAFF_CHANNELS, widget=forms.RadioSelect
    )
    received_at = UKDateTimeField(
        label="When was it received?",
        widget=DateTimeInput,
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"],
        help_text="UK time. The reply and CISAS dates count from this day, not from today.",
    )
    category = forms.ChoiceField(
        label="What is the complaint about?", choices=[("", "Choose…"), *Category.choices]
    )
    description = forms.CharField(
        label="The complaint",
        widget=text_area(8),
        max_length=20000,
        help_text="In the customer's words where you can: this goes on the acknowledgement letter.",
    )
    files = MultipleFileField(label="Evidence the customer sent")
    customer_name = forms.CharField(label="Customer's full name", max_length=200)
    email = forms.EmailField(
        label="Customer's e-mail address",
        max_length=254,
        required=False,
        help_text="The acknowledgement letter and the customer's private link are sent here. "
        "If they have none, give their postal address: every letter then goes by post.",
    )
    phone = forms.CharField(label="Phone number", max_length=40, required=False)
    postal_address = forms.CharField(
        label="Postal address", widget=text_area(3), required=False, max_length=1000
    )
    account_number = forms.CharField(label="Account number", max_length=40, required=False)
    nation = forms.ChoiceField(
        label="Where does the customer live?",
        choices=Nation.choices,
        help_text="Bank holidays differ across the UK; they decide the working days.",
    )
    preferred_response = forms.ChoiceField(
        label="How does the customer want our reply?",
        choices=ResponseMethod.choices,
        widget=forms.RadioSelect,
        help_text="A phone reply needs a phone number.",
    )
    vulnerable = forms.BooleanField(
        label="The customer is in vulnerable circumstances or needs support", required=False
    )
    vulnerability_notes = forms.CharField(
        label="What support do they need?", widget=text_area(3), required=False, max_length=2000
    )
    # Shown only when the same complaint seems to have been logged already (log_complaint).
    log_anyway = forms.BooleanField(
        label="This is a different complaint: log it anyway", required=False
    )
    # One filing per page shown: a second click, or the same page sent again, finds it used.
    submission = forms.CharField(widget=forms.HiddenInput, max_length=64)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not self.is_bound:
            self.initial.setdefault("received_at", _now_local())
            self.initial.setdefault("nation", settings.WORKING_DAYS_NATION)
            self.initial.setdefault("submission", secrets.token_urlsafe(24))

    def clean_received_at(self) -> dt.datetime:
        value = self.cleaned_data["received_at"]
        try:
            services.check_received_at(value)
        except forms.ValidationError as exc:
            raise forms.ValidationError(exc.message_dict["received_at"]) from None
        return value

    def clean(self):
        data = super().clean()
        if data.get("vulnerable") is False and (data.get("vulnerability_notes") or "").strip():
            self.add_error(
                "vulnerable", "Tick this box if the customer needs support, or clear the notes."
            )
        return data
