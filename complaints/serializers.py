"""The API's JSON, field for field as DESIGN.md's "HTTP surface" says. Serializers validate and
present; they never act (the views call the services)."""

from __future__ import annotations

import datetime as dt

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError as DjangoValidationError
from django.urls import reverse
from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from . import clocks, services
from .models import (
    TRANSITION_NAMES,
    AdrOutcome,
    Category,
    Channel,
    Complaint,
    ComplaintEvent,
    EventKind,
    Letter,
    LetterKind,
    Nation,
    ResponseMethod,
    State,
)


class LondonDateField(serializers.Field):
    """An instant shown as its Europe/London date, YYYY-MM-DD."""

    def to_representation(self, value: dt.datetime) -> str:
        return clocks.london_date(value).isoformat()


class InstantField(serializers.DateTimeField):
    """An ISO 8601 instant. DRF takes a time without an offset as the site's local time (London),
    even one the clocks skip; this field leaves it without one, for the validator to refuse."""

    def enforce_timezone(self, value: dt.datetime) -> dt.datetime:
        if timezone.is_naive(value):
            return value
        return super().enforce_timezone(value)


class LetterSerializer(serializers.ModelSerializer):
    kind = serializers.ChoiceField(choices=LetterKind.choices)
    url = serializers.SerializerMethodField(help_text="Download link for the PDF (token auth).")
    sha256 = serializers.CharField(
        help_text="SHA-256 of the PDF; empty until the letter has been rendered."
    )
    issued_at = serializers.DateTimeField()

    class Meta:
        model = Letter
        fields = ["kind", "url", "sha256", "issued_at"]

    def get_url(self, letter: Letter) -> str:
        path = reverse("api:complaint-letter", args=[letter.complaint.reference, letter.pk])
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request else path


class ComplaintSerializer(serializers.ModelSerializer):
    """A complaint as the API returns it. Dates are Europe/London dates (YYYY-MM-DD)."""

    state = serializers.ChoiceField(choices=State.choices, read_only=True)
    stage = serializers.IntegerField(
        read_only=True, allow_null=True, help_text="1, 2 or 3 while a stage clock runs; else null."
    )
    received_at = InstantField(
        required=False,
        help_text="When the complaint was received: ISO 8601 with its offset from UTC "
        "(`2026-12-05T10:00:00Z`, `...+00:00`); without one, 400. Defaults to now; never in the "
        "future. The clocks count from its Europe/London date.",
    )
    response_due_date = serializers.SerializerMethodField(
        help_text="The current stage's reply is due by the end of this London date. Null when "
        "no reply clock runs: a reply has been recorded in this stage, or the complaint is past "
        "the three stages (stage is null).",
    )
    adr_eligible_date = serializers.DateField(
        read_only=True, help_text="From this London date the customer may go to CISAS."
    )
    responded_at = serializers.DateTimeField(read_only=True, allow_null=True)
    assigned_to = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True
    )
    letters = LetterSerializer(many=True, read_only=True)
    category = serializers.ChoiceField(choices=Category.choices)
    channel = serializers.ChoiceField(choices=Channel.choices, default=Channel.PHONE)
    preferred_response = serializers.ChoiceField(
        choices=ResponseMethod.choices,
        required=False,
        help_text="How the customer wants the reply. A phone reply needs a phone number; "
        "when left out, by phone if a number is given, otherwise in writing.",
    )
    nation = serializers.ChoiceField(choices=Nation.choices, required=False)
    description = serializers.CharField(max_length=20000, trim_whitespace=True)

    class Meta:
        model = Complaint
        fields = [
            "reference",
            "state",
            "stage",
            "received_at",
            "response_due_date",
            "adr_eligible_date",
            "responded_at",
            "assigned_to",
            "letters",
            "customer_name",
            "email",
            "phone",
            "postal_address",
            "account_number",
            "category",
            "description",
            "channel",
            "preferred_response",
            "nation",
            "vulnerable",
            "vulnerability_notes",
        ]
        read_only_fields = ["reference"]

    @extend_schema_field(serializers.DateField(allow_null=True))
    def get_response_due_date(self, complaint: Complaint) -> dt.date | None:
        # As the staff case page shows it: the stored due instant stays for the reports, but a
        # stopped clock has no date to reply by.
        return complaint.response_due_date if complaint.awaiting_reply else None

    def validate_received_at(self, value: dt.datetime) -> dt.datetime:
        try:
            services.check_received_at(value)
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.message_dict["received_at"]) from None
        return value


class EventSerializer(serializers.ModelSerializer):
    kind = serializers.ChoiceField(choices=EventKind.choices)
    actor = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    actor_role = serializers.CharField(help_text="customer, agent, manager or system")
    from_state = serializers.CharField(allow_blank=True)
    to_state = serializers.CharField(allow_blank=True)

    class Meta:
        model = ComplaintEvent
        fields = [
            "id",
            "created_at",
            "kind",
            "actor",
            "actor_role",
            "transition",
            "from_state",
            "to_state",
            "customer_visible",
            "text",
        ]


class TransitionSerializer(serializers.Serializer):
    name = serializers.ChoiceField(choices=[(n, n) for n in TRANSITION_NAMES])
    note = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=20000,
        default="",
        help_text="Reason or text. Needed for `resolve` (how the complaint was resolved), for "
        "`issue_deadlock_letter` (the company's final position) and for `make_formal_complaint` "
        "(the customer's formal complaint, in their words): without it, 400 on `note`. For "
        "`record_adr_decision`, the remedy; for other transitions, optional.",
    )
    expected_state = serializers.ChoiceField(
        choices=State.choices,
        required=False,
        help_text="The state you saw. If the complaint has moved on, nothing happens (409).",
    )
    cisas_reference = serializers.CharField(required=False, max_length=60)
    referred_on = serializers.DateField(required=False)
    outcome = serializers.ChoiceField(choices=AdrOutcome.choices, required=False)
    accepted_on = serializers.DateField(required=False, allow_null=True)
    started_on = serializers.DateField(required=False)
    received_at = InstantField(
        required=False,
        help_text="For `make_formal_complaint` recorded after the customer's letter or e-mail "
        "came in: when it reached us, ISO 8601 with its offset from UTC. The reply is due 15 "
        "working days after it. Not before stage 2 began, nor in the future (400).",
    )


class ReplySerializer(serializers.Serializer):
    method = serializers.ChoiceField(choices=ResponseMethod.choices)
    summary = serializers.CharField(max_length=20000, help_text="What was said or written.")
    replied_at = InstantField(
        required=False, help_text="When the reply was given: ISO 8601 with its offset from UTC."
    )
    call_reference = serializers.CharField(required=False, allow_blank=True, max_length=100)
    phone_agreed = serializers.BooleanField(
        required=False,
        help_text="For a phone reply to a customer who asked for one in writing: they agreed on "
        "the call to be answered by phone. Without it, such a reply is a 400.",
    )


class MessageSerializer(serializers.Serializer):
    text = serializers.CharField(max_length=20000)


class AssignSerializer(serializers.Serializer):
    assigned_to = serializers.SlugRelatedField(
        slug_field="username",
        queryset=get_user_model().objects.filter(is_active=True),
        allow_null=True,
        help_text="Username of the agent or manager, or null to unassign.",
    )


class ErrorSerializer(serializers.Serializer):
    detail = serializers.CharField()
    code = serializers.CharField()


class ConflictSerializer(ErrorSerializer):
    allowed = serializers.ListField(
        child=serializers.CharField(), help_text="Transitions you may fire in the current state."
    )
    state = serializers.CharField(help_text="The complaint's current state.")
