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
        return services.complaint_escalate(complaint=mine, by=Actor.staff(agent))

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
            return services.complaint_escalate(complaint=mine, by=Actor.staff(user))

        return act

    results = race(escalate_as(agent), escalate_as(manager))
    assert sum(isinstance(r, services.ComplaintChanged) for r in results) == 1
    assert fresh(complaint).state == State.CS_MANAGER
    assert complaint.events.filter(transition="escalate_to_manager").count() == 1
