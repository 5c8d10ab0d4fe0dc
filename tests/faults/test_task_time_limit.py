"""A Celery task that runs past its time limit is stopped, and the next run does its work.

A real worker (prefork, limits of 3 s soft and 6 s hard) stalls in the first letter it renders,
the acknowledgement of a complaint a customer files. Soft: Celery raises SoftTimeLimitExceeded
inside the task, whose transaction rolls back; the pool process lives on. Hard: the stall is deaf
to that (as code inside a C library is), and at the hard limit the worker kills the pool process
and starts another. Either way the row locks are released, a later run renders the letter, and
the customer is e-mailed it once: one letter row, one PDF, one e-mail.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import pytest

from complaints.letters import FONT_FOLDER_PREFIX, process_exists

from .audit import assert_one_letter_and_one_email, pending
from .harness import wait_for
from .load import Journal, Visitor, file_complaint

pytestmark = pytest.mark.faults


def font_folders(pid: int) -> list[Path]:
    return list(Path(tempfile.gettempdir()).glob(f"{FONT_FOLDER_PREFIX}{pid}-*"))


@pytest.mark.parametrize("limit", ["soft", "hard"])
def test_a_task_past_its_time_limit_is_stopped_and_a_later_run_does_its_work(portal, limit, capsys):
    marker = portal.workdir / "rendering"
    portal.start_web()
    portal.start_worker(
        module="tests.faults.stalled_worker",
        FAULT_STALL="in-render-once" if limit == "soft" else "in-render-stuck-once",
        FAULT_MARKER=str(marker),
        CELERY_TASK_SOFT_TIME_LIMIT="3",
        CELERY_TASK_TIME_LIMIT="6",
    )
    portal.start_beat(every=2.0)
    reference = file_complaint(
        Visitor(portal.base_url, Journal(), "customer", "10.0.4.1"), "jane@example.com"
    )
    assert wait_for(marker.exists, 30), "the worker never started rendering the letter"
    stalled = int(marker.read_text())
    # Time limits count from the task's start, a moment before the stall begins.
    task_started = float(marker.with_name(f"{marker.name}.task-started").read_text())

    assert wait_for(lambda: pending(portal)[0] == 0, 30), (
        "the letter was never rendered:\n" + portal.log_tail("worker")
    )
    rendered_after = time.time() - task_started
    log = portal.log_tail("worker", 50000)
    if limit == "soft":
        assert "Soft time limit (3s) exceeded" in log, log[-3000:]
        assert process_exists(stalled), "the soft limit must not kill the pool process"
        assert rendered_after < 15
    else:
        assert "Hard time limit (6s) exceeded" in log, log[-3000:]
        assert wait_for(lambda: not process_exists(stalled), 5), (
            "the stuck pool process was not killed"
        )
        assert 6 <= rendered_after < 20
        # Its copy of the fonts, which it could not delete, was deleted by its replacement.
        assert not font_folders(stalled)
    # Stopped while sending it, the e-mail waits a minute's backoff: as if the minute had passed.
    portal.postgres.execute(
        "UPDATE complaints_outboundemail SET next_attempt_at = now() WHERE sent_at IS NULL",
        portal.database,
    )
    assert wait_for(lambda: pending(portal) == (0, 0), 30), (
        f"still waiting: {pending(portal)}\n" + portal.log_tail("worker")
    )
    time.sleep(4)  # more ticks of the safety net: nothing is rendered or sent again

    assert_one_letter_and_one_email(portal, reference)
    with capsys.disabled():
        print(
            f"\n[task past its {limit} time limit] letter rendered {rendered_after:.1f}s after "
            "its task started; 1 letter row, 1 PDF, SHA-256 matches, 1 e-mail"
        )
