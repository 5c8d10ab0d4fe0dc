"""The managers' pages cost the same number of queries however many rows they show: every
section of the escalations queue, deep pages included, and the reports page."""

from __future__ import annotations

import datetime as dt
import re
from html import unescape

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from complaints.models import Complaint, State
from escalation.selectors import SECTION_KEYS
from tests.complaints.test_staff_queue import bulk_cases

pytestmark = pytest.mark.django_db


def queries_for(client, url: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    return len(queries)


def section_fields(show: str) -> dict:
    """What puts a case in each section (every case of a section tied on its date)."""
    now = timezone.now()
    today = timezone.localdate()
    return {
        "escalated": {"state": State.CS_MANAGER},
        "overdue": {"state": State.CS_MANAGER, "response_due_at": now - dt.timedelta(days=1)},
        "adr_soon": {"state": State.CS_MANAGER, "adr_eligible_date": today},
        "deadlock": {"state": State.DEADLOCK, "deadlock_issued_at": now - dt.timedelta(days=3)},
        "cisas": {"state": State.ADR_REFERRED, "adr_referred_on": today},
        "remedies": {"state": State.RESOLVED, "remedy_due_date": today},
        "court": {"state": State.COURT, "court_started_on": today},
    }[show]


@pytest.mark.parametrize("show", SECTION_KEYS)
def test_every_section_costs_no_more_for_a_full_page_or_a_deep_one_than_for_3_cases(
    client, manager, agent, show
):
    url = f"/staff/escalations/?show={show}"

    def add(n: int) -> None:
        ids = [c.pk for c in bulk_cases(n)]
        Complaint.objects.filter(pk__in=ids).update(assigned_to=agent, **section_fields(show))

    client.force_login(manager)
    client.get("/staff/escalations/")
    add(3)
    assert len(client.get(url).context["page"].object_list) == 3
    few = queries_for(client, url)
    add(77)
    assert len(client.get(url).context["page"].object_list) == 25
    # One more at most: "Page 1 of 4" is counted only once there are other pages.
    assert queries_for(client, url) <= few + 1
    deep = "/staff/escalations/" + next_link(client.get(url))
    assert len(client.get(deep).context["page"].object_list) == 25
    assert queries_for(client, deep) <= few + 1


def next_link(response) -> str:
    found = re.search(r'href="([^"]*)">Next</a>', response.content.decode())
    assert found, "no Next link"
    return unescape(found.group(1))


def test_the_reports_page_costs_the_same_for_3_complaints_as_for_40(client, manager):
    client.force_login(manager)
    bulk_cases(3)
    client.get("/staff/reports/")
    few = queries_for(client, "/staff/reports/")
    bulk_cases(37)
    assert queries_for(client, "/staff/reports/") == few
