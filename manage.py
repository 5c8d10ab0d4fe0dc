#!/usr/bin/env python
import os
import signal
import sys

# With nothing configured at all, a checkout is the embedded demo (as `make run` runs it), so
# `manage.py check` and friends work in a fresh clone. Production sets these and is unaffected.
CONFIGURED = ("DEBUG", "SECRET_KEY", "SECRET_KEY_FILE", "DATABASE_URL", "DJANGO_SETTINGS_MODULE")


def _exit(signum: int, frame: object) -> None:
    sys.exit(128 + signum)


def main() -> None:
    # Stopped with SIGTERM (as `make run` stops its web server), a command ends as it would on
    # Ctrl-C, running Python's exit handlers: among them the letters' (complaints/letters.py,
    # forget_fonts), which delete WeasyPrint's temporary copy of the fonts. Python's own default
    # for SIGTERM ends the process at once and runs none of them.
    if signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _exit)
    if not any(name in os.environ for name in CONFIGURED):
        os.environ["DEBUG"] = "true"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
