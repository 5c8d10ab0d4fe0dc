"""The agents' queue: what is due first, filters and search, claiming, and a fixed query count."""

from __future__ import annotations

import datetime as dt
import html
import itertools
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from complaints import clocks, services
from complaints.models import (
    Category,
    Channel,
    Complaint,
    ComplaintEvent,
    EventKind,
    State,
)
from complaints.roles import Actor
from tests.conftest import fresh

pytestmark = pytest.mark.django_db

_numbers = itertools.count(1)


def logged(agent, file_complaint, days_ago: float, **fields) -> Complaint:
    """A complaint an agent logged from a phone call ``days_ago`` days ago."""
    return file_complaint(
        by=Actor.staff(agent),
        channel=fields.pop("channel", Channel.PHONE),
        received_at=timezone.now() - dt.timedelta(days=days_ago),
        **fields,
    ).complaint


def bulk_cases(count: int, **fields) -> list[Complaint]:
    """Many stage-1 complaints in one INSERT, with their clocks set as filing would."""
    now = timezone.now()
    cases = []
    for i in range(count):
        received = now - dt.timedelta(hours=i + 1)
        c = Complaint(
            reference=f"CMP-2099-{next(_numbers):06d}",
            customer_name=f"Customer {i}",
            email=f"c{i}@example.com",
            category=Category.BILLING,
            description="Charged twice.",
            received_at=received,
            adr_eligible_date=clocks.adr_eligible_date(received, "england-and-wales"),
            **fields,
        )
        c.start_stage_clock(received)
        cases.append(c)
    return Complaint.objects.bulk_create(cases)


def refs(response) -> list[str]:
    return [c.reference for c in response.context["page"].object_list]


def test_it_lists_open_stage_1_cases_waiting_for_a_reply_the_soonest_due_first(
    client, agent, file_complaint, complaint_in
):
    newest = logged(agent, file_complaint, 1)
    oldest = logged(agent, file_complaint, 10)
    middle = logged(agent, file_complaint, 5)
    replied = logged(agent, file_complaint, 12)
    services.complaint_record_reply(
        complaint=replied, by=Actor.staff(agent), method="phone", summary="Called back."
    )
    escalated = complaint_in(State.CS_MANAGER)
    client.force_login(agent)
    response = client.get("/staff/")
    assert response.status_code == 200
    # Replied cases wait for resolution after those still waiting for a reply.
    assert refs(response) == [
        oldest.reference,
        middle.reference,
        newest.reference,
        replied.reference,
    ]
    assert escalated.reference not in refs(response)


@pytest.mark.parametrize("shown", ["open", "all"])
def test_a_case_with_no_reply_due_comes_after_those_waiting_for_one(
    client, agent, file_complaint, shown
):
    """The ADR clock's deadlock letter and a withdrawal leave no reply recorded, and the stage's
    old due date behind: neither is waiting for a reply, so neither goes above an overdue case."""
    from escalation.services import sweep_adr_clock

    clocked = logged(agent, file_complaint, 120)
    assert sweep_adr_clock() == 1
    withdrawn = logged(agent, file_complaint, 60)
    services.complaint_withdraw(complaint=withdrawn, by=Actor.customer())
    late = logged(agent, file_complaint, 30)
    fresh_case = logged(agent, file_complaint, 1)
    client.force_login(agent)
    response = client.get("/staff/", {"state": shown})
    expected = [late.reference, fresh_case.reference, clocked.reference]
    if shown == "all":
        expected.append(withdrawn.reference)
    assert refs(response) == expected
    page = response.content.decode()
    assert page.index(late.reference) < page.index("No reply deadline")


def test_overdue_cases_are_marked(client, agent, file_complaint):
    late = logged(agent, file_complaint, 40)
    logged(agent, file_complaint, 1)
    client.force_login(agent)
    response = client.get("/staff/")
    page = response.content.decode()
    assert page.count("row-overdue") == 1
    assert ">Overdue<" in page
    rows = response.context["page"].object_list
    assert [c.overdue for c in rows] == [True, False]
    assert rows[0].reference == late.reference
    assert rows[0].days_overdue > 0


def test_it_shows_the_working_days_left(client, agent, file_complaint):
    logged(agent, file_complaint, 0)
    client.force_login(agent)
    response = client.get("/staff/")
    assert "15 working days left" in response.content.decode()


@pytest.mark.parametrize(
    "query, expected",
    [
        ({"category": "contract"}, ["contract"]),
        ({"channel": "email"}, ["email"]),
        ({"assigned": "me"}, ["mine"]),
        ({"assigned": "unassigned"}, ["plain", "contract", "email", "vulnerable", "late"]),
        ({"overdue": "on"}, ["late"]),
        ({"vulnerable": "on"}, ["vulnerable"]),
        ({"state": "cs_manager"}, ["escalated"]),
        ({"state": "open"}, None),  # every open case
    ],
)
def test_filters(client, agent, agent2, file_complaint, query, expected):
    made = {
        "late": logged(agent, file_complaint, 30),
        "plain": logged(agent, file_complaint, 9),
        "contract": logged(agent, file_complaint, 8, category=Category.CONTRACT),
        "email": logged(agent, file_complaint, 7, channel=Channel.EMAIL),
        "vulnerable": logged(
            agent, file_complaint, 6, vulnerable=True, vulnerability_notes="Hard of hearing."
        ),
        "mine": logged(agent, file_complaint, 5),
        "theirs": logged(agent, file_complaint, 4),
        "escalated": logged(agent, file_complaint, 3),
    }
    services.complaint_assign(complaint=made["mine"], assignee=agent, by=Actor.staff(agent))
    services.complaint_assign(complaint=made["theirs"], assignee=agent2, by=Actor.staff(agent2))
    services.complaint_escalate(
        complaint=made["escalated"], by=Actor.staff(agent), reason="Needs the manager's review."
    )
    client.force_login(agent)
    response = client.get("/staff/", query)
    found = set(refs(response))
    if expected is None:
        assert found == {c.reference for c in made.values()}
    else:
        assert found == {made[name].reference for name in expected}
    assert response.context["filtered"] is True


@pytest.mark.parametrize("field", ["reference", "customer_name", "email", "account_number"])
def test_search_finds_a_case_by_reference_name_email_or_account(
    client, agent, file_complaint, field
):
    wanted = logged(
        agent,
        file_complaint,
        2,
        customer_name="Priya Sharma",
        email="priya@example.org",
        account_number="ET998877",
    )
    logged(agent, file_complaint, 3)
    term = {
        "reference": wanted.reference.lower(),
        "customer_name": "sharma",
        "email": "PRIYA@example",
        "account_number": "998877",
    }[field]
    client.force_login(agent)
    response = client.get("/staff/", {"q": term})
    assert refs(response) == [wanted.reference]


@pytest.mark.parametrize(
    "typed", ["07700 900456", "07700900456", "+44 7700 900456", "+44 (0)7700-900456", "900456"]
)
@pytest.mark.parametrize("stored", ["07700 900456", "+447700900456", "(07700) 900-456"])
def test_search_finds_a_case_by_phone_number_however_it_is_spaced(
    client, agent, file_complaint, typed, stored
):
    """A customer calling back: the number on the phone's display, or as they read it out."""
    wanted = logged(agent, file_complaint, 2, phone=stored)
    logged(agent, file_complaint, 3, phone="07700 900123")
    client.force_login(agent)
    response = client.get("/staff/", {"q": typed})
    assert refs(response) == [wanted.reference]
    assert "phone" in response.content.decode().split("</label>")[0]


def test_the_phone_search_is_served_by_its_trigram_index():
    from complaints import selectors

    found = Complaint.objects.filter(selectors.search_q("07700 900456")).values("id")
    sql, params = found.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(f"EXPLAIN {sql}", params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "complaint_phone_trgm_idx" in plan


def test_a_whole_reference_is_looked_up_by_the_reference_itself(client, agent, file_complaint):
    wanted = logged(agent, file_complaint, 2)
    logged(agent, file_complaint, 3)
    client.force_login(agent)
    with CaptureQueriesContext(connection) as queries:
        response = client.get("/staff/", {"q": f"  {wanted.reference.lower()} "})
    assert refs(response) == [wanted.reference]
    search = next(q["sql"] for q in queries if 'FROM "complaints_complaint"' in q["sql"])
    assert f'"complaints_complaint"."reference" = \'{wanted.reference}\'' in search
    assert "LIKE" not in search  # the unique index, not the trigram indexes


def test_an_email_address_matches_the_addresses_that_start_with_it(client, agent, file_complaint):
    """What a customer spells out on the phone, in any case; a domain is still found anywhere."""
    priya = logged(agent, file_complaint, 2, email="Priya.Sharma@Example.org")
    other = logged(agent, file_complaint, 3, email="supriya.sharma@example.org")
    logged(agent, file_complaint, 4, email="someone@elsewhere.net")
    client.force_login(agent)

    def found(term):
        return set(refs(client.get("/staff/", {"q": term})))

    with CaptureQueriesContext(connection) as queries:
        assert found(" priya.sharma@EXAMPLE.ORG ") == {priya.reference}
    search = next(q["sql"] for q in queries if 'FROM "complaints_complaint"' in q["sql"])
    # complaint_email_idx (text_pattern_ops), not the trigram indexes' '%text%'.
    assert "LIKE 'priya.sharma@example.org%'" in search
    assert found("priya.sharma@ex") == {priya.reference}
    page = client.get("/staff/", {"q": "priya.sharma@ex"}).content.decode()
    assert "1 case matches your filters" in page
    assert found("riya.sharma@example.org") == set()  # not from the middle of an address
    assert found("@example.org") == {priya.reference, other.reference}
    assert found("100%@example") == set()  # % is the text, not a wildcard


def test_the_email_index_serves_prefix_searches():
    """The e-mail search's LIKE 'text%' and subject access's lower(email) = ? share one index."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexdef FROM pg_indexes WHERE indexname = 'complaint_email_idx'")
        (definition,) = cursor.fetchone()
    assert "lower((email)::text) text_pattern_ops" in definition


def test_search_across_all_cases_finds_a_closed_one(client, agent, complaint_in):
    closed = complaint_in(State.CLOSED)
    client.force_login(agent)
    assert refs(client.get("/staff/", {"q": closed.reference})) == []
    assert refs(client.get("/staff/", {"q": closed.reference, "state": "all"})) == [
        closed.reference
    ]


def test_it_pages_through_the_queue_keeping_the_filters(client, agent):
    bulk_cases(30)
    client.force_login(agent)
    first = client.get("/staff/", {"category": "billing"})
    assert len(refs(first)) == 25
    page = first.content.decode()
    assert "Page 1 of 2" in page
    # The "Next" link names the last case shown (keyset pages, see test_keyset.py).
    found = re.search(r'href="(\?category=billing&amp;page=2&amp;after=[^"]+)">Next<', page)
    assert found
    second = client.get("/staff/" + html.unescape(found.group(1)))
    assert len(refs(second)) == 5
    assert "Page 2 of 2" in second.content.decode()
    assert set(refs(first)).isdisjoint(refs(second))
    assert len(refs(client.get("/staff/", {"per_page": 50}))) == 30


@pytest.mark.parametrize(
    "filters",
    [
        {"state": "open", "overdue": "on"},
        {"state": "cs_manager"},
        {"state": "open"},
        {"state": "all"},
    ],
    ids=["open-overdue", "stage-2", "open", "all"],
)
def test_paging_by_next_links_gives_every_case_once_in_the_queues_order(client, agent, filters):
    """The pages' segments are told what the filters already settle (overdue only, stages'
    states only), and must still give the order of the whole list, page after page."""
    from complaints import selectors

    cases = bulk_cases(60)
    # A mix: some in stage 2, some answered, some overdue, one withdrawn with no reply due.
    rows = Complaint.objects.filter
    rows(pk__in=[c.pk for c in cases[::3]]).update(state=State.CS_MANAGER)
    rows(pk__in=[c.pk for c in cases[::4]]).update(responded_at=timezone.now())
    for i, case in enumerate(cases[::5]):
        rows(pk=case.pk).update(response_due_at=timezone.now() - dt.timedelta(days=i + 1))
    rows(pk=cases[7].pk).update(state=State.WITHDRAWN)
    client.force_login(agent)
    params = {**filters, "per_page": 10}
    expected = [
        c.reference
        for c in selectors.agent_queue(
            user=agent,
            state={"open": selectors.ALL_OPEN, "all": selectors.ALL_CASES}.get(
                filters["state"], filters["state"]
            ),
            overdue=bool(filters.get("overdue")),
        )
    ]
    assert expected, filters
    seen, response = [], client.get("/staff/", params)
    while True:
        seen += refs(response)
        found = re.search(r'href="(\?[^"]*after=[^"]+)">Next<', response.content.decode())
        if not found:
            break
        response = client.get("/staff/" + html.unescape(found.group(1)))
    assert seen == expected


def test_bad_filter_values_fall_back_to_the_defaults(client, agent):
    bulk_cases(2)
    client.force_login(agent)
    response = client.get("/staff/", {"state": "nonsense", "per_page": "7", "page": "x"})
    assert response.status_code == 200
    assert len(refs(response)) == 2


def test_the_query_count_does_not_grow_with_the_page(client, agent, agent2, manager):
    cases = bulk_cases(101)
    # Some assigned, to several people, so a lazy lookup per row would show up in the count.
    for i, case in enumerate(cases):
        case.assigned_to = (agent, agent2, manager, None)[i % 4]
    Complaint.objects.bulk_update(cases, ["assigned_to"])
    client.force_login(agent)
    client.get("/staff/")  # the session and the user's groups are read once, like any page

    counts = {}
    for size in (25, 100):
        with CaptureQueriesContext(connection) as queries:
            response = client.get("/staff/", {"per_page": size})
        assert len(refs(response)) == size
        counts[size] = len(queries)
    assert counts[25] == counts[100]
    assert counts[100] <= 10, counts


# --- Claiming -------------------------------------------------------------------------------------


def claim(client, complaint, expected_assignee=""):
    return client.post(
        f"/staff/complaints/{complaint.reference}/actions/",
        {
            "action": "claim",
            "claim-expected_state": complaint.state,
            "claim-expected_assignee": expected_assignee,
            "next": "/staff/?assigned=unassigned",
        },
    )


def test_an_agent_claims_a_case_from_the_queue(client, agent, file_complaint):
    case = logged(agent, file_complaint, 1)
    client.force_login(agent)
    response = claim(client, case)
    assert response.status_code == 302
    assert response["Location"] == "/staff/?assigned=unassigned"
    assert fresh(case).assigned_to == agent
    event = ComplaintEvent.objects.filter(complaint=case, kind=EventKind.ASSIGNMENT).get()
    assert event.actor == agent and not event.customer_visible
    page = client.get("/staff/").content.decode()
    assert f"You are now working on {case.reference}." in page
    assert "<strong>You</strong>" in page


def test_two_agents_claiming_one_case_one_wins_and_the_other_is_told(
    client, agent, agent2, file_complaint
):
    case = logged(agent, file_complaint, 1)
    from django.test import Client

    other = Client()
    client.force_login(agent)
    other.force_login(agent2)
    # Both pages showed the case unassigned.
    assert claim(client, case).status_code == 302
    response = claim(other, case)
    assert response.status_code == 302
    assert fresh(case).assigned_to == agent
    page = other.get(response["Location"]).content.decode()
    assert (
        f"Someone else changed who is working on {case.reference} first: it is now assigned to "
        "Agent. Nothing was saved." in page
    )
    assert ComplaintEvent.objects.filter(complaint=case, kind=EventKind.ASSIGNMENT).count() == 1


def test_the_queue_offers_claim_only_on_unassigned_cases(client, agent, agent2, file_complaint):
    mine = logged(agent, file_complaint, 2)
    free = logged(agent, file_complaint, 1)
    services.complaint_assign(complaint=mine, assignee=agent2, by=Actor.staff(agent2))
    client.force_login(agent)
    page = client.get("/staff/").content.decode()
    assert f'aria-label="Claim {free.reference}"' in page
    assert f'aria-label="Claim {mine.reference}"' not in page
    assert "Agent2" in page


def test_the_search_indexes_keep_their_pending_lists_short():
    """GIN's pending list is read in full by every search until it is merged: with the default
    4 MB, searches slowed to twice their time after a few thousand filings (migration 0013)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT relname, reloptions FROM pg_class WHERE relname LIKE 'complaint_%_trgm_idx'"
        )
        options = dict(cursor.fetchall())
    assert set(options) == {
        "complaint_ref_trgm_idx",
        "complaint_name_trgm_idx",
        "complaint_email_trgm_idx",
        "complaint_account_trgm_idx",
        "complaint_phone_trgm_idx",
    }
    assert all(opts == ["gin_pending_list_limit=64"] for opts in options.values()), options


def test_the_complaints_table_is_vacuumed_after_one_percent_of_it_changes():
    """The queues' index-only scans read the table for every page changed since the last vacuum:
    autovacuum comes after 1 % of the rows change or arrive, not 20 % (migration 0030)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT reloptions FROM pg_class WHERE relname = 'complaints_complaint'")
        (options,) = cursor.fetchone()
    assert sorted(options) == [
        "autovacuum_analyze_scale_factor=0.02",
        "autovacuum_vacuum_insert_scale_factor=0.01",
        "autovacuum_vacuum_scale_factor=0.01",
    ]
