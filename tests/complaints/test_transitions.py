"""Every transition from every state, and every role trying every transition (DESIGN.md)."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.utils import timezone

from adr import services as adr_services
from complaints import services
from complaints.models import Complaint, ComplaintEvent, EventKind, State
from complaints.roles import Actor, Role
from tests.conftest import fresh, london_today

S = State
OPEN = {S.CS_TEAM, S.CS_MANAGER, S.FORMAL_WRITTEN, S.DEADLOCK, S.ADR_REFERRED, S.COURT}

# transition -> (source states, target state), written out from DESIGN.md's table.
TABLE = {
    "escalate_to_manager": ({S.CS_TEAM}, S.CS_MANAGER),
    "make_formal_complaint": ({S.CS_MANAGER}, S.FORMAL_WRITTEN),
    "issue_deadlock_letter": ({S.CS_TEAM, S.CS_MANAGER, S.FORMAL_WRITTEN}, S.DEADLOCK),
    "refer_to_adr": ({S.DEADLOCK}, S.ADR_REFERRED),
    "record_adr_decision": ({S.ADR_REFERRED}, S.RESOLVED),  # accepted by the customer
    "start_court_action": ({S.DEADLOCK, S.ADR_REFERRED}, S.COURT),
    "resolve": (OPEN, S.RESOLVED),
    "reopen": ({S.RESOLVED}, S.CS_MANAGER),
    "close": ({S.RESOLVED}, S.CLOSED),
    "withdraw": (OPEN, S.WITHDRAWN),
}


def extra(name: str) -> dict:
    """What each transition that records a date needs: today's, the day it is recorded."""
    today = london_today()
    return {
        "refer_to_adr": {"cisas_reference": "CIS-2026-77", "referred_on": today},
        "record_adr_decision": {"outcome": "upheld", "accepted_on": today},
        "start_court_action": {"started_on": today},
    }.get(name, {})


def fire(complaint: Complaint, name: str, by: Actor) -> Complaint:
    return services.complaint_transition(
        complaint=complaint, name=name, by=by, note="A note for the record.", **extra(name)
    )


ALL_PAIRS = [(state, name) for state in S.values for name in TABLE]


@pytest.mark.django_db
@time_machine.travel(dt.datetime(2026, 11, 25, 10, 0, tzinfo=dt.UTC), tick=False)
@pytest.mark.parametrize(("state", "name"), ALL_PAIRS)
def test_each_transition_from_each_state(complaint_in, manager, state, name):
    complaint = complaint_in(state)
    events_before = ComplaintEvent.objects.filter(complaint=complaint).count()
    sources, target = TABLE[name]
    if state in sources:
        fire(complaint, name, Actor.staff(manager))
        after = fresh(complaint)
        assert after.state == target
        new = ComplaintEvent.objects.filter(complaint=complaint).order_by("id")[events_before:]
        assert [(e.kind, e.transition, e.from_state, e.to_state) for e in new] == [
            (EventKind.TRANSITION, name, state, target)
        ]
        assert new[0].actor == manager
    else:
        before = fresh(complaint)
        with pytest.raises(services.TransitionNotAllowed) as refused:
            fire(complaint, name, Actor.staff(manager))
        assert refused.value.message == (
            f"The complaint is “{before.get_state_display()}”: you cannot "
            f"{services.TRANSITION_ACTIONS[name]} now."
        )
        after = fresh(complaint)
        assert after.state == state
        assert after.updated_at == before.updated_at
        assert ComplaintEvent.objects.filter(complaint=complaint).count() == events_before
        # The refusal lists what the manager could do instead.
        assert name not in refused.value.allowed
        assert set(refused.value.allowed) == {n for n, (src, _) in TABLE.items() if state in src}


@pytest.mark.django_db
def test_an_adr_decision_the_customer_rejects_closes_the_case(complaint_in, manager):
    complaint = complaint_in(S.ADR_REFERRED)
    adr_services.complaint_record_adr_decision(
        complaint=complaint, by=Actor.staff(manager), outcome="not_upheld", accepted_on=None
    )
    after = fresh(complaint)
    assert after.state == S.CLOSED
    assert after.remedy_due_date is None


@pytest.mark.django_db
@time_machine.travel(dt.datetime(2026, 12, 18, 12, 0, tzinfo=dt.UTC), tick=False)
def test_an_accepted_adr_decision_sets_the_remedy_due_20_working_days_later(complaint_in, manager):
    complaint = complaint_in(S.ADR_REFERRED)
    adr_services.complaint_record_adr_decision(
        complaint=complaint,
        by=Actor.staff(manager),
        outcome="upheld",
        remedy="Refund £40 and waive the exit fee.",
        accepted_on=dt.date(2026, 12, 18),
    )
    after = fresh(complaint)
    assert after.state == S.RESOLVED
    # Fri 18 Dec 2026; 25, 28 Dec and 1 Jan are bank holidays: 21,22,23,24 (4), 29,30,31 (7),
    # 4-8 Jan (12), 11-15 (17), 18, 19, 20 Jan (20).
    assert after.remedy_due_date == dt.date(2027, 1, 20)


# --- Who may fire what -------------------------------------------------------------------

# transition -> (a state it can be fired from, roles allowed there), from DESIGN.md.
ROLES = {
    "escalate_to_manager": (S.CS_TEAM, {Role.CUSTOMER, Role.AGENT, Role.MANAGER}),
    "make_formal_complaint": (S.CS_MANAGER, {Role.CUSTOMER, Role.AGENT, Role.MANAGER}),
    "issue_deadlock_letter": (S.CS_MANAGER, {Role.MANAGER, Role.SYSTEM}),
    "refer_to_adr": (S.DEADLOCK, {Role.MANAGER}),
    "record_adr_decision": (S.ADR_REFERRED, {Role.MANAGER}),
    "start_court_action": (S.DEADLOCK, {Role.MANAGER}),
    "resolve": (S.CS_TEAM, {Role.AGENT, Role.MANAGER}),
    "reopen": (S.RESOLVED, {Role.CUSTOMER, Role.AGENT, Role.MANAGER}),
    "close": (S.RESOLVED, {Role.MANAGER, Role.SYSTEM}),
    "withdraw": (S.CS_TEAM, {Role.CUSTOMER, Role.AGENT, Role.MANAGER}),
}
ROLE_CASES = [(name, role) for name in ROLES for role in [*Role, None]]


@pytest.mark.django_db
@pytest.mark.parametrize(("name", "role"), ROLE_CASES, ids=lambda v: str(v))
def test_each_role_tries_each_transition(complaint_in, agent, manager, outsider, name, role):
    state, allowed = ROLES[name]
    complaint = complaint_in(state)
    actor = {
        Role.CUSTOMER: Actor.customer(),
        Role.AGENT: Actor.staff(agent),
        Role.MANAGER: Actor.staff(manager),
        Role.SYSTEM: Actor.system(),
        None: Actor.staff(outsider),
    }[role]
    events_before = complaint.events.count()
    if role in allowed:
        fire(complaint, name, actor)
        assert fresh(complaint).state != state
        assert complaint.events.count() == events_before + 1
    else:
        with pytest.raises(services.NotPermitted):
            fire(complaint, name, actor)
        assert fresh(complaint).state == state
        assert complaint.events.count() == events_before


@pytest.mark.django_db
def test_agents_resolve_stage_one_only(complaint_in, agent):
    complaint = complaint_in(S.CS_MANAGER)
    with pytest.raises(services.NotPermitted):
        services.complaint_resolve(complaint=complaint, by=Actor.staff(agent), summary="Done.")
    assert fresh(complaint).state == S.CS_MANAGER


@pytest.mark.django_db
def test_a_customer_may_reopen_for_eight_weeks_after_resolution_and_not_after(complaint_in):
    resolved_at = dt.datetime(2026, 9, 1, 12, 0, tzinfo=dt.UTC)
    with time_machine.travel(resolved_at, tick=False):
        complaint = complaint_in(S.RESOLVED)
        late = complaint_in(S.RESOLVED)
    with time_machine.travel(resolved_at + dt.timedelta(weeks=8, minutes=-1), tick=False):
        services.complaint_reopen(complaint=complaint, by=Actor.customer(), reason="Still broken")
        assert fresh(complaint).state == S.CS_MANAGER
    with time_machine.travel(resolved_at + dt.timedelta(weeks=8, minutes=1), tick=False):
        with pytest.raises(services.NotPermitted):
            services.complaint_reopen(complaint=late, by=Actor.customer())
        assert fresh(late).state == S.RESOLVED


@pytest.mark.django_db
def test_a_case_resolved_after_a_formal_complaint_reopens_at_stage_3(file_complaint, manager):
    from django.core import mail

    from complaints import outbox
    from complaints.models import ResponseMethod

    by = Actor.staff(manager)
    complaint = file_complaint().complaint
    services.complaint_escalate(complaint=complaint, by=Actor.customer())
    services.complaint_make_formal(complaint=fresh(complaint), by=Actor.customer(), text="Formal.")
    services.complaint_record_reply(
        complaint=fresh(complaint), by=by, method="written", summary="Our answer."
    )
    services.complaint_resolve(complaint=fresh(complaint), by=by, summary="Refunded.")
    outbox.email_deliver_due()
    mail.outbox.clear()
    # The stage 3 answer said "tell us and we will send you a deadlock letter": reopening goes
    # back to the formal stage, where the manager can send it, not to stage 2 all over again.
    services.complaint_reopen(complaint=fresh(complaint), by=Actor.customer(), reason="No.")
    after = fresh(complaint)
    assert after.state == S.FORMAL_WRITTEN and after.stage == 3
    assert after.responded_at is None and after.preferred_response == ResponseMethod.WRITTEN
    assert "issue_deadlock_letter" in services.available_transitions(after, by)
    outbox.email_deliver_due()
    (message,) = mail.outbox
    assert message.subject == f"We have reopened your complaint {after.reference}"
    assert "It is now at stage 3" in message.body
    assert "we will send you a deadlock letter" in message.body


@pytest.mark.django_db
def test_a_case_resolved_before_a_formal_complaint_reopens_at_stage_2(complaint_in, manager):
    complaint = complaint_in(S.RESOLVED)
    services.complaint_reopen(complaint=complaint, by=Actor.staff(manager), reason="Not fixed")
    assert fresh(complaint).state == S.CS_MANAGER


@pytest.mark.django_db
def test_a_manager_must_give_a_final_position_for_a_deadlock_letter(complaint_in, manager):
    from django.core.exceptions import ValidationError

    complaint = complaint_in(S.CS_MANAGER)
    with pytest.raises(ValidationError) as error:
        adr_services.complaint_issue_deadlock(
            complaint=complaint, by=Actor.staff(manager), final_position="  "
        )
    assert "final_position" in error.value.message_dict
    assert fresh(complaint).state == S.CS_MANAGER


@pytest.mark.django_db
def test_the_state_cannot_be_set_directly(complaint_in):
    complaint = complaint_in(S.CS_TEAM)
    with pytest.raises(AttributeError):
        complaint.state = S.CLOSED
    assert Complaint.objects.get(pk=complaint.pk).state == S.CS_TEAM


@pytest.mark.django_db
def test_a_stale_page_gets_changed_by_someone_else_and_the_fresh_state(complaint_in, manager):
    complaint = complaint_in(S.CS_TEAM)
    services.complaint_escalate(
        complaint=complaint, by=Actor.staff(manager), reason="Needs the manager's review."
    )
    # The second manager's page still shows stage 1.
    with pytest.raises(services.ComplaintChanged) as changed:
        services.complaint_resolve(
            complaint=fresh(complaint),
            by=Actor.staff(manager),
            summary="Sorted",
            expected_state=S.CS_TEAM,
        )
    assert "changed by someone else" in changed.value.message
    assert "Customer Services Manager" in changed.value.message
    assert fresh(complaint).state == S.CS_MANAGER


@pytest.mark.django_db
def test_an_unknown_transition_name_is_a_field_error(complaint_in, manager):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as error:
        services.complaint_transition(
            complaint=complaint_in(S.CS_TEAM), name="delete", by=Actor.staff(manager)
        )
    assert "name" in error.value.message_dict


@pytest.mark.django_db
def test_the_filed_event_is_written_with_the_complaint(file_complaint):
    complaint = file_complaint().complaint
    (event,) = complaint.events.all()
    assert event.kind == EventKind.FILED
    assert event.actor_role == Role.CUSTOMER
    assert event.customer_visible
    assert event.created_at <= timezone.now()
