#!/usr/bin/env python
import os
import sys

# With nothing configured at all, a checkout is the embedded demo (as `make run` runs it), so
# `manage.py check` and friends work in a fresh clone. Production sets these and is unaffected.
CONFIGURED = ("DEBUG", "SECRET_KEY", "SECRET_KEY_FILE", "DATABASE_URL", "DJANGO_SETTINGS_MODULE")


def main() -> None:
    if not any(name in os.environ for name in CONFIGURED):
        os.environ["DEBUG"] = "true"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
