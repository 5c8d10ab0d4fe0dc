"""REST API (/api/v1/): the same procedure for CRMs and telephony systems.

Staff only, ``Authorization: Token <key>``; the same role rules and the same services as the pages.
Errors are ``{"detail": ..., "code": ...}`` (409s add ``allowed`` and ``state``), or field errors
``{"field": ["message"]}`` with 400. Nothing half-written is left behind: every write is one
service call, and every service is one transaction.
"""

from __future__ import annotations

import hashlib
import json
import re

from django import forms
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import QuerySet
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django_filters import rest_framework as filters
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import mixins, permissions, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import APIException, NotFound, PermissionDenied
from rest_framework.pagination import PageNumberPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.urls import remove_query_param, replace_query_param
from rest_framework.views import exception_handler as drf_exception_handler

from config.cache_headers import add_never_cache_headers

from . import documents, keyset, selectors, services
from .errors import API_NOT_FOUND
from .models import Complaint, Letter, State
from .roles import Actor, Role, staff_role
from .serializers import (
    AssignSerializer,
    ComplaintSerializer,
    ConflictSerializer,
    ErrorSerializer,
    EventSerializer,
    MessageSerializer,
    ReplySerializer,
    TransitionSerializer,
)

# --- Errors -----------------------------------------------------------------------------------


def exception_handler(exc: Exception, context: dict) -> Response | None:
    """Domain errors become the status codes DESIGN.md promises; every error body has a code."""
    if isinstance(exc, services.ComplaintChanged):
        return _conflict(exc, exc.complaint, context["request"])
    if isinstance(exc, services.TransitionNotAllowed):
        complaint = context.get("complaint")
        if complaint is not None:
            return _conflict(exc, complaint, context["request"])
        body = {"detail": exc.message, "code": exc.code, "allowed": exc.allowed}
        return Response(body, status=status.HTTP_409_CONFLICT)
    if isinstance(exc, services.NotPermitted):
        return Response({"detail": exc.message, "code": exc.code}, status=403)
    if isinstance(exc, services.KeyReused):
        return Response({"detail": exc.message, "code": exc.code}, status=422)
    if isinstance(exc, DjangoValidationError):
        body = exc.message_dict if hasattr(exc, "error_dict") else {"detail": exc.messages}
        return Response(body, status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, RequestDataTooBig):
        # Raised when the view first reads the body; left to Django it is an HTML 400 page.
        return Response(
            {
                "detail": "The request body is too large: at most "
                f"{settings.DATA_UPLOAD_MAX_MEMORY_SIZE:,} bytes.",
                "code": "request_too_large",
            },
            status=status.HTTP_400_BAD_REQUEST,
        )
    if isinstance(exc, Http404):
        exc = NotFound(API_NOT_FOUND)
    elif isinstance(exc, DjangoPermissionDenied):
        exc = PermissionDenied()
    response = drf_exception_handler(exc, context)
    if response is not None and isinstance(exc, APIException) and "detail" in response.data:
        response.data = {"detail": response.data["detail"], "code": exc.get_codes()}
    return response


def _conflict(exc: services.ComplaintError, complaint: Complaint, request: Request) -> Response:
    """A 409, whichever operation refused: why, the complaint's state, and the transitions the
    caller may fire in that state. Services that are not transitions (a reply, an assignment)
    refuse without working those out; the list is the same whoever refused."""
    return Response(
        {
            "detail": exc.message,
            "code": exc.code,
            "state": complaint.state,
            "allowed": services.available_transitions(complaint, _actor(request)),
        },
        status=status.HTTP_409_CONFLICT,
    )


class IsComplaintsStaff(permissions.BasePermission):
    message = "Your account does not have a complaints role (CS Team or CS Managers)."

    def has_permission(self, request: Request, view: object) -> bool:
        return staff_role(request.user) in (Role.AGENT, Role.MANAGER)


class BadIdempotencyKey(APIException):
    status_code = status.HTTP_400_BAD_REQUEST
    default_code = "bad_idempotency_key"
    default_detail = (
        "The Idempotency-Key header must be 1 to 200 printable characters (letters, digits and "
        "punctuation), like a UUID."
    )


IDEMPOTENCY_KEY_RE = re.compile(r"[\x21-\x7e](?:[\x20-\x7e]{0,198}[\x21-\x7e])?")


def _request_key(request: Request) -> services.RequestKey | None:
    """The ``Idempotency-Key`` header, with a fingerprint of what the request asks for: its JSON
    with the keys sorted, so that the same details sent in another order are the same request."""
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return None
    if not IDEMPOTENCY_KEY_RE.fullmatch(key):
        raise BadIdempotencyKey()
    body = json.dumps(request.data, sort_keys=True, separators=(",", ":"), default=str)
    return services.RequestKey(key=key, fingerprint=hashlib.sha256(body.encode()).hexdigest())


def _actor(request: Request) -> Actor:
    return Actor.staff(request.user)


# --- Lists ------------------------------------------------------------------------------------


# The list's orders, by the value of ``ordering``, as keyset segments (complaints/keyset.py), and
# the same as one ORDER BY for the queryset. Every order ends with id, so that pages never overlap
# or skip cases that share a date. By reply due date, cases with none (``response_due_date`` is
# null: replied, or no longer at a stage) come last either way, as in the agents' queue: the
# due instant a stage left behind is kept for the reports, not shown, and must not sort a case
# answered long ago before one whose reply is due.
ORDERINGS = {
    "response_due_date": selectors.awaiting_reply_first(),
    "-response_due_date": selectors.awaiting_reply_first(descending=True),
    "received_at": keyset.ordered_by("received_at", nullable=False),
    "-received_at": keyset.ordered_by("received_at", nullable=False, descending=True),
}
ORDER_BY = {
    "response_due_date": selectors.awaiting_reply_first_order(),
    "-response_due_date": selectors.awaiting_reply_first_order(descending=True),
    "received_at": keyset.queryset_order(ORDERINGS["received_at"]),
    "-received_at": keyset.queryset_order(ORDERINGS["-received_at"]),
}
DEFAULT_ORDERING = "response_due_date"
# A complaint's events, oldest first.
EVENT_ORDER = keyset.ordered_by("created_at", nullable=False)


def ordering_of(request: Request) -> str:
    """The ordering a list request asked for (the first, if it named several)."""
    wanted = (request.query_params.get("ordering") or "").split(",")[0].strip()
    return wanted if wanted in ORDERINGS else DEFAULT_ORDERING


class ComplaintPagination(PageNumberPagination):
    """Numbered pages whose Next and Previous links name the row they follow (keyset pagination):
    the next page is one short index range however deep it is, where ``?page=N`` alone has
    PostgreSQL read and throw away every row before it (1.8 s for page 39,000 of 1,000,000
    complaints). ``?page=N`` without a cursor still gives that page. ``count`` is exact."""

    page_size = 25
    page_size_query_param = "page_size"
    max_page_size = 100
    cursor_params = ("after", "before")

    def paginate_queryset(self, queryset: QuerySet, request: Request, view=None) -> list:
        self.request = request
        per_page = self.get_page_size(request)
        params = request.query_params
        try:
            number = int(params.get(self.page_query_param) or 1)
        except ValueError:
            number = 0
        if number < 1:
            raise NotFound("Invalid page.")
        self.count = queryset.count()
        paginator = keyset.KeysetPaginator(
            queryset,
            view.page_segments(request),
            per_page,
            count=self.count,
            restart_when_empty=False,
        )
        cursors = [params[name] for name in self.cursor_params if params.get(name)]
        if cursors:
            if paginator.parse(cursors[0]) is None:
                raise NotFound("Invalid page link: start again from the first page.")
            self.page = paginator.get_page(params)
        elif number == 1:
            self.page = paginator.first_page()
        else:
            # A page asked for by number alone: found with OFFSET, as before links had cursors.
            offset = (number - 1) * per_page
            if offset >= self.count:  # nor asked of PostgreSQL, whose OFFSET is a bigint
                raise NotFound("Invalid page.")
            rows = list(queryset[offset : offset + per_page + 1])
            if not rows:
                raise NotFound("Invalid page.")
            self.page = keyset.KeysetPage(
                paginator,
                rows[:per_page],
                number=number,
                has_next=len(rows) > per_page,
                has_previous=True,
            )
        return list(self.page.object_list)

    def get_paginated_response(self, data) -> Response:
        return Response(
            {
                "count": self.count,
                "next": self.get_next_link(),
                "previous": self.get_previous_link(),
                "results": data,
            }
        )

    def _url(self) -> str:
        url = self.request.build_absolute_uri()
        for name in self.cursor_params:
            url = remove_query_param(url, name)
        return url

    def get_next_link(self) -> str | None:
        if not self.page.has_next():
            return None
        url = replace_query_param(self._url(), "after", self.page.next_cursor)
        return replace_query_param(url, self.page_query_param, self.page.number + 1)

    def get_previous_link(self) -> str | None:
        if not self.page.has_previous():
            return None
        number = self.page.number - 1
        if number <= 1:
            return remove_query_param(self._url(), self.page_query_param)
        url = replace_query_param(self._url(), "before", self.page.previous_cursor)
        return replace_query_param(url, self.page_query_param, number)

    def get_schema_operation_parameters(self, view) -> list[dict]:
        described = {
            "after": "A cursor from a `next` link: the page after that row.",
            "before": "A cursor from a `previous` link: the page before that row.",
        }
        return [
            *super().get_schema_operation_parameters(view),
            *(
                {
                    "name": name,
                    "required": False,
                    "in": "query",
                    "description": text,
                    "schema": {"type": "string"},
                }
                for name, text in described.items()
            ),
        ]


class ComplaintOrdering(filters.OrderingFilter):
    """``ordering`` as ORDERINGS gives it: with id after the date, and nulls last."""

    def filter(self, qs: QuerySet, value) -> QuerySet:
        if not value or value[0] not in ORDERINGS:
            return qs
        return qs.order_by(*ORDER_BY[value[0]])


class TrueOrFalseField(forms.Field):
    """A query parameter that is ``true`` or ``false`` (in any case). django-filter's
    BooleanFilter takes any other value (yes, maybe, nothing) for "not given" and drops the
    filter, answering 200 with every complaint; this one says what is wrong (400)."""

    def to_python(self, value: str | None) -> bool | None:
        if value is None:  # not in the query string
            return None
        spelled = value.strip().lower()
        if spelled not in ("true", "false"):
            raise DjangoValidationError("Use true or false.", code="invalid")
        return spelled == "true"


class TrueOrFalseFilter(filters.Filter):
    field_class = TrueOrFalseField


class StaffUsernameField(forms.CharField):
    """A member of staff's username, or ``none``. A name nobody has is refused, as any other bad
    filter value is, rather than answered with an empty list that looks like "no cases": a
    misspelt name, or "nobody" for "none"."""

    def clean(self, value):
        value = super().clean(value)
        if (
            value
            and value != "none"
            and not get_user_model().objects.filter(username=value).exists()
        ):
            raise DjangoValidationError(
                "No member of staff has this username. Give a username, or 'none' for "
                "unassigned cases.",
                code="invalid",
            )
        return value


class StaffUsernameFilter(filters.CharFilter):
    field_class = StaffUsernameField


class ComplaintFilter(filters.FilterSet):
    # distinct=False: state is a column of the complaint itself, so no row can come twice, and
    # django-filter's default SELECT DISTINCT over every column took 115 ms, and as long again
    # to count, at 1,000,000 complaints.
    state = filters.MultipleChoiceFilter(choices=State.choices, distinct=False)
    overdue = TrueOrFalseFilter(
        method="filter_overdue",
        label="true: only complaints whose reply is overdue (the stage clock has run out, no "
        "reply); false: only those whose reply is not.",
    )
    assigned_to = StaffUsernameFilter(
        method="filter_assigned_to", label="Username, or 'none' for unassigned cases"
    )
    ordering = ComplaintOrdering(
        fields=(("response_due_at", "response_due_date"), ("received_at", "received_at")),
    )

    class Meta:
        model = Complaint
        fields = ["state", "overdue", "assigned_to"]

    # Never called with None (the filter is left out); the hint on value is also what types the
    # parameter as a boolean in the schema.
    def filter_overdue(self, queryset: QuerySet, name: str, value: bool) -> QuerySet:
        overdue = selectors.overdue_q(timezone.now())  # Complaint.is_overdue, as a query
        return queryset.filter(overdue) if value else queryset.exclude(overdue)

    def filter_assigned_to(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        if value == "none":
            return queryset.filter(assigned_to__isnull=True)
        return queryset.filter(assigned_to__username=value)


# --- Complaints -------------------------------------------------------------------------------

ERRORS = {
    401: OpenApiResponse(ErrorSerializer, description="No token, or a bad one."),
    403: OpenApiResponse(ErrorSerializer, description="Your role may not do this."),
    404: OpenApiResponse(ErrorSerializer, description="No complaint with that reference."),
}
# Any text is looked up, so that a reference not in this form is the same JSON 404 as one that
# is but names no complaint.
REFERENCE = OpenApiParameter(
    "reference",
    OpenApiTypes.STR,
    OpenApiParameter.PATH,
    description="The complaint's reference, like CMP-2026-000123. Any other is a 404.",
)
BAD_INPUT = OpenApiResponse(
    OpenApiTypes.OBJECT,
    description='Field errors: {"field": ["message", ...]}; or {"detail": ..., "code": ...} when '
    "the body cannot be read (not JSON, nested too deep, too large). Nothing written.",
)
IDEMPOTENCY_KEY = OpenApiParameter(
    "Idempotency-Key",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    required=False,
    description="Optional; any text up to 200 printable characters, new for each complaint (a "
    "UUID, say). Send the same request again with the same key, after a timeout or a dropped "
    "connection, and you get the complaint it filed (201, with `Idempotent-Replayed: true`), not "
    "a second complaint and a second letter to the customer. The same key with different details "
    "is refused (422).",
)
KEY_REUSED = OpenApiResponse(
    ErrorSerializer, description="The Idempotency-Key was used before for another complaint."
)
CONFLICT = OpenApiResponse(
    ConflictSerializer,
    description="Not possible in the complaint's current state, or it changed since you looked.",
)


@extend_schema_view(
    list=extend_schema(
        summary="List complaints",
        responses={
            200: ComplaintSerializer(many=True),
            400: BAD_INPUT,
            401: ERRORS[401],
            403: ERRORS[403],
            404: OpenApiResponse(ErrorSerializer, description="No such page."),
        },
    ),
    retrieve=extend_schema(
        summary="One complaint",
        parameters=[REFERENCE],
        responses={200: ComplaintSerializer, **ERRORS},
    ),
    create=extend_schema(
        summary="Log a complaint (received by phone, e-mail, letter or on the web)",
        parameters=[IDEMPOTENCY_KEY],
        responses={
            201: ComplaintSerializer,
            400: BAD_INPUT,
            401: ERRORS[401],
            403: ERRORS[403],
            422: KEY_REUSED,
        },
    ),
)
class ComplaintViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    serializer_class = ComplaintSerializer
    permission_classes = [permissions.IsAuthenticated, IsComplaintsStaff]
    pagination_class = ComplaintPagination
    filter_backends = [filters.DjangoFilterBackend]
    filterset_class = ComplaintFilter
    lookup_field = "reference"
    lookup_value_regex = r"[^/]+"  # not only CMP-YYYY-NNNNNN: see REFERENCE

    def finalize_response(self, request: Request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        # Customers' personal data, kept by no cache between here and the client.
        add_never_cache_headers(response)
        return response

    def get_queryset(self) -> QuerySet[Complaint]:
        # Two queries a page whatever its length: the complaints (with assignee) and their letters.
        return (
            Complaint.objects.select_related("assigned_to")
            .prefetch_related("letters__complaint")
            .order_by(*ORDER_BY[DEFAULT_ORDERING])
        )

    def filter_queryset(self, queryset: QuerySet[Complaint]) -> QuerySet[Complaint]:
        # The list's filters are the list's: one complaint is found by its reference alone.
        if self.action != "list":
            return queryset
        return super().filter_queryset(queryset)

    def page_segments(self, request: Request) -> list[keyset.Segment]:
        """The order of the list being paged, for ComplaintPagination's links: by reply due date,
        told what the filters already limit the list to (``selectors.awaiting_reply_first``)."""
        if self.action == "events":
            return EVENT_ORDER
        ordering = ordering_of(request)
        if ordering not in ("response_due_date", "-response_due_date"):
            return ORDERINGS[ordering]
        # The filters were checked before any page is read: a bad value is already a 400.
        return selectors.awaiting_reply_first(
            descending=ordering.startswith("-"),
            states=request.query_params.getlist("state") or None,
            overdue=TrueOrFalseField().to_python(request.query_params.get("overdue")) is True,
        )

    def get_exception_handler_context(self) -> dict:
        context = super().get_exception_handler_context()
        context["complaint"] = getattr(self, "_complaint", None)
        return context

    def _get_complaint(self) -> Complaint:
        self._complaint = get_object_or_404(Complaint, reference=self.kwargs["reference"])
        return self._complaint

    def _respond(self, complaint: Complaint, code: int = 200) -> Response:
        fresh = self.get_queryset().get(pk=complaint.pk)
        return Response(self.get_serializer(fresh).data, status=code)

    def list(self, request: Request, *args, **kwargs) -> Response:
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        # A page of the list holds each complaint's personal data, as reading it one by one does.
        services.case_views_record(complaints=page, by=_actor(request), via="api")
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    def retrieve(self, request: Request, *args, **kwargs) -> Response:
        complaint = self.get_object()
        services.case_view_record(complaint=complaint, by=_actor(request), via="api")
        return Response(self.get_serializer(complaint).data)

    def create(self, request: Request, *args, **kwargs) -> Response:
        request_key = _request_key(request)
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        filed = services.complaint_file(by=_actor(request), request_key=request_key, **data)
        if filed.replayed:
            response = self._respond(filed.complaint, status.HTTP_201_CREATED)
            response["Idempotent-Replayed"] = "true"
            return response
        # The tracking link's secret goes to the customer by e-mail only, never to the API client.
        # The complaint as filed, not read back: nobody is assigned to it yet, and its letters
        # (the acknowledgement) are one query through the relation.
        return Response(self.get_serializer(filed.complaint).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        parameters=[REFERENCE],
        summary="The complaint's timeline, oldest first",
        responses={
            200: EventSerializer(many=True),
            401: ERRORS[401],
            403: ERRORS[403],
            404: OpenApiResponse(ErrorSerializer, description="No such complaint, or page."),
        },
    )
    # No filter backends: the list's filters are not the timeline's, and the schema should not
    # offer them here.
    @action(detail=True, methods=["get"], filter_backends=[])
    def events(self, request: Request, reference: str) -> Response:
        complaint = self._get_complaint()
        services.case_view_record(complaint=complaint, by=_actor(request), via="api")
        events = complaint.events.select_related("actor").order_by(
            *keyset.queryset_order(EVENT_ORDER)
        )
        page = self.paginate_queryset(events)
        return self.get_paginated_response(EventSerializer(page, many=True).data)

    @extend_schema(
        parameters=[REFERENCE],
        summary="Fire a transition",
        request=TransitionSerializer,
        responses={200: ComplaintSerializer, 400: BAD_INPUT, 409: CONFLICT, **ERRORS},
    )
    @action(detail=True, methods=["post"])
    def transitions(self, request: Request, reference: str) -> Response:
        complaint = self._get_complaint()
        serializer = TransitionSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        services.complaint_transition(
            complaint=complaint,
            name=data.pop("name"),
            note=data.pop("note", ""),
            expected_state=data.pop("expected_state", None),
            by=_actor(request),
            **data,
        )
        return self._respond(complaint)

    @extend_schema(
        parameters=[REFERENCE],
        summary="Record a reply (a phone call, or a written reply sent as a letter)",
        request=ReplySerializer,
        responses={200: ComplaintSerializer, 400: BAD_INPUT, 409: CONFLICT, **ERRORS},
    )
    @action(detail=True, methods=["post"])
    def replies(self, request: Request, reference: str) -> Response:
        complaint = self._get_complaint()
        serializer = ReplySerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.complaint_record_reply(
            complaint=complaint, by=_actor(request), **serializer.validated_data
        )
        return self._respond(complaint)

    @extend_schema(
        parameters=[REFERENCE],
        summary="Send the customer a message",
        request=MessageSerializer,
        responses={200: ComplaintSerializer, 400: BAD_INPUT, 409: CONFLICT, **ERRORS},
    )
    @action(detail=True, methods=["post"])
    def messages(self, request: Request, reference: str) -> Response:
        complaint = self._get_complaint()
        serializer = MessageSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.complaint_add_message(
            complaint=complaint, by=_actor(request), text=serializer.validated_data["text"]
        )
        return self._respond(complaint)

    @extend_schema(
        parameters=[REFERENCE],
        summary="Assign or unassign the complaint",
        request=AssignSerializer,
        responses={200: ComplaintSerializer, 400: BAD_INPUT, 409: CONFLICT, **ERRORS},
    )
    @action(detail=True, methods=["post"])
    def assign(self, request: Request, reference: str) -> Response:
        complaint = self._get_complaint()
        serializer = AssignSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.complaint_assign(
            complaint=complaint,
            assignee=serializer.validated_data["assigned_to"],
            by=_actor(request),
        )
        return self._respond(complaint)

    @extend_schema(
        parameters=[REFERENCE],
        summary="Download a letter's PDF",
        responses={
            (200, "application/pdf"): OpenApiResponse(OpenApiTypes.BINARY, description="The PDF"),
            **ERRORS,
        },
    )
    @action(detail=True, methods=["get"], url_path=r"letters/(?P<letter_id>\d+)", url_name="letter")
    def letter(self, request: Request, reference: str, letter_id: str) -> FileResponse:
        letter = get_object_or_404(
            Letter.objects.select_related("complaint"),
            pk=letter_id,
            complaint__reference=reference,
        )
        services.case_view_record(complaint=letter.complaint, by=_actor(request), via="letter")
        pdf = documents.letter_open(letter)
        if pdf is None:
            # DRF's own 404, so its reason reaches the client (a Django Http404 becomes the
            # API's general "not found").
            raise NotFound("This letter was removed with the customer's personal data.")
        return FileResponse(
            pdf,
            content_type="application/pdf",
            filename=letter.file_name,
        )
