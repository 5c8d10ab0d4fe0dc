"""1,000 concurrent transition attempts on 50 cases from 20 threads, on real connections.

Afterwards every case is in a legal state, there is exactly one event per transition that
succeeded, and each case's timeline is an unbroken chain (each event starts from the state the
previous one ended in, the last ends in the case's state): no update was lost or applied twice.
"""

from __future__ import annotations

import random
import threading
from collections import Counter

import pytest
from django.core.exceptions import ValidationError
from django.db import connection

from complaints import services
from complaints.models import TRANSITION_NAMES, Complaint, ComplaintEvent, EventKind, State
from complaints.roles import Actor
from tests.conftest import london_today

CASES, THREADS, ATTEMPTS = 50, 20, 1000


def extra(name: str) -> dict:
    """What each transition that records a date needs: today's, the day it is recorded."""
    today = london_today()
    return {
        "refer_to_adr": {"cisas_reference": "CIS-1", "referred_on": today},
        "record_adr_decision": {"outcome": "upheld", "accepted_on": today},
        "start_court_action": {"started_on": today},
    }.get(name, {})


EXPECTED_REFUSALS = (
    services.ComplaintChanged,
    services.TransitionNotAllowed,
    services.NotPermitted,
    ValidationError,
)


@pytest.mark.django_db(transaction=True)
def test_concurrent_transitions_lose_no_update_and_write_one_event_each(file_complaint, manager):
    ids = [file_complaint().complaint.pk for _ in range(CASES)]
    by = Actor.staff(manager)
    succeeded: Counter[int] = Counter()
    unexpected: list[BaseException] = []
    lock = threading.Lock()
    rng = random.Random(20261125)
    plan = [(rng.choice(ids), rng.choice(TRANSITION_NAMES)) for _ in range(ATTEMPTS)]
    start = threading.Barrier(THREADS)

    def work(share: list[tuple[int, str]]) -> None:
        try:
            start.wait()
            for pk, name in share:
                complaint = Complaint.objects.get(pk=pk)
                try:
                    services.complaint_transition(
                        complaint=complaint,
                        name=name,
                        by=by,
                        note="Load test.",
                        **extra(name),
                    )
                except EXPECTED_REFUSALS:
                    continue
                with lock:
                    succeeded[pk] += 1
        except BaseException as exc:
            unexpected.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(plan[i::THREADS],)) for i in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)

    assert unexpected == []
    assert sum(succeeded.values()) > CASES, "the plan should move most cases more than once"
    for pk in ids:
        complaint = Complaint.objects.get(pk=pk)
        assert complaint.state in State.values
        chain = list(
            ComplaintEvent.objects.filter(complaint_id=pk, kind=EventKind.TRANSITION).order_by("id")
        )
        assert len(chain) == succeeded[pk]
        state = State.CS_TEAM
        for event in chain:
            assert event.from_state == state, f"{complaint.reference}: a lost update"
            state = event.to_state
        assert state == complaint.state
        deadlocks = complaint.letters.filter(kind="deadlock").count()
        assert deadlocks == (1 if complaint.deadlock_issued_at else 0)
