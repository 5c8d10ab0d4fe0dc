"""End to end through a real Celery worker on the real Redis, and with Redis stopped."""

from __future__ import annotations

import subprocess
import time

import pytest
from celery.contrib.testing.worker import start_worker
from django.core import mail

from complaints import outbox, services
from complaints.models import Letter, OutboundEmail, State
from complaints.roles import Actor
from complaints.tasks import deliver_outbox
from config.celery import app
from tests.conftest import fresh, wait_for

pytestmark = pytest.mark.django_db(transaction=True)


def redis_ping() -> bool:
    result = subprocess.run(
        ["redis-cli", "-h", "127.0.0.1", "-p", "6379", "ping"], capture_output=True, text=True
    )
    return result.stdout.strip() == "PONG"


@pytest.fixture
def redis_stopped():
    """Stop the real Redis for the test, and always start it again (empty, as it runs here)."""
    subprocess.run(["redis-cli", "-h", "127.0.0.1", "-p", "6379", "shutdown", "nosave"])
    assert wait_for(lambda: not redis_ping(), 10), "Redis did not stop"
    try:
        yield
    finally:
        subprocess.run(
            [
                "redis-server",
                "--daemonize",
                "yes",
                "--bind",
                "127.0.0.1",
                "--port",
                "6379",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            check=True,
        )
        assert wait_for(redis_ping, 20), "Redis did not come back"


def test_a_real_worker_renders_the_letter_and_sends_the_email(file_complaint):
    app.control.purge()
    outbox.run_started("complaints.tasks.deliver_outbox")  # purged: no delivery run waits now
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=20):
        filed = file_complaint()
        letter = Letter.objects.get(complaint=filed.complaint)
        assert wait_for(lambda: Letter.objects.get(pk=letter.pk).is_rendered)
        assert wait_for(lambda: OutboundEmail.objects.get(complaint=filed.complaint).sent_at)
    (message,) = mail.outbox
    assert message.attachments[0][0] == f"{filed.complaint.reference}-acknowledgement.pdf"


def test_with_redis_down_filing_and_escalating_succeed_and_the_mail_waits(
    file_complaint, redis_stopped
):
    started = time.monotonic()
    filed = file_complaint()
    services.complaint_escalate(complaint=filed.complaint, by=Actor.customer(), reason="Unhappy")
    assert time.monotonic() - started < 10, "a broker outage must not hang the request"
    assert fresh(filed.complaint).state == State.CS_MANAGER
    waiting = OutboundEmail.objects.filter(complaint=filed.complaint, sent_at__isnull=True)
    assert waiting.count() == 2
    assert mail.outbox == []


def test_once_redis_is_back_the_periodic_delivery_sends_each_email_exactly_once(
    file_complaint, redis_stopped
):
    filed = file_complaint()
    services.complaint_escalate(complaint=filed.complaint, by=Actor.customer())
    # Redis comes back when the fixture ends; simulate the beat's next ticks now, twice over.
    assert deliver_outbox.apply().get() == 2
    assert deliver_outbox.apply().get() == 0
    assert outbox.email_deliver_due() == 0
    assert sorted(m.subject.split(" ")[0] for m in mail.outbox) == ["We", "Your"]
    assert not OutboundEmail.objects.filter(sent_at__isnull=True).exists()
