"""A Celery worker killed (SIGKILL, the whole worker and its pool) while rendering a letter.

The worker stalls at a chosen point of the render, holding the letter's row lock inside its
transaction, and is killed there: inside the render before any file exists, or after the PDF file
is written but before the row is committed. A new worker and beat are started; the periodic
re-queue finds the letter still waiting and renders it. Afterwards there is exactly one letter
row, exactly one PDF file at the name the row records, its SHA-256 matches the file, and the
acknowledgement e-mail with that PDF went out once.
"""

from __future__ import annotations

import os
import signal
import tempfile
import time
from pathlib import Path

import pytest

from complaints.letters import FONT_FOLDER_PREFIX

from .audit import assert_one_letter_and_one_email, pending
from .harness import wait_for
from .load import Journal, Visitor, file_complaint

pytestmark = pytest.mark.faults


@pytest.mark.parametrize("stall", ["in-render", "after-write"])
def test_a_worker_killed_mid_render_leaves_exactly_one_letter_after_restart(portal, stall, capsys):
    marker = portal.workdir / "rendering"
    portal.start_web()
    doomed = portal.start_worker(
        "doomed-worker",
        module="tests.faults.stalled_worker",
        FAULT_STALL=stall,
        FAULT_MARKER=str(marker),
    )
    reference = file_complaint(
        Visitor(portal.base_url, Journal(), "customer", "10.0.3.1"), "jane@example.com"
    )
    assert wait_for(marker.exists, 30), "the worker never started rendering the letter"
    stalled = int(marker.read_text())
    assert list(Path(tempfile.gettempdir()).glob(f"{FONT_FOLDER_PREFIX}{stalled}-*"))

    os.killpg(doomed.pid, signal.SIGKILL)  # the worker and its pool process, mid-render
    doomed.wait(10)
    killed_at = time.monotonic()
    rows = portal.query(
        "SELECT l.kind, l.rendered_at, l.pdf FROM complaints_letter l "
        "JOIN complaints_complaint c ON c.id = l.complaint_id WHERE c.reference = %s",
        (reference,),
    )
    assert rows == [("acknowledgement", None, "")], "the kill must leave the letter unrendered"
    left_behind = portal.letter_files()
    # The hazard the render guards against is real: the killed worker left a file behind.
    assert len(left_behind) == (1 if stall == "after-write" else 0)

    portal.start_worker()
    portal.start_beat(every=2.0)
    assert wait_for(lambda: pending(portal) == (0, 0), 40), (
        f"still waiting: {pending(portal)}\n" + portal.log_tail("worker")
    )
    recovery_seconds = time.monotonic() - killed_at
    time.sleep(6)  # more ticks of the safety net: nothing is rendered or sent again

    # The killed pool process's copy of the fonts was deleted by the new worker's processes.
    assert not list(Path(tempfile.gettempdir()).glob(f"{FONT_FOLDER_PREFIX}{stalled}-*"))
    assert_one_letter_and_one_email(portal, reference)
    with capsys.disabled():
        print(
            f"\n[worker killed {stall}] {len(left_behind)} file left by the killed worker; "
            f"letter rendered and e-mailed {recovery_seconds:.1f}s after the kill; "
            "1 letter row, 1 PDF, SHA-256 matches, 1 e-mail"
        )
