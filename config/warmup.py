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


def warm_up() -> dict[str, int]:
    """Import and compile what requests need; returns what was loaded, for the log."""
    from django.forms.renderers import get_default_renderer
    from django.template import engines
    from django.urls import get_resolver

    from complaints import calendar

    # Every view module, and the resolver's tables that reverse() and resolve() build on first use.
    resolver = get_resolver()
    resolver.url_patterns  # noqa: B018
    resolver.reverse_dict  # noqa: B018

    # The project's own pages, e-mails and letters, through the engine's cached loader.
    django_engine = engines["django"]
    root = Path(settings.BASE_DIR) / "templates"
    pages = sorted(
        path.relative_to(root).as_posix()
        for path in root.rglob("*")
        if path.is_file() and path.suffix in {".html", ".txt"}
    )
    for name in pages:
        django_engine.get_template(name)

    # The form widgets and the public questions' field groups (config/form_renderer.py).
    renderer = get_default_renderer()
    widgets = renderer.jinja2.engine.env.list_templates()
    for name in widgets:
        renderer.get_template(name)

    calendar.load_bank_holidays()

    return {"templates": len(pages), "form_templates": len(widgets)}
