"""Filing, assignment, replies, messages and notes: what a complaints team and an auditor check."""

from __future__ import annotations

import datetime as dt
import hashlib
import re

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.utils import timezone

from complaints import services
from complaints.models import Channel, Complaint, ComplaintEvent, EventKind, State
from complaints.roles import Actor
from tests.conftest import fresh

pytestmark = pytest.mark.django_db


def test_filing_gives_a_readable_reference_and_a_secret_stored_only_as_a_hash(file_complaint):
    filed = file_complaint()
    complaint = fresh(filed.complaint)
    assert re.fullmatch(r"CMP-\d{4}-\d{6}", complaint.reference)
    assert len(filed.tracking_secret) >= 22  # at least 128 random bits, URL-safe
    assert filed.tracking_secret not in complaint.tracking_token_hash
    assert (
        complaint.tracking_token_hash == hashlib.sha256(filed.tracking_secret.encode()).hexdigest()
    )
    assert services.secret_matches(complaint, filed.tracking_secret)
    assert not services.secret_matches(complaint, filed.tracking_secret + "x")


def test_references_count_up_within_the_year_they_were_received(file_complaint, agent):
    logged = Actor.staff(agent)
    a = file_complaint().complaint
    b = file_complaint().complaint
    year = timezone.now().year
    assert a.reference == f"CMP-{year}-000001"
    assert b.reference == f"CMP-{year}-000002"
    old = file_complaint(
        by=logged,
        channel=Channel.LETTER,
        received_at=dt.datetime(2025, 12, 30, 9, 0, tzinfo=dt.UTC),
    ).complaint
    assert old.reference == "CMP-2025-000001"


def test_staff_may_log_a_complaint_received_earlier_but_never_in_the_future(file_complaint, agent):
    with pytest.raises(ValidationError) as error:
        file_complaint(
            by=Actor.staff(agent),
            channel=Channel.PHONE,
            received_at=timezone.now() + dt.timedelta(minutes=5),
        )
    assert "received_at" in error.value.message_dict
    assert not Complaint.objects.exists()
    assert not ComplaintEvent.objects.exists()


@time_machine.travel(dt.datetime(2026, 12, 3, 9, 30, tzinfo=dt.UTC), tick=False)
def test_a_complaint_logged_on_a_later_day_says_on_its_timeline_when_it_came_in(
    file_complaint, agent
):
    letter = file_complaint(
        by=Actor.staff(agent),
        channel=Channel.LETTER,
        received_at=dt.datetime(2026, 7, 31, 23, 30, tzinfo=dt.UTC),  # 00:30 BST, 1 August
    ).complaint
    call = file_complaint(
        by=Actor.staff(agent),
        channel=Channel.PHONE,
        received_at=dt.datetime(2026, 12, 3, 8, 5, tzinfo=dt.UTC),
    ).complaint

    def filed_event(complaint):
        return ComplaintEvent.objects.get(complaint=complaint, kind=EventKind.FILED)

    assert filed_event(letter).text == "Complaint received (letter) on 1 August 2026."
    assert filed_event(letter).created_at == timezone.now()  # dated when it was logged
    assert filed_event(call).text == "Complaint received (phone)."


def test_bad_input_names_each_field_and_writes_nothing(file_complaint):
    with pytest.raises(ValidationError) as error:
        file_complaint(email="not-an-address", description="", category="nonsense")
    assert {"email", "description", "category"} <= set(error.value.message_dict)
    assert not Complaint.objects.exists()
    assert not ComplaintEvent.objects.exists()


def test_customers_file_through_the_web_form_only(file_complaint):
    with pytest.raises(ValidationError):
        file_complaint(channel=Channel.PHONE)


def test_an_outsider_cannot_log_complaints(file_complaint, outsider):
    with pytest.raises(services.NotPermitted):
        file_complaint(by=Actor.staff(outsider), channel=Channel.PHONE)


def test_a_new_tracking_secret_replaces_the_old_one(file_complaint):
    filed = file_complaint()
    new = services.complaint_new_tracking_secret(complaint=filed.complaint)
    complaint = fresh(filed.complaint)
    assert services.secret_matches(complaint, new)
    assert not services.secret_matches(complaint, filed.tracking_secret)


# --- Assignment ---------------------------------------------------------------------------


def test_an_agent_claims_an_unassigned_case(file_complaint, agent):
    complaint = file_complaint().complaint
    services.complaint_assign(
        complaint=complaint, assignee=agent, by=Actor.staff(agent), expected_assignee=None
    )
    assert fresh(complaint).assigned_to == agent
    event = complaint.events.get(kind=EventKind.ASSIGNMENT)
    assert not event.customer_visible
    assert event.actor == agent


def test_two_agents_claiming_from_stale_pages_do_not_both_win(file_complaint, agent, agent2):
    complaint = file_complaint().complaint
    page_of_agent2 = fresh(complaint)  # loaded before agent's claim lands
    services.complaint_assign(
        complaint=complaint, assignee=agent, by=Actor.staff(agent), expected_assignee=None
    )
    with pytest.raises(services.ComplaintChanged):
        services.complaint_assign(
            complaint=page_of_agent2,
            assignee=agent2,
            by=Actor.staff(agent2),
            expected_assignee=None,
        )
    assert fresh(complaint).assigned_to == agent
    assert complaint.events.filter(kind=EventKind.ASSIGNMENT).count() == 1


def test_an_agent_cannot_take_a_case_from_a_colleague_but_a_manager_can(
    file_complaint, agent, agent2, manager
):
    complaint = file_complaint().complaint
    services.complaint_assign(complaint=complaint, assignee=agent, by=Actor.staff(agent))
    with pytest.raises(services.NotPermitted):
        services.complaint_assign(complaint=complaint, assignee=agent2, by=Actor.staff(agent2))
    services.complaint_assign(complaint=complaint, assignee=agent2, by=Actor.staff(manager))
    assert fresh(complaint).assigned_to == agent2


def test_cases_are_assigned_only_to_the_complaints_team(file_complaint, manager, outsider):
    with pytest.raises(ValidationError):
        services.complaint_assign(
            complaint=file_complaint().complaint, assignee=outsider, by=Actor.staff(manager)
        )


def test_a_case_an_agent_had_goes_to_the_managers_at_stage_2_and_a_managers_case_stays(
    file_complaint, agent, manager
):
    """Stages 2 and 3 are the manager's: entering one, a case leaves the agent's hands (with an
    internal entry saying so), so the customer's messages go to the managers, not to an agent
    who can no longer reply. A manager who had it keeps it, through the formal complaint too."""
    from complaints.models import OutboundEmail

    agents, managers = file_complaint().complaint, file_complaint().complaint
    services.complaint_assign(complaint=agents, assignee=agent, by=Actor.staff(agent))
    services.complaint_assign(complaint=managers, assignee=manager, by=Actor.staff(manager))
    for complaint in (agents, managers):
        services.complaint_escalate(complaint=complaint, by=Actor.customer())
    assert fresh(agents).assigned_to is None
    event = agents.events.filter(kind=EventKind.ASSIGNMENT).latest("id")
    assert event.text == (
        "Unassigned from Agent: at stage 2 or 3, or with a deadlock letter, a case is the "
        "Customer Services Manager's."
    )
    assert event.actor_role == "system" and not event.customer_visible
    services.complaint_make_formal(
        complaint=fresh(managers), by=Actor.customer(), text="Still charged twice."
    )
    assert fresh(managers).assigned_to == manager
    assert managers.events.filter(kind=EventKind.ASSIGNMENT).count() == 1
    services.complaint_add_message(complaint=fresh(agents), by=Actor.customer(), text="Any news?")
    alert = OutboundEmail.objects.get(complaint=agents, template="customer_wrote")
    assert alert.to == [manager.email]


def test_an_agent_claims_stage_1_cases_only_and_a_manager_may_still_give_them_one(
    client, file_complaint, agent, manager
):
    complaint = file_complaint().complaint
    services.complaint_escalate(complaint=complaint, by=Actor.customer())
    with pytest.raises(services.NotPermitted, match="ask a manager to assign it to you"):
        services.complaint_assign(complaint=fresh(complaint), assignee=agent, by=Actor.staff(agent))
    assert fresh(complaint).assigned_to is None
    # Neither the case page nor the queue offers the agent the claim.
    client.force_login(agent)
    case = client.get(f"/staff/complaints/{complaint.reference}/").content.decode()
    assert "Claim this case" not in case
    queue = client.get("/staff/", {"state": "open"}).content.decode()
    assert complaint.reference in queue and f'aria-label="Claim {complaint.reference}"' not in queue
    services.complaint_assign(complaint=fresh(complaint), assignee=agent, by=Actor.staff(manager))
    assert fresh(complaint).assigned_to == agent


def test_a_manager_s_deadlock_letter_at_stage_1_takes_the_case_from_the_agent(
    file_complaint, agent, manager
):
    from adr import services as adr_services

    complaint = file_complaint().complaint
    services.complaint_assign(complaint=complaint, assignee=agent, by=Actor.staff(agent))
    adr_services.complaint_issue_deadlock(
        complaint=fresh(complaint), by=Actor.staff(manager), final_position="The bill is right."
    )
    assert fresh(complaint).state == State.DEADLOCK and fresh(complaint).assigned_to is None


def test_the_hand_over_reads_the_assignee_as_it_is_not_as_the_caller_loaded_it(
    file_complaint, agent
):
    complaint = file_complaint().complaint
    loaded_before_the_claim = fresh(complaint)
    services.complaint_assign(complaint=fresh(complaint), assignee=agent, by=Actor.staff(agent))
    services.complaint_escalate(complaint=loaded_before_the_claim, by=Actor.customer())
    assert fresh(complaint).assigned_to is None
    assert loaded_before_the_claim.assigned_to is None


def test_an_agent_s_claim_from_a_page_loaded_before_the_escalation_changes_nothing(
    file_complaint, agent
):
    complaint = file_complaint().complaint
    page = fresh(complaint)  # at stage 1 when the agent loaded it
    services.complaint_escalate(complaint=fresh(complaint), by=Actor.customer())
    with pytest.raises(services.ComplaintChanged):
        services.complaint_assign(complaint=page, assignee=agent, by=Actor.staff(agent))
    assert fresh(complaint).assigned_to is None


def test_the_customer_s_messages_go_to_the_managers_once_the_assignee_leaves_the_team(
    file_complaint, agent, manager
):
    from complaints.models import OutboundEmail

    complaint = file_complaint().complaint
    services.complaint_assign(complaint=complaint, assignee=agent, by=Actor.staff(agent))
    agent.groups.clear()  # still an active account, no longer on the complaints team
    services.complaint_add_message(complaint=fresh(complaint), by=Actor.customer(), text="Hello?")
    assert OutboundEmail.objects.get(template="customer_wrote").to == [manager.email]


def test_the_migration_hands_over_the_cases_agents_already_had_past_stage_1(
    file_complaint, agent, manager
):
    """Migration 0027: cases that reached the managers before the hand-over existed."""
    import importlib

    from django.apps import apps

    stage_1, stage_2, managers = (file_complaint().complaint for _ in range(3))
    Complaint.objects.filter(pk__in=[stage_2.pk, managers.pk]).update(state=State.CS_MANAGER)
    Complaint.objects.filter(pk__in=[stage_1.pk, stage_2.pk]).update(assigned_to=agent)
    Complaint.objects.filter(pk=managers.pk).update(assigned_to=manager)
    migration = importlib.import_module("complaints.migrations.0027_hand_agents_cases_to_managers")
    migration.hand_over(apps, None)
    assert fresh(stage_1).assigned_to == agent
    assert fresh(stage_2).assigned_to is None
    assert fresh(managers).assigned_to == manager
    (event,) = ComplaintEvent.objects.filter(kind=EventKind.ASSIGNMENT)
    assert event.complaint_id == stage_2.pk and event.actor_role == "system"
    assert event.text.startswith("Unassigned from Agent: from stage 2 on")


def test_a_case_waits_on_staff_from_the_customer_s_first_unanswered_message_until_answered(
    client, file_complaint, agent, manager
):
    """ "Customer wrote" on the queues and the case page: set by what the customer sends, kept
    from the first unanswered message, cleared by a message, a reply or a step taken by staff.
    A note, or the customer's own step, leaves it."""
    with time_machine.travel(dt.datetime(2026, 11, 30, 9, tzinfo=dt.UTC), tick=False):
        complaint = file_complaint().complaint
    by_agent, customer = Actor.staff(agent), Actor.customer()
    first, later = (dt.datetime(2026, 12, 1, h, tzinfo=dt.UTC) for h in (10, 11))
    with time_machine.travel(first, tick=False):
        services.complaint_add_message(complaint=fresh(complaint), by=customer, text="Any news?")
    with time_machine.travel(later, tick=False):
        services.complaint_add_message(complaint=fresh(complaint), by=customer, text="Hello?")
        services.complaint_add_note(complaint=fresh(complaint), by=by_agent, text="Engineer due.")
    assert fresh(complaint).customer_wrote_at == first
    client.force_login(agent)
    queue = client.get("/staff/").content.decode()
    assert "Customer wrote 1 Dec" in queue
    page = client.get(f"/staff/complaints/{complaint.reference}/").content.decode()
    assert "Customer wrote 1 Dec, 10:00" in page
    services.complaint_add_message(complaint=fresh(complaint), by=by_agent, text="On its way.")
    assert fresh(complaint).customer_wrote_at is None
    assert "Customer wrote" not in client.get("/staff/").content.decode()
    # A reply answers it; so does a step taken by staff, but not the customer's own.
    services.complaint_add_message(complaint=fresh(complaint), by=customer, text="Still down.")
    services.complaint_record_reply(
        complaint=fresh(complaint), by=by_agent, method="phone", summary="Called back."
    )
    assert fresh(complaint).customer_wrote_at is None
    services.complaint_add_message(complaint=fresh(complaint), by=customer, text="Manager please.")
    services.complaint_escalate(complaint=fresh(complaint), by=customer)
    assert fresh(complaint).customer_wrote_at is not None
    services.complaint_make_formal(
        complaint=fresh(complaint), by=Actor.staff(manager), text="By letter."
    )
    assert fresh(complaint).customer_wrote_at is None


# --- Replies, messages, notes -------------------------------------------------------------


def test_a_resolution_on_a_copy_read_before_the_reply_keeps_the_reply_as_the_answer(
    file_complaint, agent
):
    """The transition runs on the row as it is now: the copy an agent's page loaded before a
    colleague logged the call still resolves the case, and the call stays the stage's answer
    (on the stale copy the resolution's time took its place)."""
    complaint = file_complaint().complaint
    seen_by_page = fresh(complaint)
    services.complaint_record_reply(
        complaint=fresh(complaint), by=Actor.staff(agent), method="phone", summary="Called."
    )
    replied = fresh(complaint).responded_at
    services.complaint_resolve(
        complaint=seen_by_page, by=Actor.staff(agent), summary="Refunded.", expected_state="cs_team"
    )
    assert seen_by_page.state == State.RESOLVED
    assert fresh(complaint).responded_at == replied < fresh(complaint).resolved_at


def test_the_first_reply_stops_the_stage_clock_and_later_ones_do_not_move_it(file_complaint, agent):
    complaint = file_complaint(
        by=Actor.staff(agent),
        channel=Channel.PHONE,
        received_at=timezone.now() - dt.timedelta(hours=1),
    ).complaint
    first = timezone.now() - dt.timedelta(seconds=30)
    services.complaint_record_reply(
        complaint=complaint,
        by=Actor.staff(agent),
        method="phone",
        summary="Called; explained the double charge and refunded it.",
        replied_at=first,
        call_reference="REC-5521",
    )
    services.complaint_record_reply(
        complaint=fresh(complaint), by=Actor.staff(agent), method="written", summary="Confirmed."
    )
    after = fresh(complaint)
    assert after.responded_at == first
    assert not after.is_overdue(now=after.response_due_at + dt.timedelta(days=1))
    replies = complaint.events.filter(kind=EventKind.REPLY).order_by("id")
    assert [r.data["method"] for r in replies] == ["phone", "written"]
    assert replies[0].data["call_reference"] == "REC-5521"


def test_a_reply_cannot_be_dated_before_the_complaint_or_in_the_future(file_complaint, agent):
    complaint = file_complaint().complaint
    for when in (
        complaint.received_at - dt.timedelta(hours=1),
        timezone.now() + dt.timedelta(hours=1),
    ):
        with pytest.raises(ValidationError):
            services.complaint_record_reply(
                complaint=complaint,
                by=Actor.staff(agent),
                method="phone",
                summary="x",
                replied_at=when,
            )
    assert fresh(complaint).responded_at is None


def test_escalation_restarts_the_clock_so_stage_two_needs_its_own_reply(file_complaint, agent):
    complaint = file_complaint().complaint
    services.complaint_record_reply(
        complaint=complaint, by=Actor.staff(agent), method="phone", summary="Called."
    )
    services.complaint_escalate(complaint=fresh(complaint), by=Actor.customer(), reason="Unhappy")
    after = fresh(complaint)
    assert after.state == State.CS_MANAGER
    assert after.responded_at is None
    assert after.overdue_flagged_at is None


def test_a_reply_from_before_the_stage_began_cannot_answer_it(file_complaint, agent, manager):
    complaint = file_complaint(
        by=Actor.staff(agent),
        channel=Channel.PHONE,
        received_at=timezone.now() - dt.timedelta(days=3),
    ).complaint
    services.complaint_escalate(complaint=complaint, by=Actor.customer(), reason="Unhappy")
    escalated = fresh(complaint)
    with pytest.raises(ValidationError) as refused:
        services.complaint_record_reply(
            complaint=escalated,
            by=Actor.staff(manager),
            method="phone",
            summary="The call of two days ago.",
            replied_at=timezone.now() - dt.timedelta(days=2),
        )
    assert "before this stage began" in refused.value.message_dict["replied_at"][0]
    after = fresh(complaint)
    assert after.responded_at is None and not after.events.filter(kind=EventKind.REPLY).exists()
    # A call made since the escalation answers it.
    services.complaint_record_reply(
        complaint=escalated, by=Actor.staff(manager), method="phone", summary="Called today."
    )
    assert fresh(complaint).responded_at is not None


def test_a_call_typed_in_the_minute_the_stage_began_answers_it(file_complaint, manager):
    with time_machine.travel(dt.datetime(2026, 12, 7, 10, 15, 10, tzinfo=dt.UTC), tick=False):
        complaint = file_complaint().complaint
    with time_machine.travel(dt.datetime(2026, 12, 7, 10, 15, 37, tzinfo=dt.UTC), tick=False):
        services.complaint_escalate(complaint=complaint, by=Actor.customer(), reason="Unhappy")
        escalated = fresh(complaint)
        typed = timezone.localtime().replace(second=0, microsecond=0)  # the form's default
        services.complaint_record_reply(
            complaint=escalated,
            by=Actor.staff(manager),
            method="phone",
            summary="Called.",
            replied_at=typed,
        )
    assert fresh(complaint).responded_at == escalated.stage_started_at


def test_a_formal_written_complaint_is_answered_in_writing_not_by_phone(file_complaint, manager):
    complaint = file_complaint().complaint
    services.complaint_escalate(complaint=complaint, by=Actor.customer(), reason="Unhappy")
    services.complaint_make_formal(complaint=fresh(complaint), by=Actor.customer(), text="Formal.")
    formal = fresh(complaint)
    assert formal.state == State.FORMAL_WRITTEN
    with pytest.raises(ValidationError) as refused:
        services.complaint_record_reply(
            complaint=formal, by=Actor.staff(manager), method="phone", summary="Called."
        )
    assert "answered in writing" in refused.value.message_dict["method"][0]
    assert fresh(complaint).responded_at is None
    services.complaint_record_reply(
        complaint=formal, by=Actor.staff(manager), method="written", summary="Our answer."
    )
    answered = fresh(complaint)
    assert answered.responded_at is not None
    # Once answered in writing, a later call may be logged; it moves nothing.
    services.complaint_record_reply(
        complaint=answered, by=Actor.staff(manager), method="phone", summary="Called to explain."
    )
    assert fresh(complaint).responded_at == answered.responded_at


def test_customers_cannot_add_notes_and_notes_are_internal(file_complaint, agent):
    complaint = file_complaint().complaint
    with pytest.raises(services.NotPermitted):
        services.complaint_add_note(complaint=complaint, by=Actor.customer(), text="hello")
    note = services.complaint_add_note(
        complaint=complaint, by=Actor.staff(agent), text="Vulnerable?"
    )
    message = services.complaint_add_message(
        complaint=complaint, by=Actor.customer(), text="Any news?"
    )
    assert not note.customer_visible
    assert message.customer_visible


def test_an_empty_message_is_refused_with_a_field_error(file_complaint):
    with pytest.raises(ValidationError) as error:
        services.complaint_add_message(
            complaint=file_complaint().complaint, by=Actor.customer(), text="   "
        )
    assert "text" in error.value.message_dict


def test_customers_cannot_message_on_a_withdrawn_case(complaint_in):
    complaint = complaint_in(State.WITHDRAWN)
    with pytest.raises(services.TransitionNotAllowed):
        services.complaint_add_message(complaint=complaint, by=Actor.customer(), text="Hello")


@time_machine.travel(dt.datetime(2026, 11, 25, 10, 0, tzinfo=dt.UTC), tick=False)
def test_only_the_changed_fields_are_written_by_a_transition(file_complaint, agent, manager):
    """A transition never overwrites a concurrent change to another column (here, assignment)."""
    complaint = file_complaint().complaint
    agents_page = fresh(complaint)
    services.complaint_assign(complaint=complaint, assignee=manager, by=Actor.staff(manager))
    services.complaint_escalate(
        complaint=agents_page, by=Actor.staff(agent), reason="Needs the manager's review."
    )
    after = fresh(complaint)
    assert after.state == State.CS_MANAGER
    assert after.assigned_to == manager


def test_an_escalation_after_the_adr_date_says_cisas_is_open_now(file_complaint, agent):
    from django.core import mail

    from complaints import outbox

    complaint = file_complaint(
        by=Actor.staff(agent),
        channel=Channel.LETTER,
        received_at=timezone.now() - dt.timedelta(days=100),
    ).complaint
    services.complaint_escalate(complaint=complaint, by=Actor.customer(), reason="Still waiting")
    outbox.email_deliver_due()
    message = next(m for m in mail.outbox if "is now with our" in m.subject)
    assert "you can refer it now to" in message.body
    assert "If we have not resolved your complaint by" not in message.body
    html = message.alternatives[0][0]
    assert "you can refer it now to" in html
