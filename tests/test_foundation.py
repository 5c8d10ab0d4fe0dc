"""The skeleton a newcomer relies on: settings, health, the Celery schedule, demo data, pages."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.db import OperationalError
from django.urls import reverse

from complaints.models import Complaint, State
from config.celery import app
from tests.conftest import PASSWORD, silent_server

ROOT = Path(__file__).resolve().parent.parent


def run_fresh(args: list[str], *, timeout: int = 60, **env: str) -> subprocess.CompletedProcess:
    """Run Python with ``args`` in a fresh process with exactly the settings environment given."""
    inherited = {k: v for k, v in os.environ.items() if k in {"PATH", "HOME", "LANG"}}
    return subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        env={**inherited, "DJANGO_SETTINGS_MODULE": "config.settings", **env},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def run_check(**env: str) -> subprocess.CompletedProcess:
    """Run `manage.py check` in a fresh process with exactly the settings environment given."""
    return run_fresh(["manage.py", "check"], **env)


# --- Settings -----------------------------------------------------------------------------


def test_production_without_a_secret_key_refuses_to_start(tmp_path):
    result = run_check(DEBUG="false", VAR_DIR=str(tmp_path))
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr


def test_a_bad_setting_fails_at_start_naming_the_variable(tmp_path):
    result = run_check(DEBUG="true", ADR_CLOCK="ten-weeks", VAR_DIR=str(tmp_path))
    assert result.returncode != 0
    assert "ADR_CLOCK='ten-weeks' is not one of" in result.stderr


def test_a_hard_time_limit_shorter_than_the_soft_one_fails_at_start(tmp_path):
    """The soft limit lets a task end its batch cleanly; below the hard one it would never come."""
    result = run_check(
        DEBUG="true",
        CELERY_TASK_SOFT_TIME_LIMIT="120",
        CELERY_TASK_TIME_LIMIT="60",
        VAR_DIR=str(tmp_path),
    )
    assert result.returncode != 0
    assert "CELERY_TASK_SOFT_TIME_LIMIT must be above 0 and below CELERY_TASK_TIME_LIMIT" in (
        result.stderr
    )


def test_a_bad_database_url_fails_at_start(tmp_path):
    result = run_check(DEBUG="true", DATABASE_URL="nonsense://x", VAR_DIR=str(tmp_path))
    assert result.returncode != 0
    assert "nonsense" in result.stderr


def test_the_embedded_default_starts_with_a_generated_secret_key(tmp_path):
    result = run_check(DEBUG="true", VAR_DIR=str(tmp_path))
    assert result.returncode == 0, result.stderr
    key = (tmp_path / "secret_key").read_text()
    assert len(key) >= 50
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


def test_the_embedded_default_writes_e_mails_to_files_under_var(tmp_path):
    result = run_fresh(
        [
            "-c",
            "import django; django.setup(); from django.conf import settings; "
            "print(settings.EMAIL_BACKEND, settings.EMAIL_FILE_PATH)",
        ],
        DEBUG="true",
        VAR_DIR=str(tmp_path),
    )
    assert result.returncode == 0, result.stderr
    backend, path = result.stdout.split()
    assert backend == "django.core.mail.backends.filebased.EmailBackend"
    assert path == str(tmp_path / "mail")


def test_the_secret_key_may_come_from_a_file(tmp_path):
    secret = tmp_path / "key"
    secret.write_text("s" * 60)
    result = run_check(
        DEBUG="false",
        SECRET_KEY_FILE=str(secret),
        ALLOWED_HOSTS="example.com",
        VAR_DIR=str(tmp_path),
    )
    assert result.returncode == 0, result.stderr


def test_tests_run_on_postgresql_in_london_time(settings):
    from django.db import connection

    assert settings.DATABASES["default"]["ENGINE"] == "config.postgresql"
    assert connection.vendor == "postgresql"
    assert settings.TIME_ZONE == "Europe/London" and settings.USE_TZ


# --- Health -------------------------------------------------------------------------------


@pytest.mark.django_db
def test_healthz_is_200_when_the_database_and_broker_answer(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["checks"]["database"]["ok"] and body["checks"]["broker"]["ok"]


@pytest.mark.django_db
def test_healthz_is_503_naming_the_broker_when_redis_is_unreachable(client, settings):
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["down"] == ["broker"]


def test_a_publish_to_a_broker_that_stopped_answering_gives_up(monkeypatch):
    """A Redis that keeps the connection but answers nothing (a failover, a firewall that dropped
    its state): the publish fails, as when the broker is down, which the outbox and the
    periodic runs are made for; without a socket time-out it waited for ever."""
    from celery import Celery
    from kombu.exceptions import OperationalError as BrokerError

    with silent_server() as port:
        # Celery takes the broker from the environment before the settings.
        monkeypatch.setenv("CELERY_BROKER_URL", f"redis://127.0.0.1:{port}/0")
        silent = Celery("silent")
        silent.config_from_object("django.conf:settings", namespace="CELERY")
        with pytest.raises(BrokerError, match="Timeout reading"):
            silent.send_task("complaints.tasks.deliver_outbox", retry=False)


@pytest.mark.django_db
def test_healthz_is_503_naming_the_database_when_it_fails(client, monkeypatch):
    from complaints import health

    def broken():
        raise OperationalError("connection refused")

    monkeypatch.setattr(health.connection, "cursor", broken)
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["down"] == ["database"]
    assert "connection refused" in response.json()["checks"]["database"]["error"]


def test_healthz_answers_get_only(client):
    assert client.post("/healthz").status_code == 405


# --- Celery -------------------------------------------------------------------------------


def test_the_beat_schedule_runs_each_sweep_and_each_task_exists():
    app.loader.import_default_modules()
    tasks = {entry["task"] for entry in app.conf.beat_schedule.values()}
    assert tasks == {
        "escalation.tasks.sweep_overdue_replies",
        "escalation.tasks.sweep_adr_clock",
        "escalation.tasks.sweep_auto_close",
        "escalation.tasks.sweep_overdue_remedies",
        "complaints.tasks.render_letters",
        "complaints.tasks.deliver_outbox",
        "complaints.tasks.purge_abandoned_drafts",
        "complaints.tasks.anonymise_expired",
        "complaints.tasks.purge_sign_in_records",
    }
    assert tasks <= set(app.tasks)


@pytest.mark.django_db
def test_a_scheduled_task_runs_its_sweep(file_complaint, agent):
    import datetime as dt

    from complaints.models import Channel
    from complaints.roles import Actor

    old = file_complaint(
        by=Actor.staff(agent),
        channel=Channel.LETTER,
        received_at=dt.datetime(2026, 1, 5, 9, 0, tzinfo=dt.UTC),
    ).complaint
    app.loader.import_default_modules()
    assert app.tasks["escalation.tasks.sweep_adr_clock"].apply().get() == 1
    assert Complaint.objects.get(pk=old.pk).state == State.DEADLOCK


# --- Demo data ----------------------------------------------------------------------------


@pytest.mark.django_db
def test_seed_demo_is_idempotent_and_its_logins_work(client):
    call_command("seed_demo")
    complaints = Complaint.objects.count()
    events = sum(c.events.count() for c in Complaint.objects.all())
    call_command("seed_demo")
    assert Complaint.objects.count() == complaints > 5
    assert sum(c.events.count() for c in Complaint.objects.all()) == events
    assert User.objects.filter(username__in=["agent", "manager", "admin"]).count() == 3
    # Who filed each, as its timeline says: the customer on the web form, an agent otherwise.
    for complaint in Complaint.objects.all():
        filed = complaint.events.get(kind="filed")
        assert (filed.actor_role == "customer") == (complaint.channel == "web"), complaint
        assert (filed.actor is None) == (complaint.channel == "web"), complaint
        if complaint.channel == "web":  # sent online, so received the moment it was filed
            assert complaint.received_at == filed.created_at, complaint
    for username, password, landing in (
        ("agent", "demo-agent-2026", "/staff/"),
        ("manager", "demo-manager-2026", "/staff/"),
        ("admin", "demo-admin-2026", "/admin/"),
    ):
        client.logout()
        signed_in = client.post(
            reverse("login"), {"username": username, "password": password}, follow=True
        )
        assert signed_in.context["user"].username == username
        assert client.get(landing).status_code == 200


@pytest.mark.django_db
def test_seed_demo_leaves_work_for_the_sweeps():
    from escalation import services as sweeps

    call_command("seed_demo")
    assert sweeps.sweep_overdue_replies() >= 1
    assert sweeps.sweep_adr_clock() >= 1


EMBEDDED_DEMO_RUN = """
import django
django.setup()
from django.core.management import call_command
from complaints import documents, privacy, services
from complaints.models import Complaint, Letter, State
from complaints.roles import Actor
from escalation import services as sweeps
from django.contrib.auth.models import User

call_command("migrate", verbosity=0)
call_command("seed_demo", verbosity=0)
print("overdue", sweeps.sweep_overdue_replies())
print("deadlock", sweeps.sweep_adr_clock())
print("rendered", documents.letters_render_pending())
manager = Actor.staff(User.objects.get(username="manager"))
case = Complaint.objects.filter(state=State.CS_TEAM).first()
services.complaint_resolve(complaint=case, by=manager, summary="Refunded.")
services.complaint_close(complaint=case, by=manager)
print("erased", len(privacy.customer_erase(complaint=case, by=manager, reason="By e-mail").erased))

# A customer files through the web pages: the session store's own SQL, on SQLite.
import re
from django.test import Client
browser = Client(HTTP_HOST="127.0.0.1")
browser.get("/complain/about-you/")
answers = [
    ("about-you", {"customer_name": "Ann Smith", "email": "ann@example.com", "phone": "",
                   "postal_address": "", "account_number": "", "nation": "scotland"}),
    ("your-complaint", {"category": "billing", "what_went_wrong": "Charged twice."}),
    ("support", {"preferred_response": "written"}),
]
for page, form in answers:
    assert browser.post(f"/complain/{page}/", form).status_code == 302, page
check = browser.get("/complain/check/").content.decode()
token = re.search(r'name="token" value="([^"]+)"', check).group(1)
assert browser.post("/complain/check/", {"token": token})["Location"] == "/complain/sent/"
sent = browser.get("/complain/sent/").content.decode()
print("filed", re.search(r"CMP-[0-9]{4}-[0-9]+", sent).group(0))
"""


def test_the_embedded_demo_migrates_and_runs_its_clocks_on_sqlite(tmp_path):
    """``make run`` runs on SQLite, which the suite's PostgreSQL never exercises: migrating from
    nothing, the sweeps' bulk inserts, anonymising and a customer's filing through the pages
    must all work there too."""
    result = run_fresh(
        ["-c", EMBEDDED_DEMO_RUN],
        timeout=180,
        DEBUG="true",
        VAR_DIR=str(tmp_path),
        CELERY_BROKER_URL=f"filesystem://{tmp_path}/broker",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    counts = dict(line.split() for line in result.stdout.splitlines() if line.count(" ") == 1)
    assert int(counts["overdue"]) >= 1
    assert int(counts["deadlock"]) >= 1
    assert int(counts["rendered"]) >= 2
    assert counts["erased"] == "1"
    assert counts["filed"].startswith("CMP-")


# --- Pages --------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_home_page_explains_how_to_complain_with_contact_details(client):
    page = client.get("/").content.decode()
    for text in (
        "How to complain",
        "15 working days",
        "Customer Services Manager",
        "formal written complaint",
        "CISAS",
        "Court action",
        "0800 849 3366",
        "support@expresstelephony.co.uk",
        "Calls may be recorded",
        "Express Telephony Limited",
        # The published procedure's last section: the codes and guides the provider follows.
        "ITSPA Code of Conduct",
        "ITSPA Best Common Practice guide",
        "Code of Practice for Number Porting between ITSPA Members",
        "device provisioning security",
    ):
        assert text in page, text
    assert "CICAS" not in page


@pytest.mark.django_db
def test_static_assets_are_served_locally(client):
    page = client.get("/").content.decode()
    assert "/static/vendor/bootstrap/bootstrap.min.css" in page
    assert "cdn" not in page.lower()
    css = client.get("/static/vendor/bootstrap/bootstrap.min.css")
    assert css.status_code == 200


@pytest.mark.django_db
def test_staff_sign_in_leads_to_the_queue(client, agent):
    response = client.post(reverse("login"), {"username": "agent", "password": PASSWORD})
    assert response.status_code == 302 and response.url == "/staff/"
    assert "Case queue" in client.get("/staff/").content.decode()


@pytest.mark.django_db
def test_a_wrong_password_shows_an_error_and_signs_nobody_in(client, agent):
    response = client.post(reverse("login"), {"username": "agent", "password": "nope"})
    assert response.status_code == 200
    assert "<title>Error:" in response.content.decode()
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_the_queue_needs_sign_in_and_a_complaints_role(client, outsider):
    assert client.get("/staff/").status_code == 302
    client.force_login(outsider)
    assert client.get("/staff/").status_code == 403


@pytest.mark.django_db
def test_the_queue_shows_stage_one_cases_due_soonest_first(client, agent, file_complaint):
    import datetime as dt

    from complaints.models import Channel
    from complaints.roles import Actor

    newer = file_complaint(customer_name="Newer Customer").complaint
    older = file_complaint(
        customer_name="Older Customer",
        by=Actor.staff(agent),
        channel=Channel.PHONE,
        received_at=dt.datetime(2026, 1, 5, 9, 0, tzinfo=dt.UTC),
    ).complaint
    client.force_login(agent)
    page = client.get("/staff/").content.decode()
    assert page.index(older.reference) < page.index(newer.reference)
    assert "Overdue" in page


def test_gunicorn_warms_the_portal_in_its_master_without_opening_a_connection(tmp_path):
    """The master imports and warms the portal before forking the workers (gunicorn.conf.py). A
    socket opened there (PostgreSQL, Redis, the broker) would be shared by every worker forked
    from it, their queries and replies interleaved: the master must open none."""
    script = """
import os, runpy, types
from django.core.wsgi import get_wsgi_application
from django.template import engines
from django.urls import reverse

conf = runpy.run_path("gunicorn.conf.py")
assert conf["preload_app"] is True
get_wsgi_application()
messages = []
log = types.SimpleNamespace(info=lambda message, *args: messages.append(message % args))
conf["when_ready"](types.SimpleNamespace(log=log))
print(messages[0])
loader = engines["django"].engine.template_loaders[0]
compiled = {name for _, name in engines["jinja2"].env.cache.keys()}
print("cached", "complaints/staff/case.html" in loader.get_template_cache,
      "complaints/public/check.html" in compiled)
sockets = 0
for fd in os.listdir("/proc/self/fd"):
    try:
        sockets += os.readlink(f"/proc/self/fd/{fd}").startswith("socket:")
    except FileNotFoundError:  # the listing's own descriptor, closed since
        pass
print("sockets", sockets)
"""
    result = run_fresh(
        ["-c", script],
        DEBUG="false",
        SECRET_KEY="s" * 60,
        ALLOWED_HOSTS="example.com",
        VAR_DIR=str(tmp_path),
        DATABASE_URL="postgres://postgres@127.0.0.1:5432/postgres",  # a database that exists
        CELERY_BROKER_URL="redis://127.0.0.1:6379/15",
        CACHE_URL="rediscache://127.0.0.1:6379/14",
    )
    assert result.returncode == 0, result.stderr
    warmed, cached, sockets = result.stdout.splitlines()
    assert warmed.startswith("Warmed up before forking workers: {'templates': ")
    assert cached == "cached True True"
    assert sockets == "sockets 0"


def test_gunicorn_parses_requests_in_c_and_still_refuses_malformed_ones():
    """gunicorn_h1c is installed and gunicorn, configured by gunicorn.conf.py, uses it; a request
    that could be read two ways (a bare LF ending a header line, a NUL in a header's name) is
    refused as before, with one of gunicorn's 400 errors, and a well-formed one is read whole."""
    import runpy

    from gunicorn.config import Config
    from gunicorn.http import message
    from gunicorn.http.errors import ParseException
    from gunicorn.http.parser import RequestParser

    cfg = Config()
    for name, value in runpy.run_path(str(ROOT / "gunicorn.conf.py")).items():
        if name in cfg.settings:
            cfg.set(name, value)
    assert message._check_fast_parser(cfg) is True

    def parse(raw: bytes):
        return next(iter(RequestParser(cfg, iter([raw]), ("127.0.0.1", 5000))))

    request = parse(
        b"POST /complain/about-you/?x=1 HTTP/1.1\r\nHost: example.com\r\n"
        b"Cookie: sessionid=abc\r\nContent-Length: 3\r\n\r\na=b"
    )
    assert (request.method, request.path, request.query) == ("POST", "/complain/about-you/", "x=1")
    assert ("COOKIE", "sessionid=abc") in request.headers
    assert request.body.read() == b"a=b"
    for raw in (
        b"GET / HTTP/1.1\r\nHost: a\nX: 1\r\n\r\n",
        b"GET / HTTP/1.1\r\nba\x00z: bar\r\n\r\n",
        b"GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
    ):
        with pytest.raises(ParseException):
            parse(raw)
