"""PostgreSQL restarted, then stopped for a few seconds, while customers file and an agent works
the queue through gunicorn (two workers, persistent connections as in production).

While it is away, pages that need it answer a clean 503 page with Retry-After (never a 500 or a
traceback) and nothing is half-saved; once it is back, requests succeed again by themselves,
without restarting gunicorn or its workers.
"""

from __future__ import annotations

import subprocess
import threading
import time

import pytest

from .harness import STAFF_PASSWORD
from .load import Journal, Unavailable, Visitor, file_complaint, sign_in

pytestmark = pytest.mark.faults

CUSTOMERS = 4
RECOVERY_SECONDS = 3.0  # how soon after PostgreSQL is back every request must succeed again


def gunicorn_workers(master: subprocess.Popen) -> set[int]:
    result = subprocess.run(
        ["ps", "-o", "pid=", "--ppid", str(master.pid)], capture_output=True, text=True
    )
    return {int(pid) for pid in result.stdout.split()}


def needs_database(answer) -> bool:
    """Every POST saves something; the staff pages read the queue and the case."""
    return answer.method == "POST" or answer.path.startswith("/staff/")


def test_with_postgresql_restarted_under_load_pages_fail_cleanly_then_recover(portal, capsys):
    pg = portal.postgres
    web = portal.start_web(workers=2)
    workers = gunicorn_workers(web)
    assert len(workers) == 2
    journal = Journal()
    agent = Visitor(portal.base_url, journal, "agent", "10.0.9.1")
    sign_in(agent, "agent", STAFF_PASSWORD)
    first = file_complaint(Visitor(portal.base_url, journal, "first", "10.0.4.1"), "a@example.com")

    running = threading.Event()
    running.set()
    shown: list[str] = []  # references shown to customers on the confirmation page
    surprises: list[BaseException] = []

    def customer(i: int) -> None:
        attempt = 0
        while running.is_set():
            attempt += 1
            # A new customer each time, from an address of their own (sending is rate-limited).
            address = f"10.{10 + i}.{attempt // 250}.{attempt % 250 + 1}"
            visitor = Visitor(portal.base_url, journal, f"customer-{i}", address)
            try:
                shown.append(file_complaint(visitor, f"customer{i}.{attempt}@example.com"))
            except Unavailable:
                time.sleep(0.2)  # the customer tries again a little later, from the start
            except BaseException as exc:
                surprises.append(exc)
                return

    def staff() -> None:
        while running.is_set():
            try:
                agent.page("/staff/")
                agent.page(f"/staff/complaints/{first}/")
            except Unavailable:
                time.sleep(0.2)
            except BaseException as exc:
                surprises.append(exc)
                return

    threads = [threading.Thread(target=customer, args=(i,)) for i in range(CUSTOMERS)]
    threads.append(threading.Thread(target=staff))
    for thread in threads:
        thread.start()
    try:
        time.sleep(2)
        restart_began = time.monotonic()
        pg.restart()  # a fast restart: open connections are cut
        restarted = time.monotonic()
        time.sleep(3)
        stop_began = time.monotonic()
        pg.stop()
        stopped = time.monotonic()
        time.sleep(4)
        start_began = time.monotonic()
        pg.start()
        started = time.monotonic()
        time.sleep(5)
    finally:
        running.clear()
        for thread in threads:
            thread.join(60)

    assert surprises == []
    answers = journal.between(0, time.monotonic())
    assert {a.status for a in answers} <= {200, 302, 503}, sorted({a.status for a in answers})
    unavailable = [a for a in answers if a.status == 503]
    for answer in unavailable:
        assert answer.retry_after == "60"
        assert "Sorry, the service is unavailable" in answer.body
        assert "Traceback" not in answer.body

    # While it was stopped, everything that needs the database said so with the 503 page.
    down = [a for a in journal.between(stopped + 0.5, start_began) if needs_database(a)]
    assert len(down) >= 5, "too little load while PostgreSQL was down"
    assert {a.status for a in down} == {503}

    # After each return, it works again by itself, soon: no 503 after the grace period.
    late = [
        a
        for a in answers
        if restarted + RECOVERY_SECONDS < a.at < stop_began or a.at > started + RECOVERY_SECONDS
    ]
    assert late and [a for a in late if a.status == 503] == []
    back = [a for a in answers if a.at > started and needs_database(a) and a.status != 503]
    recovery = min(a.at for a in back) - started
    assert gunicorn_workers(web) == workers, "gunicorn's workers were restarted"
    assert web.poll() is None

    # Nothing half-saved: each complaint is whole (its event, letter and e-mail), and every
    # complaint a customer was shown a reference for exists.
    rows = portal.query(
        "SELECT c.reference,"
        " (SELECT count(*) FROM complaints_complaintevent e"
        "   WHERE e.complaint_id = c.id AND e.kind = 'filed'),"
        " (SELECT count(*) FROM complaints_letter l WHERE l.complaint_id = c.id),"
        " (SELECT count(*) FROM complaints_outboundemail o WHERE o.complaint_id = c.id)"
        " FROM complaints_complaint c"
    )
    assert {reference for reference, *_ in rows} >= {first, *shown}
    assert {tuple(counts) for _, *counts in rows} == {(1, 1, 1)}
    shown_after = [a for a in back if a.method == "POST" and a.path == "/complain/check/"]
    assert shown_after, "no complaint was filed after PostgreSQL came back"

    with capsys.disabled():
        print(
            f"\n[postgres restart] {len(answers)} answers: "
            f"{sum(a.status != 503 for a in answers)} ok, {len(unavailable)} clean 503s, 0 errors; "
            f"restart -m fast took {restarted - restart_began:.1f}s, "
            f"stop {stopped - stop_began:.1f}s, start {started - start_began:.1f}s; "
            f"first success {recovery:.2f}s after start; "
            f"{len(rows)} complaints, all whole; gunicorn workers unchanged"
        )
