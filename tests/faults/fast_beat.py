"""``celery beat`` with the project's schedule, except that the outbox's safety net (the letter
render sweep and the e-mail delivery) runs every few seconds instead of every minute, so a fault
test sees the recovery within its time limit. Usage: python -m tests.faults.fast_beat SECONDS FILE
"""

import sys

from config.celery import app

if __name__ == "__main__":
    every, schedule_file = float(sys.argv[1]), sys.argv[2]
    for name in ("render-letters", "deliver-outbox"):
        app.conf.beat_schedule[name]["schedule"] = every
    app.start(["beat", "--loglevel", "INFO", "--schedule", schedule_file])
