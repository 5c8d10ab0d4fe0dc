"""The Celery application and, in one place, the beat schedule that runs the procedure's clocks."""

import os

from celery import Celery
from celery.schedules import crontab
from celery.signals import setup_logging, worker_process_init, worker_process_shutdown

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("config")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@setup_logging.connect
def _logging_as_the_web_processes_log(**kwargs) -> None:
    """Workers and beat log with the settings' LOGGING, as the web processes do: one JSON object
    a line in production, tracking secrets, tokens and e-mail addresses redacted. (Without a
    receiver here Celery replaces the root logger's handlers with its own, which do neither.)"""
    from logging.config import dictConfig

    from django.conf import settings

    dictConfig(settings.LOGGING)


@worker_process_init.connect
def _remove_orphaned_letter_fonts(**kwargs) -> None:
    """A pool process that starts deletes the font folders of processes killed before they could
    (complaints.letters.remove_orphaned_font_folders): one replacing a process killed at the hard
    time limit deletes that process's."""
    from complaints import letters

    letters.remove_orphaned_font_folders()


@worker_process_shutdown.connect
def _forget_letter_fonts(**kwargs) -> None:
    """A pool process that rendered letters deletes WeasyPrint's copies of their fonts as it
    stops (complaints.letters.forget_fonts): it ends with os._exit, which runs no atexit."""
    from complaints import letters

    letters.forget_fonts()


# Each sweep is idempotent and claims its rows with a conditional update, so a second beat, a
# retried tick or two workers running the same sweep never act on a case twice.
app.conf.beat_schedule = {
    "sweep-overdue-replies": {
        "task": "escalation.tasks.sweep_overdue_replies",
        "schedule": 60.0,
    },
    "sweep-adr-clock": {
        "task": "escalation.tasks.sweep_adr_clock",
        "schedule": 60.0,
    },
    "sweep-auto-close": {
        "task": "escalation.tasks.sweep_auto_close",
        "schedule": crontab(minute="*/15"),
    },
    "sweep-remedies": {
        "task": "escalation.tasks.sweep_overdue_remedies",
        "schedule": crontab(minute="*/15"),
    },
    # The outbox's safety net: letters and e-mails whose on-commit task was lost (broker down,
    # worker killed) are picked up here.
    "render-letters": {
        "task": "complaints.tasks.render_letters",
        "schedule": 60.0,
    },
    "deliver-outbox": {
        "task": "complaints.tasks.deliver_outbox",
        "schedule": 60.0,
    },
    # Retention: personal data past RETENTION_YEARS after closure, unless held (complaints.privacy).
    "anonymise-expired": {
        "task": "complaints.tasks.anonymise_expired",
        "schedule": crontab(minute=41, hour=2),
    },
    "purge-abandoned-drafts": {
        "task": "complaints.tasks.purge_abandoned_drafts",
        "schedule": crontab(minute=17, hour=3),
    },
    # Staff sign-in records (addresses, browsers) past SIGN_IN_RECORDS_DAYS.
    "purge-sign-in-records": {
        "task": "complaints.tasks.purge_sign_in_records",
        "schedule": crontab(minute=29, hour=3),
    },
}
