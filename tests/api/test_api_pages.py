"""The API's list pages: every complaint once, in the order asked for, however complaints tie on a
date; Next and Previous links that name a row (no OFFSET); ``?page=N`` still served."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from complaints.models import Complaint
from tests.api.test_api import URL, api
from tests.complaints.test_staff_queue import bulk_cases

pytestmark = pytest.mark.django_db

ORDERINGS = ["response_due_date", "-response_due_date", "received_at", "-received_at"]


@pytest.fixture
def tied() -> list[Complaint]:
    """23 complaints, most sharing one of two reply due dates and one of two received times to
    the microsecond, some with no reply due date, ids that do not follow the dates."""
    cases = bulk_cases(23)
    due = timezone.now().replace(microsecond=123456) + dt.timedelta(days=5)
    received = timezone.now().replace(microsecond=654321) - dt.timedelta(days=2)
    for i, case in enumerate(cases):
        case.response_due_at = None if i % 7 == 0 else due + dt.timedelta(days=i % 2)
        case.received_at = received - dt.timedelta(hours=i % 3 == 0)
    Complaint.objects.bulk_update(cases, ["response_due_at", "received_at"])
    return cases


def expected(ordering: str) -> list[str]:
    """The order, written out in Python: ties by id, and no due date last either way."""
    cases = list(Complaint.objects.all())
    field = "received_at" if "received_at" in ordering else "response_due_at"
    down = ordering.startswith("-")
    dated = sorted(
        (c for c in cases if getattr(c, field) is not None),
        key=lambda c: (getattr(c, field), c.pk),
        reverse=down,
    )
    undated = sorted((c for c in cases if getattr(c, field) is None), key=lambda c: c.pk)
    return [c.reference for c in dated + (undated[::-1] if down else undated)]


def walk(client, query: dict, direction: str = "next", first: dict | None = None) -> list[dict]:
    pages = [first or client.get(URL, query).json()]
    while (url := pages[-1][direction]) is not None:
        assert len(pages) < 20, "the pages never end"
        response = client.get(url)
        assert response.status_code == 200, response.content
        pages.append(response.json())
    return pages


def references(pages: list[dict]) -> list[str]:
    return [c["reference"] for page in pages for c in page["results"]]


@pytest.mark.parametrize("ordering", ORDERINGS)
def test_next_links_show_every_complaint_once_in_the_order_asked_for(agent, tied, ordering):
    client = api(agent)
    pages = walk(client, {"ordering": ordering, "page_size": 5})
    assert [len(p["results"]) for p in pages] == [5, 5, 5, 5, 3]
    assert references(pages) == expected(ordering)
    assert all(p["count"] == 23 for p in pages)
    assert "after=" in pages[0]["next"] and "page=2" in pages[0]["next"]
    assert f"ordering={ordering}" in pages[0]["next"]
    # And back again by the Previous links, the same pages.
    back = walk(client, {}, direction="previous", first=pages[-1])
    assert [references([p]) for p in back] == [references([p]) for p in reversed(pages)]
    assert "after=" not in (pages[1]["previous"] or "") and "page=" not in pages[1]["previous"]


def test_a_page_by_number_alone_is_still_that_page(agent, tied):
    client = api(agent)
    order = expected("response_due_date")
    page = client.get(URL, {"page": 3, "page_size": 5}).json()
    assert references([page]) == order[10:15]
    following = client.get(page["next"]).json()
    assert references([following]) == order[15:20]
    assert references([client.get(page["previous"]).json()]) == order[5:10]
    assert client.get(URL, {"page": 6, "page_size": 5}).status_code == 404
    assert client.get(URL, {"page": "last"}).status_code == 404
    # A page number far past the end (beyond what PostgreSQL's OFFSET can hold) is the same 404.
    beyond = client.get(URL, {"page": 42330854962465424168452096})
    assert beyond.status_code == 404
    assert beyond.json()["detail"] == "Invalid page."


def test_a_page_link_that_cannot_be_read_is_refused_not_restarted(agent, tied):
    client = api(agent)
    response = client.get(URL, {"after": "not-a-cursor", "page": 2})
    assert response.status_code == 404
    assert "first page" in response.json()["detail"]


def test_a_deep_page_link_reads_from_its_row_not_by_offset(agent, tied):
    client = api(agent)
    second = client.get(client.get(URL, {"page_size": 5}).json()["next"])
    with CaptureQueriesContext(connection) as queries:
        assert client.get(second.json()["next"]).status_code == 200
    reads = [q["sql"] for q in queries if 'FROM "complaints_complaint"' in q["sql"]]
    assert reads and not any("OFFSET" in sql for sql in reads)


def test_the_state_filter_reads_rows_once_without_distinct(agent, tied):
    client = api(agent)
    with CaptureQueriesContext(connection) as queries:
        body = client.get(URL, {"state": ["cs_team", "cs_manager"]}).json()
    assert body["count"] == 23
    reads = [q["sql"] for q in queries if 'FROM "complaints_complaint"' in q["sql"]]
    assert not any("DISTINCT" in sql for sql in reads)


def test_events_are_paged_oldest_first(agent, file_complaint):
    from complaints import services
    from complaints.roles import Actor

    complaint = file_complaint().complaint
    for i in range(6):
        services.complaint_add_note(complaint=complaint, by=Actor.staff(agent), text=f"Note {i}")
    client = api(agent)
    pages = walk(
        client, {}, first=client.get(f"{URL}{complaint.reference}/events/", {"page_size": 3}).json()
    )
    texts = [e["text"] for page in pages for e in page["results"]]
    assert len(pages) == 3 and texts[1:] == [f"Note {i}" for i in range(6)]
