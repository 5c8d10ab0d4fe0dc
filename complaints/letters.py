"""The customer's letters: acknowledgement, written reply and deadlock letter.

A letter is a Django template (``templates/letters/<kind>.html``) filled from a JSON-serialisable
context that the caller fixes when the letter is issued (dates as ISO ``YYYY-MM-DD`` strings).
``render_html`` gives the letter as a complete, accessible HTML document (it is shown on the
customer's tracking page too); ``render_pdf`` gives the same document as an A4 PDF, made by
WeasyPrint.

Everything the customer typed goes through Django's auto-escaping, so HTML in a complaint appears
as text and is never interpreted. No letter fetches anything from the network: it has no images,
its styles are inline or held here, its PDF's fonts are the project's own files (PRINT_FONT_CSS),
and WeasyPrint resolves relative URLs against the static directory only.

Speed: one ``FontConfiguration`` and one parsed print stylesheet per process, created on first
use; the PDF's type comes from the project's own cut-down fonts (``PRINT_FONT_CSS``), which
WeasyPrint subsets by HarfBuzz when ``libharfbuzz-subset`` is installed (fontTools otherwise,
which is several times slower); its streams are deflated at zlib's level 6, not 9
(``_deflate_streams``). See ``bench/bench_letters.py``.
"""

from __future__ import annotations

import atexit
import contextlib
import datetime as dt
import gc
import logging
import os
import shutil
import tempfile
import threading
import zlib
from pathlib import Path
from typing import Any, NamedTuple

from django.conf import settings
from django.template.loader import render_to_string
from django.utils import translation
from django.utils.safestring import mark_safe

KINDS = ("acknowledgement", "written_reply", "deadlock")

COMMON_KEYS = (
    "letter_date",
    "reference",
    "customer_name",
    "postal_address",
    "email",
    "received_date",
    "category_label",
    "summary",
    "signed_by",
    "signed_role",
)
REQUIRED_KEYS: dict[str, tuple[str, ...]] = {
    "acknowledgement": (
        *COMMON_KEYS,
        "response_due_date",
        "adr_eligible_date",
        "preferred_response_label",
        "adr_policy_label",
    ),
    "written_reply": (*COMMON_KEYS, "reply_text"),
    "deadlock": (
        *COMMON_KEYS,
        "final_position",
        "by_clock",
        "adr_policy_label",
        "deadlock_date",
        "cisas_deadline",
    ),
}
DATE_KEYS = frozenset(
    {
        "letter_date",
        "received_date",
        "response_due_date",
        "adr_eligible_date",
        "deadlock_date",
        "cisas_deadline",
    }
)
# Keys a letter may have, with their value when it has not (letters issued before they existed).
OPTIONAL_KEYS = {
    "nation": "",
    "stage": 1,
    "formal_complaint": "",
    "adr_eligible_date": None,
    "deadlock_follows": False,
    "deadlock_date": None,
    "cisas_deadline": None,
    "after_deadlock": "",
}
# Keys printed as one line, whatever line breaks their values hold.
ONE_LINE_KEYS = ("customer_name", "email", "signed_by", "signed_role")
# Keys that may be empty strings; every other required key must have a value.
MAY_BE_EMPTY = frozenset({"postal_address", "email", "final_position"})
ADR_POLICY_LABELS = {"56-working-days": "56 working days", "8-weeks": "8 weeks"}

# The letter's style, kept small: it is parsed for every HTML page view, and once per process for
# PDFs. Text typed by the customer or staff (the address, the complaint, the reply) wraps at the
# margin even with no spaces in it (a pasted web address, a long account number): otherwise it
# runs off the page and is cut off in the PDF. Only there: set on the whole letter, WeasyPrint's
# layout took 9 % longer. No floats or tables (the slowest things WeasyPrint lays out; a fully
# blocked letter needs neither). @page rules only apply to print: WeasyPrint, or a browser
# printing the page.
LETTER_CSS = """
@page {
  size: A4;
  margin: 16mm 20mm 20mm;
  @bottom-left { content: "Our reference: " string(reference); font-size: 7.5pt; color: #444; }
  @bottom-center {
    content: "Page " counter(page) " of " counter(pages); font-size: 7.5pt; color: #444;
  }
}
html { font: 10pt/1.4 "DejaVu Sans", sans-serif; color: #111; }
.recipient, .summary, .own-words { overflow-wrap: anywhere; }
body { margin: 0; }
@media screen {
  html { font-size: 11pt; }
  body { max-width: 44rem; margin: 2rem auto; padding: 0 1rem; }
}
address { font-style: normal; }
/* Lines broken by the text's own line breaks, not by <br> elements: WeasyPrint lays out each
   <br> as an element with generated content, and the 15 of a deadlock letter cost a tenth of
   its time, for the same lines in the same places (bench/README.md). Browsers show it the same. */
address, .letter-meta, .summary, .signed { white-space: pre-line; }
p, ul, blockquote { margin: 0 0 .6em; }
.letterhead {
  text-align: right; font-size: .8em; border-bottom: 2px solid #0b3d6b;
  padding-bottom: .4em; margin-bottom: 1.4em;
}
.letterhead-name { font-size: 1.9em; font-weight: bold; color: #0b3d6b; margin: 0; }
.recipient { margin-bottom: 1em; }
.letter-reference { string-set: reference content(); }
h1 { font-size: 1.15em; margin: 1.2em 0 .8em; }
h2 { font-size: 1em; color: #0b3d6b; margin: 1em 0 .3em; break-after: avoid; }
.key-dates { padding-left: 1.2em; }
.summary { padding-left: .8em; border-left: 3px solid #bbb; margin-left: 0; }
.contact-block { border: 1px solid #999; padding: .4em .7em; margin: 0 0 .8em; }
.contact-block, .signature, .closing { break-inside: avoid; }
.lead-in { break-after: avoid; }
.signature { margin-top: 1.2em; }
.signed-by { font-weight: bold; }
"""

# The PDF's type: DejaVu Sans, as the web page asks for, but from the project's own files
# (complaints/fonts, made by scripts/letter-fonts): its Latin, Greek and Cyrillic alphabets,
# punctuation and symbols, 2,139 of its 6,253 glyphs, with the same outlines, widths and kerning.
# WeasyPrint copies and subsets every font a letter uses afresh for each letter, and the smaller
# files take 4 % off the instructions a letter costs (callgrind, bench/README.md); they also keep
# the letters' type the same whatever fonts the machine has. A character they lack (Armenian,
# say) still comes from the machine's DejaVu Sans, as every character did before.
# tests/complaints/test_letters.py lays each letter out with these fonts and with the machine's
# DejaVu Sans and finds every box in the same place. Regular and bold only: nothing in a letter
# is in italics.
FONTS_DIR = Path(__file__).resolve().parent / "fonts"
PRINT_FONT_CSS = f"""
@font-face {{
  font-family: "Letter Sans"; font-weight: normal;
  src: url("{(FONTS_DIR / "DejaVuSans-letters.ttf").as_uri()}");
}}
@font-face {{
  font-family: "Letter Sans"; font-weight: bold;
  src: url("{(FONTS_DIR / "DejaVuSans-Bold-letters.ttf").as_uri()}");
}}
html {{ font-family: "Letter Sans", "DejaVu Sans", sans-serif; }}
"""

# The web page's own: its link back, which printing leaves out (never in the PDF's stylesheet).
WEB_PAGE_CSS = """
.letter-back { margin: 0 0 1.5rem; font-size: 1rem; }
.letter-back a { color: #0b3d6b; }
@media print { .letter-back { display: none; } }
"""

# What WeasyPrint's own user-agent stylesheet (its css/html5_ua.css, BSD licence) says of the
# elements letters are made of (LETTER_ELEMENTS) and of the two page margins LETTER_CSS fills, and
# nothing else (LETTER_CSS sets the page's own margins). WeasyPrint matches each of its rules
# against each element, the rules for what letters never hold among them (attributes such as dir,
# tables, forms, footnotes): with the collector's pause in render_pdf, 3 % of a letter's time
# (bench/README.md). tests/complaints/test_letters.py lays every kind of letter out with both
# stylesheets and finds the same boxes in the same places, with the same text and style, and the
# same PDF bookmarks: a margin box given content in LETTER_CSS needs its alignment here too.
LETTER_ELEMENTS = frozenset(
    {
        "a", "address", "blockquote", "body", "br", "div", "h1", "h2", "head", "header", "html",
        "li", "main", "meta", "nav", "p", "span", "strong", "style", "time", "title", "ul",
    }
)  # fmt: skip
LETTER_UA_CSS = r"""
head, meta, style, title { display: none }
address, blockquote, body, div, h1, h2, header, html, main, nav, p, ul { display: block }
li { display: list-item }
blockquote, p, ul { margin-top: 1em; margin-bottom: 1em }
ul ul { margin-top: 0; margin-bottom: 0 }
body { margin: 8px }
h1 { margin-top: .67em; margin-bottom: .67em }
h2 { margin-top: .83em; margin-bottom: .83em }
blockquote { margin-left: 40px; margin-right: 40px }
ul { padding-left: 40px }
html { color-scheme: light }
address { font-style: italic }
strong { font-weight: bold }
h1 { font-size: 2em; font-weight: bold }
h2 { font-size: 1.5em; font-weight: bold }
a:link { color: blue }
a:link, a:visited { text-decoration: underline }
br::before { content: "\A"; white-space: pre-line }
ul { list-style-type: disc }
ul ul { list-style-type: circle }
ul ul ul { list-style-type: square }
li::marker { font-variant-numeric: tabular-nums; white-space: pre; text-transform: none }
ul { counter-reset: list-item }
h1 { bookmark-level: 1 }
h2 { bookmark-level: 2 }
h1, h2 { bookmark-label: content(text) }
h1, h2 { hyphens: manual; break-after: avoid; break-inside: avoid }
ul { break-before: avoid }
@page {
  @bottom-left   { text-align: left;   vertical-align: middle }
  @bottom-center { text-align: center; vertical-align: middle }
}
"""


class Weasy(NamedTuple):
    """What every letter of a process is rendered with (``_weasy``)."""

    font_config: Any  # WeasyPrint's FontConfiguration
    print_css: Any  # LETTER_CSS and PRINT_FONT_CSS, parsed
    url_fetcher: Any  # refuses the network
    html: type  # WeasyPrint's HTML, with LETTER_UA_CSS for its user-agent stylesheet


_lock = threading.Lock()
# The start of the name of a process's font folder (``_weasy``), followed by its process id.
FONT_FOLDER_PREFIX = "weasyprint-complaints-"
# One reference, swapped whole: a render takes it once (render_pdf) and keeps using what it took,
# even if forget_fonts drops it from here meanwhile.
_weasy_now: Weasy | None = None


def _weasy() -> Weasy:
    """The process's FontConfiguration, parsed print stylesheet, URL fetcher and HTML class,
    created once, on first use (importing WeasyPrint loads Pango and fontconfig, which a web
    process may never need). The fetcher refuses the network: a letter may only use local files
    and data: URLs."""
    global _weasy_now
    weasy = _weasy_now
    if weasy is not None:
        return weasy
    with _lock:
        if _weasy_now is None:
            from weasyprint import CSS, HTML
            from weasyprint.text.fonts import FontConfiguration
            from weasyprint.urls import URLFetcher

            # WeasyPrint logs every rendering step at INFO; the project's root logger shows
            # INFO, so each letter would add eight lines to the worker's log. Quieten it
            # unless the logging settings chose a level for it.
            progress = logging.getLogger("weasyprint.progress")
            if progress.level == logging.NOTSET:
                progress.setLevel(logging.WARNING)
            font_config = FontConfiguration()
            # WeasyPrint makes this folder on first use, named at random; named here after the
            # process, so that a later process can tell it was left by one that was killed.
            font_config._folder = Path(
                tempfile.mkdtemp(prefix=f"{FONT_FOLDER_PREFIX}{os.getpid()}-")
            )
            url_fetcher = URLFetcher(allowed_protocols=("file", "data"))
            user_agent_css = CSS(string=LETTER_UA_CSS, font_config=font_config)

            class LetterHTML(HTML):
                def _ua_stylesheets(self, forms=False):
                    return [user_agent_css]

            print_css = CSS(
                string=LETTER_CSS + PRINT_FONT_CSS, font_config=font_config, url_fetcher=url_fetcher
            )
            _weasy_now = Weasy(font_config, print_css, url_fetcher, LetterHTML)
        return _weasy_now


def forget_fonts() -> None:
    """Drop the process's font configuration and stylesheets (the next letter makes them again).
    WeasyPrint copies the fonts of PRINT_FONT_CSS into a temporary folder of the process's own and
    deletes it when the configuration is dropped; left to the interpreter's shutdown, it found
    its own module half torn down and left the folder behind. Registered with atexit, which
    gunicorn's workers run as they stop, and so does a ``manage.py`` process stopped with SIGTERM
    (``make run``'s web server); called by Celery's pool processes as they stop
    (config/celery.py), as they end without running atexit.
    A letter being rendered meanwhile keeps what it took, and the folder with it. The collector
    runs too: a rendered letter leaves reference cycles that hold the configuration until it
    does."""
    global _weasy_now
    with _lock:
        _weasy_now = None
    gc.collect()


atexit.register(forget_fonts)


def remove_orphaned_font_folders() -> int:
    """Delete the font folders of processes that no longer exist: a process killed (SIGKILL: a
    task past its hard time limit, a gunicorn worker past its timeout, the kernel out of memory)
    deletes nothing as it goes, and leaves its copy of the fonts, some 340 KB, in the temporary
    folder. Called as web and worker processes start. A folder whose process id has been taken
    by another process since is left. Returns how many it deleted."""
    removed = 0
    folder = Path(tempfile.gettempdir())
    for path in folder.glob(f"{FONT_FOLDER_PREFIX}*-*"):
        pid = path.name.removeprefix(FONT_FOLDER_PREFIX).split("-", 1)[0]
        if not pid.isdigit() or int(pid) == os.getpid() or process_exists(int(pid)):
            continue
        shutil.rmtree(path, ignore_errors=True)
        removed += not path.exists()
    return removed


def process_exists(pid: int) -> bool:
    """Whether process ``pid`` is running (another user's counts; a zombie does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's
        return True
    # A zombie (killed, and its parent, killed with it, not yet replaced by one that collects it)
    # still answers to its id but will never use its files again.
    try:
        stat = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:  # no /proc here: alive, as far as can be told
        return True
    return stat.rsplit(b")", 1)[-1].split()[:1] != [b"Z"]


def weasyprint_document(html: str, weasy: Weasy | None = None):
    """A letter's HTML as the document WeasyPrint lays out (see LETTER_UA_CSS)."""
    weasy = weasy or _weasy()
    static_dir = next(iter(getattr(settings, "STATICFILES_DIRS", ())), None)
    return weasy.html(
        string=html, base_url=str(static_dir) if static_dir else None, url_fetcher=weasy.url_fetcher
    )


def category_about(label: str) -> str:
    """The phrase for a category, "your complaint about <this>", from its label."""
    from .models import CATEGORY_ABOUT, Category

    by_label = {Category(value).label: phrase for value, phrase in CATEGORY_ABOUT.items()}
    return by_label.get(label, label.lower())


def _as_date(key: str, value: Any) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            pass
    raise ValueError(f"letter context key {key!r} must be an ISO date (YYYY-MM-DD), got {value!r}")


def _prepare(kind: str, context: dict) -> dict:
    """Check the context against the contract for ``kind`` and return the template context."""
    if kind not in KINDS:
        raise ValueError(f"unknown letter kind {kind!r}; expected one of: {', '.join(KINDS)}")
    missing = [key for key in REQUIRED_KEYS[kind] if key not in context]
    if missing:
        raise ValueError(f"{kind} letter context is missing required key {missing[0]!r}")
    # Only the contract's keys reach the template, so a stray key cannot shadow one of ours.
    ctx = {key: context[key] for key in REQUIRED_KEYS[kind]}
    ctx.update({key: context.get(key, default) for key, default in OPTIONAL_KEYS.items()})
    ctx["adr_policy_label"] = context.get("adr_policy_label") or ADR_POLICY_LABELS.get(
        settings.ADR_CLOCK, "8 weeks"
    )
    for key in REQUIRED_KEYS[kind]:
        value = ctx[key]
        if key in DATE_KEYS:
            ctx[key] = _as_date(key, value)
        elif key == "by_clock":
            if not isinstance(value, bool):
                raise ValueError(
                    f"letter context key 'by_clock' must be true or false, not {value!r}"
                )
        elif value is None or (key not in MAY_BE_EMPTY and str(value).strip() == ""):
            raise ValueError(f"letter context key {key!r} is empty")
    for key in DATE_KEYS & OPTIONAL_KEYS.keys() - set(REQUIRED_KEYS[kind]):
        if ctx[key] is not None:
            ctx[key] = _as_date(key, ctx[key])
    if kind == "deadlock" and not ctx["by_clock"] and not str(ctx["final_position"]).strip():
        # A manager's deadlock letter without the company's final position fails the regulator's
        # checklist: refuse it rather than send it.
        raise ValueError("letter context key 'final_position' is empty and by_clock is false")
    # Letters issued before the context held the category's phrase: found from its label.
    ctx["category_about"] = context.get("category_about") or category_about(ctx["category_label"])
    ctx["postal_lines"] = [
        line.strip() for line in str(ctx["postal_address"] or "").splitlines() if line.strip()
    ]
    # One line each, as a browser shows any text: the address block and the signature keep the
    # line breaks they are given (white-space: pre-line), and a name is never split over two.
    for key in ONE_LINE_KEYS:
        ctx[key] = " ".join(str(ctx[key]).split())
    ctx["response_working_days"] = settings.RESPONSE_WORKING_DAYS
    ctx["kind"] = kind
    ctx["company"] = settings.COMPANY
    ctx["cisas"] = settings.CISAS
    # CISAS's address on one line that wraps only between its lines, never inside a postcode.
    # (No-break spaces: a nowrap <span> per line did the same at 5 % more time per letter.)
    ctx["cisas_post"] = ", ".join(line.replace(" ", "\u00a0") for line in settings.CISAS["address"])
    return ctx


def _render(kind: str, context: dict, *, inline_css: bool, back_url: str = "") -> str:
    ctx = _prepare(kind, context)
    # Our own constant, not user input: safe to put in the <style> element as it is.
    ctx["letter_css"] = mark_safe(LETTER_CSS + WEB_PAGE_CSS) if inline_css else ""  # noqa: S308
    ctx["back_url"] = back_url
    with translation.override("en-gb"):
        return render_to_string(f"letters/{kind}.html", ctx)


def render_html(kind: str, context: dict, *, back_url: str = "") -> str:
    """The letter as a complete HTML document (lang en-GB, styles inline), auto-escaped; with
    ``back_url``, a link back to the page that showed it (the web page has no other way back).

    Raises ValueError for an unknown kind, or a missing, empty or malformed required key."""
    return _render(kind, context, inline_css=True, back_url=back_url)


def render_pdf(kind: str, context: dict) -> bytes:
    """The letter as an A4 PDF (bytes), rendered by WeasyPrint without any network access."""
    # The same document, with the style given to WeasyPrint already parsed instead of inline.
    weasy = _weasy()
    document = weasyprint_document(_render(kind, context, inline_css=False), weasy)
    with _collector_paused():
        return write_pdf(lay_out(document, weasy))


def lay_out(document, weasy: Weasy | None = None, stylesheet=None):
    """A letter's document (``weasyprint_document``) laid out in pages, as ``render_pdf`` prints
    it: with the print stylesheet, or ``stylesheet`` to compare another, and the process's fonts.
    WeasyPrint's other options keep their defaults (no presentational hints, images as they are,
    compressed streams)."""
    weasy = weasy or _weasy()
    return document.render(
        stylesheets=[stylesheet or weasy.print_css], font_config=weasy.font_config
    )


def write_pdf(rendered) -> bytes:
    """A laid-out letter (``lay_out``) written as ``render_pdf`` writes it: the PDF's bytes, its
    streams deflated by ``_deflate_streams``."""
    return rendered.write_pdf(finisher=_deflate_streams)


def _deflate_streams(document, pdf) -> None:
    """WeasyPrint's finisher, called with the letter's PDF objects before they are written: each
    stream WeasyPrint asked to be compressed (the pages' drawing, the fonts, their character maps)
    deflated at zlib's level 6 instead of pydyf's level 9, which took 1.5 ms longer for 125 bytes
    less of the deadlock letter's 16 KB (bench/README.md). pydyf writes a stream whose
    ``compress`` is off as it is, with its ``Filter`` from ``extra``; ``_to_bytes`` is how pydyf
    itself joins a stream's parts (pydyf is pinned in requirements.txt). Streams pydyf makes as
    it writes (the object and cross-reference streams, 4 KB) keep level 9."""
    import pydyf

    for stream in pdf.objects:
        if isinstance(stream, pydyf.Stream) and stream.compress and "Filter" not in stream.extra:
            data = b"\n".join(pydyf._to_bytes(part) for part in stream.stream)
            stream.stream = [zlib.compress(data, 6)]
            stream.compress = False
            stream.extra["Filter"] = "/FlateDecode"


_rendering = 0  # letters being rendered in this process now (threads), under _gc_lock
_gc_was_enabled = False  # whether the collector ran before the first of them paused it
_gc_lock = threading.Lock()  # for the two above: a web worker may run threads


@contextlib.contextmanager
def _collector_paused():
    """The garbage collector off while letters render. A two-page letter makes tens of thousands
    of objects, nearly all kept until its PDF is written, and the collector's passes over them as
    they piled up were part of the 3 % this and LETTER_UA_CSS took off a letter (bench/README.md);
    its next pass after the render finds them instead. The collector is the process's: the first
    of several renders at once pauses it, and the last one out turns it back on, if it was on."""
    global _rendering, _gc_was_enabled
    with _gc_lock:
        if _rendering == 0:
            _gc_was_enabled = gc.isenabled()
            gc.disable()
        _rendering += 1
    try:
        yield
    finally:
        with _gc_lock:
            _rendering -= 1
            if _rendering == 0 and _gc_was_enabled:
                gc.enable()
