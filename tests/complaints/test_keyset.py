"""Keyset pages of the staff queues: every case once, in the queue's order, however the cases tie
on their deadline; filters kept from page to page; bookmarkable links; no OFFSET."""

from __future__ import annotations

import datetime as dt
import re
from html import unescape

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from complaints import keyset, selectors
from complaints.keyset import KeysetPaginator
from complaints.models import Category, Complaint, State
from tests.complaints.test_staff_queue import bulk_cases

pytestmark = pytest.mark.django_db

NEXT = re.compile(r'<a class="page-link" href="([^"]*)">Next</a>')
PREVIOUS = re.compile(r'<a class="page-link" href="([^"]*)">Previous</a>')


def refs(response) -> list[str]:
    return [c.reference for c in response.context["page"].object_list]


def link(pattern: re.Pattern, response) -> str | None:
    found = pattern.search(response.content.decode())
    return unescape(found.group(1)) if found else None


def walk(client, path: str, query: dict | None = None) -> list:
    """Every page from the first, by following "Next"; the responses in order."""
    pages = [client.get(path, query or {})]
    while (url := link(NEXT, pages[-1])) is not None:
        assert len(pages) < 50, "the pages never end"
        pages.append(client.get(path + url))
    return pages


@pytest.fixture
def tied_queue(agent):
    """Stage-1 cases in all four parts of the queue's order (waiting for a reply or replied, each
    dated or not), most of them sharing one of two reply due dates to the microsecond, and ids
    that do not follow the dates."""
    cases = bulk_cases(70)
    due = timezone.now().replace(microsecond=123456) + dt.timedelta(days=5)
    for i, case in enumerate(cases):
        case.response_due_at = due if i % 3 else due + dt.timedelta(days=1)
        if i % 10 == 0:
            case.response_due_at = None
        if i % 4 == 0:
            case.responded_at = timezone.now() - dt.timedelta(hours=i)
    Complaint.objects.bulk_update(cases, ["response_due_at", "responded_at"])
    return cases


def expected_order(**filters) -> list[str]:
    """The queue's order as one ORDER BY (agent_queue's), the reference for the pages."""
    return list(selectors.agent_queue(**filters).values_list("reference", flat=True))


def test_following_next_shows_every_case_once_in_the_queue_order_despite_ties(
    client, agent, tied_queue
):
    client.force_login(agent)
    pages = walk(client, "/staff/")
    shown = [ref for page in pages for ref in refs(page)]
    assert len(pages) == 3
    assert [len(refs(p)) for p in pages] == [25, 25, 20]
    assert len(shown) == len(set(shown)) == 70
    assert shown == expected_order()


def test_following_previous_goes_back_through_the_same_pages(client, agent, tied_queue):
    client.force_login(agent)
    pages = walk(client, "/staff/")
    back = client.get("/staff/" + link(PREVIOUS, pages[2]))
    assert refs(back) == refs(pages[1])
    first = client.get("/staff/" + link(PREVIOUS, back))
    assert refs(first) == refs(pages[0])
    assert link(PREVIOUS, first) is None
    assert "Page 1 of 3" in first.content.decode()


def test_each_page_says_where_it_is_and_its_link_is_a_bookmark(client, agent, tied_queue):
    client.force_login(agent)
    pages = walk(client, "/staff/")
    assert "Page 2 of 3" in pages[1].content.decode()
    assert "Page 3 of 3" in pages[2].content.decode()
    # The same URL, opened again later (another session), shows the same cases.
    url = link(NEXT, pages[0])
    again = client.get("/staff/" + url)
    assert refs(again) == refs(pages[1])


def test_filters_are_kept_from_page_to_page(client, agent):
    cases = bulk_cases(65)
    contract = cases[::2]
    Complaint.objects.filter(pk__in=[c.pk for c in contract]).update(category=Category.CONTRACT)
    client.force_login(agent)
    pages = walk(client, "/staff/", {"category": "contract", "per_page": 25})
    assert len(pages) == 2
    assert "category=contract" in link(NEXT, pages[0])
    shown = [ref for page in pages for ref in refs(page)]
    assert sorted(shown) == sorted(c.reference for c in contract)
    assert shown == expected_order(category=Category.CONTRACT)
    assert all(p.context["filters"]["category"] == "contract" for p in pages)


def test_a_case_replied_to_between_two_pages_is_neither_lost_nor_repeated_after_it(
    client, agent, tied_queue
):
    client.force_login(agent)
    first = client.get("/staff/")
    # A case further down (on the next page) moves out of the queue's first part meanwhile.
    moved = Complaint.objects.get(reference=expected_order()[30])
    Complaint.objects.filter(pk=moved.pk).update(responded_at=timezone.now())
    rest = walk(client, "/staff/" + link(NEXT, first))
    shown = refs(first) + [ref for page in rest for ref in refs(page)]
    assert len(shown) == len(set(shown)) == 70


def test_deep_pages_are_found_by_their_last_row_not_by_offset(client, agent, tied_queue):
    client.force_login(agent)
    pages = walk(client, "/staff/")
    with CaptureQueriesContext(connection) as queries:
        client.get("/staff/" + link(NEXT, pages[1]))
    selects = [q["sql"] for q in queries if "complaints_complaint" in q["sql"]]
    assert selects
    assert not any("OFFSET" in sql.upper() for sql in selects)


@pytest.mark.parametrize("cursor", ["nonsense", "9.1.1", "0.x.1", "1.5.2", "0..", "0.1"])
def test_a_link_that_cannot_be_read_shows_the_first_page(client, agent, tied_queue, cursor):
    client.force_login(agent)
    first = refs(client.get("/staff/"))
    for param in ("after", "before"):
        response = client.get("/staff/", {param: cursor, "page": "7"})
        assert response.status_code == 200
        assert refs(response) == first


def test_the_managers_sections_page_through_ties_too(client, manager, complaint_in):
    deadlocked = [complaint_in(State.DEADLOCK) for _ in range(30)]
    same_moment = timezone.now() - dt.timedelta(days=3)
    Complaint.objects.filter(pk__in=[c.pk for c in deadlocked[::2]]).update(
        deadlock_issued_at=same_moment
    )
    client.force_login(manager)
    pages = walk(client, "/staff/escalations/", {"show": "deadlock"})
    assert all("show=deadlock" in link(NEXT, p) for p in pages[:-1])
    shown = [ref for page in pages for ref in refs(page)]
    assert len(shown) == len(set(shown)) == 30
    ordered = Complaint.objects.filter(state=State.DEADLOCK).order_by("deadlock_issued_at", "id")
    assert shown == list(ordered.values_list("reference", flat=True))


def test_counting_stops_at_the_limit(monkeypatch, agent):
    bulk_cases(12)
    monkeypatch.setattr("complaints.keyset.COUNT_LIMIT", 10)
    paginator = KeysetPaginator(selectors.agent_queue(), selectors.awaiting_reply_first(), 5)
    assert paginator.count == 10
    assert paginator.count_is_exact is False


def test_a_search_with_more_matches_than_it_reads_counts_them(client, agent, monkeypatch):
    bulk_cases(30)
    monkeypatch.setattr("complaints.keyset.PROBE_LIMIT", 10)
    client.force_login(agent)
    response = client.get("/staff/", {"q": "customer", "per_page": 25})  # more than 10 too
    assert "30 cases match your filters" in response.content.decode()
    assert refs(response) == expected_order(q="customer")[:25]
    monkeypatch.setattr("complaints.keyset.PROBE_LIMIT", 26)
    with CaptureQueriesContext(connection) as queries:
        response = client.get("/staff/", {"q": "customer"})
    assert "30 cases match your filters" in response.content.decode()
    assert refs(response) == expected_order(q="customer")[:25]
    assert len([q for q in queries if "COUNT(" in q["sql"]]) == 1


def test_more_cases_than_the_count_limit_are_said_to_be_more(client, agent, monkeypatch):
    bulk_cases(12)
    monkeypatch.setattr("complaints.keyset.COUNT_LIMIT", 10)
    client.force_login(agent)
    page = client.get("/staff/", {"per_page": 25}).content.decode()
    assert "More than 10 cases" in page


def searches(queries) -> tuple[list[str], list[str]]:
    """The queries that searched (LIKE, not bounded by a list of ids), and those that read
    complaints at all."""
    reads = [q["sql"] for q in queries if 'FROM "complaints_complaint"' in q["sql"]]
    return [sql for sql in reads if "LIKE" in sql and '"id" IN (' not in sql], reads


def test_a_search_that_fits_on_one_page_is_counted_from_its_matches(client, agent):
    bulk_cases(30)
    client.force_login(agent)
    client.get("/staff/")
    with CaptureQueriesContext(connection) as one_page:
        response = client.get("/staff/", {"q": "Customer 1"})  # 1, 10-19: 11 cases
    assert len(refs(response)) == 11
    assert "11 cases match your filters" in response.content.decode()
    searched, reads = searches(one_page)
    # The matches' ids, then their rows by primary key: the search itself runs once.
    assert len(searched) == 1 and len(reads) == 2
    assert "COUNT(" not in " ".join(reads)


def test_a_search_with_more_matches_than_a_page_is_counted_and_paged(client, agent):
    bulk_cases(30)
    client.force_login(agent)
    client.get("/staff/")
    with CaptureQueriesContext(connection) as first_page:
        client.get("/staff/", {"q": "customer"})
    # The matches once, for both the page and the count: not again to count them.
    searched, reads = searches(first_page)
    assert len(searched) == 1 and len(reads) == 2
    assert "COUNT(" not in " ".join(reads)
    pages = walk(client, "/staff/", {"q": "customer"})
    assert "30 cases match your filters" in pages[0].content.decode()
    assert "q=customer" in link(NEXT, pages[0])
    shown = [ref for page in pages for ref in refs(page)]
    assert len(shown) == len(set(shown)) == 30
    assert shown == expected_order(q="customer")


def test_one_order_by_is_derived_only_from_a_single_field_order():
    assert keyset.queryset_order(keyset.ordered_by("received_at", nullable=False)) == [
        keyset.F("received_at").asc(nulls_last=True),
        "id",
    ]
    down = keyset.queryset_order(keyset.ordered_by("response_due_at", descending=True))
    assert down == [keyset.F("response_due_at").desc(nulls_last=True), "-id"]
    # The queue's order waits for replies first: four segments, no single ORDER BY.
    with pytest.raises(ValueError):
        keyset.queryset_order(selectors.awaiting_reply_first())
