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

import sys
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.validators import validate_email
from django.utils import formats, translation
from django.utils.functional import SimpleLazyObject


def warm_up() -> dict[str, int]:
    """Import and compile what requests need; returns what was loaded, for the log."""
    from django.forms.renderers import get_default_renderer
    from django.template import engines, loader
    from django.urls import get_resolver

    from complaints import calendar

    # Every view module, and the resolver's tables that reverse() and resolve() build on first use
    # (building them compiles each address's regular expression).
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
    jinja2_env = engines["jinja2"].env
    jinja2_templates = jinja2_env.list_templates()
    for name in jinja2_templates:
        loader.get_template(name)
        # And as Jinja2's own {% extends %} and {% include %} find them: "base.html" is a name in
        # both engines, so the loop above finds Django's, and the customers' pages extend Jinja2's.
        jinja2_env.get_template(name)
    get_default_renderer()  # config/form_renderer.py

    calendar.load_bank_holidays()

    # What the first request of each worker would import and set up for itself, each time gunicorn
    # recycles a worker (every ``max_requests``): the cache's and the broker's client libraries,
    # Celery's publishing side, the context processors, the messages and session classes. Imports
    # and objects only; no connection is opened.
    _import_first_use()
    # Django compiles its validators' regular expressions on first use: the e-mail address's take
    # some 25 ms.
    validate_email("warm-up@example.com")

    # The site's one language, made this thread's active one, as the workers' requests inherit it.
    # It is what Django uses when none is active, but finding none active raised and caught two
    # exceptions on each look, three looks for every reverse(): some 270 in a web filing.
    translation.activate(settings.LANGUAGE_CODE)
    formats.get_format("DATE_INPUT_FORMATS")  # imports the language's formats, once

    patterns = _compile_lazy_patterns()
    _headers_without_exceptions()

    return {
        "templates": len(pages),
        "jinja2_templates": len(jinja2_templates),
        "lazy_patterns": patterns,
    }


def _import_first_use() -> None:
    from django.core.cache.backends.redis import RedisCache
    from django.template import engines
    from django.utils.module_loading import import_module, import_string
    from kombu.transport import resolve_transport

    from config.celery import app

    if issubclass(import_string(settings.CACHES["default"]["BACKEND"]), RedisCache):
        import redis  # noqa: F401 (imported by RedisCacheClient on first use)
    import_string(settings.MESSAGE_STORAGE)
    import_string(settings.SESSION_SERIALIZER)
    for engine in engines.all():
        getattr(engine, "engine", engine).template_context_processors  # noqa: B018 (imports them)
    # Celery: the tasks bound to the app, the publishing machinery, the broker's transport class.
    app.finalize(auto=True)
    app.amqp  # noqa: B018
    import_module("celery.app.events")
    import_module("celery.events.dispatcher")
    import_module("celery.result")
    with app.connection_for_write() as connection:  # not connected: names its transport
        resolve_transport(connection.transport_cls)


def _compile_lazy_patterns() -> int:
    """Compile now the regular expressions Django's modules compile on first use, and put the
    compiled pattern where the lazy one was.

    Django wraps them (``django.utils.regex_helper._lazy_re_compile``) so that importing a module
    compiles nothing it may never use. Every call through the wrapper (``pattern.match(...)``)
    raises and catches an AttributeError before it reaches the pattern: a signature checked, a
    host name split, a Cache-Control header patched, a date formatted, some 90 times in a web
    filing. A compiled pattern is what the wrapper stands for; only wrappers made by
    ``_lazy_re_compile`` are replaced, in the globals and the classes of modules loaded by now."""
    replaced = 0
    for module_name, module in list(sys.modules.items()):
        if module is None or not module_name.startswith("django."):
            continue
        owners: list[Any] = [module]
        owners += [
            value
            for value in vars(module).values()
            # type(), not isinstance(): isinstance() asks a lazy object (the default storage, the
            # messages' level tags) for its __class__, which would load it here.
            if issubclass(type(value), type) and value.__module__ == module_name
        ]
        for owner in owners:
            for name, value in list(vars(owner).items()):
                if type(value) is not SimpleLazyObject:
                    continue
                made_by = getattr(value.__dict__.get("_setupfunc"), "__qualname__", "")
                if made_by != "_lazy_re_compile.<locals>._compile":
                    continue
                setattr(owner, name, value.__dict__["_setupfunc"]())
                replaced += 1
    return replaced


def _headers_without_exceptions() -> None:
    """``name in response.headers`` and ``response.headers.get(name)``, answered by a look in
    the headers' dict. A response's headers (``ResponseHeaders``) take both from ``Mapping``,
    which asks for the header and catches the KeyError of one that is not there: the middleware
    asks for ten headers a response that are not (Content-Security-Policy, X-Frame-Options,
    Vary, ...), some 90 exceptions raised and caught in a web filing. The same answers for any
    key, as ``ResponseHeaders`` looks a header up by its lower-cased name and nothing else. A
    request's headers (``HttpHeaders``) are left as they are: they also find "user_agent" as
    "User-Agent"."""
    from django.http.response import ResponseHeaders

    def __contains__(self, key: str) -> bool:
        return key.lower() in self._store

    def get(self, key: str, default: Any = None) -> Any:
        found = self._store.get(key.lower())
        return default if found is None else found[1]

    ResponseHeaders.__contains__ = __contains__
    ResponseHeaders.get = get
