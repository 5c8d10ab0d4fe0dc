"""Production settings (``config.settings``, DEBUG off, every value from the environment), except
that static files are served from the source folders: ``collectstatic`` with compression takes
longer than any fault scenario, and no fault touches static files."""

from config.settings import *  # noqa: F403
from config.settings import STORAGES

STORAGES = {
    **STORAGES,
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True
