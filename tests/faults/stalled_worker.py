"""A real Celery worker whose letter rendering stalls at a chosen point, so that a test can kill
it there (SIGKILL) with the letter's row lock held and its transaction open.

``FAULT_STALL=in-render``: inside the render, before any file is written.
``FAULT_STALL=after-write``: once the PDF file is on disk, before the row is saved and committed.
``FAULT_STALL=in-render-once``: inside the first render only (of all the worker's processes).
``FAULT_STALL=in-render-stuck-once``: the same, deaf to Celery's soft time limit, as code stuck
inside a C library is (SoftTimeLimitExceeded cannot be raised until it returns to Python).
The worker writes ``FAULT_MARKER`` when it reaches the point (its process id), and beside it
``FAULT_MARKER.task-started``, when the task began (``time.time()``). Usage:
python -m tests.faults.stalled_worker worker [celery worker options]
"""

import os
import sys
import time
from pathlib import Path

from celery.exceptions import SoftTimeLimitExceeded
from celery.signals import task_prerun, worker_process_init

from config.celery import app

STALL_SECONDS = 300
_task_started = 0.0  # when this process began its current task (time.time()), as time limits count


@task_prerun.connect
def _note_the_start(**kwargs) -> None:
    global _task_started
    _task_started = time.time()


@worker_process_init.connect
def _stall_letters(**kwargs) -> None:
    from django.core.files.storage import FileSystemStorage

    from complaints import letters

    marker = Path(os.environ["FAULT_MARKER"])
    point = os.environ["FAULT_STALL"]

    once = point.endswith("-once")
    deaf = point == "in-render-stuck-once"

    def stall() -> None:
        if once and marker.exists():
            return
        letters._weasy()  # the process's copy of the fonts, which a killed process leaves behind
        Path(f"{marker}.task-started").write_text(repr(_task_started))
        marker.write_text(str(os.getpid()))
        until = time.monotonic() + STALL_SECONDS
        while (left := until - time.monotonic()) > 0:
            try:
                time.sleep(left)
            except SoftTimeLimitExceeded:
                if not deaf:
                    raise

    if point in ("in-render", "in-render-once", "in-render-stuck-once"):
        render_pdf = letters.render_pdf

        def stalled_render(*args, **kwargs):
            stall()
            return render_pdf(*args, **kwargs)

        letters.render_pdf = stalled_render
    elif point == "after-write":
        save = FileSystemStorage._save

        def stalled_save(self, name, content):
            saved = save(self, name, content)
            if saved.startswith("letters/"):
                stall()
            return saved

        FileSystemStorage._save = stalled_save
    else:
        raise ValueError(f"FAULT_STALL={point!r}")


if __name__ == "__main__":
    app.worker_main(sys.argv[1:])
