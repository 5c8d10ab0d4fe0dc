"""Logs carry no customer secrets: tracking links and API tokens are redacted."""

from __future__ import annotations

import json
import logging

from config.logging import JsonFormatter, RedactSecrets, redact

SECRET = "aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY"


def test_a_tracking_secret_in_a_path_is_redacted():
    assert redact(f"GET /track/CMP-2026-000001/{SECRET}/ 404") == (
        "GET /track/CMP-2026-000001/[redacted]/ 404"
    )


def test_an_api_token_is_redacted():
    assert redact("Authorization: Token " + "a1" * 20) == "Authorization: Token [redacted]"


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


def test_the_gunicorn_access_log_redacts_the_secret():
    import runpy
    from types import SimpleNamespace

    config = runpy.run_path("gunicorn.conf.py")
    logger = config["RedactingLogger"].__new__(config["RedactingLogger"])
    logger.cfg = SimpleNamespace(forwarded_allow_ips=["127.0.0.1"])
    environ = {
        "PATH_INFO": f"/track/CMP-2026-000001/{SECRET}/",
        "QUERY_STRING": "",
        "REQUEST_METHOD": "GET",
        "RAW_URI": f"/track/CMP-2026-000001/{SECRET}/",
        "SERVER_PROTOCOL": "HTTP/1.1",
    }
    req = SimpleNamespace(
        headers=[],
        method="GET",
        path=environ["PATH_INFO"],
        query="",
        uri=environ["RAW_URI"],
        version=(1, 1),
    )
    resp = SimpleNamespace(status="404 Not Found", headers=[], response_length=10, sent=10)
    import datetime as dt

    atoms = logger.atoms(resp, req, environ, dt.timedelta(seconds=0.01))
    assert SECRET not in str(atoms)
    assert atoms["U"] == "/track/CMP-2026-000001/[redacted]/"
