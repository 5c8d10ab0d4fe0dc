"""The case page: what it shows, the actions each role may take in each state, and each action
going through its service, writing its event, refusing a stale page and showing errors."""

from __future__ import annotations

import datetime as dt
import re

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from complaints import clocks, services, staff_views
from complaints.models import (
    AdrOutcome,
    Channel,
    ComplaintEvent,
    EventKind,
    Letter,
    LetterKind,
    State,
)
from complaints.roles import Actor
from tests.conftest import fresh

pytestmark = pytest.mark.django_db


def page(client, complaint):
    return client.get(f"/staff/complaints/{complaint.reference}/")


def shown(response) -> list[str]:
    return [entry["name"] for entry in response.context["forms"]]


def act(client, complaint, action, expected_state=None, files=None, **fields):
    data = {
        "action": action,
        f"{action}-expected_state": expected_state or complaint.state,
        **{f"{action}-{k}": v for k, v in fields.items()},
    }
    if files:
        data[f"{action}-files"] = files
    return client.post(f"/staff/complaints/{complaint.reference}/actions/", data)


def today():
    return clocks.london_date(timezone.now())


# --- What the page shows --------------------------------------------------------------------------


def test_it_shows_the_customer_the_complaint_and_the_dates(client, agent, file_complaint):
    complaint = file_complaint(
        vulnerable=True, vulnerability_notes="Recently bereaved; prefers e-mail."
    ).complaint
    client.force_login(agent)
    response = page(client, complaint)
    html = response.content.decode()
    assert response.status_code == 200
    assert "Vulnerable customer" in html
    assert "Recently bereaved; prefers e-mail." in html
    # The vulnerability flag comes before the actions and the timeline.
    assert html.index("Vulnerable customer") < html.index("What you can do")
    for text in ("Jane Doe", "jane@example.com", "07700 900123", "ET123456", "SG14 1AA"):
        assert text in html
    assert "I was charged twice for October." in html
    assert "15 working days left" in html
    assert f"{complaint.adr_eligible_date:%-d %b %Y}" in html
    # Said of a date to come, not as though the letter had already gone.
    assert "the deadlock letter goes out automatically that day" in html
    assert "Acknowledgement (PDF)" in html
    assert f'href="/staff/letters/{complaint.letters.get().pk}.pdf" download' in html
    # Nothing a strict Content Security Policy would block.
    assert "<script>" not in html and "style=" not in html


def test_a_complaint_logged_after_its_adr_date_says_the_letter_is_on_its_way(
    client, agent, file_complaint
):
    """Logged late, past its ADR date: the clock issues the letter at its next run, so the page
    does not promise it for a day already gone."""
    received = timezone.now() - dt.timedelta(days=120)
    complaint = file_complaint(
        channel=Channel.LETTER, received_at=received, by=Actor.staff(agent)
    ).complaint
    client.force_login(agent)
    html = page(client, complaint).content.decode()
    assert f"{complaint.adr_eligible_date:%-d %b %Y}" in html
    assert "passed: the deadlock letter goes out automatically within minutes" in html
    assert "goes out automatically that day" not in html


def test_it_shows_the_cisas_deadline_once_deadlocked(client, manager, complaint_in):
    complaint = complaint_in(State.DEADLOCK)
    client.force_login(manager)
    html = page(client, complaint).content.decode()
    assert "CISAS deadline" in html
    assert f"{complaint.cisas_deadline:%-d %b %Y}" in html
    assert "Deadlock letter (PDF)" in html


def test_internal_notes_are_marked_internal_on_the_timeline(client, agent, file_complaint):
    complaint = file_complaint().complaint
    services.complaint_add_note(complaint=complaint, by=Actor.staff(agent), text="Checked billing.")
    client.force_login(agent)
    html = page(client, complaint).content.decode()
    note = html[html.index("Checked billing.") - 900 : html.index("Checked billing.")]
    assert "event-internal" in note
    assert "Internal: the customer does not see this" in note


def test_renaming_an_account_does_not_rewrite_who_did_what(client, agent, manager, file_complaint):
    from complaints import privacy

    complaint = file_complaint().complaint
    agent.first_name, agent.last_name = "Alex", "Agent"
    agent.save()
    services.complaint_add_note(complaint=complaint, by=Actor.staff(agent), text="Checked billing.")
    agent.first_name, agent.last_name = "Mallory", "Intruder"
    agent.save()
    services.complaint_add_note(complaint=complaint, by=Actor.staff(agent), text="Called back.")
    client.force_login(manager)
    html = page(client, complaint).content.decode()
    first = html[html.index("Checked billing.") - 900 : html.index("Checked billing.")]
    second = html[html.index("Called back.") - 900 : html.index("Called back.")]
    assert "Alex Agent" in first and "Mallory" not in first
    assert "Mallory Intruder" in second
    authors = [e["by"] for e in privacy._complaint_record(complaint, [], [])["timeline"]]
    assert "Alex Agent" in authors and "Mallory Intruder" in authors


def test_renaming_an_account_does_not_rewrite_who_signed_a_letter(client, manager, complaint_in):
    complaint = complaint_in(State.CS_MANAGER)
    manager.first_name, manager.last_name = "Morgan", "Manager"
    manager.save()
    client.force_login(manager)
    act(client, complaint, "deadlock", final_position="Our offer of £20 stands.")
    manager.first_name, manager.last_name = "Alexandra", "Newname"
    manager.save()
    html = page(client, complaint).content.decode()
    letters = html[html.index("Deadlock letter (PDF)") :][:600]
    assert "Morgan Manager" in letters and "Newname" not in letters


def test_an_overdue_case_says_so(client, agent, file_complaint):
    complaint = file_complaint(
        by=Actor.staff(agent),
        channel="phone",
        received_at=timezone.now() - dt.timedelta(days=40),
    ).complaint
    client.force_login(agent)
    html = page(client, complaint).content.decode()
    assert "The reply is overdue." in html


def test_a_case_withdrawn_before_its_reply_was_due_is_not_called_late(
    client, agent, file_complaint
):
    """As the figures count it: the customer withdrew before the reply was due, so no reply
    ran late, however long ago its due date passed since."""
    import time_machine

    complaint = file_complaint(
        by=Actor.staff(agent),
        channel="phone",
        received_at=dt.datetime(2026, 11, 2, 10, tzinfo=dt.UTC),
    ).complaint
    with time_machine.travel(dt.datetime(2026, 11, 4, 10, tzinfo=dt.UTC), tick=False):
        services.complaint_withdraw(complaint=complaint, by=Actor.customer())
    withdrawn_late = file_complaint(
        by=Actor.staff(agent),
        channel="phone",
        received_at=dt.datetime(2026, 10, 1, 10, tzinfo=dt.UTC),
    ).complaint
    with time_machine.travel(dt.datetime(2026, 11, 4, 10, tzinfo=dt.UTC), tick=False):
        services.complaint_withdraw(complaint=withdrawn_late, by=Actor.customer())
    client.force_login(agent)
    with time_machine.travel(dt.datetime(2026, 12, 10, 10, tzinfo=dt.UTC), tick=False):
        html = page(client, complaint).content.decode()
        late_html = page(client, withdrawn_late).content.decode()
    assert "withdrawn before it was due (23 Nov)" in html
    assert "late (due" not in html
    assert "late (due 22 Oct)" in late_html  # withdrawn after its reply was due, unanswered


def test_a_stage_the_adr_clock_ended_before_its_reply_was_due_says_so(
    client, agent, manager, file_complaint
):
    """Escalated late in its 56 working days, the case reached its ADR date before the stage 2
    reply was due: no reply is expected any more, and the page does not read as if one were."""
    from escalation.services import sweep_adr_clock

    complaint = file_complaint(
        by=Actor.staff(agent),
        channel="phone",
        received_at=dt.datetime(2026, 8, 3, 10, tzinfo=dt.UTC),
    ).complaint
    with time_machine.travel(dt.datetime(2026, 10, 19, 10, tzinfo=dt.UTC), tick=False):
        services.complaint_escalate(complaint=complaint, by=Actor.staff(agent), reason="Asked.")
    complaint = fresh(complaint)
    assert complaint.adr_eligible_date == dt.date(2026, 10, 21)
    assert complaint.response_due_date == dt.date(2026, 11, 9)
    assert sweep_adr_clock(now=dt.datetime(2026, 10, 21, 9, tzinfo=dt.UTC)) == 1
    client.force_login(manager)
    with time_machine.travel(dt.datetime(2026, 10, 21, 10, tzinfo=dt.UTC), tick=False):
        html = page(client, complaint).content.decode()
    assert "none before the ADR clock's deadlock letter; counts as late after 9 Nov" in html
    with time_machine.travel(dt.datetime(2026, 11, 10, 10, tzinfo=dt.UTC), tick=False):
        client.force_login(manager)  # a new day's sign-in
        html = page(client, complaint).content.decode()
    assert "late (due 9 Nov)" in html  # as the figures count it, once the day has passed


def test_a_late_reply_is_not_called_in_time(client, agent, file_complaint):
    complaint = file_complaint(
        by=Actor.staff(agent),
        channel="phone",
        phone="07700 900123",
        preferred_response="phone",
        received_at=timezone.now() - dt.timedelta(days=40),
    ).complaint
    client.force_login(agent)
    response = act(
        client,
        complaint,
        "reply_phone",
        replied_at=timezone.localtime().strftime("%Y-%m-%dT%H:%M"),
        summary="Called at last.",
    )
    said = client.get(response["Location"]).content.decode()
    assert "The reply deadline is met" not in said
    assert f"The reply is late: it was due by {complaint.response_due_date:%-d %B %Y}." in said


@pytest.mark.parametrize(
    "who, state, expected",
    [
        (
            "agent",
            State.CS_TEAM,
            ["reply_phone", "reply_written", "resolve", "escalate", "message", "note", "withdraw"],
        ),
        (
            "manager",
            State.CS_TEAM,
            [
                "reply_phone",
                "reply_written",
                "resolve",
                "escalate",
                "deadlock",
                "message",
                "note",
                "withdraw",
                "assign",
                "hold",
            ],
        ),
        (
            "agent",
            State.CS_MANAGER,
            ["make_formal", "message", "note", "withdraw"],  # the reply is the manager's
        ),
        ("agent", State.FORMAL_WRITTEN, ["message", "note", "withdraw"]),
        (
            "manager",
            State.CS_MANAGER,
            [
                "reply_phone",
                "reply_written",
                "resolve",
                "make_formal",
                "deadlock",
                "message",
                "note",
                "withdraw",
                "assign",
                "hold",
            ],
        ),
        ("agent", State.DEADLOCK, ["message", "note", "withdraw"]),
        (
            "manager",
            State.DEADLOCK,
            ["resolve", "refer_adr", "court", "message", "note", "withdraw", "assign", "hold"],
        ),
        (
            "manager",
            State.ADR_REFERRED,
            [
                "resolve",
                "adr_decision",
                "court",
                "message",
                "note",
                "withdraw",
                "assign",
                "hold",
            ],
        ),
        ("manager", State.COURT, ["resolve", "message", "note", "withdraw", "assign", "hold"]),
        ("agent", State.RESOLVED, ["message", "note", "reopen"]),
        ("manager", State.RESOLVED, ["message", "note", "reopen", "close", "hold"]),
        ("agent", State.CLOSED, ["note"]),
        ("manager", State.CLOSED, ["note", "hold", "erase"]),
        ("manager", State.WITHDRAWN, ["note", "hold", "erase"]),
    ],
)
def test_it_offers_only_the_actions_this_role_may_take_in_this_state(
    client, agent, manager, complaint_in, who, state, expected
):
    complaint = complaint_in(state)
    client.force_login({"agent": agent, "manager": manager}[who])
    response = page(client, complaint)
    assert shown(response) == expected
    html = response.content.decode()
    if "deadlock" not in expected:
        assert "Issue the deadlock letter" not in html


@pytest.mark.parametrize("state", [State.CS_MANAGER, State.FORMAL_WRITTEN])
def test_an_agent_may_not_send_the_managers_reply(client, agent, complaint_in, state):
    """Stage 2 and 3 are the Customer Services Manager's: a reply from an agent would go out as
    the manager's letter ("This is our Customer Services Manager's reply") and stop the
    manager's clock."""
    complaint = complaint_in(state)
    client.force_login(agent)
    response = act(client, complaint, "reply_written", summary="We have refunded you.")
    assert response.status_code == 302
    page_after = client.get(response["Location"]).content.decode()
    assert "At stage 2 and 3 the Customer Services Manager replies" in page_after
    complaint = fresh(complaint)
    assert complaint.responded_at is None and complaint.state == state
    assert not complaint.letters.filter(kind=LetterKind.WRITTEN_REPLY).exists()


def test_the_assign_list_names_people_as_the_rest_of_the_page_does(
    client, manager, agent, complaint_in
):
    agent.first_name, agent.last_name = "Sam", "Stevens"
    agent.save()
    complaint = complaint_in(State.CS_MANAGER)
    client.force_login(manager)
    html = page(client, complaint).content.decode()
    assert re.search(rf'<option value="{agent.pk}"[^>]*>Sam Stevens \(agent\)</option>', html)


def test_the_first_action_is_open_and_the_rest_folded(client, agent, file_complaint):
    complaint = file_complaint().complaint
    client.force_login(agent)
    response = page(client, complaint)
    opened = [entry["name"] for entry in response.context["forms"] if entry["open"]]
    assert opened == ["reply_phone"]
    assert '<details class="action card mb-2 " id="action-reply_phone" open>' in (
        response.content.decode()
    )


def test_a_customer_who_asked_for_a_written_reply_is_answered_in_writing(
    client, agent, file_complaint
):
    complaint = file_complaint(preferred_response="written").complaint
    client.force_login(agent)
    response = page(client, complaint)
    names = shown(response)
    assert names.index("reply_written") < names.index("reply_phone")
    assert [entry["name"] for entry in response.context["forms"] if entry["open"]] == [
        "reply_written"
    ]
    assert "The customer asked for a written reply." in response.content.decode()
    call = {
        "replied_at": timezone.localtime().strftime("%Y-%m-%dT%H:%M"),
        "summary": "Called instead.",
    }
    # A call does not answer them, unless they agreed on it to be answered by phone.
    refused = act(client, complaint, "reply_phone", **call)
    assert refused.status_code == 400
    assert "tick that they agreed on this call" in refused.content.decode()
    assert fresh(complaint).responded_at is None
    response = act(client, complaint, "reply_phone", phone_agreed="on", **call)
    assert response.status_code == 302
    after = fresh(complaint)
    assert after.responded_at is not None and after.preferred_response == "phone"
    assert after.events.get(kind="reply").data["phone_agreed"] is True


@pytest.mark.parametrize(
    "state, opened",
    [
        (State.CS_TEAM, ["reply_phone"]),  # a reply is awaited
        (State.DEADLOCK, []),  # every step from here is a decision, not a default
        (State.RESOLVED, []),
    ],
)
def test_only_the_likely_next_step_is_unfolded(client, manager, complaint_in, state, opened):
    complaint = complaint_in(state)
    client.force_login(manager)
    response = page(client, complaint)
    assert [entry["name"] for entry in response.context["forms"] if entry["open"]] == opened


def test_once_replied_resolving_is_the_next_step(client, agent, file_complaint):
    complaint = file_complaint().complaint
    services.complaint_record_reply(
        complaint=complaint, by=Actor.staff(agent), method="phone", summary="Called."
    )
    client.force_login(agent)
    response = page(client, complaint)
    assert [entry["name"] for entry in response.context["forms"] if entry["open"]] == ["resolve"]
    assert "Answered " in response.content.decode()


def test_every_action_form_carries_the_state_the_page_showed(client, manager, complaint_in):
    complaint = complaint_in(State.CS_MANAGER)
    client.force_login(manager)
    html = page(client, complaint).content.decode()
    assert 'name="deadlock-expected_state" value="cs_manager"' in html
    assert 'name="resolve-expected_state" value="cs_manager"' in html


# --- Actions --------------------------------------------------------------------------------------


def test_an_agent_logs_a_phone_reply_and_the_clock_stops(client, agent, file_complaint):
    complaint = file_complaint(
        by=Actor.staff(agent), channel="phone", received_at=timezone.now() - dt.timedelta(days=2)
    ).complaint
    client.force_login(agent)
    called = timezone.localtime().replace(second=0, microsecond=0) - dt.timedelta(hours=1)
    response = act(
        client,
        complaint,
        "reply_phone",
        replied_at=called.strftime("%Y-%m-%dT%H:%M"),
        summary="Explained the double charge; refund on its way.",
        call_reference="REC-20931",
    )
    assert response.status_code == 302
    assert response["Location"] == f"/staff/complaints/{complaint.reference}/"
    complaint = fresh(complaint)
    assert complaint.responded_at == called
    event = complaint.events.get(kind=EventKind.REPLY)
    assert event.data["method"] == "phone"
    assert event.data["call_reference"] == "REC-20931"
    assert event.actor == agent
    html = client.get(response["Location"]).content.decode()
    assert "Phone reply logged. The reply deadline is met." in html
    assert "recording REC-20931" in html


def test_a_written_reply_becomes_a_letter(client, agent, file_complaint):
    complaint = file_complaint().complaint
    client.force_login(agent)
    response = act(client, complaint, "reply_written", summary="We have refunded £12.50.")
    assert response.status_code == 302
    letter = Letter.objects.get(complaint=complaint, kind=LetterKind.WRITTEN_REPLY)
    assert letter.context["reply_text"] == "We have refunded £12.50."
    assert fresh(complaint).responded_at is not None
    assert complaint.events.filter(kind=EventKind.REPLY, data__method="written").exists()


def test_a_message_to_the_customer_with_a_file(client, agent, file_complaint):
    complaint = file_complaint().complaint
    client.force_login(agent)
    upload = SimpleUploadedFile("statement.txt", b"Refund of 12.50", content_type="text/plain")
    response = act(client, complaint, "message", text="Here is your statement.", files=[upload])
    assert response.status_code == 302
    event = complaint.events.get(kind=EventKind.MESSAGE)
    assert event.customer_visible
    attachment = event.attachments.get()
    assert attachment.name == "statement.txt" and attachment.customer_visible


def test_an_internal_note_with_a_file_is_for_staff_only(client, agent, file_complaint):
    complaint = file_complaint().complaint
    client.force_login(agent)
    upload = SimpleUploadedFile("billing.csv", b"date,amount\n", content_type="text/csv")
    response = act(client, complaint, "note", text="Billing export attached.", files=[upload])
    assert response.status_code == 302
    event = complaint.events.get(kind=EventKind.NOTE)
    assert not event.customer_visible
    assert not event.attachments.get().customer_visible


def test_a_file_that_is_not_what_it_says_is_refused_with_the_reason(client, agent, file_complaint):
    complaint = file_complaint().complaint
    client.force_login(agent)
    fake = SimpleUploadedFile("scan.pdf", b"MZ not a pdf", content_type="application/pdf")
    response = act(client, complaint, "note", text="See scan.", files=[fake])
    assert response.status_code == 400
    assert "“scan.pdf” is not a real .pdf file." in response.content.decode()
    assert not complaint.events.filter(kind=EventKind.NOTE).exists()


@pytest.mark.parametrize(
    "who, state, action, fields, to_state, transition",
    [
        ("agent", State.CS_TEAM, "resolve", {"summary": "Refunded."}, State.RESOLVED, "resolve"),
        (
            "agent",
            State.CS_TEAM,
            "escalate",
            {"reason": "Customer asked for the manager."},
            State.CS_MANAGER,
            "escalate_to_manager",
        ),
        (
            "agent",
            State.CS_MANAGER,
            "make_formal",
            {"text": "Letter received 3 March."},
            State.FORMAL_WRITTEN,
            "make_formal_complaint",
        ),
        (
            "manager",
            State.CS_MANAGER,
            "deadlock",
            {"final_position": "We stand by the charge."},
            State.DEADLOCK,
            "issue_deadlock_letter",
        ),
        (
            "manager",
            State.DEADLOCK,
            "refer_adr",
            {"cisas_reference": "CIS-2291", "referred_on": "TODAY"},
            State.ADR_REFERRED,
            "refer_to_adr",
        ),
        (
            "manager",
            State.ADR_REFERRED,
            "adr_decision",
            {
                "outcome": AdrOutcome.UPHELD,
                "remedy": "Refund £40.",
                "accepted": "yes",
                "accepted_on": "TODAY",
            },
            State.RESOLVED,
            "record_adr_decision",
        ),
        (
            "manager",
            State.ADR_REFERRED,
            "adr_decision",
            {"outcome": AdrOutcome.NOT_UPHELD, "remedy": "", "accepted": "no", "accepted_on": ""},
            State.CLOSED,
            "record_adr_decision",
        ),
        (
            "manager",
            State.DEADLOCK,
            "court",
            {"started_on": "TODAY", "note": "Small claims."},
            State.COURT,
            "start_court_action",
        ),
        (
            "agent",
            State.RESOLVED,
            "reopen",
            {"reason": "Refund never arrived."},
            State.CS_MANAGER,
            "reopen",
        ),
        ("manager", State.RESOLVED, "close", {"note": ""}, State.CLOSED, "close"),
        (
            "agent",
            State.CS_TEAM,
            "withdraw",
            {"reason": "Customer called to withdraw."},
            State.WITHDRAWN,
            "withdraw",
        ),
    ],
)
def test_each_transition_goes_through_its_service_and_writes_its_event(
    client, agent, manager, complaint_in, who, state, action, fields, to_state, transition
):
    complaint = complaint_in(state)
    user = {"agent": agent, "manager": manager}[who]
    client.force_login(user)
    fields = {k: today().isoformat() if v == "TODAY" else v for k, v in fields.items()}
    response = act(client, complaint, action, **fields)
    assert response.status_code == 302, response.content.decode()[:3000]
    complaint = fresh(complaint)
    assert complaint.state == to_state
    event = complaint.events.filter(kind=EventKind.TRANSITION).last()
    assert (event.transition, event.from_state, event.to_state) == (transition, state, to_state)
    assert event.actor == user
    follow = client.get(response["Location"]).content.decode()
    assert 'class="alert alert-success"' in follow


def test_staff_recording_a_formal_complaint_must_give_the_customers_words(
    client, agent, complaint_in
):
    complaint = complaint_in(State.CS_MANAGER)
    client.force_login(agent)
    response = act(client, complaint, "make_formal", text="  ")
    page = response.content.decode()
    assert response.status_code == 400
    assert "Enter the customer&#x27;s formal complaint, in their words." in page
    assert "The customer&#x27;s formal complaint, in their words" in page  # the field's label
    # Marked as needed, as the page's other required fields are.
    assert response.context["error_form"].fields["text"].required
    assert fresh(complaint).state == State.CS_MANAGER
    assert not complaint.events.filter(transition="make_formal_complaint").exists()


def test_issuing_a_deadlock_letter_makes_the_letter(client, manager, complaint_in):
    complaint = complaint_in(State.CS_MANAGER)
    client.force_login(manager)
    act(client, complaint, "deadlock", final_position="Our offer of £20 stands.")
    letter = Letter.objects.get(complaint=complaint, kind=LetterKind.DEADLOCK)
    assert letter.context["final_position"] == "Our offer of £20 stands."
    assert letter.context["by_clock"] is False


def test_a_manager_records_the_remedy_done(client, manager, complaint_in):
    complaint = complaint_in(State.ADR_REFERRED)
    from adr import services as adr_services

    adr_services.complaint_record_adr_decision(
        complaint=complaint,
        by=Actor.staff(manager),
        outcome=AdrOutcome.UPHELD,
        remedy="Refund",
        accepted_on=today(),
    )
    client.force_login(manager)
    assert "remedy_done" in shown(page(client, complaint))
    response = act(client, complaint, "remedy_done", note="Refund paid.")
    assert response.status_code == 302
    assert fresh(complaint).remedy_completed_at is not None
    assert complaint.events.filter(kind=EventKind.REMEDY, text="Refund paid.").exists()
    assert "remedy_done" not in shown(page(client, complaint))


def test_a_manager_assigns_and_an_agent_releases(client, agent, manager, file_complaint):
    complaint = file_complaint().complaint
    client.force_login(manager)
    response = act(client, complaint, "assign", assignee=agent.pk, expected_assignee="")
    assert response.status_code == 302
    assert fresh(complaint).assigned_to == agent
    client.force_login(agent)
    html = page(client, complaint).content.decode()
    assert "Release it" in html
    response = act(client, complaint, "release", expected_assignee=agent.pk)
    assert response.status_code == 302
    assert fresh(complaint).assigned_to is None
    assert complaint.events.filter(kind=EventKind.ASSIGNMENT).count() == 2


def test_an_agent_may_not_take_a_case_from_a_colleague(client, agent, agent2, file_complaint):
    complaint = file_complaint().complaint
    services.complaint_assign(complaint=complaint, assignee=agent2, by=Actor.staff(agent2))
    client.force_login(agent)
    response = act(client, complaint, "claim", expected_assignee=agent2.pk)
    assert response.status_code == 302
    assert fresh(complaint).assigned_to == agent2
    html = client.get(response["Location"]).content.decode()
    assert "ask a manager to reassign" in html


# --- Stale pages, refusals and errors -------------------------------------------------------------


@pytest.mark.parametrize(
    "action, fields",
    [
        ("resolve", {"summary": "Refunded."}),
        ("escalate", {"reason": "Needs the manager."}),
        ("reply_written", {"summary": "Our answer."}),
        ("message", {"text": "Hello."}),
        ("withdraw", {"reason": "Asked to."}),
    ],
)
def test_a_stale_page_is_told_the_case_changed_and_nothing_changes(
    client, agent, complaint_in, action, fields
):
    complaint = complaint_in(State.CS_TEAM)
    # Someone else escalated it after the agent's page was shown.
    services.complaint_escalate(
        complaint=fresh(complaint), by=Actor.staff(agent), reason="Needs the manager's review."
    )
    events_before = complaint.events.count()
    still_possible = action in staff_views.actions_for(fresh(complaint), Actor.staff(agent))
    client.force_login(agent)
    response = act(client, complaint, action, expected_state=State.CS_TEAM, **fields)
    assert fresh(complaint).state == State.CS_MANAGER
    assert complaint.events.count() == events_before
    if still_possible:
        # Shown again with what was typed, for the case as it now stands.
        assert response.status_code == 409
        html = response.content.decode()
        assert "What you typed is below" in html
        (typed,) = fields.values()
        assert f">\n{typed}</textarea>" in html
        assert f'name="{action}-expected_state" value="cs_manager"' in html
    else:
        assert response.status_code == 302
        html = client.get(response["Location"]).content.decode()
    assert (
        f"Complaint {complaint.reference} was changed by someone else while you were looking at "
        "it: it is now “With our Customer Services Manager”. Nothing was saved" in html
    )
    # The page shows the fresh state.
    assert 'name="make_formal-expected_state" value="cs_manager"' in html


def test_an_internal_note_is_added_whatever_happened_meanwhile(client, agent, complaint_in):
    complaint = complaint_in(State.CS_TEAM)
    services.complaint_escalate(
        complaint=fresh(complaint), by=Actor.staff(agent), reason="Needs the manager's review."
    )
    client.force_login(agent)
    response = act(client, complaint, "note", expected_state=State.CS_TEAM, text="Noted.")
    assert response.status_code == 302
    assert complaint.events.filter(kind=EventKind.NOTE).exists()


def test_an_agent_cannot_issue_a_deadlock_letter_even_by_posting_the_form(
    client, agent, complaint_in
):
    complaint = complaint_in(State.CS_MANAGER)
    client.force_login(agent)
    response = act(client, complaint, "deadlock", final_position="Nope.")
    assert response.status_code == 302
    assert fresh(complaint).state == State.CS_MANAGER
    html = client.get(response["Location"]).content.decode()
    assert (
        "Your role may not issue a deadlock letter (the complaint is “With our Customer Services "
        "Manager”)." in html
    )


def test_a_transition_the_state_does_not_allow_is_refused_plainly(client, manager, complaint_in):
    complaint = complaint_in(State.RESOLVED)
    client.force_login(manager)
    response = act(client, complaint, "escalate", reason="Again.")
    assert response.status_code == 302
    html = client.get(response["Location"]).content.decode()
    assert (
        "The complaint is “Resolved”: you cannot escalate the complaint to the Customer Services "
        "Manager now." in html
    )


def test_a_missing_field_is_shown_on_the_form_and_nothing_is_saved(client, agent, file_complaint):
    complaint = file_complaint().complaint
    client.force_login(agent)
    response = act(client, complaint, "resolve", summary="   ")
    assert response.status_code == 400
    html = response.content.decode()
    assert "<title>Error: " in html
    assert "There is a problem: nothing was saved" in html
    assert '<a href="#id_resolve-summary">How was it resolved? This field is required.</a>' in html
    assert response.context["forms"][[*shown(response)].index("resolve")]["open"]
    assert fresh(complaint).state == State.CS_TEAM


def test_a_services_validation_error_lands_on_its_field(client, agent, file_complaint):
    complaint = file_complaint().complaint
    client.force_login(agent)
    future = timezone.localtime() + dt.timedelta(days=2)
    response = act(
        client,
        complaint,
        "reply_phone",
        replied_at=future.strftime("%Y-%m-%dT%H:%M"),
        summary="Called.",
    )
    assert response.status_code == 400
    form = response.context["forms"][0]["form"]
    assert form.errors["replied_at"] == ["The time of the reply cannot be in the future."]
    # What the agent typed is still there.
    assert "Called." in response.content.decode()
    assert not complaint.events.filter(kind=EventKind.REPLY).exists()


def test_an_accepted_decision_needs_the_acceptance_date(client, manager, complaint_in):
    complaint = complaint_in(State.ADR_REFERRED)
    client.force_login(manager)
    response = act(client, complaint, "adr_decision", outcome="upheld", accepted="yes")
    assert response.status_code == 400
    assert "Enter the date the customer accepted the decision." in response.content.decode()


def test_the_error_summary_links_a_group_of_radio_buttons_to_its_first(
    client, manager, complaint_in
):
    complaint = complaint_in(State.ADR_REFERRED)
    client.force_login(manager)
    page = act(client, complaint, "adr_decision", outcome="upheld").content.decode()
    summary = page.split('id="error-summary"')[1].split("</ul>")[0]
    assert '<a href="#id_adr_decision-accepted_0">Did the customer accept the decision?' in summary
    assert 'id="id_adr_decision-accepted_0"' in page


def test_an_unknown_action_is_a_bad_request(client, agent, file_complaint):
    complaint = file_complaint().complaint
    client.force_login(agent)
    response = client.post(
        f"/staff/complaints/{complaint.reference}/actions/", {"action": "delete"}
    )
    assert response.status_code == 400


def test_next_never_leaves_the_staff_pages(client, agent, file_complaint):
    complaint = file_complaint().complaint
    client.force_login(agent)
    response = client.post(
        f"/staff/complaints/{complaint.reference}/actions/",
        {
            "action": "claim",
            "claim-expected_state": "cs_team",
            "claim-expected_assignee": "",
            "next": "https://evil.example/staff/",
        },
    )
    assert response["Location"] == f"/staff/complaints/{complaint.reference}/"


# --- Files ----------------------------------------------------------------------------------------


def test_staff_download_evidence_as_an_attachment_never_sniffed(client, agent, file_complaint):
    complaint = file_complaint(
        attachments=[
            SimpleUploadedFile("proof.txt", b"<html>not a page</html>", content_type="text/html")
        ]
    ).complaint
    attachment = complaint.attachments.get()
    client.force_login(agent)
    response = client.get(f"/staff/complaints/{complaint.reference}/files/{attachment.pk}/")
    assert response.status_code == 200
    assert response["Content-Disposition"] == 'attachment; filename="proof.txt"'
    assert response["Content-Type"] == "text/plain"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert b"".join(response.streaming_content) == b"<html>not a page</html>"


def test_a_file_is_only_found_under_its_own_case(client, agent, file_complaint):
    one = file_complaint(
        attachments=[SimpleUploadedFile("a.txt", b"a", content_type="text/plain")]
    ).complaint
    other = file_complaint().complaint
    client.force_login(agent)
    url = f"/staff/complaints/{other.reference}/files/{one.attachments.get().pk}/"
    assert client.get(url).status_code == 404


def test_the_events_are_unchanged_by_viewing(client, agent, file_complaint):
    complaint = file_complaint().complaint
    before = ComplaintEvent.objects.count()
    client.force_login(agent)
    page(client, complaint)
    assert ComplaintEvent.objects.count() == before


# --- The timeline's entries, rendered once ------------------------------------------------------


def test_timeline_entries_are_rendered_once_then_served_from_the_cache(
    client, agent, file_complaint
):
    complaint = file_complaint().complaint
    services.complaint_add_note(complaint=complaint, by=Actor.staff(agent), text="Rang the bank.")
    client.force_login(agent)
    first = page(client, complaint)
    second = page(client, complaint)
    rendered = [
        [t.name for t in r.templates].count("complaints/staff/_event.html")
        for r in (
            first,
            second,
        )
    ]
    assert rendered == [2, 0]
    timeline = [
        r.content.decode().split('id="timeline-heading"')[1].split("</ol>")[0]
        for r in (first, second)
    ]
    assert timeline[0] == timeline[1]
    assert "Rang the bank." in timeline[1]


def test_a_new_event_and_anonymising_show_at_once_despite_the_cache(client, manager, complaint_in):
    from complaints import privacy

    complaint = complaint_in(State.CLOSED)
    services.complaint_add_note(complaint=complaint, by=Actor.staff(manager), text="Rang the bank.")
    client.force_login(manager)
    assert "Rang the bank." in page(client, complaint).content.decode()
    services.complaint_add_note(complaint=complaint, by=Actor.staff(manager), text="Bank replied.")
    assert "Bank replied." in page(client, complaint).content.decode()
    privacy.customer_erase(complaint=complaint, by=Actor.staff(manager), reason="By e-mail")
    html = page(client, complaint).content.decode()
    assert "Rang the bank." not in html
    assert "Personal data removed: erased on request. By e-mail" in html


def test_action_forms_are_rendered_once_and_each_case_gets_its_own_values(
    client, manager, complaint_in
):
    from complaints.roles import AGENTS_GROUP
    from complaints.staff_forms import AssignForm, ResolveForm
    from complaints.templatetags.case_forms import crispy_once
    from tests.conftest import _user

    first, second = complaint_in(State.CS_TEAM), complaint_in(State.CS_MANAGER)
    html = crispy_once(ResolveForm(prefix="resolve", complaint=first))
    assert 'value="cs_team"' in html
    # Same form, other values: its own markup, not the first one's.
    assert 'value="cs_manager"' in crispy_once(ResolveForm(prefix="resolve", complaint=second))
    # The assignee list is part of the form: a new member of staff appears at once.
    before = crispy_once(AssignForm(prefix="assign", complaint=first))
    _user("newcomer", AGENTS_GROUP)
    after = crispy_once(AssignForm(prefix="assign", complaint=first))
    assert ">Newcomer (newcomer)<" not in before and ">Newcomer (newcomer)<" in after
    # A bound form shows what was typed and its errors, never a cached copy.
    bound = ResolveForm(prefix="resolve", complaint=first, data={"resolve-expected_state": "x"})
    assert "is-invalid" in crispy_once(bound)


def test_a_phone_reply_shows_when_the_call_was_made(client, agent, file_complaint):
    complaint = file_complaint(
        by=Actor.staff(agent), channel="phone", received_at=timezone.now() - dt.timedelta(hours=2)
    ).complaint
    called = timezone.now().replace(second=0, microsecond=0) - dt.timedelta(minutes=30)
    services.complaint_record_reply(
        complaint=complaint,
        by=Actor.staff(agent),
        method="phone",
        summary="Explained the charge.",
        replied_at=called,
    )
    client.force_login(agent)
    html = page(client, complaint).content.decode()
    assert f"Phone call on {timezone.localtime(called):%-d %b %Y, %H:%M}" in html


def _at_stage_2_since_2_november(file_complaint, manager):
    """A complaint filed and escalated to the manager on Monday 2 November 2026."""
    with time_machine.travel(dt.datetime(2026, 11, 2, 10, 0, tzinfo=dt.UTC), tick=False):
        complaint = file_complaint().complaint
        services.complaint_escalate(
            complaint=complaint, by=Actor.staff(manager), reason="Needs the manager's review."
        )
    return complaint


def test_a_formal_complaint_recorded_later_is_due_15_working_days_after_it_reached_us(
    client, manager, file_complaint
):
    complaint = _at_stage_2_since_2_november(file_complaint, manager)
    client.force_login(manager)
    # The customer's letter came on Tuesday 1 December; it is typed in on Friday 4 December.
    with time_machine.travel(dt.datetime(2026, 12, 4, 15, 0, tzinfo=dt.UTC), tick=False):
        response = act(
            client,
            complaint,
            "make_formal",
            received_at="2026-12-01T09:30",
            text="I still have not had my refund.",
        )
        assert response.status_code == 302, response.content.decode()[:3000]
        html = page(client, complaint).content.decode()
    complaint = fresh(complaint)
    assert complaint.state == State.FORMAL_WRITTEN
    # 15 working days after 1 December; counted from the day it was typed in, the bank holidays
    # of Christmas would have put it at 29 December.
    assert complaint.response_due_date == dt.date(2026, 12, 22)
    assert "Tue 22 Dec 2026" in html
    assert "Reached us on 1 Dec 2026, 09:30" in html
    event = complaint.events.get(transition="make_formal_complaint")
    assert event.actor == manager and event.created_at.date() == dt.date(2026, 12, 4)
    # The customer's history dates it when they sent it too.
    secret = services.complaint_new_tracking_secret(complaint=complaint)
    client.logout()
    history = client.get(f"/track/{complaint.reference}/{secret}/").content.decode()
    assert '<time datetime="2026-12-01T09:30:00+00:00">' in history.split('id="history"')[1]


@pytest.mark.parametrize(
    "received_at, message",
    [
        ("2026-11-01T09:00", "cannot have reached us before stage 2 began, on 2 November 2026"),
        ("2026-12-05T09:00", "The date received cannot be in the future."),
    ],
)
def test_a_formal_complaint_cannot_be_dated_before_stage_2_or_in_the_future(
    client, manager, file_complaint, received_at, message
):
    complaint = _at_stage_2_since_2_november(file_complaint, manager)
    client.force_login(manager)
    with time_machine.travel(dt.datetime(2026, 12, 4, 15, 0, tzinfo=dt.UTC), tick=False):
        response = act(
            client, complaint, "make_formal", received_at=received_at, text="Still no refund."
        )
    assert response.status_code == 400
    assert message in response.content.decode()
    assert fresh(complaint).state == State.CS_MANAGER


def test_a_formal_complaint_sent_minutes_after_the_page_opened_is_not_dated_back(
    client, manager, complaint_in
):
    """The date box starts empty ("now, if left empty"): a manager who takes a few minutes to
    type the customer's words does not date the complaint when the page was opened."""
    complaint = complaint_in(State.CS_MANAGER)
    client.force_login(manager)
    with time_machine.travel(dt.datetime(2026, 12, 4, 10, 0, tzinfo=dt.UTC), tick=False):
        html = page(client, complaint).content.decode()
    shown = re.search(r'<input[^>]*name="make_formal-received_at"[^>]*>', html).group(0)
    given = re.search(r'value="([^"]*)"', shown)
    with time_machine.travel(dt.datetime(2026, 12, 4, 10, 4, tzinfo=dt.UTC), tick=False):
        response = act(
            client,
            complaint,
            "make_formal",
            received_at=given.group(1) if given else "",
            text="Still no refund.",
        )
    assert response.status_code == 302, response.content.decode()[:3000]
    event = fresh(complaint).events.get(transition="make_formal_complaint")
    assert event.received_at is None
    assert "Reached us on" not in page(client, complaint).content.decode()


def test_a_formal_complaint_recorded_as_it_came_in_is_not_dated_twice(
    client, manager, complaint_in
):
    complaint = complaint_in(State.CS_MANAGER)
    client.force_login(manager)
    typed = timezone.localtime(timezone.now()).strftime("%Y-%m-%dT%H:%M")  # the form's own "now"
    response = act(client, complaint, "make_formal", received_at=typed, text="Still no refund.")
    assert response.status_code == 302, response.content.decode()[:3000]
    event = fresh(complaint).events.get(transition="make_formal_complaint")
    assert event.received_at is None
    assert "Reached us on" not in page(client, complaint).content.decode()
