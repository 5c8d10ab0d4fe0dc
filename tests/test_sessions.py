"""The project's session store: Django's database sessions, in fewer statements."""

from __future__ import annotations

import datetime as dt
import json
import logging

import pytest
from django.contrib.sessions.backends.base import UpdateError
from django.contrib.sessions.backends.db import SessionStore as DatabaseSessionStore
from django.contrib.sessions.models import Session
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from config import sessions
from config.sessions import SessionStore

pytestmark = pytest.mark.django_db


def in_an_hour() -> dt.datetime:
    return timezone.now() + dt.timedelta(hours=1)


def statements(queries) -> list[str]:
    return [q["sql"].split()[0] for q in queries.captured_queries]


@pytest.mark.django_db(transaction=True)  # in autocommit, as a request is
def test_a_new_session_is_one_insert_and_reads_back():
    store = SessionStore()
    store["answers"] = {"name": "Ann"}
    with CaptureQueriesContext(connection) as queries:
        store.save()
    assert statements(queries) == ["INSERT"]
    assert SessionStore(store.session_key)["answers"] == {"name": "Ann"}


def test_saving_a_changed_session_is_one_update():
    store = SessionStore()
    store["page"] = 1
    store.save()
    again = SessionStore(store.session_key)
    again["page"] = 2
    with CaptureQueriesContext(connection) as queries:
        again.save()
    assert statements(queries) == ["UPDATE"]
    assert SessionStore(store.session_key)["page"] == 2


def test_a_session_deleted_meanwhile_is_not_written_back():
    store = SessionStore()
    store["page"] = 1
    store.save()
    Session.objects.filter(pk=store.session_key).delete()
    store["page"] = 2
    with pytest.raises(UpdateError):
        store.save()
    assert not Session.objects.exists()


def test_a_key_already_taken_is_replaced_by_another(monkeypatch):
    taken = SessionStore()
    taken["owner"] = "first visitor"
    taken.save()
    keys = iter([taken.session_key, "k" * 32])
    monkeypatch.setattr(sessions, "get_random_string", lambda length, chars: next(keys))
    store = SessionStore()
    store["owner"] = "second visitor"
    store.save()
    assert store.session_key == "k" * 32
    assert SessionStore(taken.session_key)["owner"] == "first visitor"
    assert SessionStore("k" * 32)["owner"] == "second visitor"


def test_a_taken_key_inside_a_transaction_leaves_the_transaction_usable(monkeypatch):
    taken = SessionStore()
    taken.save()
    keys = iter([taken.session_key, "k" * 32])
    monkeypatch.setattr(sessions, "get_random_string", lambda length, chars: next(keys))
    with transaction.atomic():
        store = SessionStore()
        store["owner"] = "second visitor"
        store.save()
        assert Session.objects.count() == 2  # the transaction still answers
    assert SessionStore("k" * 32)["owner"] == "second visitor"


def test_load_for_update_reads_what_another_request_saved_meanwhile():
    store = SessionStore()
    store["filed"] = False
    store.save()
    stale = SessionStore(store.session_key)
    assert stale["filed"] is False
    other = SessionStore(store.session_key)
    other["filed"] = True
    other.save()
    with transaction.atomic(), CaptureQueriesContext(connection) as queries:
        stale.load_for_update()
        assert stale["filed"] is True
    assert len(queries.captured_queries) == 1
    assert "FOR UPDATE" in queries.captured_queries[0]["sql"]


def test_load_for_update_of_an_expired_session_finds_nothing():
    store = SessionStore()
    store["filed"] = True
    store.set_expiry(-1)
    store.save()
    with transaction.atomic():
        store.load_for_update()
    assert store.session_key is None
    assert "filed" not in store


def test_reading_a_session_is_one_select_of_its_data():
    store = SessionStore()
    store["answers"] = {"name": "Ann"}
    store.save()
    again = SessionStore(store.session_key)
    with CaptureQueriesContext(connection) as queries:
        assert again["answers"] == {"name": "Ann"}
    assert statements(queries) == ["SELECT"]
    assert "session_data" in queries.captured_queries[0]["sql"]


def test_an_expired_session_reads_as_empty_and_loses_its_key():
    store = SessionStore()
    store["answers"] = {"name": "Ann"}
    store.set_expiry(-1)
    store.save()
    again = SessionStore(store.session_key)
    assert "answers" not in again
    assert again.session_key is None
    assert Session.objects.filter(pk=store.session_key).exists()  # left for clearsessions


def synchronous_commit() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SHOW synchronous_commit")
        return cursor.fetchone()[0]


@pytest.mark.django_db(transaction=True)  # in autocommit, as a page of the filing flow saves it
def test_a_page_saved_in_autocommit_commits_without_waiting_for_the_disk_and_only_itself():
    store = SessionStore()
    store["answers"] = {"name": "Ann"}
    with CaptureQueriesContext(connection) as queries:
        store.save()  # a new session: INSERT
        store["answers"] = {"name": "Ann Jones"}
        store.save()  # UPDATE
    assert statements(queries) == ["INSERT", "UPDATE"]
    assert all("set_config('synchronous_commit', 'off', true)" in q["sql"] for q in queries)
    assert synchronous_commit() == "on"  # what comes after waits for the disk again
    assert SessionStore(store.session_key)["answers"] == {"name": "Ann Jones"}


@pytest.mark.django_db(transaction=True)
def test_the_no_wait_statement_turns_the_wait_off_for_its_transaction():
    store = SessionStore()
    store.save()
    table = connection.ops.quote_name(Session._meta.db_table)
    with pytest.raises(RuntimeError), transaction.atomic():  # rolled back: only to look inside
        with connection.cursor() as cursor:
            cursor.execute(
                sessions.UPDATE_NO_WAIT.format(table=table),
                [store.encode({"page": 2}), store.get_expiry_date(), store.session_key],
            )
            assert cursor.rowcount == 1
        assert synchronous_commit() == "off"
        raise RuntimeError
    assert synchronous_commit() == "on"


@pytest.mark.django_db(transaction=True)
def test_a_session_deleted_meanwhile_is_not_written_back_in_autocommit_either():
    store = SessionStore()
    store["page"] = 1
    store.save()
    Session.objects.filter(pk=store.session_key).delete()  # signed out in another tab
    store["page"] = 2
    with pytest.raises(UpdateError):
        store.save()
    assert not Session.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_session_saved_inside_a_transaction_leaves_its_commit_waiting_for_the_disk():
    """Sending a complaint saves the session inside the filing's transaction: the filing must
    commit as durably as before."""
    with transaction.atomic():
        store = SessionStore()
        store["filed"] = {"reference": "CMP-2026-000001"}
        store.save()  # INSERT, in a savepoint
        store["filed"]["token"] = "t"
        store.save()  # UPDATE
        assert synchronous_commit() == "on"
    assert SessionStore(store.session_key)["filed"]["token"] == "t"


@pytest.mark.django_db(transaction=True)
def test_a_session_saved_with_autocommit_off_leaves_its_transaction_waiting_for_the_disk():
    transaction.set_autocommit(False)
    try:
        store = SessionStore()
        store["page"] = 1
        store.save()
        store["page"] = 2
        store.save()
        assert synchronous_commit() == "on"
        transaction.commit()
    finally:
        transaction.set_autocommit(True)
    assert SessionStore(store.session_key)["page"] == 2


def stored_data(key: str) -> str:
    return Session.objects.get(pk=key).session_data


def test_a_session_is_stored_as_json_and_reads_back():
    store = SessionStore()
    store["draft"] = {"answers": {"about": {"customer_name": "Zoë Ångström", "nation": "wales"}}}
    store.save()
    data = stored_data(store.session_key)
    assert json.loads(data) == {
        "draft": {"answers": {"about": {"customer_name": "Zoë Ångström", "nation": "wales"}}}
    }
    assert SessionStore(store.session_key)["draft"]["answers"]["about"]["customer_name"] == (
        "Zoë Ångström"
    )


def test_a_session_django_signed_before_still_reads_and_is_saved_as_json():
    """A session open when the format changed: Django's signed, compressed encoding."""
    signed = DatabaseSessionStore().encode(
        {"draft": {"answers": {"about": {"nation": "scotland"}}}}
    )
    key = "s" * 32
    Session.objects.create(session_key=key, session_data=signed, expire_date=in_an_hour())
    store = SessionStore(key)
    assert store["draft"] == {"answers": {"about": {"nation": "scotland"}}}
    store["page"] = 2
    store.save()
    assert json.loads(stored_data(key))["page"] == 2


@pytest.mark.parametrize(
    "data", ["{not json", "{}x", '["a list"]', ".eJyrVkrOz0nNTS0uSSxKSQQAKPIF9Q:x"]
)
def test_session_data_that_cannot_be_read_is_an_empty_session_with_a_warning(data, caplog):
    key = "c" * 32
    Session.objects.create(session_key=key, session_data=data, expire_date=in_an_hour())
    with caplog.at_level(logging.WARNING, logger="django.security.SuspiciousSession"):
        assert dict(SessionStore(key).items()) == {}
    assert "Session data corrupted" in caplog.text


def test_a_staff_session_written_into_the_table_without_the_secret_signs_nobody_in(client, agent):
    """The rows are no longer signed: anyone able to write to the table could write one naming a
    member of staff. Django's check of the session against the user's password hash, signed with
    the secret key, is what refuses it."""
    client.force_login(agent)
    assert client.get("/staff/").status_code == 200
    key = client.cookies["sessionid"].value
    genuine = json.loads(stored_data(key))
    forged = {**genuine, "_auth_user_hash": "0" * len(genuine["_auth_user_hash"])}
    Session.objects.filter(pk=key).update(session_data=json.dumps(forged))
    response = client.get("/staff/")
    assert response.status_code == 302
    assert response["Location"].startswith("/staff/login/")


def test_a_sessions_saves_rewrite_its_row_in_place_with_only_its_key_indexed():
    """Each page of a filing saves the session: with nothing indexed that a save changes, and room
    on the page, PostgreSQL rewrites the row in place and writes no index (migration 0032)."""

    def updates() -> tuple[int, int]:
        with connection.cursor() as cursor:
            cursor.execute(  # this connection's counts not yet reported: the test's among them
                "SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_xact_user_tables"
                " WHERE relname = 'django_session'"
            )
            return cursor.fetchone()

    store = SessionStore()
    store["answers"] = {"page": 0}
    store.save()
    before = updates()
    for page in range(1, 4):
        store["answers"] = {"page": page, "what_went_wrong": "Charged twice. " * 20 * page}
        store.save()
    after = updates()
    assert (after[0] - before[0], after[1] - before[1]) == (3, 3)
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexname FROM pg_indexes WHERE tablename = 'django_session'")
        assert [name for (name,) in cursor.fetchall()] == ["django_session_pkey"]
    assert SessionStore(store.session_key)["answers"]["page"] == 3
