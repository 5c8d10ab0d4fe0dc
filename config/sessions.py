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
- Each statement is written out as SQL, not built by the ORM: reading a session through a
  queryset cost nearly three times the CPU of the statement itself (building the query,
  compiling it, making a model instance for one column), and every request of the filing flow
  reads its session and most write it back.

The table, the rows and their encoding are Django's own (``django_session``), so sessions
already signed in carry over, and ``clearsessions`` removes the expired ones as before.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from django.contrib.sessions.backends.base import VALID_KEY_CHARS, CreateError, UpdateError
from django.contrib.sessions.backends.db import SessionStore as DatabaseSessionStore
from django.db import IntegrityError, connections, router, transaction
from django.db.backends.utils import CursorWrapper
from django.utils import timezone
from django.utils.crypto import get_random_string


class SessionStore(DatabaseSessionStore):
    def _get_new_session_key(self) -> str:
        # Unique enough not to ask the database first; create() retries on the INSERT's conflict.
        return get_random_string(32, VALID_KEY_CHARS)

    @contextlib.contextmanager
    def _execute(self, using: str, sql: str, params: list) -> Iterator[CursorWrapper]:
        """Run one statement on Django's session table (``{table}`` in ``sql``); yields the
        cursor for its answer. Dates in ``params`` are given as the database's backend adapts
        them (``adapt_datetimefield_value``), as the ORM would."""
        connection = connections[using]
        with connection.cursor() as cursor:
            table = connection.ops.quote_name(self.model._meta.db_table)
            cursor.execute(sql.format(table=table), params)
            yield cursor

    def _read(self, *, for_update: bool) -> dict:
        """The session's data, or an empty session without a key when it is missing or expired,
        as Django's ``load`` gives."""
        using = router.db_for_write(self.model) if for_update else router.db_for_read(self.model)
        connection = connections[using]
        sql = "SELECT session_data FROM {table} WHERE session_key = %s AND expire_date > %s"
        if for_update and connection.features.has_select_for_update:  # not SQLite (make run)
            sql += " FOR UPDATE"
        now = connection.ops.adapt_datetimefield_value(timezone.now())
        with self._execute(using, sql, [self.session_key, now]) as cursor:
            row = cursor.fetchone()
        if row is None:
            self._session_key = None
            return {}
        return self.decode(row[0])

    def load(self) -> dict:
        return self._read(for_update=False)

    def load_for_update(self) -> None:
        """Read the session afresh and hold its row until the caller's transaction ends: one
        ``SELECT ... FOR UPDATE`` that both locks and reads (see ``complaints.views._send``)."""
        self._session_cache = self._read(for_update=True)

    def save(self, must_create: bool = False) -> None:
        if self.session_key is None:
            return self.create()
        data = self._get_session(no_load=must_create)
        using = router.db_for_write(self.model)
        expiry = connections[using].ops.adapt_datetimefield_value(self.get_expiry_date())
        values = [self.encode(data), expiry, self.session_key]
        if not must_create:
            sql = "UPDATE {table} SET session_data = %s, expire_date = %s WHERE session_key = %s"
            with self._execute(using, sql, values) as cursor:
                if not cursor.rowcount:
                    raise UpdateError  # the session was deleted meanwhile (signed out elsewhere)
            return None
        # A failed INSERT must not break a caller's transaction: inside one, a savepoint.
        in_transaction = connections[using].in_atomic_block
        sql = "INSERT INTO {table} (session_data, expire_date, session_key) VALUES (%s, %s, %s)"
        savepoint = transaction.atomic(using=using) if in_transaction else contextlib.nullcontext()
        try:
            with savepoint, self._execute(using, sql, values):
                pass
        except IntegrityError:
            raise CreateError from None
        return None
