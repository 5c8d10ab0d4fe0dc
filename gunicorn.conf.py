"""gunicorn settings for production: `gunicorn config.wsgi` reads this file from the working
directory. Every value can be overridden with GUNICORN_* environment variables or flags."""

import gc
import os

from gunicorn.glogging import Logger

from config.logging import redact

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("GUNICORN_WORKERS", "4"))
threads = int(os.environ.get("GUNICORN_THREADS", "1"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = 30
keepalive = 5
# Recycle workers now and then, so a slow leak in a dependency never grows without bound.
max_requests = 2000
max_requests_jitter = 200
forwarded_allow_ips = os.environ.get("GUNICORN_FORWARDED_ALLOW_IPS", "127.0.0.1")
accesslog = "-"
errorlog = "-"
# No query string and no tracking secret in the access log (see config/logging.py).
access_log_format = '%(h)s "%(m)s %(U)s" %(s)s %(B)s %(M)sms'


class RedactingLogger(Logger):
    """gunicorn's logger, with tracking secrets removed from what the access log writes."""

    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        return {k: redact(v) if isinstance(v, str) else v for k, v in atoms.items()}


logger_class = RedactingLogger


def post_worker_init(worker):
    """Freeze what the worker loaded at start (Django, the URL conf, the apps: about 140,000
    objects) out of the garbage collector's way. A full collection walked all of them again and
    again, adding tens of milliseconds to one request in a dozen: the case page's p95 was three
    times its median (bench/bench_pages.py). Collections now walk only what requests made."""
    gc.collect()
    gc.freeze()
