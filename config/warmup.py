"""Load once, before gunicorn forks its workers, what every worker would otherwise load for itself.

With ``preload_app`` (gunicorn.conf.py) the master imports the portal and calls ``warm_up()``; each
worker is then a fork that starts with the URL conf imported, the project's templates compiled
and the bank-holiday tables built, shared with the master page by page until written. A worker
that gunicorn recycles after ``max_requests`` costs a fork, not a second or two of CPU spent
importing and compiling while customers wait behind it.

Nothing here opens a connection: a database or Redis connection made before the fork would be
shared by every worker.
"""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.utils import translation


def warm_up() -> dict[str, int]:
    """Import and compile what requests need; returns what was loaded, for the log."""
    from django.forms.renderers import get_default_renderer
    from django.template import engines, loader
    from django.urls import get_resolver

    from complaints import calendar

    # Every view module, and the resolver's tables that reverse() and resolve() build on first use.
    resolver = get_resolver()
    resolver.url_patterns  # noqa: B018
    resolver.reverse_dict  # noqa: B018

    # The staff pages, e-mails and letters, through Django's engine's cached loader.
    django_engine = engines["django"]
    root = Path(settings.BASE_DIR) / "templates"
    pages = sorted(
        path.relative_to(root).as_posix()
        for path in root.rglob("*")
        if path.is_file() and path.suffix in {".html", ".txt"}
    )
    for name in pages:
        django_engine.get_template(name)

    # The layout, the customers' pages and questions, and the form widgets, in the one Jinja2
    # environment (config/jinja2.py), found as a request finds them: Django's engine is asked first,
    # and remembers that it has none of them.
    jinja2_templates = engines["jinja2"].env.list_templates()
    for name in jinja2_templates:
        loader.get_template(name)
    get_default_renderer()  # config/form_renderer.py

    calendar.load_bank_holidays()

    # The site's one language, made this thread's active one, as the workers' requests inherit it.
    # It is what Django uses when none is active, but finding none active raised and caught two
    # exceptions on each look, three looks for every reverse(): some 270 in a web filing.
    translation.activate(settings.LANGUAGE_CODE)

    return {"templates": len(pages), "jinja2_templates": len(jinja2_templates)}
