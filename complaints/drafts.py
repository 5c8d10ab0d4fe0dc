"""A complaint being written: the filing flow's answers between its pages, and its evidence files.

The answers live in the visitor's session. Evidence files are checked when chosen
(``evidence.check_uploads``) and written at once to ``MEDIA_ROOT/incoming/<draft id>/<random
name>``, so a file chosen on one page is not lost when the customer goes back to change an answer.
The draft id is 128 random bits kept only in the session: no other visitor can name the folder,
and no view serves it. Sending the complaint hands the files to ``services.complaint_file``, which
checks them again and stores them with the complaint; the folder is then removed. Drafts that are
never sent are removed by ``drafts_purge_abandoned`` once their session has expired, with the
expired session itself.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import secrets
from importlib import import_module
from typing import Any

from django.conf import settings
from django.contrib.sessions.backends.base import SessionBase
from django.core.files import File
from django.core.files.storage import FileSystemStorage, default_storage
from django.db import transaction
from django.utils import timezone

from .evidence import CheckedFile

log = logging.getLogger(__name__)

SESSION_KEY = "complaint_draft"
FILED_KEY = "complaint_filed"
INCOMING = "incoming"
STEPS = ("about", "complaint", "support")


class Draft:
    """The session's draft complaint. Changes are written back to the session by ``save``."""

    def __init__(self, session: SessionBase) -> None:
        self.session = session
        data = session.get(SESSION_KEY)
        if not isinstance(data, dict) or "id" not in data:
            data = {
                "id": secrets.token_hex(16),
                "token": secrets.token_urlsafe(16),
                "answers": {},
                "files": [],
                "spam": False,
            }
        self.data: dict[str, Any] = data

    @property
    def exists(self) -> bool:
        return SESSION_KEY in self.session

    @property
    def token(self) -> str:
        return self.data["token"]

    @property
    def spam(self) -> bool:
        return bool(self.data.get("spam"))

    def mark_spam(self) -> None:
        self.data["spam"] = True

    def answers(self, step: str) -> dict[str, Any] | None:
        return self.data["answers"].get(step)

    def set_answers(self, step: str, answers: dict[str, Any]) -> None:
        self.data["answers"][step] = answers
        self.data.get("typed", {}).pop(step, None)
        self.data.get("checked", {}).pop(step, None)

    def checked(self, step: str) -> str | None:
        """The digest of what a page's answers were last found valid with (views._answers_digest),
        so that they are not checked again while nothing has changed."""
        return self.data.get("checked", {}).get(step)

    def set_checked(self, step: str, digest: str) -> None:
        self.data.setdefault("checked", {})[step] = digest

    def typed(self, step: str) -> dict[str, Any] | None:
        """What was typed on a page that came back with errors and was then left (to fix an
        earlier page, say): shown again when the customer returns to it, so nothing is typed
        twice. Not an answer until the page is sent without errors."""
        return self.data.get("typed", {}).get(step)

    def set_typed(self, step: str, typed: dict[str, Any]) -> None:
        self.data.setdefault("typed", {})[step] = typed

    def first_unanswered(self) -> str | None:
        return next((step for step in STEPS if self.answers(step) is None), None)

    @property
    def files(self) -> list[dict[str, Any]]:
        return self.data["files"]

    def add_files(self, checked: list[CheckedFile]) -> None:
        """Keep checked files in the draft's private folder, under their random names."""
        for item in checked:
            path = default_storage.save(
                f"{INCOMING}/{self.data['id']}/{item.storage_name}", item.upload
            )
            self.files.append(
                {
                    "key": item.storage_name.partition(".")[0],
                    "path": path,
                    "name": item.name,
                    "size": item.size,
                    "content_type": item.content_type,
                }
            )

    def remove_files(self, keys: set[str] | list[str]) -> None:
        keys = set(keys)
        for stored in [f for f in self.files if f["key"] in keys]:
            default_storage.delete(stored["path"])
        self.data["files"] = [f for f in self.files if f["key"] not in keys]

    def open_files(self) -> list[File]:
        """The draft's files, open for reading under the names the customer gave them. Files that
        have gone (a purge, a disk problem) are left out."""
        opened = []
        for stored in self.files:
            try:
                opened.append(File(default_storage.open(stored["path"], "rb"), name=stored["name"]))
            except FileNotFoundError:
                log.warning("draft file %s has gone", stored["path"])
        return opened

    def save(self) -> None:
        self.session[SESSION_KEY] = self.data
        self.session.modified = True

    def discard(self) -> None:
        """Forget the draft, and delete its files once the caller's transaction has committed
        (the complaint then has its own copies; if it rolls back, the draft still needs them)."""
        folder = f"{INCOMING}/{self.data['id']}"
        transaction.on_commit(lambda: _remove_folder(folder))
        self.session.pop(SESSION_KEY, None)


def _remove_folder(folder: str) -> None:
    try:
        _, names = default_storage.listdir(folder)
    except (FileNotFoundError, NotADirectoryError):
        return
    for name in names:
        default_storage.delete(f"{folder}/{name}")
    if isinstance(default_storage, FileSystemStorage):  # it leaves the empty folder behind
        with contextlib.suppress(OSError):
            os.rmdir(default_storage.path(folder))


def drafts_purge_abandoned(*, older_than: dt.timedelta | None = None) -> int:
    """Remove drafts never sent: the expired sessions that hold their answers (names, addresses,
    what went wrong), and their evidence folders once no session can still refer to them (by
    default, older than the session cookie's age). Returns how many folders went. Safe to run at
    any time and in parallel: it only deletes what no live session can use."""
    # Django leaves expired sessions in the table until something clears them.
    import_module(settings.SESSION_ENGINE).SessionStore.clear_expired()
    older_than = older_than or dt.timedelta(seconds=settings.SESSION_COOKIE_AGE)
    cutoff = timezone.now() - older_than
    try:
        folders, _ = default_storage.listdir(INCOMING)
    except FileNotFoundError:
        return 0
    removed = 0
    for folder in folders:
        path = f"{INCOMING}/{folder}"
        _, names = default_storage.listdir(path)
        times = [default_storage.get_modified_time(f"{path}/{name}") for name in names]
        if all(t < cutoff for t in times):
            _remove_folder(path)
            removed += 1
    return removed
