"""A real Celery worker whose letter rendering stalls at a chosen point, so that a test can kill
it there (SIGKILL) with the letter's row lock held and its transaction open.

``FAULT_STALL=in-render``: inside the render, before any file is written.
``FAULT_STALL=after-write``: once the PDF file is on disk, before the row is saved and committed.
The worker writes ``FAULT_MARKER`` when it reaches the point. Usage:
python -m tests.faults.stalled_worker worker [celery worker options]
"""

import os
import sys
import time
from pathlib import Path

from celery.signals import worker_process_init

from config.celery import app

STALL_SECONDS = 300


@worker_process_init.connect
def _stall_letters(**kwargs) -> None:
    from django.core.files.storage import FileSystemStorage

    from complaints import letters

    marker = Path(os.environ["FAULT_MARKER"])
    point = os.environ["FAULT_STALL"]

    def stall() -> None:
        marker.write_text(str(os.getpid()))
        time.sleep(STALL_SECONDS)

    if point == "in-render":
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
