"""Django's PostgreSQL backend, with a health check that costs no round trip while the server is
there.

Each web process keeps its connection between requests (``CONN_MAX_AGE``), and with
``CONN_HEALTH_CHECKS`` Django sends ``SELECT 1`` at the start of every request that uses the
database, so that a connection cut by a restart or a failover is replaced instead of failing the
request. That was one round trip in every request: nine in a customer's filing.

A server that ends a connection says so on its socket: PostgreSQL sends a termination notice
before closing it (a restart, ``pg_terminate_backend``, an idle timeout), and the kernel reports
the close when the server process dies. Between requests an open connection has nothing to read;
so a connection whose socket has nothing waiting is reused as it is, and one with anything
waiting, or in any state but idle, gets Django's ``SELECT 1`` as before (which fails, and a new
connection is made). A network that drops without a word is missed by both checks alike: there the
first query waits for TCP's timeout either way.

Settings select it in place of ``django.db.backends.postgresql``; nothing else differs.
"""

from __future__ import annotations

import select

from django.db.backends.postgresql import base
from psycopg.pq import TransactionStatus


class DatabaseWrapper(base.DatabaseWrapper):
    def close_if_health_check_failed(self) -> None:
        if (
            self.connection is not None
            and self.health_check_enabled
            and not self.health_check_done
            and self._quiet_and_idle()
        ):
            self.health_check_done = True
            return
        super().close_if_health_check_failed()

    def _quiet_and_idle(self) -> bool:
        """True when the connection is open, outside a transaction, and nothing has arrived on
        its socket since the last query's answer was read."""
        connection = self.connection
        try:
            if connection.closed or connection.info.transaction_status != TransactionStatus.IDLE:
                return False
            # poll, not select: a worker may hold descriptors beyond select's limit of 1,024.
            poller = select.poll()
            poller.register(connection.fileno(), select.POLLIN | select.POLLERR | select.POLLHUP)
            events = poller.poll(0)
        except (OSError, ValueError, base.Database.Error):
            return False
        return not events
