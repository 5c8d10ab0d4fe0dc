"""gunicorn's master warms the portal once before forking its workers (config/warmup.py): what it
leaves out, every worker does again on its first requests, and again each time it is recycled."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from django.conf import settings
from django.template import engines

from config.warmup import warm_up


def test_the_layout_the_customers_pages_extend_is_compiled_before_the_fork():
    """ "base.html" names a template in both engines; a page finds Django's first, but the
    customers' pages extend Jinja2's, which must be compiled too."""
    env = engines["jinja2"].env
    env.cache.clear()
    warm_up()
    compiled = {key[1] for key in env.cache}
    assert {"base.html", "complaints/public/step.html", "complaints/public/field.html"} <= compiled


def test_the_first_request_imports_nothing_and_connects_to_nothing_in_the_master():
    """In a fresh process, as in gunicorn's master: the cache's and broker's clients and Celery's
    publishing side are imported, and no connection is open afterwards."""
    script = """
import json, os, sys, django
django.setup()
from config.warmup import warm_up
warm_up()
from django.core.files.storage import default_storage
from django.db import connections
from django.utils.functional import empty

def sockets():
    found = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:  # the directory listing's own descriptor, closed since
            continue
        if target.startswith("socket:"):
            found.append(target)
    return found

print(json.dumps({
    "modules": [m for m in ("redis", "kombu.transport.redis", "celery.app.amqp",
                            "celery.result", "django.contrib.messages.storage.session",
                            "complaints.context_processors") if m in sys.modules],
    "database": any(c.connection is not None for c in connections.all(initialized_only=True)),
    "storage": default_storage._wrapped is not empty,
    "sockets": sockets(),
}))
"""
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings_test"}
    out = subprocess.run(
        [sys.executable, "-c", script],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    found = json.loads(out.stdout.strip().splitlines()[-1])
    assert found["modules"] == [
        "redis",
        "kombu.transport.redis",
        "celery.app.amqp",
        "celery.result",
        "django.contrib.messages.storage.session",
        "complaints.context_processors",
    ]
    assert not found["database"]
    assert not found["storage"], "the default storage (S3, say, in production) was loaded"
    assert found["sockets"] == []


def _exceptions_raised(call) -> list[tuple[str, str, str, str]]:
    """Each exception raised while ``call()`` runs: its type, the function that raised it, the
    type of the object whose method that was, and what made that object when it is a lazy one."""
    raised: list[tuple[str, str, str, str]] = []

    def trace(frame, event, arg):
        if event == "exception" and arg[2] is not None and arg[2].tb_next is None:
            code = frame.f_code
            owner = frame.f_locals.get("self")
            made_by = getattr(getattr(owner, "__dict__", {}).get("_setupfunc"), "__qualname__", "")
            raised.append((arg[0].__name__, code.co_name, type(owner).__name__, made_by))
        return trace

    before = sys.gettrace()  # a coverage run's or a debugger's, put back afterwards
    sys.settrace(trace)
    try:
        call()
    finally:
        sys.settrace(before)
    return raised


def test_a_customers_page_after_the_warm_up_raises_nothing_for_patterns_or_headers(client):
    """Django's lazily compiled patterns and its headers' ``in`` and ``get`` each raised and caught
    an exception on every use: some 180 in a web filing before the warm-up replaced them."""
    warm_up()
    raised = _exceptions_raised(lambda: client.get("/complain/about-you/"))
    assert raised, "the trace saw nothing: the test would pass whatever the warm-up did"
    lazy = [r for r in raised if r[3] == "_lazy_re_compile.<locals>._compile"]
    headers = [r for r in raised if r[2] in ("ResponseHeaders", "HttpHeaders")]
    assert lazy == []
    assert headers == []


def test_the_compiled_patterns_are_the_ones_django_would_have_compiled():
    import re

    from django.core import signing, validators
    from django.utils import cache

    warm_up()
    assert type(signing._SEP_UNSAFE) is re.Pattern  # isinstance() would see through the wrapper
    assert signing._SEP_UNSAFE.pattern == r"^[A-z0-9-_=]*$"
    assert type(cache.cc_delim_re) is re.Pattern
    assert cache.cc_delim_re.split("private, max-age=0") == ["private", "max-age=0"]
    assert type(validators.EmailValidator.user_regex) is re.Pattern
    assert signing.loads(signing.dumps({"a": 1})) == {"a": 1}


def test_headers_answer_in_and_get_as_before_the_warm_up():
    """A response's ``in`` and ``get`` as ``Mapping``'s, which go through ``__getitem__``; a
    request's still find "user_agent" as "User-Agent", as Django documents."""
    from collections.abc import Mapping

    from django.http import HttpResponse
    from django.http.request import HttpHeaders

    warm_up()
    response = HttpResponse(headers={"Content-Type": "text/plain", "X-Empty": ""})
    request_headers = HttpHeaders({"HTTP_USER_AGENT": "Firefox", "CONTENT_LENGTH": "0"})
    keys = ("Content-Type", "content-type", "content_type", "X-Empty", "User-Agent", "user_agent")
    for headers, more in ((response.headers, [b"content-type"]), (request_headers, [])):
        for key in (*keys, "Content-Length", "Vary", *more):
            assert (key in headers) == Mapping.__contains__(headers, key)
            assert headers.get(key) == Mapping.get(headers, key)
            assert headers.get(key, "none") == Mapping.get(headers, key, "none")
    assert "user_agent" in request_headers and request_headers.get("user_agent") == "Firefox"
    assert response.has_header("content-type") and not response.has_header("Vary")
    assert response.headers.get("X-Empty", "none") == ""
