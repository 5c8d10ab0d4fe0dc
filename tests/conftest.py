"""The shared cast: a customer (with a filed complaint), two agents, a manager, an outsider (staff
without a complaints role), an administrator; and helpers that put a complaint in any state."""

from __future__ import annotations

import contextlib
import datetime as dt
import socket
import threading
import time
from collections.abc import Callable

import pytest
import time_machine
from django.contrib.auth.models import Group, User
from django.utils import timezone

from adr import services as adr_services
from complaints import clocks, services
from complaints.models import Category, Channel, Complaint, State
from complaints.roles import AGENTS_GROUP, MANAGERS_GROUP, Actor

PASSWORD = "correct horse battery staple"


def _user(username: str, group: str | None = None, **extra) -> User:
    user = User.objects.create_user(
        username=username,
        password=PASSWORD,
        email=f"{username}@example.com",
        first_name=username.capitalize(),
        is_staff=extra.get("is_superuser", False),  # the admin site is for administrators only
        **extra,
    )
    if group:
        user.groups.add(Group.objects.get_or_create(name=group)[0])
    return user


@pytest.fixture(autouse=True)
def _own_media_folder(settings, tmp_path) -> None:
    """Letters and evidence of one test never meet another's (references restart per test)."""
    settings.MEDIA_ROOT = tmp_path / "files"


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    """Rate-limit counters live in the shared Redis cache: each test starts from zero."""
    from django.core.cache import cache
    from redis.exceptions import ConnectionError as RedisDown

    with contextlib.suppress(RedisDown):  # a test that stops Redis restarts it itself
        cache.clear()


@pytest.fixture
def one_rate_window():
    """The clock held still: django-ratelimit counts in fixed windows (a minute, an hour), and a
    test whose requests straddled a window's end would see its count start again and fail."""
    with time_machine.travel(dt.datetime.now(dt.UTC), tick=False):
        yield


@pytest.fixture
def agent(db) -> User:
    return _user("agent", AGENTS_GROUP)


@pytest.fixture
def agent2(db) -> User:
    return _user("agent2", AGENTS_GROUP)


@pytest.fixture
def manager(db) -> User:
    return _user("manager", MANAGERS_GROUP)


@pytest.fixture
def outsider(db) -> User:
    """A staff account with no complaints role (e.g. someone from finance)."""
    return _user("outsider")


@pytest.fixture
def administrator(db) -> User:
    return _user("administrator", is_superuser=True)


@pytest.fixture
def customer() -> Actor:
    return Actor.customer()


@pytest.fixture
def file_complaint(db) -> Callable[..., services.Filed]:
    """File a complaint as the customer would (or as staff logging one, with ``by=``)."""

    def file(**overrides) -> services.Filed:
        fields = {
            "customer_name": "Jane Doe",
            "email": "jane@example.com",
            "phone": "07700 900123",
            "postal_address": "1 High Street\nHertford\nSG14 1AA",
            "account_number": "ET123456",
            "category": Category.BILLING,
            "description": "I was charged twice for October.",
            "channel": Channel.WEB,
            "by": Actor.customer(),
        }
        fields.update(overrides)
        return services.complaint_file(**fields)

    return file


@pytest.fixture
def complaint_in(file_complaint, manager) -> Callable[[str], Complaint]:
    """A complaint brought to the given state through the services, as the procedure would."""
    by = Actor.staff(manager)

    def make(state: str) -> Complaint:
        c = file_complaint().complaint
        if state == State.CS_TEAM:
            return c
        if state in (State.CS_MANAGER, State.FORMAL_WRITTEN):
            services.complaint_escalate(complaint=c, by=by, reason="Needs the manager's review.")
            if state == State.FORMAL_WRITTEN:
                services.complaint_make_formal(
                    complaint=c, by=by, text="Letter received: the refund has not arrived."
                )
            return c
        if state in (State.DEADLOCK, State.ADR_REFERRED, State.COURT):
            adr_services.complaint_issue_deadlock(
                complaint=c, by=by, final_position="Our offer stands."
            )
            if state == State.ADR_REFERRED:
                adr_services.complaint_refer_to_adr(
                    complaint=c, by=by, cisas_reference="CIS-1", referred_on=london_today()
                )
            if state == State.COURT:
                adr_services.complaint_start_court_action(
                    complaint=c, by=by, started_on=london_today()
                )
            return c
        if state in (State.RESOLVED, State.CLOSED):
            services.complaint_resolve(complaint=c, by=by, summary="Refunded.")
            if state == State.CLOSED:
                services.complaint_close(complaint=c, by=by)
            return c
        if state == State.WITHDRAWN:
            services.complaint_withdraw(complaint=c, by=Actor.customer())
            return c
        raise ValueError(state)

    return make


def london_today() -> dt.date:
    """Today's date in London, the date staff give for what happened today."""
    return clocks.london_date(timezone.now())


@contextlib.contextmanager
def silent_server():
    """The port of a server (a mail server, a broker) that takes connections and never says a
    word: the kernel completes the handshake, nobody accepts. After 15 s it closes, so that a
    client without a time-out fails its test with a reset instead of hanging it."""
    listener = socket.create_server(("127.0.0.1", 0), backlog=8)
    closer = threading.Timer(15, listener.close)
    closer.start()
    try:
        yield listener.getsockname()[1]
    finally:
        closer.cancel()
        listener.close()


def wait_for(predicate: Callable[[], object], seconds: float = 30.0) -> bool:
    """Whether ``predicate`` became true within ``seconds`` (asked five times a second)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


class SMTPServer:
    """A mail server on the loopback that speaks enough SMTP for Django's backend (no TLS, no
    AUTH), counting the connections it was given and keeping each message it accepted. It refuses
    a recipient whose address contains "refused", and closes a connection once it has taken
    ``messages_per_connection`` messages on it, as some servers do: at once, or with ``say_421``
    by answering the next message's MAIL with 421 (closing)."""

    def __init__(self, messages_per_connection: int = 0, say_421: bool = False) -> None:
        self.messages_per_connection = messages_per_connection
        self.say_421 = say_421
        self.connections = 0
        self.messages: list[bytes] = []
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:  # closed
                return
            self.connections += 1
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        taken = 0
        with conn, conn.makefile("rb") as lines:
            conn.sendall(b"220 test ESMTP\r\n")
            for line in lines:
                verb = line[:4].upper()
                if verb in (b"EHLO", b"HELO"):
                    conn.sendall(b"250 test\r\n")
                elif verb == b"RCPT" and b"refused" in line:
                    conn.sendall(b"550 5.1.1 Recipient address rejected\r\n")
                elif verb == b"DATA":
                    conn.sendall(b"354 go on\r\n")
                    body = b"".join(iter(lines.readline, b".\r\n"))
                    self.messages.append(body)
                    conn.sendall(b"250 2.0.0 queued\r\n")
                    taken += 1
                    if taken == self.messages_per_connection and not self.say_421:
                        return
                elif verb == b"MAIL" and self.say_421 and taken == self.messages_per_connection:
                    conn.sendall(b"421 4.7.0 Too many messages, closing connection\r\n")
                    return
                elif verb == b"QUIT":
                    conn.sendall(b"221 bye\r\n")
                    return
                else:  # MAIL, RCPT, RSET, NOOP
                    conn.sendall(b"250 ok\r\n")

    def close(self) -> None:
        self.listener.close()


def mail_through_smtp(settings, port: int, timeout: float = 5) -> None:
    """Django's SMTP backend, plain and without a login, to a server on the loopback's ``port``."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_TIMEOUT = timeout


@pytest.fixture
def smtp_server(settings):
    """Django's SMTP backend pointed at an ``SMTPServer`` (see there)."""
    server = SMTPServer()
    mail_through_smtp(settings, server.port)
    yield server
    server.close()


def fresh(complaint: Complaint) -> Complaint:
    return Complaint.objects.get(pk=complaint.pk)
