"""The managers' queue: its sections, reassigning from it, and a fixed query count."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from adr import services as adr_services
from complaints import services
from complaints.models import AdrOutcome, Complaint, State
from complaints.roles import Actor
from tests.complaints.test_staff_queue import bulk_cases
from tests.conftest import fresh

pytestmark = pytest.mark.django_db


def refs(response) -> set[str]:
    return {c.reference for c in response.context["page"].object_list}


def section_counts(response) -> dict[str, int]:
    return {entry["section"].key: entry["count"] for entry in response.context["sections"]}


@pytest.fixture
def cases(file_complaint, complaint_in, agent, manager):
    def logged(days_ago):
        return file_complaint(
            by=Actor.staff(agent),
            channel="phone",
            received_at=timezone.now() - dt.timedelta(days=days_ago),
        ).complaint

    made = {
        "new": logged(1),
        "late_stage_1": logged(30),
        # ADR date in about a week: 56 working days is about 78 calendar days.
        "adr_soon": logged(72),
        "stage_2": complaint_in(State.CS_MANAGER),
        "stage_3": complaint_in(State.FORMAL_WRITTEN),
        "deadlock": complaint_in(State.DEADLOCK),
        "cisas": complaint_in(State.ADR_REFERRED),
        "court": complaint_in(State.COURT),
        "remedy": complaint_in(State.ADR_REFERRED),
    }
    adr_services.complaint_record_adr_decision(
        complaint=made["remedy"],
        by=Actor.staff(manager),
        outcome=AdrOutcome.PARTLY_UPHELD,
        remedy="Credit £15.",
        accepted_on=timezone.localdate(),
    )
    return made


def test_the_managers_see_each_section_with_its_count(client, manager, cases):
    client.force_login(manager)
    response = client.get("/staff/escalations/")
    assert response.status_code == 200
    assert refs(response) == {cases["stage_2"].reference, cases["stage_3"].reference}
    assert section_counts(response) == {
        "escalated": 2,
        "overdue": 2,  # late_stage_1 and adr_soon, both stage 1 without a reply
        "adr_soon": 1,
        "deadlock": 1,
        "cisas": 1,
        "remedies": 1,
        "court": 1,
    }
    expected = {
        "overdue": {cases["late_stage_1"].reference, cases["adr_soon"].reference},
        "adr_soon": {cases["adr_soon"].reference},
        "deadlock": {cases["deadlock"].reference},
        "cisas": {cases["cisas"].reference},
        "remedies": {cases["remedy"].reference},
        "court": {cases["court"].reference},
    }
    for key, wanted in expected.items():
        assert refs(client.get("/staff/escalations/", {"show": key})) == wanted, key


def test_overdue_stage_2_cases_are_in_the_overdue_section(client, manager, cases):
    Complaint.objects.filter(pk=cases["stage_2"].pk).update(
        response_due_at=timezone.now() - dt.timedelta(days=1)
    )
    client.force_login(manager)
    response = client.get("/staff/escalations/", {"show": "overdue"})
    assert cases["stage_2"].reference in refs(response)
    assert "row-overdue" in response.content.decode()


def test_the_deadlock_section_shows_the_cisas_deadline(client, manager, cases):
    client.force_login(manager)
    html = client.get("/staff/escalations/", {"show": "deadlock"}).content.decode()
    assert f"{fresh(cases['deadlock']).cisas_deadline:%-d %b %Y}" in html
    assert "passed" not in html.split("<tbody>")[1]


def test_the_deadlock_section_and_case_page_say_when_the_cisas_window_has_passed(
    client, manager, cases
):
    deadline = fresh(cases["deadlock"]).cisas_deadline
    client.force_login(manager)
    day_after = dt.datetime.combine(deadline + dt.timedelta(days=1), dt.time(12, 0), tzinfo=dt.UTC)
    with time_machine.travel(day_after, tick=False):
        client.force_login(manager)
        html = client.get("/staff/escalations/", {"show": "deadlock"}).content.decode()
        case = client.get(f"/staff/complaints/{cases['deadlock'].reference}/").content.decode()
        referred = client.get(f"/staff/complaints/{cases['cisas'].reference}/").content.decode()
    assert f'{deadline:%-d %b %Y} <span class="text-body-secondary">passed</span>' in html
    assert "12 months after deadlock; passed: CISAS no longer takes it" in case
    # Referred in time, the case is with CISAS whatever the date now.
    assert fresh(cases["cisas"]).cisas_deadline <= deadline
    assert "12 months after deadlock" in referred and "CISAS no longer takes it" not in referred


def test_an_unknown_section_shows_the_first(client, manager, cases):
    client.force_login(manager)
    response = client.get("/staff/escalations/", {"show": "everything"})
    assert response.context["section"].key == "escalated"


def test_a_manager_reassigns_from_the_queue_and_comes_back_to_it(
    client, manager, agent, agent2, cases
):
    case = cases["stage_2"]
    services.complaint_assign(complaint=case, assignee=agent, by=Actor.staff(manager))
    client.force_login(manager)
    html = client.get("/staff/escalations/").content.decode()
    assert f'<label class="visually-hidden" for="assign-{case.pk}">' in html
    response = client.post(
        f"/staff/complaints/{case.reference}/actions/",
        {
            "action": "assign",
            "assign-expected_state": case.state,
            "assign-expected_assignee": agent.pk,
            "assign-assignee": agent2.pk,
            "next": "/staff/escalations/?show=escalated",
        },
    )
    assert response.status_code == 302
    assert response["Location"] == "/staff/escalations/?show=escalated"
    assert fresh(case).assigned_to == agent2
    assert (
        f"{case.reference} is now assigned to Agent2."
        in client.get(response["Location"]).content.decode()
    )


def test_each_rows_assign_list_shows_its_assignee_and_escapes_names(client, manager, agent, cases):
    agent.first_name, agent.last_name = "<b>Al", "O'Neill</b>"
    agent.save()
    assigned, unassigned = cases["stage_2"], cases["stage_3"]
    services.complaint_assign(complaint=assigned, assignee=agent, by=Actor.staff(manager))
    client.force_login(manager)
    html = client.get("/staff/escalations/").content.decode()

    def select(case) -> str:
        return html.split(f'id="assign-{case.pk}">')[1].split("</select>")[0]

    assert (
        f'<option value="{agent.pk}" selected>&lt;b&gt;Al O&#x27;Neill&lt;/b&gt; (agent)</option>'
        in (select(assigned))
    )
    assert '<option value="" selected>Nobody</option>' in select(unassigned)
    assert f'<option value="{agent.pk}">' in select(unassigned)
    assert "<b>Al" not in html
    # The button says what it does: nobody has the unassigned case to reassign it from.
    assert f'aria-label="Reassign {assigned.reference}">Reassign</button>' in html
    assert f'aria-label="Assign {unassigned.reference}">Assign</button>' in html


def test_a_reassignment_from_a_stale_page_is_refused(client, manager, agent, agent2, cases):
    case = cases["stage_2"]
    client.force_login(manager)
    services.complaint_assign(complaint=case, assignee=agent, by=Actor.staff(manager))
    response = client.post(
        f"/staff/complaints/{case.reference}/actions/",
        {
            "action": "assign",
            "assign-expected_state": case.state,
            "assign-expected_assignee": "",  # the page showed it unassigned
            "assign-assignee": agent2.pk,
        },
    )
    assert fresh(case).assigned_to == agent
    assert (
        "it is now assigned to Agent. Nothing was saved."
        in client.get(response["Location"]).content.decode()
    )


def test_the_query_count_does_not_grow_with_the_section(client, manager, agent):
    cases = bulk_cases(60)
    for case in cases:
        case.assigned_to = agent
    Complaint.objects.bulk_update(cases, ["assigned_to"])
    client.force_login(manager)
    client.get("/staff/escalations/")

    def count(n):
        Complaint.objects.filter(state=State.CS_TEAM).update(state=State.CS_TEAM)
        ids = list(Complaint.objects.order_by("id").values_list("id", flat=True)[:n])
        Complaint.objects.all().update(state=State.CS_TEAM)
        Complaint.objects.filter(id__in=ids).update(state=State.CS_MANAGER)
        with CaptureQueriesContext(connection) as queries:
            response = client.get("/staff/escalations/")
        assert len(response.context["page"].object_list) == min(n, 25)
        return len(queries)

    assert count(3) == count(25)
