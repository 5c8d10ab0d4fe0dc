"""Benchmark the staff pages and the reports on a million complaints in PostgreSQL.

Run from the project root (the local PostgreSQL and Redis must be up):

    .venv/bin/python bench/bench_pages.py              # 1,000,000 complaints (seeds if needed)
    .venv/bin/python bench/bench_pages.py --n 50000    # a quick run

It uses the bench database ``complaints_bench`` (see bench/seed.py), seeding it first unless it
already holds exactly N seeded complaints. Every page is requested in-process through the test
Client's handler, so each request goes through the whole middleware stack (sessions, CSRF, sign-in,
the staff idle time-out, rate limits) and the template, signed in as a seeded agent (``agent01``)
or manager (``manager01``), with production's settings (``DEBUG`` off, static files collected).
Figures:

1. The agents' queue (``/staff/``) and the managers' queue (``/staff/escalations/``): p50 and p95
   server time over ``--requests`` requests (200 by default) of the first page and of a deep page
   (tens of thousands of rows in, reached by its bookmarkable "next" link), with filters, plus
   the queries each request makes.
2. The staff case page of a complaint with a 200-event timeline, as agent and as manager.
3. The reports for the last twelve months: the reports page, the figures CSV and the case-list
   CSV (read to the end), each timed over a few runs.
4. The API's list (``GET /api/v1/complaints/``, token auth as the agent): the first page, with
   and without filters, and a deep page reached by following ``next`` links (not ``?page=N``).
   Not a target of its own; shown beside the pages it mirrors.

Targets (from the issue; printed, not asserted in tests): queue pages and the case page p95 at
most 100 ms; reports for a year at most 2 s. Results are also written to bench/results/pages.json,
with the load average before and after, since the machine may be shared.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import seed as seeding
from bench.common import (
    collect_static,
    flush_bench_redis,
    load_average,
    machine,
    percentile,
    production_env,
    setup_django,
    write_results,
)

REQUESTS = 200
WARM_UP = 5
REPORT_RUNS = 3
PAGE_TARGET_MS = 100.0
REPORT_TARGET_S = 2.0
TIMELINE_EVENTS = 200
TIMELINE_ACCOUNT = "T000000200"  # marks the bench's own case with a 200-event timeline
DEEP_ROWS = 50_000  # how far in a "deep" page is, at most


# --- Data ---------------------------------------------------------------------------------------


def staff_users():
    from django.contrib.auth import get_user_model

    users = get_user_model().objects
    return users.get(username="agent01"), users.get(username="manager01")


def timeline_case(agent, manager):
    """A stage-1 complaint with exactly TIMELINE_EVENTS events, made once through the services
    (filed, then notes, messages, assignments and a phone reply), and kept for later runs."""
    from complaints import services
    from complaints.models import Complaint, ComplaintEvent
    from complaints.roles import Actor

    found = Complaint.objects.filter(account_number=TIMELINE_ACCOUNT).first()
    if found is not None:
        return found
    by_agent, by_manager = Actor.staff(agent), Actor.staff(manager)
    complaint = services.complaint_file(
        customer_name="Timeline Bench",
        email="timeline@example.com",
        phone="07700 900123",
        account_number=TIMELINE_ACCOUNT,
        nation="england-and-wales",
        category="billing",
        description="Charged twice for the same month, and the credit promised never came.",
        by=Actor.customer(),
    ).complaint
    i = 0
    while ComplaintEvent.objects.filter(complaint=complaint).count() < TIMELINE_EVENTS:
        i += 1
        kind = i % 5
        if kind == 0:
            services.complaint_add_message(
                complaint=complaint, by=by_agent, text=f"Update {i}: we are still looking into it."
            )
        elif kind == 1:
            services.complaint_assign(
                complaint=complaint, assignee=agent if i % 2 else manager, by=by_manager
            )
        elif kind == 2 and i == 2:
            services.complaint_record_reply(
                complaint=complaint, by=by_agent, method="phone", summary="Called the customer."
            )
        else:
            services.complaint_add_note(
                complaint=complaint, by=by_agent, text=f"Note {i}: checked the billing system."
            )
    return complaint


# --- Timing -------------------------------------------------------------------------------------


class Staff:
    """A signed-in member of staff whose requests go through the whole middleware stack, as the
    test Client's do (its handler), without the Client's per-request signal receivers: in a run
    of thousands of requests their finalizers pile up and slow the garbage collector, which no
    server has."""

    def __init__(self, user) -> None:
        from django.test import Client, RequestFactory
        from django.test.client import ClientHandler

        client = Client(HTTP_HOST="127.0.0.1")
        client.force_login(user)
        self.factory = RequestFactory(HTTP_HOST="127.0.0.1")
        self.factory.cookies = client.cookies
        self.handler = ClientHandler(enforce_csrf_checks=False)

    def get(self, url: str):
        response = self.handler(self.factory.get(url).environ)
        self.factory.cookies.update(response.cookies)
        return response


class ApiClient(Staff):
    """A member of staff calling the API with their token, through the whole middleware stack."""

    def __init__(self, user) -> None:
        from django.test import RequestFactory
        from django.test.client import ClientHandler

        from complaints.api_auth import api_token_issue

        token = api_token_issue(user=user, revoke_others=True)
        self.factory = RequestFactory(HTTP_HOST="127.0.0.1", HTTP_AUTHORIZATION=f"Token {token}")
        self.handler = ClientHandler(enforce_csrf_checks=False)


def api_deep_url(client, query: str, rows_in: int) -> str:
    """The ``next`` link of the API's list page ``rows_in`` rows in (found once with ?page=N)."""
    import json

    response = client.get(f"/api/v1/complaints/?{query}&page={rows_in // 25}")
    assert response.status_code == 200, response.content[:200]
    return json.loads(response.content)["next"].replace("http://127.0.0.1", "")


def timed_requests(client, url: str, n: int) -> dict[str, Any]:
    """GET url n times (after a few warm-up requests); the server time of each, in ms, and the
    queries one request makes."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    rows = response.content.decode().count('href="/staff/complaints/')
    query_count = len(queries)
    for _ in range(WARM_UP):
        client.get(url)
    times = []
    for _ in range(n):
        started = time.perf_counter()
        response = client.get(url)
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, (url, response.status_code)
    return {
        "url": url,
        "requests": n,
        "p50_ms": statistics.median(times),
        "p95_ms": percentile(times, 95),
        "max_ms": max(times),
        "queries": query_count,
        "rows": rows,
    }


def agents_deep_url(query: dict[str, str], rows_in: int) -> str:
    """The bookmarkable URL of the agents' queue page ``rows_in`` rows in, as its "next" links
    would lead to (the paginator finds the row before it once, with OFFSET)."""
    from urllib.parse import urlencode

    from complaints import selectors
    from complaints.keyset import KeysetPaginator
    from complaints.staff_forms import QueueFilterForm

    filters = QueueFilterForm(query).filters()
    per_page = filters.pop("per_page")
    paginator = KeysetPaginator(
        selectors.agent_queue(**filters), selectors.awaiting_reply_first(), per_page
    )
    rows_in = min(rows_in, max(paginator.count - per_page, 0))
    return f"/staff/?{urlencode({**query, **paginator.query_at(rows_in)})}"


def managers_deep_url(show: str, rows_in: int) -> str:
    from urllib.parse import urlencode

    from django.utils import timezone

    from complaints.keyset import KeysetPaginator
    from complaints.selectors import Calendars
    from escalation import selectors

    cases = selectors.section_cases(show, timezone.now(), Calendars.load())
    paginator = KeysetPaginator(cases, selectors.SEGMENTS[show], 25)
    rows_in = min(rows_in, max(paginator.count - 25, 0))
    return f"/staff/escalations/?{urlencode({'show': show, **paginator.query_at(rows_in)})}"


def measure_pages(client, label: str, pages: list[tuple[str, str]], n: int) -> list[dict]:
    out = []
    for name, url in pages:
        figures = timed_requests(client, url, n)
        figures["page"] = f"{label}: {name}"
        out.append(figures)
        print(
            f"  {figures['page']:<58} {figures['p50_ms']:7.1f} {figures['p95_ms']:7.1f} "
            f"{figures['max_ms']:7.1f} {figures['queries']:5d}"
        )
    return out


def timed_download(client, url: str, runs: int) -> dict[str, Any]:
    """GET url runs times, reading a streamed body to the end: wall seconds to the first row
    and to the end, and the size."""
    times, firsts, size, lines = [], [], 0, 0
    for _ in range(runs):
        started = time.perf_counter()
        response = client.get(url)
        assert response.status_code == 200, (url, response.status_code)
        if response.streaming:
            # The byte-order mark comes before any query: the first rows are the second chunk.
            chunks = iter(response.streaming_content)
            body = [next(chunks, b"") for _ in range(2)]
            firsts.append(time.perf_counter() - started)
            body.extend(chunks)
            body = b"".join(body)
        else:
            body = response.content
            firsts.append(time.perf_counter() - started)
        times.append(time.perf_counter() - started)
        size, lines = len(body), body.count(b"\n")
    return {
        "url": url,
        "runs": runs,
        "median_s": statistics.median(times),
        "max_s": max(times),
        "first_row_s": statistics.median(firsts),
        "bytes": size,
        "lines": lines,
    }


def timed_summary(start, end, runs: int) -> dict[str, Any]:
    """The report selectors alone (escalation.reports.summary): every figure on the page."""
    from escalation import reports

    times = []
    for _ in range(runs):
        started = time.perf_counter()
        reports.summary(start, end)
        times.append(time.perf_counter() - started)
    return {"runs": runs, "median_s": statistics.median(times), "max_s": max(times)}


# --- Main ---------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=1_000_000, help="complaints in the database")
    parser.add_argument("--requests", type=int, default=REQUESTS, help="requests per page")
    parser.add_argument("--report-runs", type=int, default=REPORT_RUNS)
    args = parser.parse_args(argv)

    # Production settings (DEBUG off: no query log, templates without debug information, static
    # files from their manifest), so the figures are the server's, not the development mode's.
    static = tempfile.TemporaryDirectory(prefix="bench-pages-")
    env = production_env(f"{static.name}/static", f"{static.name}/media")
    # Each API request still passes the throttle (a cache read and write); only its limit is
    # raised, since one token asks for more than production's 600 a minute here.
    env["API_THROTTLE_RATE"] = "1000000/min"
    collect_static(env)
    setup_django(production=env)
    from django.utils import timezone

    from complaints.models import OPEN_STATES, Complaint
    from complaints.staff_forms import last_twelve_months

    results: dict[str, Any] = {
        "n": args.n,
        "requests": args.requests,
        "load_before": load_average(),
    }
    results["seed"] = seeding.ensure_seeded(args.n)
    seeding.remove_newly_due()

    agent, manager = staff_users()
    case = timeline_case(agent, manager)
    info = machine()
    info.update(
        {
            "complaints": Complaint.objects.count(),
            "open_complaints": Complaint.objects.filter(state__in=OPEN_STATES).count(),
        }
    )
    results["machine"] = info
    print(
        f"machine: {info['nproc']} CPUs ({info['cpu_model']}), PostgreSQL {info['postgresql']} "
        f"(shared_buffers {info['shared_buffers']}), Python {info['python']}, "
        f"CPU reference {info['cpu_reference_ms']} ms"
    )
    print(f"data: {info['complaints']:,} complaints, {info['open_complaints']:,} open")
    print(f"load average before: {results['load_before']}")

    # As gunicorn.conf.py's post_worker_init does in each worker: what was loaded at start is
    # frozen out of the garbage collector's way.
    gc.collect()
    gc.freeze()
    agents = Staff(agent)
    managers = Staff(manager)
    n = args.requests

    # --- 1. Queues -----------------------------------------------------------------------------
    print(f"\n1. Queues, {n} requests each (server time, ms)")
    print(f"  {'page':<58} {'p50':>7} {'p95':>7} {'max':>7} {'queries':>5}")
    search = case.reference
    queue_pages = [
        ("first page, stage 1 (default)", "/staff/"),
        ("first page, all open, billing", "/staff/?state=open&category=billing"),
        ("first page, all open, overdue only", "/staff/?state=open&overdue=on"),
        ("first page, stage 1, unassigned, phone", "/staff/?assigned=unassigned&channel=phone"),
        ("search all cases by reference", f"/staff/?state=all&q={search}"),
        ("search all cases by e-mail", "/staff/?state=all&q=customer500000%40example"),
        ("search stage 1 by name", "/staff/?q=Gareth+Smith"),
        ("search all open by account number, part", "/staff/?state=open&q=0012345"),
        ("deep page, all open", agents_deep_url({"state": "open"}, DEEP_ROWS)),
        (
            "deep page, all open, billing, 100 a page",
            agents_deep_url(
                {"state": "open", "category": "billing", "per_page": "100"}, DEEP_ROWS // 4
            ),
        ),
        ("deep page, all cases", agents_deep_url({"state": "all"}, DEEP_ROWS * 10)),
    ]
    results["agents_queue"] = measure_pages(agents, "agents' queue", queue_pages, n)

    manager_pages = [
        ("first page, stages 2 and 3", "/staff/escalations/"),
        ("first page, overdue", "/staff/escalations/?show=overdue"),
        ("first page, ADR date soon", "/staff/escalations/?show=adr_soon"),
        ("first page, deadlock", "/staff/escalations/?show=deadlock"),
        ("first page, remedies due", "/staff/escalations/?show=remedies"),
        ("deep page, stages 2 and 3", managers_deep_url("escalated", DEEP_ROWS)),
        ("deep page, deadlock", managers_deep_url("deadlock", DEEP_ROWS)),
    ]
    results["managers_queue"] = measure_pages(managers, "managers' queue", manager_pages, n)

    # --- 2. The case page ----------------------------------------------------------------------
    print(f"\n2. Case page with a {TIMELINE_EVENTS}-event timeline, {n} requests each (ms)")
    case_url = f"/staff/complaints/{case.reference}/"
    results["case_page"] = [
        {**timed_requests(agents, case_url, n), "page": "case page, as agent"},
        {**timed_requests(managers, case_url, n), "page": "case page, as manager"},
    ]
    for figures in results["case_page"]:
        print(
            f"  {figures['page']:<58} {figures['p50_ms']:7.1f} {figures['p95_ms']:7.1f} "
            f"{figures['max_ms']:7.1f} {figures['queries']:5d}"
        )

    # --- 3. Reports ----------------------------------------------------------------------------
    start, end = last_twelve_months(timezone.localdate())
    year = Complaint.objects.filter(
        received_at__date__gte=start, received_at__date__lte=end
    ).count()
    period = f"start={start.isoformat()}&end={end.isoformat()}"
    print(
        f"\n3. Reports for {start} to {end} ({year:,} complaints received), "
        f"{args.report_runs} runs each (s)"
    )
    results["reports"] = {"start": start, "end": end, "complaints_in_period": year, "runs": []}
    summary = timed_summary(start, end, args.report_runs)
    results["reports"]["selectors"] = summary
    print(
        f"  {'report selectors (summary)':<30} median {summary['median_s']:6.2f} s  "
        f"max {summary['max_s']:6.2f} s"
    )
    for name, url in (
        ("reports page", f"/staff/reports/?{period}"),
        ("figures CSV", f"/staff/reports/figures.csv?{period}"),
        ("case list CSV", f"/staff/reports/cases.csv?{period}"),
    ):
        figures = {**timed_download(managers, url, args.report_runs), "page": name}
        results["reports"]["runs"].append(figures)
        print(
            f"  {name:<30} median {figures['median_s']:6.2f} s  max {figures['max_s']:6.2f} s  "
            f"first row {figures['first_row_s']:5.2f} s  "
            f"({figures['lines']:,} lines, {figures['bytes'] / 1e6:.1f} MB)"
        )

    # --- 4. The API's list ---------------------------------------------------------------------
    print(f"\n4. API list, {n} requests each (server time, ms)")
    api = ApiClient(agent)
    api_pages = [
        ("first page, all complaints", "/api/v1/complaints/"),
        ("first page, stage 1", "/api/v1/complaints/?state=cs_team"),
        ("first page, overdue", "/api/v1/complaints/?overdue=true"),
        ("first page, newest first", "/api/v1/complaints/?ordering=-received_at"),
        ("deep page by its next link, all complaints", api_deep_url(api, "", DEEP_ROWS * 10)),
    ]
    results["api_list"] = measure_pages(api, "API", api_pages, n)

    # --- Verdicts ------------------------------------------------------------------------------
    results["load_after"] = load_average()
    worst_queue = max(f["p95_ms"] for f in results["agents_queue"] + results["managers_queue"])
    worst_case = max(f["p95_ms"] for f in results["case_page"])
    page_report = results["reports"]["runs"][0]["median_s"]
    results["targets"] = {
        "queue_p95_ms": {"worst": worst_queue, "target": PAGE_TARGET_MS},
        "case_p95_ms": {"worst": worst_case, "target": PAGE_TARGET_MS},
        "reports_page_s": {"median": page_report, "target": REPORT_TARGET_S},
    }

    def verdict(ok: bool) -> str:
        return "met" if ok else "MISSED"

    print("\nTargets")
    print(
        f"  queue pages p95 <= {PAGE_TARGET_MS:.0f} ms: worst {worst_queue:.1f} ms: "
        f"{verdict(worst_queue <= PAGE_TARGET_MS)}"
    )
    print(
        f"  case page p95 <= {PAGE_TARGET_MS:.0f} ms: worst {worst_case:.1f} ms: "
        f"{verdict(worst_case <= PAGE_TARGET_MS)}"
    )
    print(
        f"  reports for a year <= {REPORT_TARGET_S:.0f} s: page {page_report:.2f} s: "
        f"{verdict(page_report <= REPORT_TARGET_S)}"
    )
    print(f"load average before {results['load_before']}, after {results['load_after']}")

    flush_bench_redis()
    out = write_results("pages", results)
    print(f"wrote {out.relative_to(Path.cwd()) if out.is_relative_to(Path.cwd()) else out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
