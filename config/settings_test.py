"""Test settings: the real PostgreSQL and Redis on 127.0.0.1, never the embedded SQLite file."""

import os

os.environ.setdefault("SECRET_KEY", "test-only-not-secret")
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/complaints")
os.environ.setdefault("CELERY_BROKER_URL", "redis://127.0.0.1:6379/15")
# Rate limits and lockouts count in a real shared cache, as in production.
os.environ.setdefault("CACHE_URL", "rediscache://127.0.0.1:6379/14")
os.environ.setdefault("VAR_DIR", "/tmp/complaints-test-var")  # noqa: S108 (test scratch)

from .settings import *  # noqa: F403
from .settings import DATABASES

if DATABASES["default"]["ENGINE"] != "config.postgresql":  # PostgreSQL, see settings.py
    raise RuntimeError(
        "The test suite runs on PostgreSQL only; set DATABASE_URL to a postgres:// URL."
    )

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
MEDIA_ROOT = VAR_DIR / "files"  # noqa: F405
STORAGES["staticfiles"] = {  # noqa: F405
    "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
}
WHITENOISE_USE_FINDERS = True
STATIC_ROOT = VAR_DIR / "static"  # noqa: F405
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
DATABASES["default"]["CONN_MAX_AGE"] = 0
# The test client and the live server speak plain HTTP; production's HTTPS settings are checked by
# `check --deploy` in a subprocess with production settings (tests/test_security_settings.py).
SECURE_SSL_REDIRECT = False
SESSION_COOKIE_SECURE = False
CSRF_COOKIE_SECURE = False
SECURE_HSTS_SECONDS = 0
ALLOWED_HOSTS = ["testserver", "localhost", "127.0.0.1"]
