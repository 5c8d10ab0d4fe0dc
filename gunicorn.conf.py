"""gunicorn settings for production: `gunicorn config.wsgi` reads this file from the working
directory. Every value can be overridden with GUNICORN_* environment variables or flags."""

import gc
import logging
import os
import traceback

from gunicorn.glogging import Logger, SafeAtoms

from config.logging import RedactSecrets, redact

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("GUNICORN_WORKERS", "4"))
threads = int(os.environ.get("GUNICORN_THREADS", "1"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = 30
keepalive = 5
# Import the portal once in the master, warm it (config/warmup.py), then fork the workers from it:
# a worker starts in milliseconds with everything loaded, instead of spending a second or more of
# CPU importing and compiling while requests wait. A release therefore restarts gunicorn (or sends
# it USR2); HUP alone reloads the settings here, not the code.
preload_app = True
# Recycle workers now and then, so a slow leak in a dependency never grows without bound. Not
# more often: a new worker costs its fork's copied pages and a new PostgreSQL backend with cold
# caches. At 2,000, a burst of web filings (800 requests a second) replaced each worker every
# 5 s, which cost 2.4 % of a filing's CPU (bench/README.md); a worker's memory stayed flat, at
# 99 MB, over 35,000 requests of the flow (bench/README.md, 6 December, midday).
max_requests = 20000
max_requests_jitter = 2000
forwarded_allow_ips = os.environ.get("GUNICORN_FORWARDED_ALLOW_IPS", "127.0.0.1")
accesslog = "-"
errorlog = "-"
# No query string and no tracking secret in the access log (see config/logging.py).
access_log_format = '%(h)s "%(m)s %(U)s" %(s)s %(B)s %(M)sms'


class RedactedAtoms(SafeAtoms):
    """The access log's values, each with tracking secrets and API tokens removed as the log format
    asks for it. gunicorn offers some sixty (every request and response header and every environ
    variable is one); the format above uses six, so only those six are redacted and escaped."""

    def __init__(self, atoms):
        dict.__init__(self, atoms)

    def __getitem__(self, key):
        value = super().__getitem__(key)
        return redact(value).replace('"', '\\"') if isinstance(value, str) else value


class RedactingLogger(Logger):
    """gunicorn's logger, with tracking secrets removed from what the access log and the error log
    write."""

    atoms_wrapper_class = RedactedAtoms
    default_format = access_log_format

    def setup(self, cfg):
        """gunicorn's, and the error log redacted as Django's logs are: it names requests too. At
        debug level gunicorn's own ``pre_request`` hook logs every request's path, and a request
        gunicorn itself fails on is logged with its URI. The filter is on the logger, so it sees
        each record once, whatever handlers gunicorn or a reload gives it; the error log has a
        record a request only at debug level."""
        super().setup(cfg)
        if not any(isinstance(f, RedactSecrets) for f in self.error_log.filters):
            self.error_log.addFilter(RedactSecrets())

    def atoms(self, resp, req, environ, request_time):
        """With the format above, only its six values. gunicorn's own builds some sixty for every
        request (each request and response header, each environ variable, the time formatted),
        which with their redaction were 4 % of a web filing's CPU. An operator's own format
        (``--access-logformat``) gets them all, redacted as before."""
        if self.cfg.access_log_format != self.default_format:
            return super().atoms(resp, req, environ, request_time)
        status = resp.status
        if isinstance(status, str):
            status = status.split(None, 1)[0]
        return {
            "h": environ.get("REMOTE_ADDR", "-"),
            "m": environ.get("REQUEST_METHOD"),
            "U": environ.get("PATH_INFO"),
            "s": status,
            "B": getattr(resp, "sent", None),
            "M": request_time.seconds * 1000 + request_time.microseconds // 1000,
        }

    def access(self, resp, req, environ, request_time):
        """One line of the access log. While gunicorn's own handler is all the access logger has
        (the settings above, or ``--access-logfile``), the line is written to that handler's stream
        directly: a log record, its formatting and the handler's locking around Python's logging
        cost more than the line itself, some 4 % of a web filing's CPU (bench/README.md, 7
        December). Any other set-up (a log configuration, syslog, a filter, an operator's format)
        goes through logging as gunicorn does it."""
        handler = self.only_access_handler()
        if handler is None:
            return super().access(resp, req, environ, request_time)
        atoms = self.atoms_wrapper_class(self.atoms(resp, req, environ, request_time))
        try:
            line = self.cfg.access_log_format % atoms
            with handler.lock:
                handler.stream.write(line + handler.terminator)
                handler.flush()
        except Exception:
            self.error(traceback.format_exc())

    def only_access_handler(self) -> logging.StreamHandler | None:
        """gunicorn's own stream or file handler, when the access log has that one and nothing
        else that would see a record: no other handler, no filter, no propagation, the default
        format, and INFO let through."""
        log = self.access_log
        if (
            self.cfg.access_log_format != self.default_format
            or len(log.handlers) != 1
            or log.filters
            or log.propagate
            or not log.isEnabledFor(logging.INFO)
        ):
            return None
        handler = log.handlers[0]
        if (
            type(handler) not in (logging.StreamHandler, logging.FileHandler)
            or not getattr(handler, "_gunicorn", False)
            or handler.filters
            or handler.level > logging.INFO
            or handler.stream is None
            or getattr(handler.formatter, "_fmt", None) != self.access_fmt
        ):
            return None
        return handler


logger_class = RedactingLogger


def when_ready(server):
    """In the master, after the preloaded import and before the first fork: load what every request
    needs, then freeze it all out of the garbage collector's way, so that the workers forked from
    here share it and never walk it (see post_worker_init)."""
    from config.warmup import warm_up

    loaded = warm_up()
    gc.collect()
    gc.freeze()
    server.log.info("Warmed up before forking workers: %s", loaded)


def post_worker_init(worker):
    """Freeze what the worker has loaded (Django, the URL conf, the apps, the templates: about
    140,000 objects, nearly all of them frozen already in the master) out of the garbage
    collector's way. A full collection walked all of them again and again, adding tens of
    milliseconds to one request in a dozen: the case page's p95 was three times its median
    (bench/bench_pages.py). Collections now walk only what requests made.
    A worker replacing one killed (past its timeout, say) deletes the font folders of killed
    processes (complaints.letters.remove_orphaned_font_folders)."""
    from complaints.letters import remove_orphaned_font_folders

    remove_orphaned_font_folders()
    gc.collect()
    gc.freeze()
