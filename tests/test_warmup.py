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
from django.db import connections

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
                            "celery.result", "django.contrib.messages.storage.fallback",
                            "complaints.context_processors") if m in sys.modules],
    "database": any(c.connection is not None for c in connections.all(initialized_only=True)),
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
        "django.contrib.messages.storage.fallback",
        "complaints.context_processors",
    ]
    assert not found["database"]
    assert found["sockets"] == []
