"""API keys are kept only as a hash (complaints/api_auth.py, migration 0024)."""

from __future__ import annotations

import datetime as dt
import importlib

import pytest
from django.apps import apps
from django.db import connection
from django.utils import timezone
from knox.models import AuthToken
from rest_framework.test import APIClient

from complaints.api_auth import api_token_issue

URL = "/api/v1/complaints/"


def status(key: str) -> int:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client.get(URL).status_code


def test_the_database_keeps_no_key_that_would_work(agent):
    key = api_token_issue(user=agent)
    assert status(key) == 200
    stored = AuthToken.objects.get(user=agent)
    assert key not in (stored.digest, stored.token_key)
    assert status(stored.digest) == 401 and status(stored.token_key) == 401
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM knox_authtoken WHERE digest = %s", [key])
        assert cursor.fetchone()[0] == 0


def test_rotating_stops_the_old_key_at_once(agent):
    old = api_token_issue(user=agent)
    other = api_token_issue(user=agent)  # a second integration's key
    assert status(old) == 200 and status(other) == 200
    new = api_token_issue(user=agent, revoke_others=True)
    assert (status(old), status(other), status(new)) == (401, 401, 200)


def test_a_key_of_an_account_switched_off_or_past_its_expiry_is_refused(agent, manager):
    key = api_token_issue(user=agent)
    agent.is_active = False
    agent.save()
    assert status(key) == 401
    expiring = api_token_issue(user=manager)
    AuthToken.objects.filter(user=manager).update(expiry=timezone.now() - dt.timedelta(minutes=1))
    assert status(expiring) == 401
    assert not AuthToken.objects.filter(user=manager).exists()  # removed once found expired


def test_keys_made_by_the_old_token_table_keep_working_as_hashes(agent):
    """Migration 0024 on a database that has Django REST framework's token table."""
    old_key = "0123456789abcdef0123456789abcdef01234567"
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TABLE authtoken_token (key varchar(40) PRIMARY KEY, "
            "created timestamp with time zone NOT NULL, user_id integer NOT NULL)"
        )
        cursor.execute(
            "INSERT INTO authtoken_token VALUES (%s, %s, %s)",
            [old_key, dt.datetime(2026, 3, 1, 9, 30, tzinfo=dt.UTC), agent.pk],
        )
    migration = importlib.import_module("complaints.migrations.0024_api_tokens_hashed")
    with connection.schema_editor() as editor:
        migration.move_keys_to_hashes(apps, editor)
    assert status(old_key) == 200
    moved = AuthToken.objects.get(user=agent)
    assert moved.created == dt.datetime(2026, 3, 1, 9, 30, tzinfo=dt.UTC)
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM authtoken_token")
        assert cursor.fetchone()[0] == 0  # the keys themselves are gone


@pytest.mark.parametrize("rotate", [False, True])
def test_the_command_prints_a_key_shown_once(agent, capsys, rotate):
    from django.core.management import call_command

    before = api_token_issue(user=agent)
    call_command("create_api_token", "agent", *(["--rotate"] if rotate else []))
    key = capsys.readouterr().out.strip()
    assert status(key) == 200
    assert status(before) == (401 if rotate else 200)
