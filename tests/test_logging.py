"""Logs carry no customer secrets: tracking links and API tokens are redacted."""

from __future__ import annotations

import io
import json
import logging

import pytest

from complaints import outbox
from config.logging import JsonFormatter, RedactSecrets, redact

SECRET = "aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY"


def test_a_tracking_secret_in_a_path_is_redacted():
    assert redact(f"GET /track/CMP-2026-000001/{SECRET}/ 404") == (
        "GET /track/CMP-2026-000001/[redacted]/ 404"
    )


def test_an_api_token_is_redacted():
    assert redact("Authorization: Token " + "a1" * 20) == "Authorization: Token [redacted]"
    # knox's keys are 64 characters: none of them is left showing.
    assert redact("Authorization: Token " + "b2" * 32) == "Authorization: Token [redacted]"


def test_log_records_are_json_without_the_secret():
    record = logging.LogRecord(
        "django.request",
        logging.WARNING,
        __file__,
        1,
        "Not Found: %s",
        (f"/track/CMP-2026-000001/{SECRET}/",),
        None,
    )
    assert RedactSecrets().filter(record)
    line = JsonFormatter().format(record)
    entry = json.loads(line)
    assert entry["level"] == "WARNING" and entry["logger"] == "django.request"
    assert SECRET not in line and "[redacted]" in entry["message"]


def _gunicorn_access_line(capsys, access_log_format: str, prepare=None, **headers: str) -> str:
    """The line gunicorn's access log writes, with the project's gunicorn.conf.py, for a 404 on a
    tracking link that carries its secret. ``prepare``, if given, is called with gunicorn's logger
    first (to change its set-up as an operator's log configuration would)."""
    import datetime as dt
    import runpy
    from types import SimpleNamespace

    from gunicorn.config import Config

    config = runpy.run_path("gunicorn.conf.py")
    cfg = Config()
    cfg.set("accesslog", "-")
    cfg.set("access_log_format", access_log_format)
    logger = config["RedactingLogger"](cfg)
    path = f"/track/CMP-2026-000001/{SECRET}/"
    environ = {
        "REMOTE_ADDR": "203.0.113.9",
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "REQUEST_METHOD": "GET",
        "RAW_URI": path,
        "SERVER_PROTOCOL": "HTTP/1.1",
        **{"HTTP_" + name.upper().replace("-", "_"): value for name, value in headers.items()},
    }
    req = SimpleNamespace(headers=[(name.upper(), value) for name, value in headers.items()])
    resp = SimpleNamespace(status="404 Not Found", headers=[], sent=10)
    if prepare is not None:
        prepare(logger)
    capsys.readouterr()
    logger.access(resp, req, environ, dt.timedelta(seconds=0.01))
    return capsys.readouterr().out


def test_the_gunicorn_access_log_redacts_the_secret(capsys):
    import runpy

    line = _gunicorn_access_line(capsys, runpy.run_path("gunicorn.conf.py")["access_log_format"])
    assert line == '203.0.113.9 "GET /track/CMP-2026-000001/[redacted]/" 404 10 10ms\n'


class _Seen(logging.Filter):
    def __init__(self):
        super().__init__()
        self.messages = []

    def filter(self, record):
        self.messages.append(record.getMessage())
        return True


@pytest.mark.parametrize("where", ["filter", "handler"])
def test_the_access_log_line_is_the_same_through_an_operators_log_set_up(capsys, where):
    """With gunicorn's own handler alone, the line is written to it directly; with a filter or
    another handler on the access logger (a log configuration of the operator's), it goes through
    logging, which they see: the same redacted line either way."""
    import runpy

    log_format = runpy.run_path("gunicorn.conf.py")["access_log_format"]
    access_log = logging.getLogger("gunicorn.access")
    # pytest's own capture handlers, which it puts on every logger that does not propagate.
    foreign = []
    seen = _Seen()
    added = logging.StreamHandler(io.StringIO())
    added.addFilter(seen)

    def alone(logger):
        foreign.extend(h for h in access_log.handlers if not getattr(h, "_gunicorn", False))
        for handler in foreign:
            access_log.removeHandler(handler)
        assert logger.only_access_handler() is access_log.handlers[0]

    def operators(logger):
        alone(logger)
        if where == "filter":
            access_log.addFilter(seen)
        else:
            access_log.addHandler(added)
        assert logger.only_access_handler() is None

    try:
        direct = _gunicorn_access_line(capsys, log_format, alone)
        assert seen.messages == []
        through_logging = _gunicorn_access_line(capsys, log_format, operators)
    finally:
        access_log.removeFilter(seen)
        access_log.removeHandler(added)
        for handler in foreign:
            access_log.addHandler(handler)
    assert direct == '203.0.113.9 "GET /track/CMP-2026-000001/[redacted]/" 404 10 10ms\n'
    assert through_logging == direct
    assert seen.messages == [direct.rstrip("\n")]


def test_redaction_ignores_case_where_its_patterns_do():
    assert redact("authorization: TOKEN " + "c3" * 32) == "authorization: TOKEN [redacted]"
    assert redact("GET /staff/?q=JANE.DOE%40EXAMPLE.COM") == "GET /staff/?q=[e-mail address]"
    assert redact("GET /staff/?q=jane.doe@example.com") == "GET /staff/?q=[e-mail address]"
    assert redact("GET /complain/sent/ 302") == "GET /complain/sent/ 302"


def test_the_gunicorn_access_log_redacts_whatever_the_format_asks_for(capsys):
    """An operator may log more (GUNICORN_CMD_ARGS="--access-logformat ..."): the referer, the
    request line, an Authorization header are redacted too, and quotes in them escaped."""
    line = _gunicorn_access_line(
        capsys,
        '"%(r)s" "%(f)s" "%({authorization}i)s" "%(a)s"',
        referer=f"https://portal.example/track/CMP-2026-000001/{SECRET}/",
        authorization="Token " + "a1" * 20,
        user_agent='Mozilla "quoted"',
    )
    assert SECRET not in line and "a1" * 20 not in line
    assert line == (
        '"GET /track/CMP-2026-000001/[redacted]/ HTTP/1.1" '
        '"https://portal.example/track/CMP-2026-000001/[redacted]/" '
        '"Token [redacted]" "Mozilla \\"quoted\\""\n'
    )


def test_an_email_address_is_redacted_even_from_a_mail_servers_refusal():
    refusal = (
        "SMTPRecipientsRefused: {'jane.doe+bills@example.co.uk': (550, b'5.1.1 "
        "<jane.doe+bills@example.co.uk>: Recipient address rejected')}"
    )
    assert redact(refusal) == (
        "SMTPRecipientsRefused: {'[e-mail address]': (550, b'5.1.1 <[e-mail address]>: "
        "Recipient address rejected')}"
    )
    assert redact("GET /staff/?q=jane%40example.com") == "GET /staff/?q=[e-mail address]"


@pytest.mark.django_db
def test_a_failed_e_mail_is_logged_without_the_customers_address(file_complaint, settings, caplog):
    complaint = file_complaint(email="jane.doe@example.com").complaint
    settings.EMAIL_BACKEND = "tests.complaints.failing_backend.RefusingBackend"
    assert outbox.email_deliver_due() == 0
    # The mail server's refusal quoted the address (kept for the admin's list of failed e-mails)...
    assert "jane.doe@example.com" in complaint.emails.get().last_error
    # ...and the log line, as the console handler wrote it, does not.
    [record] = [r for r in caplog.records if r.name == "complaints.outbox"]
    line = JsonFormatter().format(record)
    assert "jane.doe" not in line and "[e-mail address]" in line


@pytest.mark.parametrize("name", ["django", "django.request", "django.server"])
def test_djangos_own_logs_go_only_through_the_redacting_handler(name):
    """Django's default handlers (the console while DEBUG, the development server's request
    lines) would write a tracking link as it came."""
    logger = logging.getLogger(name)
    while logger is not None and logger is not logging.root:
        assert logger.handlers == [], logger.name
        assert logger.propagate, logger.name
        logger = logger.parent
    assert any(isinstance(f, RedactSecrets) for h in logging.root.handlers for f in h.filters)


def test_the_worker_logs_as_the_web_processes_do():
    """Celery would put its own handlers, neither JSON nor redacting, on the root logger."""
    from config.celery import app

    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        for handler in handlers:
            root.removeHandler(handler)
        app.log.already_setup = False
        app.log.setup_logging_subsystem(loglevel="INFO")
        [handler] = [
            h for h in root.handlers if any(isinstance(f, RedactSecrets) for f in h.filters)
        ]
        assert len(root.handlers) == 1
    finally:
        for handler in root.handlers[:]:
            root.removeHandler(handler)
        for handler in handlers:
            root.addHandler(handler)
        root.setLevel(level)


def test_the_gunicorn_error_log_redacts_the_secret_at_debug_level_too(capsys):
    """gunicorn's default pre_request hook logs each request's path at debug level, and a request
    it fails on itself is logged with its URI: neither may carry a tracking secret."""
    import runpy
    from types import SimpleNamespace

    from gunicorn.config import Config

    config = runpy.run_path("gunicorn.conf.py")
    cfg = Config()
    cfg.set("loglevel", "debug")
    cfg.set("errorlog", "-")
    logger = config["RedactingLogger"](cfg)
    logger.setup(cfg)  # as a configuration reload does: still one filter
    path = f"/track/CMP-2026-000001/{SECRET}/"
    capsys.readouterr()
    cfg.pre_request(SimpleNamespace(log=logger), SimpleNamespace(method="GET", path=path))
    try:
        raise ValueError(f"bad request {path}")
    except ValueError:
        logger.exception("Error handling request %s", path)
    written = capsys.readouterr().err
    assert "GET /track/CMP-2026-000001/[redacted]/" in written
    assert "Error handling request /track/CMP-2026-000001/[redacted]/" in written
    assert "ValueError: bad request /track/CMP-2026-000001/[redacted]/" in written
    assert SECRET not in written
    assert sum(isinstance(f, RedactSecrets) for f in logger.error_log.filters) == 1
