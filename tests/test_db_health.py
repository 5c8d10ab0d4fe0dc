"""A web process's kept database connection (CONN_MAX_AGE, CONN_HEALTH_CHECKS): reused as it is
while the server keeps it open, replaced without failing the request once the server has cut it
(config/postgresql/base.py)."""

from __future__ import annotations

import copy

import pytest
from django.db import OperationalError, connection
from django.db.backends.postgresql import base as django_postgresql

from config.postgresql.base import DatabaseWrapper
from tests.conftest import silent_server

pytestmark = pytest.mark.django_db


@pytest.fixture
def kept():
    """A connection as a gunicorn worker keeps one between requests."""
    settings_dict = copy.deepcopy(connection.settings_dict)
    settings_dict.update(CONN_MAX_AGE=60, CONN_HEALTH_CHECKS=True)
    wrapper = DatabaseWrapper(settings_dict, alias="kept")
    yield wrapper
    wrapper.close()


def request(wrapper: DatabaseWrapper) -> int:
    """One request's worth of database work, bracketed as Django's request signals bracket it;
    returns the server process that answered."""
    wrapper.close_if_unusable_or_obsolete()  # request_started
    with wrapper.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (pid,) = cursor.fetchone()
    wrapper.close_if_unusable_or_obsolete()  # request_finished
    return pid


def test_a_healthy_kept_connection_is_reused_without_a_select_1(kept, monkeypatch):
    first = request(kept)

    def select_1(self):
        raise AssertionError("SELECT 1 sent to a connection the server had not closed")

    monkeypatch.setattr(django_postgresql.DatabaseWrapper, "is_usable", select_1)
    assert [request(kept) for _ in range(3)] == [first] * 3


def test_a_connection_the_server_cut_is_replaced_and_the_request_still_answered(kept):
    first = request(kept)
    with connection.cursor() as cursor:
        # As a restart or a failover cuts it; waits (up to 5 s) until the server process has gone.
        cursor.execute("SELECT pg_terminate_backend(%s, 5000)", [first])
        assert cursor.fetchone() == (True,)

    second = request(kept)
    assert second != first
    assert request(kept) == second


def test_a_connection_left_inside_a_transaction_is_checked_with_a_query(kept, monkeypatch):
    request(kept)
    kept.connection.execute("BEGIN")  # a request that ended without COMMIT or ROLLBACK
    asked = []

    def select_1(self):
        asked.append(True)
        return False

    monkeypatch.setattr(django_postgresql.DatabaseWrapper, "is_usable", select_1)
    kept.health_check_done = False
    kept.close_if_health_check_failed()
    assert asked == [True] and kept.connection is None


def test_a_statement_run_again_and_again_is_prepared_once_a_connection():
    """A session's read runs on nearly every request: after its fifth run on a connection
    PostgreSQL keeps it prepared, and no longer parses and plans it each time."""
    from config.sessions import SessionStore

    store = SessionStore()
    store["seen"] = 1
    store.save()
    for _ in range(6):
        assert SessionStore(store.session_key).load() == {"seen": 1}
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        prepared = [row[0] for row in cursor.fetchall()]
    assert any('FROM "django_session" WHERE session_key = $1' in s for s in prepared), prepared


def test_each_run_of_a_prepared_statement_is_planned_for_its_own_values():
    """A generic plan, made once for whatever values come, read the queues' deep pages in the
    wrong index order at a million complaints (bench/bench_pages.py): 52 ms became 713 ms."""
    with connection.cursor() as cursor:
        cursor.execute("SHOW plan_cache_mode")
        assert cursor.fetchone()[0] == "force_custom_plan"


def test_a_server_that_never_answers_fails_the_connection_in_seconds():
    """A host that took the connection and says nothing (or a port behind a firewall that drops
    the packets): libpq's own default waits for ever, which a web request cannot."""
    settings_dict = copy.deepcopy(connection.settings_dict)
    assert settings_dict["OPTIONS"]["connect_timeout"] == 5
    with silent_server() as port:
        settings_dict.update(HOST="127.0.0.1", PORT=str(port))
        silent = DatabaseWrapper(settings_dict, alias="silent")
        with pytest.raises(OperationalError, match="timeout expired"):
            silent.ensure_connection()
