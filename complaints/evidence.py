"""Evidence files: what a customer or agent may attach, checked by content as well as by name.

Allowed: PDF, images (PNG, JPEG, GIF, WebP, HEIC), plain text and CSV, and office documents (Word,
Excel, PowerPoint, OpenDocument). At most 10 MB each and 5 at a time. Names are reduced to a safe
form (no folders, no control characters); files are stored under a random name outside the web
root and served only through views that check access.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
import uuid
from dataclasses import dataclass
from pathlib import PurePosixPath

from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile

MAX_BYTES = 10 * 1024 * 1024
MAX_FILES = 5

ZIP = (b"PK\x03\x04",)
OLE = (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",)
# extension -> (content type, the bytes the file must start with; None: checked as text)
ALLOWED: dict[str, tuple[str, tuple[bytes, ...] | None]] = {
    "pdf": ("application/pdf", (b"%PDF-",)),
    "png": ("image/png", (b"\x89PNG\r\n\x1a\n",)),
    "jpg": ("image/jpeg", (b"\xff\xd8\xff",)),
    "jpeg": ("image/jpeg", (b"\xff\xd8\xff",)),
    "gif": ("image/gif", (b"GIF87a", b"GIF89a")),
    "webp": ("image/webp", (b"RIFF",)),
    "heic": ("image/heic", None),
    "txt": ("text/plain", None),
    "csv": ("text/csv", None),
    "doc": ("application/msword", OLE),
    "xls": ("application/vnd.ms-excel", OLE),
    "ppt": ("application/vnd.ms-powerpoint", OLE),
    "docx": ("application/vnd.openxmlformats-officedocument.wordprocessingml.document", ZIP),
    "xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", ZIP),
    "pptx": ("application/vnd.openxmlformats-officedocument.presentationml.presentation", ZIP),
    "odt": ("application/vnd.oasis.opendocument.text", ZIP),
    "ods": ("application/vnd.oasis.opendocument.spreadsheet", ZIP),
}
ALLOWED_LABEL = "PDF, image (JPG, PNG, GIF, WebP, HEIC), text (TXT, CSV) or office document"
ACCEPT_ATTRIBUTE = ",".join(f".{ext}" for ext in ALLOWED)


@dataclass(frozen=True)
class CheckedFile:
    upload: UploadedFile
    name: str  # the safe name shown to people
    content_type: str
    size: int
    sha256: str
    storage_name: str  # where it is kept: random, never derived from the customer's name


def safe_name(name: str) -> str:
    """A file name safe to show and to offer for download: no folders, no control characters."""
    name = unicodedata.normalize("NFKC", name or "")
    name = PurePosixPath(name.replace("\\", "/")).name
    name = "".join(c for c in name if unicodedata.category(c)[0] != "C")
    name = re.sub(r"[^\w.\- ()]+", "_", name).strip(" ._")
    if len(name) > 120:
        stem, dot, ext = name.rpartition(".")
        name = (stem[: 110 - len(ext)] + dot + ext) if dot else name[:120]
    return name or "file"


def _looks_like_text(head: bytes) -> bool:
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        # A multi-byte character cut at the end of the sample is still text.
        if exc.start < len(head) - 4:
            return False
    return b"\x00" not in head


def check_upload(upload: UploadedFile, field: str = "files") -> CheckedFile:
    """Accept one upload or raise ValidationError saying exactly what is wrong with it."""
    name = safe_name(upload.name)
    shown = upload.name if len(upload.name or "") <= 80 else name
    ext = name.rpartition(".")[2].lower() if "." in name else ""
    if ext not in ALLOWED:
        raise ValidationError({field: f"“{shown}” must be a {ALLOWED_LABEL}."})
    if upload.size is None or upload.size == 0:
        raise ValidationError({field: f"“{shown}” is empty."})
    if upload.size > MAX_BYTES:
        raise ValidationError({field: f"“{shown}” must be smaller than 10 MB."})
    content_type, magic = ALLOWED[ext]
    upload.seek(0)
    head = upload.read(4096)
    if magic is None:
        ok = ext == "heic" and head[4:12] in (b"ftypheic", b"ftypheix", b"ftypmif1")
        ok = ok or (ext != "heic" and _looks_like_text(head))
    else:
        ok = any(head.startswith(m) for m in magic)
        if ext == "webp":
            ok = ok and head[8:12] == b"WEBP"
    if not ok:
        raise ValidationError({field: f"“{shown}” is not a real .{ext} file."})
    digest = hashlib.sha256()
    upload.seek(0)
    for chunk in upload.chunks():
        digest.update(chunk)
    upload.seek(0)
    return CheckedFile(
        upload=upload,
        name=name,
        content_type=content_type,
        size=upload.size,
        sha256=digest.hexdigest(),
        storage_name=f"{uuid.uuid4().hex}.{ext}",
    )


def check_uploads(uploads: list[UploadedFile], field: str = "files") -> list[CheckedFile]:
    if len(uploads) > MAX_FILES:
        raise ValidationError({field: f"Choose {MAX_FILES} files or fewer."})
    checked, problems = [], []
    for upload in uploads:  # every file's problem at once, not only the first one's
        try:
            checked.append(check_upload(upload, field))
        except ValidationError as exc:
            problems.extend(exc.message_dict[field])
    if problems:
        raise ValidationError({field: problems})
    return checked
