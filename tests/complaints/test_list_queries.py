"""Every staff list page costs the same number of queries however many rows it shows: a query per
row (N+1) fails here. (The agents' first page and the API have their own tests alongside them.)"""

from __future__ import annotations

import datetime as dt
import re
from html import unescape

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from complaints import selectors, services
from complaints.models import ClosureDay, Complaint
from complaints.roles import Actor
from tests.complaints.test_staff_queue import bulk_cases

pytestmark = pytest.mark.django_db


def queries_for(client, url: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    return len(queries)


def next_link(response) -> str:
    found = re.search(r'<a class="page-link" href="([^"]*)">Next</a>', response.content.decode())
    assert found, "no Next link"
    return unescape(found.group(1))


def test_a_deep_page_of_the_agents_queue_costs_what_the_first_page_costs(
    client, agent, agent2, manager
):
    cases = bulk_cases(120)
    for i, case in enumerate(cases):
        case.assigned_to = (agent, agent2, manager, None)[i % 4]
    Complaint.objects.bulk_update(cases, ["assigned_to"])
    client.force_login(agent)
    first = client.get("/staff/")
    third_url = "/staff/" + next_link(client.get("/staff/" + next_link(first)))
    assert queries_for(client, third_url) == queries_for(client, "/staff/")
    assert queries_for(client, "/staff/?per_page=100") == queries_for(client, "/staff/")


def test_a_page_running_across_the_parts_of_the_queue_costs_a_query_per_part_at_most(client, agent):
    """Waiting for a reply (dated, undated), then replied (dated, undated): a page that starts
    in one part and ends in another reads each part it crosses once, however many rows."""
    parts = len(selectors.awaiting_reply_first())
    cases = bulk_cases(80)
    replied = list(Complaint.objects.order_by("response_due_at", "id"))[30:]
    Complaint.objects.filter(pk__in=[c.pk for c in replied]).update(responded_at=timezone.now())
    client.force_login(agent)
    first = client.get("/staff/")
    crossing = "/staff/" + next_link(first)  # 5 waiting, then 20 replied
    last = "/staff/" + next_link(client.get("/staff/" + next_link(client.get(crossing))))
    assert queries_for(client, crossing) <= queries_for(client, "/staff/") + parts - 1
    assert queries_for(client, last) <= queries_for(client, "/staff/") + parts - 1
    assert len(cases) == 80


def test_the_case_page_costs_the_same_with_3_events_as_with_40(
    client, agent, agent2, manager, file_complaint
):
    def case_with(events: int) -> Complaint:
        complaint = file_complaint().complaint
        people = (agent, agent2, manager)
        while complaint.events.count() < events:
            n = complaint.events.count()
            services.complaint_add_note(
                complaint=complaint, by=Actor.staff(people[n % 3]), text=f"Note {n}."
            )
            if n % 5 == 0:
                services.complaint_add_message(
                    complaint=complaint, by=Actor.staff(people[n % 3]), text=f"Message {n}."
                )
        return complaint

    few, many = case_with(3), case_with(40)
    client.force_login(manager)
    # First sight of a timeline renders its entries (their full rows read once); after that they
    # come from the cache. Either way the count does not grow with the timeline.
    from django.core.cache import cache

    client.get(f"/staff/complaints/{few.reference}/")
    counts = {}
    for name, case in (("few", few), ("many", many)):
        cache.clear()
        url = f"/staff/complaints/{case.reference}/"
        counts[name] = (queries_for(client, url), queries_for(client, url))
    assert counts["few"] == counts["many"]
    cold, warm = counts["many"]
    assert warm < cold


def test_the_closure_days_page_costs_the_same_for_2_days_as_for_20(client, manager):
    today = timezone.localdate()

    def days(n: int) -> None:
        ClosureDay.objects.all().delete()
        ClosureDay.objects.bulk_create(
            ClosureDay(date=today + dt.timedelta(days=10 + 7 * i), reason=f"Closed {i}")
            for i in range(n)
        )

    client.force_login(manager)
    days(2)
    # The first request also looks up the content type of the list of changes, once a process.
    queries_for(client, "/staff/closure-days/")
    few = queries_for(client, "/staff/closure-days/")
    days(20)
    assert queries_for(client, "/staff/closure-days/") == few
