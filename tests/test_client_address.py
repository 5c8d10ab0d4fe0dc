"""The client's address behind the production proxy (config/client_address.py)."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import RequestFactory

from config.client_address import from_proxy

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(
    ("header", "address"),
    [
        ("203.0.113.7", "203.0.113.7"),
        ("2001:db8::1", "2001:db8::1"),
        # A proxy that appends: the last address is the one it saw; the first is the client's word.
        ("198.51.100.99, 203.0.113.7", "203.0.113.7"),
        ("", "192.0.2.10"),  # not through the proxy: the connection's own
        ("unknown", "192.0.2.10"),  # names no address
    ],
)
def test_the_address_is_the_proxys_header_or_the_connections_own(settings, header, address):
    settings.CLIENT_ADDRESS_HEADER = "HTTP_X_FORWARDED_FOR"
    extra = {"HTTP_X_FORWARDED_FOR": header} if header else {}
    request = RequestFactory().get("/", REMOTE_ADDR="192.0.2.10", **extra)
    assert from_proxy(request) == address


def test_production_settings_read_the_address_through_it(tmp_path):
    """The operator names the proxy's header (README); the rate limits and the sign-in lockouts
    then read addresses through ``from_proxy``, not from the header alone."""
    env = {
        "PATH": os.environ["PATH"],
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(60),
        "ALLOWED_HOSTS": "complaints.example.com",
        "VAR_DIR": str(tmp_path),
        "RATELIMIT_IP_META_KEY": "HTTP_X_FORWARDED_FOR",
    }
    code = (
        "from django.conf import settings as s; "
        "print(s.RATELIMIT_IP_META_KEY, s.CLIENT_ADDRESS_HEADER, s.AXES_CLIENT_IP_CALLABLE)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [
        "config.client_address.from_proxy",
        "HTTP_X_FORWARDED_FOR",
        "complaints.signin.client_ip",
    ]
