"""Log records as one JSON object a line, with customers' tracking secrets and e-mail addresses
removed.

Tracking links (/track/<reference>/<secret>/) are the only credential a customer has; a secret
must never reach a log file, whether in a request line, an error message or an exception.
"""

from __future__ import annotations

import json
import logging
import re

SECRET_IN_PATH = re.compile(r"(/track/[A-Za-z0-9-]+/)[A-Za-z0-9_-]{16,}")
TOKEN_HEADER = re.compile(r"(Token\s+)[0-9a-f]{40,}", re.IGNORECASE)  # DRF's 40, knox's 64
# A customer's e-mail address (in a mail server's refusal, say) is personal data the log does not
# need: the e-mail's id says which it was.
EMAIL_ADDRESS = re.compile(r"[\w.%+-]+(?:@|%40)[\w-]+(?:\.[\w-]+)+", re.IGNORECASE)


def redact(text: str) -> str:
    # Each expression only where its pattern could match: this runs on every log record and on
    # each value of every access-log line, nearly all of which hold none of the three.
    if "/track/" in text:
        text = SECRET_IN_PATH.sub(r"\1[redacted]", text)
    if "@" in text or "%40" in text:
        text = EMAIL_ADDRESS.sub("[e-mail address]", text)
    if "token" in text.lower():
        text = TOKEN_HEADER.sub(r"\1[redacted]", text)
    return text


class RedactSecrets(logging.Filter):
    """Rewrites the message and arguments of every record that passes through a handler."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = redact(message)
        if clean != message:
            record.msg, record.args = clean, ()
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        status = getattr(record, "status_code", None)
        if status is not None:
            entry["status"] = status
        if record.exc_info:
            entry["exception"] = record.exc_text or self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)
