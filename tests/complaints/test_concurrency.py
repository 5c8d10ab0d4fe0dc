"""Two people acting on one case at once, on two real database connections: exactly one wins."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from complaints import services
from complaints.models import ComplaintEvent, EventKind, State
from complaints.roles import Actor
from tests.conftest import fresh


def race(*actions):
    """Run each action on its own thread (and so its own connection) as close together as can be;
    each thread loads the case first, so both act on what they saw."""
    barrier = threading.Barrier(len(actions))
    results: list[object] = [None] * len(actions)

    def run(i, action):
        try:
            results[i] = action(barrier)
        except Exception as exc:
            results[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, a)) for i, a in enumerate(actions)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return results


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("repeat", range(3))
def test_two_staff_firing_transitions_on_one_case_exactly_one_wins(
    file_complaint, agent, manager, repeat
):
    complaint = file_complaint().complaint

    def escalate(barrier):
        mine = fresh(complaint)
        barrier.wait()
        return services.complaint_escalate(
            complaint=mine, by=Actor.staff(agent), reason="Needs the manager's review."
        )

    def resolve(barrier):
        mine = fresh(complaint)
        barrier.wait()
        return services.complaint_resolve(complaint=mine, by=Actor.staff(manager), summary="Done")

    results = race(escalate, resolve)
    winners = [r for r in results if not isinstance(r, Exception)]
    losers = [r for r in results if isinstance(r, Exception)]
    assert len(winners) == 1, results
    assert len(losers) == 1 and isinstance(losers[0], services.ComplaintChanged), results
    assert "changed by someone else" in losers[0].message
    transitions = ComplaintEvent.objects.filter(complaint=complaint, kind=EventKind.TRANSITION)
    assert transitions.count() == 1
    assert fresh(complaint).state == transitions.get().to_state


@pytest.mark.django_db(transaction=True)
def test_the_same_transition_twice_at_once_happens_once(file_complaint, agent, manager):
    complaint = file_complaint().complaint

    def escalate_as(user):
        def act(barrier):
            mine = fresh(complaint)
            barrier.wait()
            return services.complaint_escalate(
                complaint=mine, by=Actor.staff(user), reason="Needs the manager's review."
            )

        return act

    results = race(escalate_as(agent), escalate_as(manager))
    assert sum(isinstance(r, services.ComplaintChanged) for r in results) == 1
    assert fresh(complaint).state == State.CS_MANAGER
    assert complaint.events.filter(transition="escalate_to_manager").count() == 1


def _logged_by_phone(agent, key: services.RequestKey) -> dict:
    """What an agent's API client sends to log one complaint taken by phone, with its key."""
    return dict(
        customer_name="Raj Patel",
        email="raj@example.com",
        description="Calls drop.",
        category="service_fault",
        channel="phone",
        by=Actor.staff(agent),
        request_key=key,
    )


@pytest.mark.django_db(transaction=True)
def test_two_copies_of_one_api_request_at_once_file_one_complaint(agent):
    """A client that retries before its first request has answered: both copies arrive together
    with the same Idempotency-Key, and both get the one complaint."""
    from complaints.models import Complaint, FilingKey

    key = services.RequestKey(key="retry-1", fingerprint="f" * 64)

    def file(barrier):
        barrier.wait()
        return services.complaint_file(**_logged_by_phone(agent, key))

    results = race(file, file)
    assert not [r for r in results if isinstance(r, Exception)], results
    assert results[0].complaint.pk == results[1].complaint.pk
    assert sorted(r.replayed for r in results) == [False, True]
    assert Complaint.objects.count() == 1 and FilingKey.objects.count() == 1
    assert Complaint.objects.get().letters.count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_copy_that_lost_the_race_after_its_first_look_rolls_back_and_answers_the_first(
    agent, monkeypatch
):
    """The copy that looked before the other committed (so it saw no key) fails on the key's
    unique index: what it wrote is rolled back, its reference number with it, and it answers
    with the complaint the other filed."""
    from complaints.models import Complaint, ReferenceCounter

    key = services.RequestKey(key="retry-2", fingerprint="e" * 64)
    details = _logged_by_phone(agent, key)
    first = services.complaint_file(**details)
    looked = services._filed_before
    calls = []

    def saw_nothing_first(user, request_key):
        calls.append(1)
        return None if len(calls) == 1 else looked(user, request_key)

    monkeypatch.setattr(services, "_filed_before", saw_nothing_first)
    second = services.complaint_file(**details)
    assert second.replayed and second.complaint.pk == first.complaint.pk
    assert len(calls) == 2
    assert Complaint.objects.count() == 1
    assert ReferenceCounter.objects.get().last == 1, "the rolled-back filing's number is reused"
