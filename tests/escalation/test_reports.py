"""The managers' figures, checked against numbers worked out by hand on a small fixed year.

The cases are made through the services with time moved by time_machine, exactly as the
procedure would have made them (London times, 2024; England and Wales bank holidays: 1 Jan,
29 Mar, 1 Apr, 6 May, 27 May).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from zoneinfo import ZoneInfo

import pytest
import time_machine

from adr import services as adr_services
from complaints import services
from complaints.models import AdrOutcome, Category, Channel, State
from complaints.roles import Actor
from escalation import reports
from escalation.services import sweep_adr_clock
from tests.conftest import fresh

pytestmark = pytest.mark.django_db

LONDON = ZoneInfo("Europe/London")
START, END = dt.date(2024, 1, 1), dt.date(2024, 6, 30)
NOW = dt.datetime(2024, 7, 1, 12, 0, tzinfo=LONDON)


def at(day: str, hour: int = 10):
    return time_machine.travel(
        dt.datetime.fromisoformat(day).replace(hour=hour, tzinfo=LONDON), tick=False
    )


@pytest.fixture
def year(file_complaint, agent, manager):
    """Nine complaints; seven received in the first half of 2024 (A to F and I)."""
    by_agent, by_manager, customer = Actor.staff(agent), Actor.staff(manager), Actor.customer()
    cases = {}
    with at("2023-12-15"):
        cases["G"] = file_complaint(category=Category.BILLING).complaint  # before the period
    with at("2024-01-02"):
        cases["E"] = file_complaint(category=Category.OTHER).complaint
        cases["F"] = file_complaint(category=Category.BILLING).complaint
    with at("2024-01-03"):
        services.complaint_withdraw(complaint=cases["F"], by=customer)  # before its reply was due
    with at("2024-03-04"):
        cases["A"] = file_complaint(category=Category.BILLING).complaint
        cases["B"] = file_complaint(
            category=Category.BILLING, channel=Channel.PHONE, by=by_agent
        ).complaint
    with at("2024-03-05"):
        services.complaint_escalate(
            complaint=cases["B"], by=by_agent, reason="Needs the manager's review."
        )  # stage 2 due 26 Mar
    with at("2024-03-06"):
        services.complaint_record_reply(
            complaint=cases["A"], by=by_agent, method="phone", summary="Refund agreed."
        )
    with at("2024-03-08"):
        services.complaint_resolve(complaint=cases["A"], by=by_agent, summary="Refunded.")
    # E's ADR clock runs out (56 working days after 2 January) and G's before it.
    e_adr = fresh(cases["E"]).adr_eligible_date
    with at(e_adr.isoformat(), 9):
        assert sweep_adr_clock() == 2
    with at("2024-03-28"):
        adr_services.complaint_issue_deadlock(
            complaint=cases["B"], by=by_manager, final_position="The charge was correct."
        )
    with at("2024-04-02"):
        adr_services.complaint_refer_to_adr(
            complaint=cases["B"],
            by=by_manager,
            cisas_reference="CIS-77",
            referred_on=dt.date(2024, 4, 2),
        )
    with at("2024-04-10"):
        adr_services.complaint_record_adr_decision(
            complaint=cases["B"],
            by=by_manager,
            outcome=AdrOutcome.UPHELD,
            remedy="Refund £30.",
            accepted_on=dt.date(2024, 4, 10),
        )
        cases["C"] = file_complaint(
            category=Category.SERVICE_FAULT, channel=Channel.EMAIL, by=by_agent
        ).complaint
    with at("2024-04-11"):
        services.complaint_escalate(
            complaint=cases["C"], by=by_agent, reason="Needs the manager's review."
        )
    with at("2024-04-12"):
        services.complaint_make_formal(
            complaint=cases["C"], by=by_manager, text="Letter of 12 April: still charged twice."
        )
    with at("2024-06-03"):
        cases["D"] = file_complaint(
            category=Category.CONTRACT, channel=Channel.LETTER, by=by_agent, vulnerable=True
        ).complaint
    with at("2024-06-27"):
        cases["I"] = file_complaint(category=Category.CUSTOMER_SERVICE).complaint
    with at("2024-07-01", 9):
        cases["H"] = file_complaint(category=Category.BILLING).complaint  # after the period
    return {name: fresh(c) for name, c in cases.items()}


def counts(rows) -> dict[str, int]:
    return {row["key"]: row["count"] for row in rows}


def test_the_fixed_year_is_what_the_figures_assume(year):
    assert {name: c.state for name, c in year.items()} == {
        "A": State.RESOLVED,
        "B": State.RESOLVED,
        "C": State.FORMAL_WRITTEN,
        "D": State.CS_TEAM,
        "E": State.DEADLOCK,
        "F": State.WITHDRAWN,
        "G": State.DEADLOCK,
        "H": State.CS_TEAM,
        "I": State.CS_TEAM,
    }
    assert year["B"].response_due_date == dt.date(2024, 3, 26)


def test_complaints_received_by_channel_and_by_category(year):
    assert counts(reports.received_by_channel(START, END)) == {
        "web": 4,  # A, E, F, I
        "phone": 1,  # B
        "email": 1,  # C
        "letter": 1,  # D
    }
    assert counts(reports.received_by_category(START, END)) == {
        "billing": 3,  # A, B, F
        "service_fault": 1,
        "number_porting": 0,
        "provisioning_security": 0,
        "customer_service": 1,
        "contract": 1,
        "other": 1,
    }


def test_the_share_replied_within_15_working_days(year):
    # Measured: A (replied in time), B (deadlocked after its stage 2 date), C and D (due dates
    # passed without a reply), E (deadlocked by the clock, long after its date). Not measured:
    # F (withdrawn before its reply was due), I (clock still running on 1 July).
    # The first reply, against stage 1's date at whatever stage it came, comes to the same here:
    # A in time; B's first reply is the deadlock letter of 28 March, after stage 1's 25 March; C,
    # D and E never had one.
    assert reports.replied_in_time(START, END, now=NOW) == {
        "measured": 5,
        "in_time": 1,
        "late": 4,
        "share": 0.2,
        "percent": 20.0,
        "first": {"measured": 5, "in_time": 1, "late": 4, "share": 0.2, "percent": 20.0},
    }


def test_the_median_working_days_to_resolution(year):
    # A: 4 March to 8 March, 4 working days. B: 4 March to 10 April, 25 working days (Good Friday
    # and Easter Monday do not count). The median of two is their mean.
    assert reports.median_working_days_to_resolution(START, END) == {"median": 14.5, "count": 2}


def test_the_median_of_an_odd_count_and_of_nothing():
    from collections import Counter

    assert reports._median(Counter({3: 2, 10: 1}), 3) == 3.0
    assert reports._median(Counter(), 0) is None


def test_escalations_per_stage(year):
    assert reports.escalations(START, END) == {
        "to_stage_2": 2,  # B, C
        "to_stage_3": 1,  # C
        "reopened": 0,
    }


def test_deadlock_letters_by_decision_and_by_clock(year):
    # B by the manager's decision; E by the clock. G's clock letter is outside the period.
    assert reports.deadlock_letters(START, END) == {"total": 2, "by_clock": 1, "by_decision": 1}


def test_cisas_referrals_and_outcomes(year):
    figures = reports.cisas(START, END)
    assert (figures["referred"], figures["decided"], figures["accepted"], figures["court"]) == (
        1,
        1,
        1,
        0,
    )
    assert counts(figures["outcomes"]) == {"upheld": 1, "partly_upheld": 0, "not_upheld": 0}


def test_open_cases_by_age_in_working_days(year):
    # On 1 July 2024: I is 2 working days old, D 20, C exactly 56 (the bucket's top edge),
    # E far more. A and B are resolved, F withdrawn.
    assert counts(reports.open_by_age(START, END, today=NOW.date())) == {
        "0-15": 1,
        "16-40": 1,
        "41-56": 1,
        "57+": 1,
    }


def test_the_age_buckets_edges_match_the_calendar():
    from complaints import clocks

    calendar = clocks.calendar("england-and-wales")
    today = dt.date(2024, 7, 1)
    for limit in (15, 40, 56):
        earliest = reports._earliest_received_with_age_at_most(calendar, today, limit)
        assert calendar.working_days_between(earliest, today) <= limit
        assert calendar.working_days_between(earliest - dt.timedelta(days=1), today) == limit + 1


def test_the_summary_holds_every_figure(year):
    figures = reports.summary(START, END, now=NOW)
    assert figures["total"] == 7
    assert figures["replied_in_time"]["in_time"] == 1
    rows = list(reports.figure_rows(figures))
    assert ["Received", "Total", 7] in rows
    assert ["Deadlock letters", "By the ADR clock", 1] in rows
    assert ["Replies", "Share replied in time (%)", 20.0] in rows


def test_the_export_shows_the_share_as_the_page_does(year):
    # 3 of 16 is 18.75 %: the page rounds down (18.7 %), and the CSV must say the same.
    figures = reports.summary(START, END, now=NOW)
    figures["replied_in_time"].update(
        measured=16, in_time=3, late=13, share=3 / 16, percent=reports.percent_down(3, 16)
    )
    rows = list(reports.figure_rows(figures))
    assert ["Replies", "Share replied in time (%)", 18.7] in rows


def test_an_empty_period_has_no_share_and_no_median(db):
    figures = reports.summary(dt.date(2030, 1, 1), dt.date(2030, 1, 31))
    assert figures["total"] == 0
    assert figures["replied_in_time"]["share"] is None
    assert figures["resolution"]["median"] is None


def test_the_queries_count_in_the_database_not_in_python(year, django_assert_max_num_queries):
    # One query per figure (plus the closure days), however many cases there are.
    with django_assert_max_num_queries(12):
        reports.summary(START, END, now=NOW)


# --- The page and the CSV exports ---------------------------------------------------------------


def test_the_reports_page_shows_the_figures_as_charts_with_text_equivalents(client, manager, year):
    client.force_login(manager)
    response = client.get("/staff/reports/", {"start": "2024-01-01", "end": "2024-06-30"})
    assert response.status_code == 200
    html = response.content.decode()
    assert "Complaints received from <strong>1 January 2024</strong>" in html
    assert '<p class="tile-figure">7</p>' in html
    assert html.count("<svg") == 6
    assert html.count('role="img"') == 6
    assert (
        '<desc id="chart-channel-desc">Web form: 4; Phone: 1; E-mail: 1; Letter: 1</desc>' in html
    )
    assert '<th scope="row">Web form</th><td>4</td>' in html
    assert reports.REPLIED_IN_TIME_HELP in html
    assert "style=" not in html  # a strict Content Security Policy forbids inline styles


def test_the_reports_default_to_the_last_twelve_months(client, manager):
    client.force_login(manager)
    with at("2025-03-15"):
        response = client.get("/staff/reports/")
        # Another parameter alone (a tag on a bookmark) asks for no period: the same.
        tagged = client.get("/staff/reports/", {"utm_source": "intranet"})
    assert response.context["figures"]["start"] == dt.date(2024, 3, 16)
    assert response.context["figures"]["end"] == dt.date(2025, 3, 15)
    assert tagged.status_code == 200
    assert tagged.context["figures"]["start"] == dt.date(2024, 3, 16)


def test_a_backwards_period_is_an_error_and_no_other_periods_figures_are_shown(client, manager):
    client.force_login(manager)
    response = client.get("/staff/reports/", {"start": "2024-06-30", "end": "2024-01-01"})
    assert response.status_code == 400
    page = response.content.decode()
    assert "There is a problem with the period: no figures are shown" in page
    assert '<a href="#id_end">The end date must be on or after the start date.</a>' in page
    # Not the last twelve months' figures under the refused dates, nor their downloads.
    assert "Complaints received from" not in page
    assert "report-tiles" not in page and "cases.csv" not in page


def test_a_date_out_of_range_is_named_on_its_own_field(client, manager):
    from complaints.staff_forms import ReportPeriodForm

    form = ReportPeriodForm({"start": "2026-01-01", "end": "2080-01-01"})
    assert not form.is_valid() and list(form.errors) == ["end"]
    form = ReportPeriodForm({"start": "1999-12-31", "end": "2026-01-01"})
    assert not form.is_valid() and list(form.errors) == ["start"]
    client.force_login(manager)
    response = client.get("/staff/reports/", {"start": "2026-01-01", "end": "2080-01-01"})
    assert response.status_code == 400
    assert "Choose an end date from 2000 to 2079." in response.content.decode()


def test_the_case_list_csv_has_one_row_per_case(client, manager, year):
    client.force_login(manager)
    response = client.get("/staff/reports/cases.csv", {"start": "2024-01-01", "end": "2024-06-30"})
    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert "attachment" in response["Content-Disposition"]
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert sorted(row["Reference"] for row in rows) == sorted(
        year[name].reference for name in "ABCDEFI"
    )
    # Each row's "Replied in time" adds up to the reports' figure, the unanswered late included.
    figures = reports.replied_in_time(dt.date(2024, 1, 1), dt.date(2024, 6, 30))
    said = [row["Replied in time"] for row in rows]
    assert (said.count("yes"), said.count("no")) == (figures["in_time"], figures["late"])
    b = next(row for row in rows if row["Reference"] == year["B"].reference)
    assert b["Channel"] == "Phone"
    assert b["Status"] == "Resolved"
    assert b["Replied in time"] == "no"
    assert b["Escalated to stage 2"] == "yes"
    assert b["Working days to resolution"] == "25"
    assert b["Deadlock letter (date)"] == "2024-03-28"
    assert b["CISAS reference"] == "CIS-77"
    assert b["CISAS outcome"] == "Upheld"
    assert "Jane Doe" not in text and "jane@example.com" not in text


def test_the_case_list_adds_up_to_the_escalation_and_deadlock_figures(client, manager, year):
    client.force_login(manager)
    period = {"start": "2024-01-01", "end": "2024-06-30"}
    response = client.get("/staff/reports/cases.csv", period)
    rows = list(
        csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig")))
    )
    figures = reports.summary(dt.date(2024, 1, 1), dt.date(2024, 6, 30))
    stage_2 = [row["Escalated to stage 2"] for row in rows].count("yes")
    stage_3 = [row["Formal written complaint (stage 3)"] for row in rows].count("yes")
    assert (stage_2, stage_3) == (
        figures["escalations"]["to_stage_2"],
        figures["escalations"]["to_stage_3"],
    )
    by = [row["Deadlock letter by"] for row in rows]
    assert (by.count("Manager"), by.count("ADR clock")) == (
        figures["deadlock_letters"]["by_decision"],
        figures["deadlock_letters"]["by_clock"],
    )
    by_reference = {row["Reference"]: row for row in rows}
    assert by_reference[year["C"].reference]["Formal written complaint (stage 3)"] == "yes"
    assert by_reference[year["B"].reference]["Deadlock letter by"] == "Manager"
    assert by_reference[year["E"].reference]["Deadlock letter by"] == "ADR clock"
    assert by_reference[year["D"].reference]["Deadlock letter by"] == ""


def test_the_case_list_streams_from_the_database_in_chunks(client, manager, year, monkeypatch):
    # The CSV never holds the year in memory: the rows come from a chunked iterator.
    seen = []
    original = reports.QuerySet.iterator

    def spy(self, chunk_size=None):
        seen.append(chunk_size)
        return original(self, chunk_size=chunk_size)

    monkeypatch.setattr(reports.QuerySet, "iterator", spy)
    client.force_login(manager)
    response = client.get("/staff/reports/cases.csv", {"start": "2024-01-01", "end": "2024-06-30"})
    b"".join(response.streaming_content)
    assert reports.CHUNK in seen


def test_formulas_in_free_text_are_made_harmless(client, manager, year):
    from complaints.models import Complaint

    Complaint.objects.filter(pk=year["B"].pk).update(cisas_reference='=HYPERLINK("x")')
    client.force_login(manager)
    response = client.get("/staff/reports/cases.csv", {"start": "2024-01-01", "end": "2024-06-30"})
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    assert "'=HYPERLINK" in text


def test_the_figures_csv(client, manager, year):
    client.force_login(manager)
    response = client.get(
        "/staff/reports/figures.csv", {"start": "2024-01-01", "end": "2024-06-30"}
    )
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))
    assert rows[0] == ["Section", "Item", "Value"]
    assert ["Received by channel", "Web form", "4"] in rows
    assert ["Escalations", "To stage 2 (manager)", "2"] in rows
    assert ["CISAS outcome", "Upheld", "1"] in rows


def test_a_reopened_case_and_its_assignee_are_in_the_figures_and_the_case_list(
    client, file_complaint, agent, manager
):
    # A resolution the customer did not accept is worth seeing: counted, and marked on its row.
    agent.first_name, agent.last_name = "Sam", "Stevens"
    agent.save()
    by_agent = Actor.staff(agent)
    with at("2024-02-05"):
        reopened = file_complaint(category=Category.BILLING).complaint
        kept = file_complaint(category=Category.BILLING).complaint
        services.complaint_assign(complaint=kept, assignee=agent, by=by_agent)
    for complaint in (reopened, kept):
        with at("2024-02-06"):
            services.complaint_resolve(complaint=complaint, by=by_agent, summary="Refunded.")
    with at("2024-02-20"):
        services.complaint_reopen(complaint=reopened, by=Actor.customer())
    period = {"start": "2024-01-01", "end": "2024-06-30"}

    assert reports.escalations(START, END) == {"to_stage_2": 0, "to_stage_3": 0, "reopened": 1}
    client.force_login(manager)
    response = client.get("/staff/reports/cases.csv", period)
    rows = list(
        csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig")))
    )
    by_reference = {row["Reference"]: row for row in rows}
    assert by_reference[reopened.reference]["Reopened"] == "yes"
    assert by_reference[reopened.reference]["Stage"] == "2"
    assert by_reference[kept.reference]["Reopened"] == "no"
    assert by_reference[kept.reference]["Assigned to"] == "Sam Stevens (agent)"
    response = client.get("/staff/reports/figures.csv", period)
    figures = list(
        csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig")))
    )
    assert ["Escalations", "Reopened after resolution", "1"] in figures
    page = client.get("/staff/reports/", period).content.decode()
    assert "Reopened: 1" in page


@pytest.mark.parametrize(
    "cell, written",
    [
        ("=SUM(A1)", "'=SUM(A1)"),
        ("+44 1632", "'+44 1632"),
        ("-5 credit", "'-5 credit"),
        ("@me", "'@me"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ('=a,"b"', '\'=a,"b"'),
        ("a=b", "a=b"),
        ("2024-01-31", "2024-01-31"),
        ("", ""),
        (-5, "-5"),
    ],
)
def test_every_cell_that_starts_like_a_formula_is_made_plain_text_wherever_it_is(cell, written):
    from escalation.views import _csv_response

    for row in ([cell, "x", ""], ["x", cell, ""], ["x", "", cell]):
        response = _csv_response([row], "t.csv")
        text = b"".join(response.streaming_content).decode("utf-8-sig")
        (parsed,) = list(csv.reader(io.StringIO(text, newline="")))
        assert parsed[row.index(cell)] == written


@pytest.mark.parametrize("url", ["/staff/reports/cases.csv", "/staff/reports/figures.csv"])
@pytest.mark.parametrize(
    ("period", "problem"),
    [
        ({"start": "2024-06-30", "end": "2024-01-01"}, "on or after the start date"),
        ({"start": "not a date", "end": "2024-01-01"}, "Enter the start date as a real date"),
    ],
)
def test_an_export_for_a_period_that_cannot_be_used_is_refused(
    client, manager, url, period, problem
):
    client.force_login(manager)
    response = client.get(url, period)
    assert response.status_code == 400
    assert problem in response.content.decode()
    assert "text/csv" not in response["Content-Type"]
