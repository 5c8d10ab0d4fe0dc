"""Redis stopped while customers file and staff act, through gunicorn, with a real worker and beat.

While Redis is down: no 5xx, every complaint and every staff action saved, the e-mails and letters
they cause waiting in the database. Once Redis is back (empty, as after a crash), the periodic
re-queue in the real worker and beat sends every waiting e-mail and renders every waiting letter
exactly once.
"""

from __future__ import annotations

import threading
import time

import pytest

from .audit import assert_each_email_sent_once, assert_each_letter_rendered_once, pending
from .harness import STAFF_PASSWORD, wait_for
from .load import Journal, Visitor, file_complaint, sign_in, staff_action

pytestmark = pytest.mark.faults

BEAT_SECONDS = 2.0
CUSTOMERS_BEFORE, CUSTOMERS_DURING = 3, 8


def test_with_redis_stopped_filing_and_staff_work_on_and_each_email_and_letter_goes_once(
    portal, capsys
):
    portal.start_web()
    portal.start_worker()
    portal.start_beat(every=BEAT_SECONDS)
    journal = Journal()
    base = portal.base_url

    before = [
        file_complaint(Visitor(base, journal, f"early-{i}", f"10.0.1.{i}"), f"early{i}@example.com")
        for i in range(CUSTOMERS_BEFORE)
    ]
    assert wait_for(lambda: pending(portal) == (0, 0), 30), "the worker is not delivering"
    agent = Visitor(base, journal, "agent", "10.0.9.1")
    sign_in(agent, "agent", STAFF_PASSWORD)

    portal.redis.stop()
    assert not portal.redis.ping()
    down_at = time.monotonic()

    filed: list[str] = []
    failures: list[BaseException] = []

    def customer(i: int) -> None:
        try:
            visitor = Visitor(base, journal, f"customer-{i}", f"10.0.2.{i}")
            filed.append(file_complaint(visitor, f"customer{i}@example.com"))
        except BaseException as exc:
            failures.append(exc)

    def staff() -> None:
        try:
            for reference in before:
                staff_action(agent, reference, "claim", expected_assignee="")
                staff_action(agent, reference, "reply_written", summary="We have refunded you.")
                staff_action(agent, reference, "escalate", reason="The customer asked for it.")
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=customer, args=(i,)) for i in range(CUSTOMERS_DURING)]
    threads.append(threading.Thread(target=staff))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    load_seconds = time.monotonic() - down_at

    assert failures == []
    during = journal.between(down_at, time.monotonic())
    assert during, "nothing was asked of the portal during the outage"
    assert [a for a in during if a.status >= 500 or a.status == 0] == []
    # Nothing lost: every complaint a customer was given a reference for is on record, and so is
    # every action the agent was told was done.
    references = {ref for (ref,) in portal.query("SELECT reference FROM complaints_complaint")}
    assert references == {*before, *filed} and len(filed) == CUSTOMERS_DURING
    states = dict(portal.query("SELECT reference, state FROM complaints_complaint"))
    assert {states[ref] for ref in before} == {"cs_manager"}
    ((replies,),) = portal.query(
        "SELECT count(*) FROM complaints_letter WHERE kind = 'written_reply'"
    )
    assert replies == CUSTOMERS_BEFORE
    # ... and what they cause is waiting, not lost: the outage really stopped the worker.
    waiting_letters, waiting_emails = pending(portal)
    assert waiting_letters == CUSTOMERS_DURING + CUSTOMERS_BEFORE
    assert waiting_emails == CUSTOMERS_DURING + 2 * CUSTOMERS_BEFORE

    portal.redis.start()  # the same address, and empty: every queued message is gone
    back_at = time.monotonic()
    assert wait_for(lambda: pending(portal) == (0, 0), 45), (
        f"still waiting after Redis came back: {pending(portal)}\n" + portal.log_tail("worker")
    )
    recovery_seconds = time.monotonic() - back_at
    time.sleep(3 * BEAT_SECONDS)  # a few more ticks of the safety net: nothing goes twice

    letters = assert_each_letter_rendered_once(portal)
    emails = assert_each_email_sent_once(portal)
    assert letters == 2 * CUSTOMERS_BEFORE + CUSTOMERS_DURING
    assert emails == 3 * CUSTOMERS_BEFORE + CUSTOMERS_DURING
    with capsys.disabled():
        print(
            f"\n[redis outage] {len(during)} requests in {load_seconds:.1f}s with Redis down, "
            f"no 5xx; {waiting_letters} letters and {waiting_emails} e-mails waited; all out "
            f"{recovery_seconds:.1f}s after Redis returned; {letters} letters, {emails} e-mails, "
            "each once"
        )
