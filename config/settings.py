"""Settings for the complaints portal.

Every setting comes from the environment. With nothing set, the portal runs embedded: SQLite and a
filesystem Celery broker under ``var/``, e-mail to files, a secret key generated once and kept in
``var/``. Production sets ``DEBUG=false`` and must then provide ``SECRET_KEY`` (or
``SECRET_KEY_FILE``), ``DATABASE_URL``, ``CELERY_BROKER_URL`` and ``ALLOWED_HOSTS``. A value that
cannot be read stops the process at start with the name of the variable.
"""

from __future__ import annotations

import datetime as dt
import secrets
from pathlib import Path

import django
import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(environ.Env().str("VAR_DIR", default=str(BASE_DIR / "var")))

env = environ.Env()


def _secret(name: str, default: str | None = None) -> str | None:
    """A secret from NAME, or from the file named by NAME_FILE (Docker and systemd credentials)."""
    path = env.str(f"{name}_FILE", default="")
    if path:
        try:
            return Path(path).read_text().strip()
        except OSError as exc:
            raise ImproperlyConfigured(f"{name}_FILE={path!r} cannot be read: {exc}") from exc
    return env.str(name, default=default)


def _choice(name: str, default: str, allowed: tuple[str, ...]) -> str:
    value = env.str(name, default=default)
    if value not in allowed:
        raise ImproperlyConfigured(f"{name}={value!r} is not one of: {', '.join(allowed)}")
    return value


DEBUG = env.bool("DEBUG", default=False)

SECRET_KEY = _secret("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY (or SECRET_KEY_FILE) must be set when DEBUG is off. "
            "For the embedded demo run `make run`, which sets DEBUG=true."
        )
    # Embedded default: one key per checkout, kept so sessions survive restarts.
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    key_file = VAR_DIR / "secret_key"
    if not key_file.exists():
        key_file.write_text(secrets.token_urlsafe(50))
        key_file.chmod(0o600)
    SECRET_KEY = key_file.read_text().strip()

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_fsm",
    "crispy_forms",
    "crispy_bootstrap5",
    "rest_framework",
    "knox",  # API tokens, kept only as a hash (complaints/api_auth.py)
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "csp",
    "django_filters",
    "axes",
    "complaints",
    "escalation",
    "adr",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Before anything queries with the path or query string: PostgreSQL cannot take a NUL byte.
    "complaints.errors.RefuseNulBytesMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "config.csp.CSPMiddleware",  # django-csp's, with the settings' policy built once
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # Signs staff out after STAFF_IDLE_TIMEOUT_SECONDS without a request (needs auth and messages).
    "complaints.middleware.StaffIdleTimeoutMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_ratelimit.middleware.RatelimitMiddleware",
    # A sign-in from an address with too many failures: the lockout page (complaints/signin.py).
    "complaints.signin.AddressLockoutMiddleware",
    # Last, as django-axes asks: it turns a locked-out sign-in into its lockout response.
    "axes.middleware.AxesMiddleware",
]

AUTHENTICATION_BACKENDS = [
    # Refuses sign-in from an address with too many failures, whatever the names tried.
    "complaints.signin.AddressLimitBackend",
    # Refuses sign-in for a username locked out after repeated failures (before the password check).
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

_CONTEXT_PROCESSORS = [
    "django.template.context_processors.request",
    "django.contrib.auth.context_processors.auth",
    "django.contrib.messages.context_processors.messages",
    "complaints.context_processors.company",
]
TEMPLATES = [
    {
        # Staff pages, letters, e-mails, the admin; asked first, and it remembers what it lacks.
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {"context_processors": _CONTEXT_PROCESSORS},
    },
    {
        # The site's layout and the customers' pages, in complaints/jinja2/ (config/jinja2.py), and
        # Django's form templates for the form renderer (config/form_renderer.py).
        "NAME": "jinja2",
        "BACKEND": "django.template.backends.jinja2.Jinja2",
        "DIRS": [Path(django.__file__).parent / "forms" / "jinja2"],
        "APP_DIRS": True,
        "OPTIONS": {
            "environment": "config.jinja2.environment",
            "context_processors": _CONTEXT_PROCESSORS,
        },
    },
]
# Form widgets through Jinja2: the same markup, in less time (config/form_renderer.py).
FORM_RENDERER = "config.form_renderer.FormRenderer"

# --- HTTP security -------------------------------------------------------------------------------
# Production runs behind a TLS-terminating proxy that sets X-Forwarded-Proto; set
# SECURE_PROXY_SSL_HEADER_ENABLED=false only if the proxy does not (and then nothing may reach the
# app except through it). Every value below is on by default when DEBUG is off.
_secure = not DEBUG
if env.bool("SECURE_PROXY_SSL_HEADER_ENABLED", default=_secure):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=_secure)
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]  # load balancers probe over plain HTTP
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000 if _secure else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=_secure)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=_secure)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=_secure)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=_secure)
CSRF_COOKIE_HTTPONLY = True
CSRF_FAILURE_VIEW = "complaints.errors.csrf_failure"  # a page a customer can act on
X_FRAME_OPTIONS = "DENY"
# No inline script anywhere: every script is a file under static/. Letters shown as HTML carry
# their own small stylesheet, so inline styles are allowed; nothing else is.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}

# --- Database ---------------------------------------------------------------------------------
VAR_DIR.mkdir(parents=True, exist_ok=True)
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'portal.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The embedded run has a web process and a worker writing at once: wait for the lock instead of
    # failing, and take the write lock at BEGIN so two writers never deadlock on an upgrade.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"timeout": 20, "transaction_mode": "IMMEDIATE"}
    )
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
        # The same backend, whose health check reads the socket instead of sending SELECT 1
        # while the server has not closed the connection (config/postgresql/base.py).
        DATABASES["default"]["ENGINE"] = "config.postgresql"
        # Parameters sent apart from the statement (server-side binding), so that a statement
        # run again and again (a session's read and save, the filing's INSERTs) is prepared once
        # a connection, after its fifth run, and PostgreSQL no longer parses it each time: 13 %
        # less of PostgreSQL's CPU a web filing. Each run is still planned for its own values
        # (plan_cache_mode): a generic plan, made once for any values, read the queues' deep
        # pages in the wrong index order, 52 -> 713 ms at 1,000,000 complaints. Statements name
        # their columns (the ORM never selects *), so a migration that adds a column leaves the
        # prepared ones valid. Behind a pooler in transaction mode, set
        # DATABASE_PREPARE_THRESHOLD to "off".
        threshold = env.str("DATABASE_PREPARE_THRESHOLD", default="5")
        options = DATABASES["default"].setdefault("OPTIONS", {})
        # libpq's default is to wait for ever for a server that took the connection and says
        # nothing, and the kernel's SYN retries (over two minutes) for a host that is gone: a
        # request past gunicorn's 30 s, a worker stuck. DATABASE_URL's ?connect_timeout= wins.
        options.setdefault("connect_timeout", 5)
        options.update(
            {
                "server_side_binding": True,
                "prepare_threshold": None if threshold == "off" else int(threshold),
                # after any server options DATABASE_URL gives
                "options": f"{options.get('options', '')} -c plan_cache_mode=force_custom_plan",
            }
        )

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "/staff/"
LOGOUT_REDIRECT_URL = "/"

# --- Time -------------------------------------------------------------------------------------
LANGUAGE_CODE = "en-gb"
TIME_ZONE = "Europe/London"
USE_I18N = True
USE_TZ = True

# --- Static and uploaded files ------------------------------------------------------------------
STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env.str("STATIC_ROOT", default=str(BASE_DIR / "staticfiles")))
# Letters and evidence are personal data: kept outside the web root, served only through views
# that check access.
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(VAR_DIR / "files")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = DEBUG

# --- Cache --------------------------------------------------------------------------------------
# Rate limits count in the cache: production shares one Redis cache between web processes.
CACHES = {"default": env.cache("CACHE_URL", default="locmemcache://")}
if CACHES["default"]["BACKEND"] == "django.core.cache.backends.redis.RedisCache":
    # With Redis down the counters are skipped, not the request (config/cache.py); a Redis that
    # does not answer within a second counts as down, so no request waits on it for long.
    CACHES["default"]["BACKEND"] = "config.cache.FailSoftRedisCache"
    CACHES["default"].setdefault("OPTIONS", {}).update(
        {"socket_connect_timeout": 1, "socket_timeout": 1}
    )
RATELIMIT_VIEW = "complaints.views.rate_limited"
RATELIMIT_ENABLE = env.bool("RATELIMIT_ENABLE", default=True)
# With Redis down, customers can still complain: the limit is skipped rather than the request lost.
RATELIMIT_FAIL_OPEN = True
# Behind a proxy every request comes from the proxy's address: name the header that carries the
# client's (e.g. HTTP_X_FORWARDED_FOR, set by a proxy that overwrites it, never appends to it).
# A request without it counts against its connection's address (config/client_address.py).
CLIENT_ADDRESS_HEADER = env.str("RATELIMIT_IP_META_KEY", default="")
if CLIENT_ADDRESS_HEADER:
    RATELIMIT_IP_META_KEY = "config.client_address.from_proxy"
# The embedded demo's in-process cache is not shared between processes; that is only a demo.
SILENCED_SYSTEM_CHECKS = ["django_ratelimit.E003", "django_ratelimit.W001"] if DEBUG else []
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # The queues' covering indexes INCLUDE columns only on PostgreSQL; the demo goes without.
    SILENCED_SYSTEM_CHECKS += ["models.W040"]

# --- Staff sign-in ------------------------------------------------------------------------------
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = dt.timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=15))
# A username is locked after repeated failures from anywhere. An address is not locked by axes,
# whose limit is the same for both: colleagues share one (an office's, the proxy's), and one
# person's mistyped password must not lock them all out. An address trying many names is stopped
# after more failures than a team makes (complaints/signin.py).
AXES_LOCKOUT_PARAMETERS = ["username"]
# Its warning that addresses are not locked is answered by complaints/signin.py.
SILENCED_SYSTEM_CHECKS += ["axes.W006"]
AXES_CLIENT_IP_CALLABLE = "complaints.signin.client_ip"  # as the rate limits see it
STAFF_SIGN_IN_ADDRESS_FAILURES = env.int("STAFF_SIGN_IN_ADDRESS_FAILURES", default=30)
STAFF_SIGN_IN_ADDRESS_MINUTES = env.int("STAFF_SIGN_IN_ADDRESS_MINUTES", default=15)
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
# django-axes' records of staff sign-ins (address, browser, time) are kept this long, then a
# nightly task removes them (complaints.privacy.signin_records_purge).
SIGN_IN_RECORDS_DAYS = env.int("SIGN_IN_RECORDS_DAYS", default=365)
if SIGN_IN_RECORDS_DAYS < 1:
    raise ImproperlyConfigured("SIGN_IN_RECORDS_DAYS must be at least 1")
# Staff sessions end after this long without activity; the page warns a minute before.
STAFF_IDLE_TIMEOUT_SECONDS = env.int("STAFF_IDLE_TIMEOUT_SECONDS", default=30 * 60)
SESSION_COOKIE_HTTPONLY = True
# Django's database sessions with fewer statements per save (the filing flow saves on every page).
SESSION_ENGINE = "config.sessions"
# Messages ("Reply sent", "This page was out of date") kept in the session, which every page that
# shows or adds one has loaded already. Django's default tries a signed cookie first, and builds
# that cookie's signer on every request, a message or not: about 1 % of a web filing's CPU.
MESSAGE_STORAGE = "django.contrib.messages.storage.session.SessionStorage"

# --- E-mail -------------------------------------------------------------------------------------
EMAIL_CONFIG = env.email("EMAIL_URL", default="filemail://")
vars().update(EMAIL_CONFIG)
if EMAIL_CONFIG["EMAIL_BACKEND"] == "django.core.mail.backends.filebased.EmailBackend":
    # django-environ reads filemail:///abs/path as a relative path, so the folder is its own
    # setting: e-mails are written there, one file each, for the embedded demo.
    EMAIL_FILE_PATH = env.str("EMAIL_FILE_PATH", default=str(VAR_DIR / "mail"))
# Seconds an SMTP connection waits on the mail server. Django's default waits for ever: a server
# that takes the connection and then says nothing held a worker (and the e-mail's row lock) until
# someone restarted it, with every letter and e-mail behind it waiting too.
EMAIL_TIMEOUT = env.float("EMAIL_TIMEOUT", default=30.0)
if not EMAIL_TIMEOUT > 0:
    raise ImproperlyConfigured("EMAIL_TIMEOUT must be a number of seconds above 0")
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="support@expresstelephony.co.uk")
# Besides the CS Managers group: where overdue alerts also go (e.g. a shared mailbox).
MANAGER_ALERT_EMAILS = env.list("MANAGER_ALERT_EMAILS", default=[])
# The public address of the portal, for links in e-mails.
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000").rstrip("/")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# --- Celery -------------------------------------------------------------------------------------
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="filesystem://")
if CELERY_BROKER_URL.startswith("filesystem://"):
    # kombu's filesystem transport needs no server: the embedded run's worker and web process
    # exchange messages through these folders.
    _broker_dir = VAR_DIR / "broker"
    for _sub in ("queue", "processed", "control"):
        (_broker_dir / _sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
    }
else:
    # A message not acknowledged within an hour (its worker died) is delivered again; connecting
    # gives up quickly so a web request never hangs on a broker outage. Nor on a broker that
    # stops answering without closing the connection (a failover, a firewall's dropped state):
    # kombu's default is to wait for ever, so a filing's publish, after its complaint was
    # committed, waited until gunicorn killed the worker and the customer saw an error page.
    # Above kombu's BRPOP wait (1 s), which the workers' idle connections reply within.
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": 3600,
        "socket_connect_timeout": 2,
        "socket_timeout": env.float("CELERY_BROKER_SOCKET_TIMEOUT", default=5.0),
    }
    if not CELERY_BROKER_TRANSPORT_OPTIONS["socket_timeout"] > 1:
        raise ImproperlyConfigured("CELERY_BROKER_SOCKET_TIMEOUT must be above 1 second")
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_TASK_ACKS_LATE = True  # a worker killed mid-task leaves the message for another worker
CELERY_TASK_REJECT_ON_WORKER_LOST = True
# A task that runs too long is stopped. At the soft limit SoftTimeLimitExceeded is raised inside
# it: the transaction in hand rolls back, what earlier batches committed stays, and beat's next run
# goes on from there (every task is bounded, idempotent work that beat runs again). A task stuck
# where Python cannot raise (inside a C library) is killed at the hard limit with its pool process,
# which the worker replaces. Without them, one hung task held a worker for ever.
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=300)
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=360)
if not 0 < CELERY_TASK_SOFT_TIME_LIMIT < CELERY_TASK_TIME_LIMIT:
    raise ImproperlyConfigured(
        "CELERY_TASK_SOFT_TIME_LIMIT must be above 0 and below CELERY_TASK_TIME_LIMIT"
    )
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
# Publishing must not hang a web request when the broker is down: the outbox keeps the work.
CELERY_BROKER_CONNECTION_TIMEOUT = env.float("CELERY_BROKER_CONNECTION_TIMEOUT", default=2.0)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True

# --- The procedure's clocks ----------------------------------------------------------------------
NATIONS = ("england-and-wales", "scotland", "northern-ireland")
RESPONSE_WORKING_DAYS = env.int("RESPONSE_WORKING_DAYS", default=15)
ADR_CLOCK = _choice("ADR_CLOCK", "56-working-days", ("56-working-days", "8-weeks"))
WORKING_DAYS_NATION = _choice("WORKING_DAYS_NATION", "england-and-wales", NATIONS)
REOPEN_WEEKS = env.int("REOPEN_WEEKS", default=8)
AUTO_CLOSE_WEEKS = env.int("AUTO_CLOSE_WEEKS", default=8)
REMEDY_WORKING_DAYS = env.int("REMEDY_WORKING_DAYS", default=20)
# Who signs letters the system issues (the ADR clock's deadlock letter). Empty: the first active
# member of the CS Managers group.
CS_MANAGER_NAME = env.str("CS_MANAGER_NAME", default="")
if RESPONSE_WORKING_DAYS < 1:
    raise ImproperlyConfigured("RESPONSE_WORKING_DAYS must be at least 1")

# --- Personal data -------------------------------------------------------------------------------
# How long a closed or withdrawn complaint keeps the customer's personal data before the retention
# sweep anonymises it (unless a legal hold keeps it). Six years: the limitation period for a claim
# in contract in England and Wales.
RETENTION_YEARS = env.int("RETENTION_YEARS", default=6)
if RETENTION_YEARS < 1:
    raise ImproperlyConfigured("RETENTION_YEARS must be at least 1 (years after closure)")

# --- The company, as it appears on pages and letters -------------------------------------------
COMPANY = {
    "name": env.str("COMPANY_NAME", default="Express Telephony Limited"),
    "short_name": env.str("COMPANY_SHORT_NAME", default="Express Telephony"),
    "address": env.list(
        "COMPANY_ADDRESS",
        default=[
            "High Oak Business Centre",
            "Unit 15 / 17 Gentlemen’s Field",
            "Westmill Road",
            "SG12 0EF",
        ],
    ),
    "phone": env.str("COMPANY_PHONE", default="0800 849 3366"),
    "email": env.str("COMPANY_EMAIL", default="support@expresstelephony.co.uk"),
    "website": env.str("COMPANY_WEBSITE", default="http://www.expresstelephony.co.uk"),
}
# CISAS is run by CEDR (the Centre for Effective Dispute Resolution); these are the contact details
# CEDR publishes for it. Check them against cisas.co.uk before going live, and set the CISAS_*
# variables when they change: every deadlock letter prints them.
_CISAS_FULL_NAME = "Communications and Internet Services Adjudication Scheme"
CISAS = {
    "full_name": _CISAS_FULL_NAME,  # in running text: "CISAS, the {{ cisas.full_name }}"
    "name": f"CISAS ({_CISAS_FULL_NAME})",
    "website": env.str("CISAS_WEBSITE", default="https://cisas.co.uk/"),
    "phone": env.str("CISAS_PHONE", default="020 7520 3827"),
    "email": env.str("CISAS_EMAIL", default="cisas@cedr.com"),
    "address": env.list(
        "CISAS_ADDRESS",
        default=[
            "CISAS",
            "Centre for Effective Dispute Resolution",
            "100 St Paul's Churchyard",
            "London EC4M 8BU",
        ],
    ),
}

# --- Third-party apps ----------------------------------------------------------------------------
CRISPY_ALLOWED_TEMPLATE_PACKS = "bootstrap5"
CRISPY_TEMPLATE_PACK = "bootstrap5"

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["complaints.api_auth.TokenAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    # DRF's JSON parser, refusing bodies nested too deep to read (complaints/parsers.py).
    "DEFAULT_PARSER_CLASSES": ["complaints.parsers.JSONParser"],
    "EXCEPTION_HANDLER": "complaints.api.exception_handler",
    # Per token, counted in the shared cache: a runaway CRM integration cannot starve the rest.
    "DEFAULT_THROTTLE_CLASSES": ["rest_framework.throttling.UserRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {"user": env.str("API_THROTTLE_RATE", default="600/min")},
    "DATETIME_FORMAT": "iso-8601",
}
# `Authorization: Token <key>`, as before; the database keeps a key's SHA-512 and its first 15
# characters to find it by, never the key. Keys do not expire: staff rotate or revoke them
# (`manage.py create_api_token`); one whose account is switched off stops working at once.
REST_KNOX = {"TOKEN_TTL": None, "AUTH_HEADER_PREFIX": "Token"}
SPECTACULAR_SETTINGS = {
    "TITLE": "Complaints portal API",
    "DESCRIPTION": "Log and work complaints under the published complaints procedure. Staff "
    "only: `Authorization: Token <key>` (create one with `manage.py create_api_token USER`). "
    "Dates are Europe/London dates (YYYY-MM-DD); instants are ISO 8601.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    # Swagger UI's assets come from the drf-spectacular-sidecar package, never a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "StateEnum": "complaints.models.State",
        "CategoryEnum": "complaints.models.Category",
        "ChannelEnum": "complaints.models.Channel",
        "ResponseMethodEnum": "complaints.models.ResponseMethod",
    },
}

# Logs carry no personal data: tracking secrets, API tokens and e-mail addresses are redacted from
# every record, in the web processes and the workers (config/celery.py); services log ids and
# references, never names, addresses or complaint text.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"redact": {"()": "config.logging.RedactSecrets"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "json": {"()": "config.logging.JsonFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": _choice("LOG_FORMAT", "plain" if DEBUG else "json", ("plain", "json")),
            "filters": ["redact"],
        }
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        # Django's own handlers for these (the console while DEBUG, the admins' e-mail, the
        # development server's request lines) would write what the handler above redacts:
        # everything goes through it.
        "django": {"handlers": [], "propagate": True},
        "django.server": {"handlers": [], "propagate": True},
        "django.db.backends": {"level": "INFO"},
        # WeasyPrint and fontTools narrate every render at INFO.
        "weasyprint": {"level": "WARNING"},
        "fontTools": {"level": "WARNING"},
        "axes": {"level": "WARNING"},
    },
}
