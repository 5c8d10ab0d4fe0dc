"""The shared cache's counters (rate limits, API throttles) in the real Redis: ``incr`` adds to a
counter that exists, atomically, and never makes one that would outlive its window."""

from __future__ import annotations

import pytest
import redis
from django.core.cache import cache


@pytest.fixture
def counters():
    cache.clear()
    yield cache
    cache.clear()


def _redis_key(key: str) -> str:
    return cache.make_and_validate_key(key)


def test_incr_adds_to_a_counter_and_keeps_its_expiry(counters):
    counters.add("rl:a", 1, 60)
    assert counters.incr("rl:a") == 2
    assert counters.incr("rl:a", 5) == 7
    assert counters.get("rl:a") == 7
    client = counters._cache.get_client(write=True)
    assert 0 < client.ttl(_redis_key("rl:a")) <= 60


def test_incr_of_a_missing_counter_is_a_value_error_and_makes_nothing(counters):
    with pytest.raises(ValueError, match="not found"):
        counters.incr("rl:missing")
    assert counters.get("rl:missing") is None


def test_a_counter_that_expires_while_it_is_incremented_is_not_made_again_without_expiry(
    counters, monkeypatch
):
    """Django's own incr asked EXISTS, then INCRBY: a counter expiring between the two was made
    again by INCRBY with no expiry, and the address it counted stayed limited for ever. The
    moment between them is played here by an EXISTS that answers for a counter already gone."""
    monkeypatch.setattr(redis.Redis, "exists", lambda self, *keys: len(keys))
    with pytest.raises(ValueError):
        counters.incr("rl:expired")
    monkeypatch.undo()
    assert counters._cache.get_client(write=True).exists(_redis_key("rl:expired")) == 0


def test_incr_is_one_round_trip(counters, monkeypatch):
    counters.add("rl:b", 1, 60)
    counters.incr("rl:b")  # the script is loaded once; from then on it is run by its digest
    sent = []
    real = redis.connection.AbstractConnection.send_packed_command

    def counting(self, command, check_health=True):
        sent.append(command)
        return real(self, command, check_health)

    monkeypatch.setattr(redis.connection.AbstractConnection, "send_packed_command", counting)
    assert counters.incr("rl:b") == 3
    assert len(sent) == 1
