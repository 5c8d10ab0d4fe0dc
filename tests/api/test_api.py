"""The REST API as a CRM or telephony system uses it, per DESIGN.md's contract."""

from __future__ import annotations

import datetime as dt
import json

import pytest
import time_machine
from django.core.management import call_command
from rest_framework.test import APIClient

from complaints.api_auth import api_token_issue
from complaints.models import Complaint, ComplaintEvent, State
from tests.conftest import fresh, london_today

pytestmark = pytest.mark.django_db
URL = "/api/v1/complaints/"

NEW = {
    "customer_name": "Raj Patel",
    "email": "raj@example.com",
    "phone": "07700 900456",
    "postal_address": "2 Mill Lane\nWare\nSG12 9AB",
    "account_number": "ET654321",
    "category": "service_fault",
    "description": "Calls drop after ten minutes.",
    "channel": "phone",
    "preferred_response": "written",
}


def api(user=None, token: str | None = None) -> APIClient:
    client = APIClient()
    if user is not None:
        token = api_token_issue(user=user)
    if token is not None:
        client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client


# --- Authentication and roles ------------------------------------------------------------


def test_no_token_or_a_bad_token_is_401():
    assert api().get(URL).status_code == 401
    response = api(token="0" * 40).get(URL)
    assert response.status_code == 401
    assert response.json()["code"] == "authentication_failed"


def test_a_user_without_a_complaints_role_is_403(outsider):
    response = api(outsider).get(URL)
    assert response.status_code == 403
    assert set(response.json()) == {"detail", "code"}


def test_token_requests_leave_no_session_behind(agent):
    """A CRM calling the API all day must not add a session row (and a cookie) per request."""
    from django.contrib.sessions.models import Session

    client = api(agent)
    assert client.get(URL).status_code == 200
    response = client.post(URL, NEW, format="json")
    assert response.status_code == 201
    assert "sessionid" not in response.cookies
    assert Session.objects.count() == 0


def test_create_api_token_prints_a_working_token(agent, capsys):
    call_command("create_api_token", "agent")
    token = capsys.readouterr().out.strip()
    assert api(token=token).get(URL).status_code == 200


def test_create_api_token_refuses_someone_without_a_role(outsider):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="not in the CS Team"):
        call_command("create_api_token", "outsider")


# --- Create --------------------------------------------------------------------------------


def test_logging_a_phone_complaint_returns_201_with_the_contract_fields(agent):
    with time_machine.travel(dt.datetime(2026, 11, 25, 10, 0, tzinfo=dt.UTC), tick=False):
        response = api(agent).post(
            URL, {**NEW, "received_at": "2026-11-24T16:30:00+00:00"}, format="json"
        )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert set(body) >= {
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
    }
    assert body["state"] == "cs_team" and body["stage"] == 1
    assert body["response_due_date"] == "2026-12-15"
    assert body["letters"][0]["kind"] == "acknowledgement"
    assert body["letters"][0]["url"].endswith(
        f"/api/v1/complaints/{body['reference']}/letters/{Complaint.objects.get().letters.get().pk}/"
    )
    assert "tracking" not in str(body), "the customer's secret never goes to the API client"


def test_the_201_body_is_what_reading_the_complaint_back_returns(agent):
    client = api(agent)
    created = client.post(
        URL, {**NEW, "received_at": "2026-11-24T16:30:00.123456+00:00"}, format="json"
    )
    assert created.status_code == 201, created.json()
    read = client.get(f"{URL}{created.json()['reference']}/")
    assert read.status_code == 200
    assert created.json() == read.json()


def test_a_retry_with_the_same_idempotency_key_gets_the_first_complaint_not_a_second(agent):
    """A CRM that timed out and sends the same request again must not give the customer two
    complaints and two acknowledgement letters."""
    client = api(agent)
    first = client.post(URL, NEW, format="json", HTTP_IDEMPOTENCY_KEY="crm-4711")
    assert first.status_code == 201, first.json()
    assert "Idempotent-Replayed" not in first
    again = client.post(
        URL, dict(reversed(NEW.items())), format="json", HTTP_IDEMPOTENCY_KEY="crm-4711"
    )
    assert again.status_code == 201, again.json()
    assert again["Idempotent-Replayed"] == "true"
    assert again.json()["reference"] == first.json()["reference"]
    assert again.json() == client.get(f"{URL}{first.json()['reference']}/").json()
    assert Complaint.objects.count() == 1
    complaint = Complaint.objects.get()
    assert complaint.letters.count() == 1
    assert complaint.events.filter(kind="filed").count() == 1
    from complaints.models import OutboundEmail

    assert OutboundEmail.objects.count() == 1


def test_a_new_idempotency_key_or_none_files_a_new_complaint(agent):
    client = api(agent)
    assert client.post(URL, NEW, format="json", HTTP_IDEMPOTENCY_KEY="a").status_code == 201
    assert client.post(URL, NEW, format="json", HTTP_IDEMPOTENCY_KEY="b").status_code == 201
    assert client.post(URL, NEW, format="json").status_code == 201
    assert client.post(URL, NEW, format="json").status_code == 201
    assert Complaint.objects.count() == 4


def test_an_idempotency_key_is_the_senders_own(agent, manager):
    """Two systems (two staff accounts) that happen to pick the same key each file their own."""
    first = api(agent).post(URL, NEW, format="json", HTTP_IDEMPOTENCY_KEY="1")
    second = api(manager).post(URL, NEW, format="json", HTTP_IDEMPOTENCY_KEY="1")
    assert first.status_code == second.status_code == 201
    assert first.json()["reference"] != second.json()["reference"]


def test_the_same_idempotency_key_with_other_details_is_422_and_writes_nothing(agent):
    client = api(agent)
    first = client.post(URL, NEW, format="json", HTTP_IDEMPOTENCY_KEY="crm-4712")
    response = client.post(
        URL,
        {**NEW, "customer_name": "Someone Else"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="crm-4712",
    )
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "idempotency_key_reused"
    assert first.json()["reference"] in body["detail"]
    assert Complaint.objects.count() == 1


@pytest.mark.parametrize("key", ["", " padded ", "x" * 201, "caf\u00e9"])
def test_an_unusable_idempotency_key_is_400_and_writes_nothing(agent, key):
    response = api(agent).post(URL, NEW, format="json", HTTP_IDEMPOTENCY_KEY=key)
    assert response.status_code == 400
    assert response.json()["code"] == "bad_idempotency_key"
    assert Complaint.objects.count() == 0


def test_a_request_refused_for_bad_input_does_not_use_up_its_key(agent):
    client = api(agent)
    bad = {**NEW, "email": "", "postal_address": ""}  # nowhere to send the acknowledgement
    bad = client.post(URL, bad, format="json", HTTP_IDEMPOTENCY_KEY="k")
    assert bad.status_code == 400
    good = client.post(URL, NEW, format="json", HTTP_IDEMPOTENCY_KEY="k")
    assert good.status_code == 201 and "Idempotent-Replayed" not in good


def test_the_schema_documents_the_idempotency_key():
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    create = schema["paths"]["/api/v1/complaints/"]["post"]
    header = [p for p in create["parameters"] if p["name"] == "Idempotency-Key"]
    assert header and header[0]["in"] == "header" and not header[0].get("required")
    assert "422" in create["responses"]


def test_bad_input_is_400_with_field_errors_and_writes_nothing(agent):
    response = api(agent).post(
        URL,
        {**NEW, "email": "nope", "category": "weather", "received_at": "2999-01-01T00:00:00Z"},
        format="json",
    )
    assert response.status_code == 400
    assert {"email", "category", "received_at"} <= set(response.json())
    assert not Complaint.objects.exists() and not ComplaintEvent.objects.exists()


@pytest.mark.parametrize(
    "received_at",
    [
        "2026-12-05T10:00:00",
        "2026-12-05",
        "2026-03-29T01:30:00",  # a time London's clocks skip
        "2026-10-25T01:30:00",  # a time London's clocks pass twice
    ],
)
def test_a_received_time_without_its_offset_is_400_and_writes_nothing(agent, received_at):
    response = api(agent).post(URL, {**NEW, "received_at": received_at}, format="json")
    assert response.status_code == 400
    assert response.json() == {"received_at": ["Give the time with its time zone."]}
    assert not Complaint.objects.exists() and not ComplaintEvent.objects.exists()


@pytest.mark.parametrize("replied_at", ["2026-03-29T01:30:00", "2026-12-05T10:00:00"])
def test_a_reply_time_without_its_offset_is_400_and_writes_nothing(
    agent, file_complaint, replied_at
):
    complaint = file_complaint().complaint
    response = api(agent).post(
        f"{URL}{complaint.reference}/replies/",
        {"method": "written", "summary": "Our answer.", "replied_at": replied_at},
        format="json",
    )
    assert response.status_code == 400
    assert response.json() == {"replied_at": ["Give the time with its time zone."]}
    assert fresh(complaint).responded_at is None
    assert not complaint.events.filter(kind="reply").exists()


def test_the_managers_reply_at_stage_2_is_refused_to_an_agent(agent, manager, complaint_in):
    complaint = complaint_in(State.CS_MANAGER)
    reply = {"method": "written", "summary": "We have refunded you."}
    refused = api(agent).post(f"{URL}{complaint.reference}/replies/", reply, format="json")
    assert refused.status_code == 403 and refused.json()["code"] == "not_permitted"
    assert fresh(complaint).responded_at is None
    sent = api(manager).post(f"{URL}{complaint.reference}/replies/", reply, format="json")
    assert sent.status_code == 200


def test_a_phone_reply_without_a_phone_number_is_400_and_writes_nothing(agent):
    response = api(agent).post(
        URL, {**NEW, "channel": "letter", "phone": "", "preferred_response": "phone"}, format="json"
    )
    assert response.status_code == 400
    assert "phone number" in response.json()["preferred_response"][0]
    assert not Complaint.objects.exists() and not ComplaintEvent.objects.exists()


@pytest.mark.parametrize(("phone", "expected"), [("07700 900456", "phone"), ("", "written")])
def test_left_out_the_reply_is_by_phone_only_with_a_number(agent, phone, expected):
    body = {**NEW, "channel": "letter", "phone": phone}
    del body["preferred_response"]
    response = api(agent).post(URL, body, format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["preferred_response"] == expected


def test_a_missing_body_is_400(agent):
    response = api(agent).post(URL, {}, format="json")
    assert response.status_code == 400
    assert {"customer_name", "category", "description"} <= set(response.json())


def test_a_customer_with_no_e_mail_address_needs_a_postal_address(agent):
    """A letter or a call from someone with no e-mail address is logged, and written to by post;
    with neither, the acknowledgement could reach nobody."""
    client = api(agent)
    neither = client.post(URL, {**NEW, "email": "", "postal_address": ""}, format="json")
    assert neither.status_code == 400
    assert "postal address" in neither.json()["email"][0]
    by_post = client.post(URL, {**NEW, "email": ""}, format="json")
    assert by_post.status_code == 201 and by_post.json()["email"] == ""
    # A message could not reach them: refused, with why, and nothing recorded.
    reference = by_post.json()["reference"]
    message = client.post(f"{URL}{reference}/messages/", {"text": "On it."}, format="json")
    assert message.status_code == 400
    assert "has no e-mail address" in message.json()["text"][0]
    assert not ComplaintEvent.objects.filter(complaint__reference=reference, kind="message")


# Nested past any body the API takes: deep enough to exhaust Python's JSON decoder, or to parse
# and then exhaust the stack in a serializer field that compares or prints the value.
TOO_DEEP = {
    "arrays": "[" * 1000 + "]" * 1000,
    "objects": '{"a":' * 1000 + "1" + "}" * 1000,
    "a field's value": '{"name": "resolve", "text": "x", "method": "phone", "summary": "x", '
    '"assigned_to": ' + "[" * 600 + "]" * 600 + "}",
}


@pytest.mark.parametrize("body", TOO_DEEP.values(), ids=TOO_DEEP.keys())
@pytest.mark.parametrize("action", ["", "transitions/", "replies/", "messages/", "assign/"])
def test_a_body_nested_too_deep_is_a_400_parse_error_and_writes_nothing(
    agent, file_complaint, action, body
):
    complaint = file_complaint().complaint
    url = f"{URL}{complaint.reference}/{action}" if action else URL
    response = api(agent).post(url, body, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["code"] == "parse_error"
    assert "JSON parse error" in response.json()["detail"]
    assert Complaint.objects.count() == 1
    assert [e.kind for e in complaint.events.all()] == ["filed"]
    after = fresh(complaint)
    assert (after.state, after.assigned_to, after.responded_at) == (State.CS_TEAM, None, None)


@pytest.mark.parametrize(
    ("received_at", "due", "adr"),
    [
        # Received the evening before Christmas Eve 2026: 25, 28 Dec and 1 Jan are holidays.
        ("2026-12-23T18:00:00+00:00", "2027-01-18", "2027-03-16"),
        # 23:30 UTC on Sat 28 Mar 2026 is Sat in London (GMT); the clocks go forward at 01:00.
        ("2026-03-28T23:30:00+00:00", "2026-04-21", "2026-06-19"),
        # 23:30 UTC on Sat 24 Oct 2026 is 00:30 BST on Sunday 25 Oct: day 0 is the Sunday.
        ("2026-10-24T23:30:00+00:00", "2026-11-13", "2027-01-14"),
        # Received on Good Friday 2026 (3 Apr): day 0 whatever kind of day; Easter Monday skipped.
        ("2026-04-03T10:00:00+01:00", "2026-04-27", "2026-06-25"),
    ],
)
@time_machine.travel(dt.datetime(2027, 5, 1, 12, 0, tzinfo=dt.UTC), tick=False)
def test_clock_dates_match_the_calendar_around_holidays_and_clock_changes(
    agent, received_at, due, adr
):
    response = api(agent).post(URL, {**NEW, "received_at": received_at}, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["response_due_date"], body["adr_eligible_date"]) == (due, adr)


# --- Read ------------------------------------------------------------------------------------


def test_list_filters_and_orders_by_reply_due_date(agent, manager, file_complaint):
    from complaints.models import Channel
    from complaints.roles import Actor

    old = file_complaint(
        by=Actor.staff(agent),
        channel=Channel.PHONE,
        received_at=dt.datetime(2026, 1, 5, 9, tzinfo=dt.UTC),
    ).complaint
    new = file_complaint().complaint
    client = api(manager)
    refs = [
        c["reference"] for c in client.get(URL, {"ordering": "response_due_date"}).json()["results"]
    ]
    assert refs == [old.reference, new.reference]
    refs = [
        c["reference"]
        for c in client.get(URL, {"ordering": "-response_due_date"}).json()["results"]
    ]
    assert refs == [new.reference, old.reference]
    overdue = client.get(URL, {"overdue": "true"}).json()
    assert [c["reference"] for c in overdue["results"]] == [old.reference]
    client.post(f"{URL}{new.reference}/assign/", {"assigned_to": "agent"}, format="json")
    mine = client.get(URL, {"assigned_to": "agent"}).json()["results"]
    assert [c["reference"] for c in mine] == [new.reference]
    none = client.get(URL, {"assigned_to": "none"}).json()["results"]
    assert [c["reference"] for c in none] == [old.reference]
    assert client.get(URL, {"state": "cs_manager"}).json()["count"] == 0


@pytest.mark.parametrize("ordering", [None, "response_due_date", "-response_due_date"])
def test_by_reply_due_date_cases_with_none_come_last(agent, file_complaint, ordering):
    """A case answered, or deadlocked by the ADR clock, shows no ``response_due_date``: the due
    date its stage left behind must not sort it before the cases whose reply is due."""
    from complaints import services
    from complaints.models import Channel
    from complaints.roles import Actor
    from escalation.services import sweep_adr_clock

    def logged(day: int) -> Complaint:
        received = dt.datetime(2026, 1, day, 9, tzinfo=dt.UTC)
        return file_complaint(
            by=Actor.staff(agent), channel=Channel.PHONE, received_at=received
        ).complaint

    clocked = logged(5)
    assert sweep_adr_clock() == 1  # long past its ADR date
    # Answered: no date shown, though its stage's due date is the latest of all.
    waiting, later, replied = logged(6), logged(7), logged(8)
    services.complaint_record_reply(
        complaint=replied, by=Actor.staff(agent), method="phone", summary="Called back."
    )
    client = api(agent)
    for page_size in (25, 1):  # on one page, and followed page by page
        query = {"page_size": page_size, **({"ordering": ordering} if ordering else {})}
        body = client.get(URL, query).json()
        results = body["results"]
        while body["next"]:
            body = client.get(body["next"]).json()
            results += body["results"]
        dates = [c["response_due_date"] for c in results]
        assert dates[2:] == [None, None]
        assert {c["reference"] for c in results[2:]} == {clocked.reference, replied.reference}
        waiting_first = [waiting.reference, later.reference]
        if ordering == "-response_due_date":
            waiting_first.reverse()
        assert [c["reference"] for c in results[:2]] == waiting_first


@pytest.mark.parametrize("value", ["yes", "maybe", "", "no", "1"])
def test_an_overdue_filter_that_is_not_true_or_false_is_400(agent, file_complaint, value):
    file_complaint()
    response = api(agent).get(URL, {"overdue": value})
    assert response.status_code == 400
    assert response.json() == {"overdue": ["Use true or false."]}


@pytest.mark.parametrize("value", ["nobody", "agnet", "999"])
def test_an_assigned_to_filter_naming_nobody_on_the_staff_is_400(agent, file_complaint, value):
    file_complaint()
    response = api(agent).get(URL, {"assigned_to": value})
    assert response.status_code == 400
    assert response.json() == {
        "assigned_to": [
            "No member of staff has this username. Give a username, or 'none' for unassigned cases."
        ]
    }
    assert api(agent).get(URL, {"assigned_to": "agent"}).json()["count"] == 0
    assert api(agent).get(URL, {"assigned_to": "none"}).json()["count"] == 1


@pytest.mark.parametrize(("value", "count"), [("true", 0), ("false", 1), ("False", 1)])
def test_the_overdue_filter_takes_true_or_false(agent, file_complaint, value, count):
    file_complaint()
    response = api(agent).get(URL, {"overdue": value})
    assert response.status_code == 200
    assert response.json()["count"] == count


def test_the_schema_types_the_overdue_filter_as_a_boolean():
    (overdue,) = [
        p
        for p in openapi()["paths"]["/api/v1/complaints/"]["get"]["parameters"]
        if p["name"] == "overdue"
    ]
    assert overdue["schema"] == {"type": "boolean"}


@pytest.mark.parametrize("state", State.values)
def test_a_reply_due_date_is_given_only_while_the_case_page_gives_one(
    agent, client, complaint_in, state
):
    complaint = complaint_in(state)
    body = api(agent).get(f"{URL}{complaint.reference}/").json()
    client.force_login(agent)
    page = client.get(f"/staff/complaints/{complaint.reference}/").content.decode()
    due = complaint.response_due_date
    if state in ("cs_team", "cs_manager", "formal_written"):
        assert body["stage"] is not None
        assert body["response_due_date"] == due.isoformat()
        assert f"{due:%a} {due.day} {due:%b %Y}" in page
    else:
        assert body["stage"] is None
        assert body["response_due_date"] is None
        # The case page gives no running due date: the clock ended answered or not.
        assert f"{due:%a} {due.day} {due:%b %Y}" not in page
        assert any(said in page for said in ("No reply deadline", "Answered", "Not answered"))
    listed = api(agent).get(URL).json()["results"]
    assert [c["response_due_date"] for c in listed] == [body["response_due_date"]]


def test_a_reply_recorded_in_the_stage_stops_its_due_date(agent, file_complaint):
    complaint = file_complaint().complaint
    client = api(agent)
    assert client.get(f"{URL}{complaint.reference}/").json()["response_due_date"] is not None
    replied = client.post(
        f"{URL}{complaint.reference}/replies/",
        {"method": "phone", "summary": "Explained the fault."},
        format="json",
    )
    assert replied.status_code == 200
    assert replied.json()["stage"] == 1 and replied.json()["response_due_date"] is None
    escalated = client.post(
        f"{URL}{complaint.reference}/transitions/",
        {"name": "escalate_to_manager", "note": "Still dropping calls."},
        format="json",
    )
    assert escalated.json()["response_due_date"] == fresh(complaint).response_due_date.isoformat()


def test_a_list_page_costs_the_same_queries_for_3_complaints_as_for_30(
    agent, file_complaint, django_assert_max_num_queries
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = api(agent)
    for _ in range(3):
        file_complaint()
    with CaptureQueriesContext(connection) as few:
        client.get(URL, {"page_size": 100})
    for _ in range(27):
        file_complaint()
    with CaptureQueriesContext(connection) as many:
        assert client.get(URL, {"page_size": 100}).json()["count"] == 30
    assert len(many.captured_queries) == len(few.captured_queries)


def test_page_size_is_bounded(agent, file_complaint):
    file_complaint()
    response = api(agent).get(URL, {"page_size": 100000})
    assert response.status_code == 200


def test_detail_events_and_unknown_reference(agent, file_complaint):
    complaint = file_complaint().complaint
    client = api(agent)
    assert client.get(f"{URL}{complaint.reference}/").json()["reference"] == complaint.reference
    events = client.get(f"{URL}{complaint.reference}/events/").json()["results"]
    assert [e["kind"] for e in events] == ["filed"]
    assert client.get(f"{URL}CMP-2026-999999/").status_code == 404
    assert client.get(f"{URL}CMP-2026-999999/events/").status_code == 404


# "lower case" is a real complaint's reference in lower case.
NOT_REFERENCES = [
    "lower case",
    "CMP-2026-1",
    "ÇMP-2026-000001",
    "CMP–2026–000001",
    "a.b",
    "0",
    "CMP/2026/000001",  # sent as CMP%2F2026%2F000001, which the server decodes
]
COMPLAINT_ROUTES = [
    ("get", ""),
    ("get", "events/"),
    ("post", "transitions/"),
    ("post", "replies/"),
    ("post", "messages/"),
    ("post", "assign/"),
    ("get", "letters/1/"),
]


@pytest.mark.parametrize("reference", NOT_REFERENCES)
@pytest.mark.parametrize(("method", "action"), COMPLAINT_ROUTES)
def test_a_reference_not_in_the_reference_form_is_the_apis_json_404(
    agent, file_complaint, reference, method, action
):
    from urllib.parse import quote

    filed = file_complaint().complaint
    if reference == "lower case":
        reference = filed.reference.lower()
    client = api(agent)
    unknown = getattr(client, method)(f"{URL}CMP-2026-999999/{action}", {}, format="json")
    response = getattr(client, method)(
        f"{URL}{quote(reference, safe='')}/{action}", {}, format="json"
    )
    assert response.status_code == unknown.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert (
        response.json()
        == unknown.json()
        == {
            "detail": "Not found: no complaint, letter or page with that reference.",
            "code": "not_found",
        }
    )


def test_a_body_larger_than_the_upload_limit_is_a_json_400_and_writes_nothing(agent, settings):
    body = json.dumps({**NEW, "description": "x" * settings.DATA_UPLOAD_MAX_MEMORY_SIZE})
    response = api(agent).post(URL, body, content_type="application/json")
    assert response.status_code == 400
    assert response.json() == {
        "detail": "The request body is too large: at most "
        f"{settings.DATA_UPLOAD_MAX_MEMORY_SIZE:,} bytes.",
        "code": "request_too_large",
    }
    assert not Complaint.objects.exists()


@pytest.mark.parametrize(
    "query",
    [
        {"state": "closed"},
        {"state": "bogus"},
        {"overdue": "true"},
        {"overdue": "maybe"},
        {"assigned_to": "agent"},
        {"ordering": "nonsense"},
    ],
)
def test_one_complaint_is_found_whatever_the_lists_filters_say(agent, file_complaint, query):
    complaint = file_complaint().complaint
    client = api(agent)
    response = client.get(f"{URL}{complaint.reference}/", query)
    assert response.status_code == 200
    assert response.json() == client.get(f"{URL}{complaint.reference}/").json()


def test_the_schema_offers_the_lists_filters_on_the_list_only():
    paths = openapi()["paths"]
    listed = {p["name"] for p in paths["/api/v1/complaints/"]["get"]["parameters"]}
    timeline = paths["/api/v1/complaints/{reference}/events/"]["get"]
    events = {p["name"] for p in timeline["parameters"]}
    assert {"state", "overdue", "assigned_to", "ordering"} <= listed
    assert events == {"reference", "page", "page_size", "after", "before"}


def test_a_letter_downloads_as_pdf_and_matches_its_sha256(agent, file_complaint):
    import hashlib

    complaint = file_complaint().complaint
    client = api(agent)
    url = client.get(f"{URL}{complaint.reference}/").json()["letters"][0]["url"]
    response = client.get(url)
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    body = b"".join(response.streaming_content)
    sha = client.get(f"{URL}{complaint.reference}/").json()["letters"][0]["sha256"]
    assert hashlib.sha256(body).hexdigest() == sha


# --- Transitions and actions -----------------------------------------------------------------


def test_a_transition_returns_the_complaint(agent, file_complaint):
    complaint = file_complaint().complaint
    response = api(agent).post(
        f"{URL}{complaint.reference}/transitions/",
        {"name": "escalate_to_manager", "note": "Customer asked for the manager."},
        format="json",
    )
    assert response.status_code == 200
    assert response.json()["state"] == "cs_manager" and response.json()["stage"] == 2
    assert fresh(complaint).events.filter(transition="escalate_to_manager").count() == 1


def test_a_transition_the_state_does_not_permit_is_409_with_the_allowed_list(
    manager, file_complaint
):
    complaint = file_complaint().complaint
    response = api(manager).post(
        f"{URL}{complaint.reference}/transitions/", {"name": "refer_to_adr"}, format="json"
    )
    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "transition_not_allowed" and body["state"] == "cs_team"
    assert body["allowed"] == [
        "escalate_to_manager",
        "issue_deadlock_letter",
        "resolve",
        "withdraw",
    ]
    assert fresh(complaint).state == State.CS_TEAM


@pytest.mark.parametrize("who", ["agent", "manager"])
def test_a_reply_or_assignment_refused_in_the_state_is_409_with_the_allowed_list(
    who, request, complaint_in
):
    complaint = complaint_in(State.RESOLVED)
    client = api(request.getfixturevalue(who))
    base = f"{URL}{complaint.reference}"
    transition = client.post(f"{base}/transitions/", {"name": "resolve"}, format="json")
    reply = client.post(f"{base}/replies/", {"method": "phone", "summary": "Hi."}, format="json")
    assign = client.post(f"{base}/assign/", {"assigned_to": who}, format="json")
    allowed = {"agent": ["reopen"], "manager": ["reopen", "close"]}[who]
    for response in (transition, reply, assign):
        assert response.status_code == 409
        assert response.json()["state"] == "resolved"
        assert response.json()["allowed"] == allowed
    assert reply.json()["code"] == assign.json()["code"] == "transition_not_allowed"
    assert fresh(complaint).assigned_to is None
    assert not complaint.events.filter(kind="reply").exists()


def test_a_transition_the_role_may_not_fire_is_403(agent, file_complaint):
    complaint = file_complaint().complaint
    response = api(agent).post(
        f"{URL}{complaint.reference}/transitions/",
        {"name": "issue_deadlock_letter", "note": "No."},
        format="json",
    )
    assert response.status_code == 403
    assert response.json()["code"] == "not_permitted"
    assert response.json()["detail"] == (
        "Your role may not issue a deadlock letter (the complaint is “With our Customer "
        "Services Team”)."
    )
    assert fresh(complaint).state == State.CS_TEAM


def test_an_agent_may_not_resolve_at_stage_2_and_is_told_so(agent, complaint_in):
    complaint = complaint_in(State.CS_MANAGER)
    response = api(agent).post(
        f"{URL}{complaint.reference}/transitions/",
        {"name": "resolve", "note": "Refunded."},
        format="json",
    )
    assert response.status_code == 403
    assert response.json()["detail"] == (
        "Your role may not resolve the complaint (the complaint is “With our Customer Services "
        "Manager”)."
    )
    assert fresh(complaint).state == State.CS_MANAGER


@pytest.mark.parametrize(
    ("name", "state"), [("escalate_to_manager", "cs_team"), ("reopen", "resolved")]
)
def test_staff_escalating_or_reopening_must_say_why_as_on_the_case_page(
    agent, manager, complaint_in, name, state
):
    complaint = complaint_in(state)
    client = api(manager)
    response = client.post(
        f"{URL}{complaint.reference}/transitions/", {"name": name, "note": "  "}, format="json"
    )
    assert response.status_code == 400
    assert response.json() == {"note": [response.json()["note"][0]]}
    assert response.json()["note"][0].startswith("Enter why it")
    assert fresh(complaint).state == state
    assert not complaint.events.filter(transition=name).exists()
    ok = client.post(
        f"{URL}{complaint.reference}/transitions/",
        {"name": name, "note": "The customer rang back, still without service."},
        format="json",
    )
    assert ok.status_code == 200, ok.json()


def test_a_stale_expected_state_is_409_changed_by_someone_else(agent, file_complaint):
    complaint = file_complaint().complaint
    client = api(agent)
    client.post(
        f"{URL}{complaint.reference}/transitions/",
        {"name": "escalate_to_manager", "note": "Still dropping calls."},
        format="json",
    )
    response = client.post(
        f"{URL}{complaint.reference}/transitions/",
        {"name": "withdraw", "expected_state": "cs_team"},
        format="json",
    )
    assert response.status_code == 409
    assert response.json()["code"] == "changed_by_someone_else"
    assert response.json()["state"] == "cs_manager"
    assert fresh(complaint).state == State.CS_MANAGER


@pytest.mark.parametrize("note", [None, "", "   "])
def test_staff_withdraw_a_complaint_only_saying_how_the_customer_asked(agent, file_complaint, note):
    """As on the case page and in the admin: the timeline records the customer's request."""
    complaint = file_complaint().complaint
    body = {"name": "withdraw", **({"note": note} if note is not None else {})}
    response = api(agent).post(f"{URL}{complaint.reference}/transitions/", body, format="json")
    assert response.status_code == 400
    assert response.json() == {"note": ["Enter how and when the customer asked to withdraw."]}
    assert fresh(complaint).state == State.CS_TEAM
    assert not complaint.events.filter(transition="withdraw").exists()
    response = api(agent).post(
        f"{URL}{complaint.reference}/transitions/",
        {"name": "withdraw", "note": "Customer rang on 6 December to withdraw."},
        format="json",
    )
    assert response.status_code == 200 and response.json()["state"] == "withdrawn"
    event = complaint.events.get(transition="withdraw")
    assert event.text == "Customer rang on 6 December to withdraw."


def test_an_unknown_transition_is_400(agent, file_complaint):
    complaint = file_complaint().complaint
    response = api(agent).post(
        f"{URL}{complaint.reference}/transitions/", {"name": "delete"}, format="json"
    )
    assert response.status_code == 400 and "name" in response.json()


def test_a_formal_complaint_needs_the_customers_words(manager, complaint_in):
    complaint = complaint_in(State.CS_MANAGER)
    url = f"{URL}{complaint.reference}/transitions/"
    response = api(manager).post(url, {"name": "make_formal_complaint"}, format="json")
    assert response.status_code == 400
    assert response.json() == {"note": ["Enter the customer's formal complaint, in their words."]}
    assert fresh(complaint).state == State.CS_MANAGER
    said = "Letter of 3 March: the refund promised at stage 2 has not arrived."
    response = api(manager).post(
        url, {"name": "make_formal_complaint", "note": said}, format="json"
    )
    assert response.status_code == 200 and response.json()["state"] == "formal_written"
    assert complaint.events.get(transition="make_formal_complaint").text == said


@pytest.mark.parametrize(
    "note", [{}, {"note": ""}, {"note": "   "}], ids=["none", "empty", "blank"]
)
@pytest.mark.parametrize(
    ("name", "wanted"),
    [("resolve", "how it was resolved"), ("issue_deadlock_letter", "the final position")],
)
def test_a_resolution_or_deadlock_letter_without_its_note_is_a_400_on_note(
    manager, file_complaint, name, wanted, note
):
    complaint = file_complaint().complaint
    response = api(manager).post(
        f"{URL}{complaint.reference}/transitions/", {"name": name, **note}, format="json"
    )
    assert response.status_code == 400
    assert list(response.json()) == ["note"]
    assert wanted in response.json()["note"][0]
    assert fresh(complaint).state == State.CS_TEAM
    assert not complaint.letters.filter(kind="deadlock").exists()
    assert not complaint.events.filter(kind="transition").exists()


def test_cisas_referral_and_decision_through_the_api(manager, complaint_in):
    complaint = complaint_in(State.DEADLOCK)
    client = api(manager)
    url = f"{URL}{complaint.reference}/transitions/"
    today = london_today().isoformat()
    referred = client.post(
        url,
        {"name": "refer_to_adr", "cisas_reference": "CIS-4411", "referred_on": today},
        format="json",
    )
    assert referred.status_code == 200 and referred.json()["state"] == "adr_referred"
    decided = client.post(
        url,
        {
            "name": "record_adr_decision",
            "outcome": "upheld",
            "note": "Refund £40",
            "accepted_on": today,
        },
        format="json",
    )
    assert decided.status_code == 200 and decided.json()["state"] == "resolved"


def test_reply_message_and_assign(agent, file_complaint):
    complaint = file_complaint().complaint
    client = api(agent)
    base = f"{URL}{complaint.reference}"
    reply = client.post(
        f"{base}/replies/",
        {"method": "phone", "summary": "Explained the fault.", "call_reference": "REC-1"},
        format="json",
    )
    assert reply.status_code == 200 and reply.json()["responded_at"] is not None
    assert (
        client.post(f"{base}/messages/", {"text": "We are on it."}, format="json").status_code
        == 200
    )
    assign = client.post(f"{base}/assign/", {"assigned_to": "agent"}, format="json")
    assert assign.status_code == 200 and assign.json()["assigned_to"] == "agent"
    bad = client.post(f"{base}/replies/", {"method": "fax", "summary": ""}, format="json")
    assert bad.status_code == 400 and {"method", "summary"} <= set(bad.json())
    assert (
        client.post(f"{base}/assign/", {"assigned_to": "ghost"}, format="json").status_code == 400
    )


def test_through_the_api_an_escalation_hands_the_case_over_and_an_agent_cannot_claim_it_back(
    agent, manager, file_complaint
):
    complaint = file_complaint().complaint
    base = f"{URL}{complaint.reference}"
    client = api(agent)
    assert (
        client.post(f"{base}/assign/", {"assigned_to": "agent"}, format="json").status_code == 200
    )
    escalated = client.post(
        f"{base}/transitions/",
        {"name": "escalate_to_manager", "note": "Customer asked for the manager."},
        format="json",
    )
    assert escalated.status_code == 200 and escalated.json()["assigned_to"] is None
    claim = client.post(f"{base}/assign/", {"assigned_to": "agent"}, format="json")
    assert claim.status_code == 403 and claim.json()["code"] == "not_permitted"
    given = api(manager).post(f"{base}/assign/", {"assigned_to": "agent"}, format="json")
    assert given.status_code == 200 and given.json()["assigned_to"] == "agent"


def test_methods_not_in_the_contract_are_405(agent, file_complaint):
    complaint = file_complaint().complaint
    client = api(agent)
    assert client.delete(f"{URL}{complaint.reference}/").status_code == 405
    assert client.put(f"{URL}{complaint.reference}/", NEW, format="json").status_code == 405
    assert client.get(f"{URL}{complaint.reference}/transitions/").status_code == 405


def test_each_token_is_throttled(agent, settings):
    from rest_framework.settings import api_settings
    from rest_framework.throttling import UserRateThrottle

    client = api(agent)
    rates = {**api_settings.DEFAULT_THROTTLE_RATES, "user": "3/min"}
    original = UserRateThrottle.THROTTLE_RATES
    UserRateThrottle.THROTTLE_RATES = rates
    try:
        codes = [client.get(URL).status_code for _ in range(4)]
    finally:
        UserRateThrottle.THROTTLE_RATES = original
    assert codes == [200, 200, 200, 429]


# --- The contract --------------------------------------------------------------------------


def test_the_schema_validates_without_warnings(tmp_path):
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "s.yaml"))
    schema = (tmp_path / "s.yaml").read_text()
    for path in ("/api/v1/complaints/", "/api/v1/complaints/{reference}/transitions/"):
        assert path in schema


def openapi() -> dict:
    from drf_spectacular.generators import SchemaGenerator

    return SchemaGenerator().get_schema(request=None, public=True)


def test_the_schema_says_which_transitions_need_a_note():
    note = openapi()["components"]["schemas"]["TransitionRequest"]["properties"]["note"]
    assert "`resolve`" in note["description"]
    assert "`issue_deadlock_letter`" in note["description"]
    assert "400 on `note`" in note["description"]


def test_the_docs_page_serves_its_assets_locally(client):
    page = client.get("/api/docs/").content.decode()
    assert "swagger-ui" in page
    assert "cdn" not in page.lower() and "unpkg" not in page.lower()


def test_a_formal_complaint_logged_through_the_api_is_due_from_when_it_reached_us(
    manager, file_complaint
):
    from complaints import services
    from complaints.roles import Actor

    with time_machine.travel(dt.datetime(2026, 11, 2, 10, 0, tzinfo=dt.UTC), tick=False):
        complaint = file_complaint().complaint
        services.complaint_escalate(
            complaint=complaint, by=Actor.staff(manager), reason="Needs the manager's review."
        )
    url = f"{URL}{complaint.reference}/transitions/"
    with time_machine.travel(dt.datetime(2026, 12, 4, 15, 0, tzinfo=dt.UTC), tick=False):
        early = api(manager).post(
            url,
            {
                "name": "make_formal_complaint",
                "note": "Still no refund.",
                "received_at": "2026-11-01T09:00:00Z",
            },
            format="json",
        )
        assert early.status_code == 400 and "received_at" in early.json()
        response = api(manager).post(
            url,
            {
                "name": "make_formal_complaint",
                "note": "Still no refund.",
                "received_at": "2026-12-01T09:30:00Z",
            },
            format="json",
        )
    assert response.status_code == 200, response.content
    assert response.json()["state"] == "formal_written"
    assert response.json()["response_due_date"] == "2026-12-22"
