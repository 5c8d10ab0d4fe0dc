"""Sessions in the database, as Django keeps them, with fewer round trips per request.

Every page of the filing flow writes the customer's answers to their session, so the session's
statements are a large share of what a filing costs PostgreSQL. Django's database store spends
four statements to create a session (a SELECT to see whether a new random key is taken, then
BEGIN, INSERT, COMMIT) and three to save one (BEGIN, UPDATE, COMMIT). Here:

- A new key is not looked up first: it is 32 random characters (165 bits), and should one ever
  be taken, the INSERT's primary key refuses it and ``create`` draws another, as Django does.
- A save is its single statement, in autocommit, with no transaction around it. Django's
  savepoint exists so that a failed INSERT cannot break the caller's transaction: it is kept for
  an INSERT made inside one. An UPDATE cannot fail that way (no row updated is an answer, not an
  error), so it never needs one.
- Every statement (the read and the UPDATE, which nearly every request makes, the INSERT of a
  new session, the locking read of a send) is written out as SQL, not built by the ORM: reading
  a session through a queryset cost nearly three times the CPU of the statement itself
  (building the query, compiling it, making a model instance for one column).

A session written outside any transaction, as every page of the filing flow writes it, commits
without waiting for the disk (``synchronous_commit`` off for that one statement's transaction, set
by the statement itself, so it costs no round trip). Waiting for PostgreSQL to flush its log four
times a filing left both cores a tenth idle under load, the web workers blocked in COMMIT; not
waiting, the customers' web flow filed about 10 % more a second (bench/README.md). What it risks: if
PostgreSQL itself crashes (not a web worker: that loses nothing) within a moment of such a write
(``wal_writer_delay``, 200 ms by default, at most three times that), or the machine does, or a
standby is promoted that had not received it yet, the write is lost: the customer finds that
page's answers unanswered and gives them again, or the confirmation page, which shows the
tracking link once, shows it that once more to the same browser. Nothing else changes: the
database stays consistent, a later write that did wait makes every earlier one durable with it,
and what must never be lost waits as before. Sending the complaint writes the session inside the
filing's transaction, which commits waiting for the disk, and so does every change to a case,
every deletion of a session (signing out) and anything written on SQLite.

A session's data is stored as plain JSON. Django signs it (an HMAC with the secret key) and
compresses it with zlib, which cost five times the JSON itself on every read and every write:
4.6 to 5.1 % of a web filing's worker CPU (bench/README.md). The signature guards nothing here:
the rows live in the portal's own database, never in a browser, and they were never encrypted
(Django's encoding is base64, not a cipher). What stops a row written into the table by someone
without the secret key from signing anyone in is Django's own check: a staff session carries an
HMAC of the user's password hash, made with the secret key, and a session whose HMAC does not
match signs nobody in (tests/test_sessions.py). Rows written in Django's signed encoding, by an
earlier release, are still read.

The table and its columns are Django's own (``django_session``), and ``clearsessions`` removes
the expired sessions as before. On PostgreSQL only its primary key is indexed, with room left on
each page, so that a save rewrites the row in place and writes no index (migration 0032 of
``complaints``).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
from collections.abc import Iterator
from importlib import import_module

from django.conf import settings
from django.contrib.sessions.backends.base import VALID_KEY_CHARS, CreateError, UpdateError
from django.contrib.sessions.backends.db import SessionStore as DatabaseSessionStore
from django.db import IntegrityError, connections, router, transaction
from django.db.backends.utils import CursorWrapper
from django.utils import timezone
from django.utils.crypto import get_random_string

# A session's INSERT and UPDATE. Made in autocommit, each is joined to a one-row subquery that
# turns synchronous_commit off for its own transaction: that commit does not wait for the disk
# (see above). Set by the statement itself, not by a SET before it, so it costs no round trip,
# and local to that transaction, so nothing after it is affected.
INSERT = "INSERT INTO {table} (session_key, session_data, expire_date) VALUES (%s, %s, %s)"
INSERT_NO_WAIT = (
    "INSERT INTO {table} (session_key, session_data, expire_date) SELECT %s, %s, %s"
    " FROM (SELECT set_config('synchronous_commit', 'off', true)) AS no_wait"
)
UPDATE = "UPDATE {table} SET session_data = %s, expire_date = %s WHERE session_key = %s"
UPDATE_NO_WAIT = (
    "UPDATE {table} SET session_data = %s, expire_date = %s"
    " FROM (SELECT set_config('synchronous_commit', 'off', true)) AS no_wait"
    " WHERE session_key = %s"
)


class SessionStore(DatabaseSessionStore):
    def _get_new_session_key(self) -> str:
        # Unique enough not to ask the database first; create() retries on the INSERT's conflict.
        return get_random_string(32, VALID_KEY_CHARS)

    @contextlib.contextmanager
    def _execute(self, using: str, sql: str, params: list) -> Iterator[CursorWrapper]:
        """Run one statement on Django's session table (``{table}`` in ``sql``); yields the
        cursor for its answer. Dates are passed as the database's backend takes them, as the ORM
        would (on SQLite, the embedded ``make run``, naive UTC)."""
        connection = connections[using]
        params = [
            connection.ops.adapt_datetimefield_value(p) if isinstance(p, dt.datetime) else p
            for p in params
        ]
        with connection.cursor() as cursor:
            table = connection.ops.quote_name(self.model._meta.db_table)
            cursor.execute(sql.format(table=table), params)
            yield cursor

    def encode(self, session_dict: dict) -> str:
        """The session as JSON text, a JSON object, neither signed nor compressed (see above)."""
        return json.dumps(session_dict, separators=(",", ":"))

    def decode(self, session_data: str) -> dict:
        """A session written by ``encode``; anything else goes to Django's decoding, which reads
        a session it signed before (one already open when this format came in) and answers any
        other text with an empty session and its "Session data corrupted" warning."""
        if session_data.startswith("{"):
            with contextlib.suppress(ValueError):
                data = json.loads(session_data)
                if isinstance(data, dict):
                    return data
        return super().decode(session_data)

    def load(self) -> dict:
        """The session's data, or an empty session without a key when it is missing or expired,
        as Django's ``load`` gives."""
        sql = "SELECT session_data FROM {table} WHERE session_key = %s AND expire_date > %s"
        using = router.db_for_read(self.model)
        with self._execute(using, sql, [self.session_key, timezone.now()]) as cursor:
            row = cursor.fetchone()
        if row is None:
            self._session_key = None
            return {}
        return self.decode(row[0])

    def save(self, must_create: bool = False) -> None:
        if self.session_key is None:
            return self.create()
        data = self._get_session(no_load=must_create)
        using = router.db_for_write(self.model)
        connection = connections[using]
        # Only a statement that is its own transaction (autocommit, which any atomic block turns
        # off): inside another, the setting would last until that one commits, and the caller's
        # writes would not wait either.
        no_wait = connection.vendor == "postgresql" and connection.get_autocommit()
        if not must_create:
            sql = UPDATE_NO_WAIT if no_wait else UPDATE
            values = [self.encode(data), self.get_expiry_date(), self.session_key]
            with self._execute(using, sql, values) as cursor:
                if not cursor.rowcount:
                    raise UpdateError  # the session was deleted meanwhile (signed out elsewhere)
            return None
        # A new session, once a visitor: one INSERT. A failed INSERT must not break a caller's
        # transaction: inside one, in a savepoint.
        sql = INSERT_NO_WAIT if no_wait else INSERT
        values = [self.session_key, self.encode(data), self.get_expiry_date()]
        in_transaction = connection.in_atomic_block
        atomic = transaction.atomic(using=using) if in_transaction else contextlib.nullcontext()
        try:
            with atomic, self._execute(using, sql, values):
                pass
        except IntegrityError:
            raise CreateError from None
        return None

    def load_for_update(self) -> None:
        """Read the session afresh and hold its row until the caller's transaction ends: one
        ``SELECT ... FOR UPDATE`` that both locks and reads (see ``complaints.views._send``).
        Where the database has no FOR UPDATE (SQLite, the embedded run), its transaction's write
        lock does the same. Written out, like ``load``: through the ORM this one read cost 4 %
        of a web filing's CPU."""
        using = router.db_for_write(self.model)
        sql = "SELECT session_data FROM {table} WHERE session_key = %s AND expire_date > %s"
        if connections[using].features.has_select_for_update:
            sql += " FOR UPDATE"
        with self._execute(using, sql, [self.session_key, timezone.now()]) as cursor:
            row = cursor.fetchone()
        data = row[0] if row else None
        if data is None:
            self._session_key = None
            self._session_cache = {}
        else:
            self._session_cache = self.decode(data)


def lock_session(request) -> None:
    """Hold this visitor's session row until the transaction ends, and read it afresh.

    A double-clicked button that must act once (the customer's "Send", staff logging a complaint)
    arrives as two requests with the same session and the same one-time token. The second waits
    here until the first has committed both its work and the session's record of the token, then
    finds the token spent and shows the same result: it is done once. ``load_for_update`` locks
    and reads in one statement; an engine that cannot lock fails here, loudly, rather than let a
    double click act twice."""
    key = request.session.session_key
    if key is None:
        return
    request.session = import_module(settings.SESSION_ENGINE).SessionStore(key)
    request.session.load_for_update()
