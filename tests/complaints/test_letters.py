"""The customer's letters, read back from the PDF the way a regulator (or the customer) reads them.

These render templates and PDFs only: no database.
"""

from __future__ import annotations

import contextlib
import io
import zlib
from pathlib import Path

import pytest
from django.conf import settings
from pypdf import PdfReader

from complaints import letters
from complaints.models import CATEGORY_ABOUT, Category
from tests.conftest import wait_for

REFERENCE = "CMP-2026-000123"
ADDRESS = "Flat 2, 14 Mill Lane\nHertford\nSG14 1AB"
FINAL_POSITION = (
    "We have refunded the duplicate charge of £12.50 to your account.\n\n"
    "We do not agree that compensation for the outage is due."
)
REPLY_TEXT = (
    "We have checked your bill and found the duplicate charge.\n\n"
    "We have refunded £12.50; it will reach your account within five working days."
)
SCRIPT = "<script>alert(1)</script>"


def common_context() -> dict:
    return {
        "letter_date": "2026-11-25",
        "reference": REFERENCE,
        "customer_name": "Jane O'Brien",
        "postal_address": ADDRESS,
        "email": "jane@example.com",
        "received_date": "2026-11-02",
        "category_label": "Billing",
        "summary": "I was charged twice for October.\n\nPlease refund the second charge.",
        "signed_by": "Priya Shah",
        "signed_role": "Customer Services Manager",
    }


def deadlock_context(**changes) -> dict:
    return {
        **common_context(),
        "final_position": FINAL_POSITION,
        "by_clock": False,
        "adr_policy_label": "56 working days",
        "deadlock_date": "2026-11-25",
        "cisas_deadline": "2027-11-25",
        **changes,
    }


def acknowledgement_context(**changes) -> dict:
    return {
        **common_context(),
        "letter_date": "2026-11-02",
        "signed_by": "Customer Services Team",
        "signed_role": "Customer Services Team",
        "response_due_date": "2026-11-23",
        "adr_eligible_date": "2027-01-22",
        "preferred_response_label": "Written reply",
        "adr_policy_label": "56 working days",
        **changes,
    }


def written_reply_context(**changes) -> dict:
    return {**common_context(), "reply_text": REPLY_TEXT, **changes}


CONTEXTS = {
    "acknowledgement": acknowledgement_context,
    "written_reply": written_reply_context,
    "deadlock": deadlock_context,
}


def flat(text: str) -> str:
    """pypdf splits lines where the PDF does: compare text with all whitespace as single spaces."""
    return " ".join(text.split())


def pdf_pages(pdf: bytes) -> list[str]:
    return [flat(page.extract_text()) for page in PdfReader(io.BytesIO(pdf)).pages]


def pdf_text_lines(pdf: bytes) -> list[str]:
    """The PDF's text, line by line as the PDF sets it, each line stripped."""
    return [
        line.strip()
        for page in PdfReader(io.BytesIO(pdf)).pages
        for line in page.extract_text().splitlines()
    ]


def pdf_text(pdf: bytes) -> str:
    return " ".join(pdf_pages(pdf))


@pytest.fixture(scope="module")
def deadlock_pdf() -> bytes:
    return letters.render_pdf("deadlock", deadlock_context())


@pytest.fixture(scope="module")
def deadlock_text(deadlock_pdf) -> str:
    return pdf_text(deadlock_pdf)


# --- The deadlock letter: what the regulator checks -------------------------------------------


def test_the_deadlock_letter_is_an_a4_pdf(deadlock_pdf):
    assert deadlock_pdf.startswith(b"%PDF-")
    page = PdfReader(io.BytesIO(deadlock_pdf)).pages[0]
    assert float(page.mediabox.width) == pytest.approx(595.28, abs=1)
    assert float(page.mediabox.height) == pytest.approx(841.89, abs=1)


def test_the_deadlock_letter_says_what_it_is(deadlock_text):
    assert "Deadlock letter: our final response to your complaint" in deadlock_text


def test_the_deadlock_letter_gives_the_companys_name_address_and_contact_details(deadlock_text):
    company = settings.COMPANY
    assert company["name"] in deadlock_text
    for line in company["address"]:
        assert flat(line) in deadlock_text
    assert company["phone"] in deadlock_text
    assert company["email"] in deadlock_text
    assert company["website"] in deadlock_text


def test_the_deadlock_letter_is_dated_in_british_long_form(deadlock_text):
    assert "Date: 25 November 2026" in deadlock_text


def test_the_deadlock_letter_is_addressed_to_the_customer(deadlock_text):
    assert "Jane O'Brien" in deadlock_text
    for line in ADDRESS.splitlines():
        assert line in deadlock_text
    assert "Dear Jane O'Brien," in deadlock_text


def test_the_deadlock_letter_gives_the_reference_and_the_date_the_complaint_was_received(
    deadlock_text,
):
    assert f"Our reference: {REFERENCE}" in deadlock_text
    assert "Complaint received: 2 November 2026" in deadlock_text


def test_the_deadlock_letter_summarises_the_complaint(deadlock_text):
    assert "I was charged twice for October." in deadlock_text
    assert "Please refund the second charge." in deadlock_text


def test_the_deadlock_letter_gives_the_companys_final_position(deadlock_text):
    assert "Our final position" in deadlock_text
    for paragraph in FINAL_POSITION.split("\n\n"):
        assert paragraph in deadlock_text
    assert "have now passed" not in deadlock_text


def test_the_deadlock_letter_tells_the_customer_cisas_is_free(deadlock_text):
    assert "CISAS" in deadlock_text
    assert "free of charge" in deadlock_text
    assert "CISAS, the Communications and Internet Services Adjudication Scheme." in deadlock_text


def test_the_deadlock_letter_gives_cisas_contact_details(deadlock_text):
    cisas = settings.CISAS
    assert cisas["name"] in deadlock_text
    assert cisas["website"] in deadlock_text
    assert cisas["phone"] in deadlock_text
    assert cisas["email"] in deadlock_text
    assert ", ".join(cisas["address"]) in deadlock_text


def test_the_deadlock_letter_says_cisas_accepts_the_complaint_for_12_months(deadlock_text):
    assert "CISAS will accept your complaint until 25 November 2027" in deadlock_text
    assert "12 months from the date of this deadlock letter" in deadlock_text
    assert "Refer to CISAS by: 25 November 2027" in deadlock_text


def test_the_deadlock_letter_says_court_action_remains_open(deadlock_text):
    assert "Court action also remains open to you" in deadlock_text
    assert "independent legal advice" in deadlock_text
    assert "small claims" in deadlock_text


def test_the_deadlock_letter_is_signed_by_the_manager(deadlock_text):
    assert "Yours sincerely, Priya Shah Customer Services Manager" in deadlock_text


def test_the_deadlock_letter_numbers_its_pages(deadlock_pdf):
    pages = pdf_pages(deadlock_pdf)
    assert f"Page 1 of {len(pages)}" in pages[0]
    assert f"Our reference: {REFERENCE}" in pages[-1]


@pytest.mark.parametrize("label", ["56 working days", "8 weeks"])
def test_a_deadlock_letter_issued_by_the_clock_says_the_adr_period_has_passed(label):
    context = deadlock_context(by_clock=True, final_position="", adr_policy_label=label)
    text = pdf_text(letters.render_pdf("deadlock", context))
    assert (
        f"{label} have now passed since we first received your complaint on 2 November 2026"
    ) in text
    assert "and it has not been resolved" in text
    assert "you may now take your complaint to alternative dispute resolution (ADR)" in text
    assert "free of charge" in text
    assert "CISAS will accept your complaint until 25 November 2027" in text


def test_a_deadlock_letter_issued_by_the_clock_can_still_give_a_final_position():
    context = deadlock_context(by_clock=True, adr_policy_label="8 weeks")
    text = pdf_text(letters.render_pdf("deadlock", context))
    assert "8 weeks have now passed" in text
    assert "We do not agree that compensation for the outage is due." in text


def test_a_managers_deadlock_letter_without_a_final_position_is_refused():
    with pytest.raises(ValueError, match="final_position"):
        letters.render_html("deadlock", deadlock_context(final_position="  "))


def test_a_letter_signed_by_a_role_does_not_repeat_it():
    context = deadlock_context(
        by_clock=True,
        final_position="",
        signed_by="Customer Services Manager",
        signed_role="Customer Services Manager",
    )
    text = pdf_text(letters.render_pdf("deadlock", context))
    assert "Customer Services Manager Customer Services Manager" not in text
    assert f"Yours sincerely, Customer Services Manager {settings.COMPANY['name']}" in text


# --- The acknowledgement and the written reply --------------------------------------------------


def test_the_acknowledgement_gives_the_reply_date_and_the_cisas_date():
    text = pdf_text(letters.render_pdf("acknowledgement", acknowledgement_context()))
    assert "We received your complaint on 2 November 2026 about your bill" in text
    assert "We aim to reply by 23 November 2026, within 15 working days" in text
    assert "You asked us to reply in writing." in text
    assert "If your complaint is not resolved by 22 January 2027 (56 working days" in text
    assert "Customer Services Manager" in text
    assert "free of charge" in text
    assert settings.CISAS["website"] in text


# How each letter puts the category in its opening sentence.
ABOUT = {
    "acknowledgement": "We received your complaint on 2 November 2026 about {about}, and we are",
    "written_reply": "Thank you for your complaint about {about}, which we received on",
    "deadlock": "We received your complaint about {about} on 2 November 2026.",
}


@pytest.mark.parametrize("kind", letters.KINDS)
@pytest.mark.parametrize("category", Category)
def test_each_letter_names_the_category_in_words_that_read_as_a_sentence(kind, category):
    context = CONTEXTS[kind](category_label=category.label, category_about=CATEGORY_ABOUT[category])
    text = pdf_text(letters.render_pdf(kind, context))
    assert ABOUT[kind].format(about=CATEGORY_ABOUT[category]) in text
    assert f"about {category.label.lower()} " not in text


def test_every_category_reads_as_a_phrase_not_its_label():
    assert set(CATEGORY_ABOUT) == set(Category)
    assert CATEGORY_ABOUT[Category.OTHER] == "something else"
    assert CATEGORY_ABOUT[Category.SERVICE_FAULT] == "a fault with your service"
    assert CATEGORY_ABOUT[Category.CONTRACT] == "your contract"
    for category, phrase in CATEGORY_ABOUT.items():
        assert phrase != category.label.lower()


def test_a_letter_issued_before_it_held_the_phrase_finds_it_from_the_label():
    # Its context, fixed when it was issued, names the category by its label only.
    context = deadlock_context(category_label="Service fault")
    assert "category_about" not in context
    html = letters.render_html("deadlock", context)
    assert "about <strong>a fault with your service</strong>" in html


def test_the_acknowledgement_follows_the_8_week_policy_when_told_to():
    context = acknowledgement_context(adr_eligible_date="2026-12-28", adr_policy_label="8 weeks")
    text = pdf_text(letters.render_pdf("acknowledgement", context))
    assert "not resolved by 28 December 2026 (8 weeks after we received it)" in text


def test_the_written_reply_gives_the_reply_and_the_next_steps():
    text = pdf_text(letters.render_pdf("written_reply", written_reply_context()))
    for paragraph in REPLY_TEXT.split("\n\n"):
        assert paragraph in text
    assert "escalated to our Customer Services Manager" in text
    assert "formal written complaint" in text
    assert "CISAS" in text
    assert "free of charge" in text
    assert settings.CISAS["phone"] in text


def test_the_written_reply_gives_the_date_the_customer_may_go_to_cisas():
    context = written_reply_context(adr_eligible_date="2027-01-22")
    text = pdf_text(letters.render_pdf("written_reply", context))
    assert (
        "You can also go to CISAS if your complaint is still not resolved by 22 January 2027 "
        "(56 working days after we first received it)."
    ) in text
    # Written on the ADR date itself, in the minute before the ADR clock's next run sends the
    # deadlock letter.
    context = written_reply_context(adr_eligible_date="2026-11-25")
    text = pdf_text(letters.render_pdf("written_reply", context))
    assert (
        "You can also go to CISAS now, while your complaint is not resolved: the 56 working days "
        "from when we first received it ended on 25 November 2026."
    ) in text
    # A reply issued before its letter held the date still reads as it did.
    text = pdf_text(letters.render_pdf("written_reply", written_reply_context()))
    assert "still not resolved 56 working days after we first received it." in text


def test_an_acknowledgement_says_a_deadlock_letter_follows_only_when_its_context_says_so():
    """Logged past its ADR date, the letter says the deadlock letter follows; one issued before
    the letters said so (no key) reads as it was sent, stages and all."""
    late = {"received_date": "2026-09-01", "response_due_date": "2026-09-22"}
    late["adr_eligible_date"] = "2026-11-18"
    text = pdf_text(
        letters.render_pdf(
            "acknowledgement", acknowledgement_context(**late, deadlock_follows=True)
        )
    )
    assert "We are also sending you a deadlock letter" in text
    assert "escalated to our Customer Services Manager" not in text
    text = pdf_text(letters.render_pdf("acknowledgement", acknowledgement_context(**late)))
    assert "deadlock letter:" not in text
    assert "escalated to our Customer Services Manager" in text


# --- Safety: what the customer typed is text, never markup ------------------------------------


@pytest.mark.parametrize("key", ["summary", "customer_name", "postal_address", "final_position"])
def test_html_typed_by_the_customer_is_escaped_in_the_html(key):
    html = letters.render_html("deadlock", deadlock_context(**{key: f"Before {SCRIPT} after"}))
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert SCRIPT not in html


def test_html_typed_by_the_customer_is_shown_as_text_in_the_pdf():
    pdf = letters.render_pdf("deadlock", deadlock_context(summary=f"My bill says {SCRIPT}"))
    assert f"My bill says {SCRIPT}" in pdf_text(pdf)


def test_the_reply_text_is_escaped_too():
    html = letters.render_html("written_reply", written_reply_context(reply_text=SCRIPT))
    assert "&lt;script&gt;" in html
    assert SCRIPT not in html


# --- Layout ------------------------------------------------------------------------------------


def test_a_long_summary_flows_onto_the_next_page_with_the_footer():
    paragraphs = [
        f"Paragraph {n}: the line dropped again in the evening and the engineer did not come."
        for n in range(1, 61)
    ]
    pdf = letters.render_pdf("deadlock", deadlock_context(summary="\n\n".join(paragraphs)))
    pages = pdf_pages(pdf)
    assert len(pages) >= 2
    assert f"Page 1 of {len(pages)}" in pages[0]
    assert f"Page 2 of {len(pages)}" in pages[1]
    assert f"Our reference: {REFERENCE}" in pages[1]
    text = " ".join(pages)
    assert paragraphs[0] in text
    assert paragraphs[-1] in text
    assert "Yours sincerely, Priya Shah" in pages[-1]


@pytest.mark.parametrize("kind", letters.KINDS)
def test_each_address_line_and_each_line_the_customer_typed_stays_a_line_of_its_own(kind):
    summary = "What went wrong, first line\r\nits second line\r\n\r\nA paragraph after a gap"
    pdf = letters.render_pdf(kind, CONTEXTS[kind](summary=summary))
    lines = pdf_text_lines(pdf)
    in_order = [
        f"Telephone: {settings.COMPANY['phone']} · E-mail: {settings.COMPANY['email']}",
        f"Website: {settings.COMPANY['website']}",
        "Jane O'Brien",
        *ADDRESS.splitlines(),
        "Date: 25 November 2026" if kind != "acknowledgement" else "Date: 2 November 2026",
        f"Our reference: {REFERENCE}",
        "What went wrong, first line",
        "its second line",
        "A paragraph after a gap",
        "CISAS (Communications and Internet Services Adjudication Scheme)",
        f"Website: {settings.CISAS['website']} · Telephone: {settings.CISAS['phone']} · "
        f"E-mail: {settings.CISAS['email']}",
        "Yours sincerely,",
    ]
    found = [lines.index(line) for line in in_order]
    assert found == sorted(found)
    assert lines.index("Jane O'Brien") + 1 == lines.index(ADDRESS.splitlines()[0])
    signed = ["Priya Shah", "Customer Services Manager"]
    if kind == "acknowledgement":
        signed = ["Customer Services Team"]  # the team signs, with no role repeated beneath
    signature = lines.index("Yours sincerely,") + 1
    assert lines[signature : signature + len(signed) + 1] == [*signed, settings.COMPANY["name"]]


def test_a_line_break_inside_a_name_never_splits_it_over_two_lines():
    context = deadlock_context(customer_name="Jane\nO'Brien", signed_by="Priya\r\nShah")
    lines = pdf_text_lines(letters.render_pdf("deadlock", context))
    assert lines[lines.index("Jane O'Brien") + 1] == ADDRESS.splitlines()[0]
    assert lines[lines.index("Yours sincerely,") + 1] == "Priya Shah"
    html = letters.render_html("deadlock", context)
    assert 'class="recipient">Jane O&#x27;Brien\nFlat 2, 14 Mill Lane\n' in html


def test_an_empty_postal_address_falls_back_to_the_email_address():
    text = pdf_text(letters.render_pdf("deadlock", deadlock_context(postal_address="")))
    assert "Jane O'Brien By e-mail: jane@example.com" in text


# --- The HTML document -------------------------------------------------------------------------


@pytest.mark.parametrize("kind", letters.KINDS)
def test_each_letter_is_a_complete_accessible_html_document(kind):
    html = letters.render_html(kind, CONTEXTS[kind]())
    assert html.lstrip().lower().startswith("<!doctype html>")
    assert '<html lang="en-GB">' in html
    assert "<title>" in html and REFERENCE in html
    assert html.count("<h1") == 1
    assert "<h2" in html
    assert "<address" in html
    assert "<style>" in html
    assert "http://" not in html.split("<body>")[0]  # no external stylesheets or fonts
    assert "25 November 2026" in html or "2 November 2026" in html


@pytest.mark.parametrize("kind", letters.KINDS)
def test_no_letter_ever_misspells_cisas(kind):
    html = letters.render_html(kind, CONTEXTS[kind]())
    text = pdf_text(letters.render_pdf(kind, CONTEXTS[kind]()))
    assert "CICAS" not in html.upper()
    assert "CICAS" not in text.upper()
    assert "CISAS" in text


def test_the_letter_templates_never_misspell_cisas():
    templates = Path(settings.BASE_DIR, "templates", "letters")
    for template in templates.glob("*.html"):
        assert "CICAS" not in template.read_text().upper(), template.name


# --- The contract ------------------------------------------------------------------------------


def test_an_unknown_kind_is_refused():
    with pytest.raises(ValueError, match="unknown letter kind 'apology'"):
        letters.render_pdf("apology", deadlock_context())


@pytest.mark.parametrize("kind", letters.KINDS)
def test_a_missing_key_is_refused_by_name(kind):
    for key in letters.REQUIRED_KEYS[kind]:
        context = CONTEXTS[kind]()
        del context[key]
        with pytest.raises(ValueError, match=f"missing required key '{key}'"):
            letters.render_html(kind, context)


def test_a_date_that_is_not_iso_is_refused_by_name():
    with pytest.raises(ValueError, match="'cisas_deadline'"):
        letters.render_html("deadlock", deadlock_context(cisas_deadline="25/11/2027"))


def test_the_context_stays_json_serialisable_and_unchanged():
    context = deadlock_context()
    before = dict(context)
    letters.render_html("deadlock", context)
    assert context == before


def test_one_font_configuration_serves_every_letter():
    first = letters._weasy()
    letters.render_pdf("deadlock", deadlock_context())
    assert letters._weasy().font_config is first.font_config


def test_the_renderer_refuses_to_fetch_from_the_network():
    url_fetcher = letters._weasy().url_fetcher
    with pytest.raises(ValueError, match="disallowed protocol"):
        url_fetcher.fetch("https://example.com/font.woff2")


def test_the_signature_never_starts_a_page_on_its_own():
    # A two-page acknowledgement: the closing paragraph goes over with the signature.
    pdf = letters.render_pdf("acknowledgement", acknowledgement_context())
    pages = [page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages]
    assert len(pages) == 2
    assert pages[-1].lstrip().startswith("If you need this letter in another format")


PASTED_ADDRESS = (
    "https://www.example.com/account/billing/statements/2026/october/"
    + "a1b2c3d4e5" * 15
    + "?ref=INV-0000123456789"
)


@pytest.mark.parametrize(
    ("kind", "field"),
    [
        *((kind, "summary") for kind in letters.KINDS),
        ("written_reply", "reply_text"),
        ("deadlock", "final_position"),
    ],
)
def test_a_long_pasted_web_address_wraps_onto_the_page_rather_than_off_its_edge(kind, field):
    context = CONTEXTS[kind](**{field: f"What went wrong:\nSee {PASTED_ADDRESS} for the bill."})
    pdf = letters.render_pdf(kind, context)
    lines = pdf_text_lines(pdf)
    # Every character is in the letter, over more than one line: none runs past the margin.
    assert PASTED_ADDRESS in "".join(lines)
    assert not any(PASTED_ADDRESS in line for line in lines)
    assert max(len(line) for line in lines) < 110


def laid_out(document, stylesheet=None) -> tuple[list[list[tuple]], list]:
    """Every box of every page of a letter as WeasyPrint lays it out (its kind, element, place,
    size, text and what a reader sees of its style), and the PDF's bookmarks; with the letters'
    print stylesheet unless told another."""
    rendered = letters.lay_out(document, stylesheet=stylesheet)

    def boxes(box):
        style = box.style
        yield (
            type(box).__name__,
            box.element_tag,
            *(round(value, 3) for value in (box.position_x, box.position_y, box.width, box.height)),
            getattr(box, "text", None),
            *(str(style[name]) for name in ("display", "font_size", "font_weight", "font_style")),
            *(str(style[name]) for name in ("color", "text_decoration_line", "list_style_type")),
        )
        for child in box.all_children():
            yield from boxes(child)

    return [list(boxes(page._page_box)) for page in rendered.pages], rendered.make_bookmark_tree()


@pytest.mark.parametrize("kind", letters.KINDS)
def test_the_letters_own_user_agent_stylesheet_lays_each_letter_out_as_weasyprints_does(kind):
    import weasyprint

    html = letters._render(kind, CONTEXTS[kind](), inline_css=False)
    ours = laid_out(letters.weasyprint_document(html))
    weasyprints = laid_out(weasyprint.HTML(string=html, url_fetcher=letters._weasy().url_fetcher))
    assert len(ours[0]) >= 2  # pages
    assert sum(len(page) for page in ours[0]) > 100  # boxes
    assert ours == weasyprints


@pytest.mark.parametrize("kind", letters.KINDS)
def test_the_letters_own_user_agent_stylesheet_covers_every_element_a_letter_holds(kind):
    from html.parser import HTMLParser

    class Tags(HTMLParser):
        def __init__(self):
            super().__init__()
            self.found: set[str] = set()

        def handle_starttag(self, tag, attrs):
            self.found.add(tag)

    # Staff's own words with a line break inside a paragraph: where a letter still holds <br>.
    own_words = {"written_reply": "reply_text", "deadlock": "final_position"}
    context = CONTEXTS[kind](**{own_words[kind]: "One line\nthe next"} if kind in own_words else {})
    parser = Tags()
    parser.feed(letters.render_html(kind, context, back_url="/track/x/"))
    parser.feed(letters._render(kind, context, inline_css=False))
    assert {"p", "h1", "address"} <= parser.found
    assert ("br" in parser.found) == (kind in own_words)
    assert parser.found <= letters.LETTER_ELEMENTS


def test_letters_rendered_at_once_leave_the_garbage_collector_on_as_they_found_it():
    import gc

    assert gc.isenabled()
    letters.render_pdf("deadlock", deadlock_context())
    assert gc.isenabled()
    # Two threads' renders overlapping: the first to finish must not turn it back on under the
    # second, nor the second leave it off for good.
    first, second = letters._collector_paused(), letters._collector_paused()
    first.__enter__()
    second.__enter__()
    assert not gc.isenabled()
    first.__exit__(None, None, None)
    assert not gc.isenabled()
    second.__exit__(None, None, None)
    assert gc.isenabled()


def test_a_render_leaves_a_garbage_collector_someone_turned_off_off():
    import gc

    gc.disable()
    try:
        letters.render_pdf("acknowledgement", acknowledgement_context())
        assert not gc.isenabled()
    finally:
        gc.enable()


# --- The letters' own fonts, and how the PDF is written -----------------------------------------


def pdf_fonts(pdf: bytes) -> set[str]:
    """The names of the fonts a PDF embeds, without their subset prefix ("ABCDEF+")."""
    names = set()
    for page in PdfReader(io.BytesIO(pdf)).pages:
        for font in page["/Resources"]["/Font"].values():
            names.add(str(font.get_object()["/BaseFont"]).split("+", 1)[-1])
    return names


def test_letters_are_set_in_the_projects_own_fonts_not_the_machines(deadlock_pdf):
    assert pdf_fonts(deadlock_pdf) == {"Letter-Sans", "Letter-Sans-Bold"}
    for face in ("DejaVuSans-letters.ttf", "DejaVuSans-Bold-letters.ttf"):
        assert (letters.FONTS_DIR / face).stat().st_size < 250_000  # cut down, not DejaVu whole


@pytest.mark.parametrize("kind", letters.KINDS)
def test_the_projects_fonts_lay_each_letter_out_as_the_machines_dejavu_sans_does(kind):
    from weasyprint import CSS

    weasy = letters._weasy()
    machines = CSS(
        string=letters.LETTER_CSS, font_config=weasy.font_config, url_fetcher=weasy.url_fetcher
    )
    context = CONTEXTS[kind](summary=f"{LATIN_AND_MORE}\n\n{REPLY_TEXT}")
    html = letters._render(kind, context, inline_css=False)
    ours = laid_out(letters.weasyprint_document(html))
    dejavu = laid_out(letters.weasyprint_document(html), machines)
    assert sum(len(page) for page in ours[0]) > 100  # boxes
    assert ours == dejavu


# Names and words a UK customer may write: Welsh, Irish, Polish, Romanian, Lithuanian, Greek,
# Ukrainian, with typographic punctuation and the currency signs of a bill.
LATIN_AND_MORE = (
    "Siân Ŵyn-Ffŷnnon, Seán Ó Súilleabháin, Łukasz Żółć, Ștefan Mănescu, Jūratė Šaulė, "
    "Αθηνά Παπαδοπούλου, Олена Шевченко: “£12.50 – €14.60 … ‘twice’” • № 5"
)


def test_a_character_the_projects_fonts_lack_still_comes_from_dejavu_sans(caplog):
    # Armenian is in DejaVu Sans but not in the letters' cut-down fonts.
    name = f"{LATIN_AND_MORE} Արամ Պետրոսյան"
    with caplog.at_level("WARNING", logger="weasyprint"):
        pdf = letters.render_pdf("deadlock", deadlock_context(customer_name=name))
    assert flat(name) in pdf_text(pdf)
    assert pdf_fonts(pdf) == {"Letter-Sans", "Letter-Sans-Bold", "DejaVu-Sans"}
    assert not [r for r in caplog.records if ".notdef" in r.getMessage()]


def test_every_stream_of_a_letter_reads_back_as_weasyprint_drew_it():
    html = letters._render("deadlock", deadlock_context(), inline_css=False)
    document = letters.lay_out(letters.weasyprint_document(html))

    ours = PdfReader(io.BytesIO(letters.render_pdf("deadlock", deadlock_context())))
    plain = PdfReader(io.BytesIO(document.write_pdf(uncompressed_pdf=True)))

    def streams(reader):
        found = {}
        for number, page in enumerate(reader.pages):
            found[f"page {number}"] = page["/Contents"].get_object()
            for name, font in page["/Resources"]["/Font"].items():
                descendant = font.get_object()["/DescendantFonts"][0].get_object()
                found[f"{name} file"] = descendant["/FontDescriptor"]["/FontFile2"].get_object()
                found[f"{name} map"] = font.get_object()["/ToUnicode"].get_object()
        return found

    ours_streams, plain_streams = streams(ours), streams(plain)
    assert len(ours_streams) == 6  # two pages; two fonts, each with its character map
    assert {k: v.get_data() for k, v in ours_streams.items()} == {
        k: v.get_data() for k, v in plain_streams.items()
    }
    for stream in ours_streams.values():
        assert stream.get("/Filter") == "/FlateDecode"
        assert stream._data == zlib.compress(stream.get_data(), 6)  # level 6, not pydyf's 9


def test_forgetting_the_fonts_deletes_weasyprints_copy_of_them_and_letters_still_render():
    letters.render_pdf("written_reply", written_reply_context())
    folder = letters._weasy().font_config._folder
    assert any(folder.iterdir())

    letters.forget_fonts()

    assert not folder.exists()
    assert pdf_fonts(letters.render_pdf("written_reply", written_reply_context())) == {
        "Letter-Sans",
        "Letter-Sans-Bold",
    }


def test_a_letter_being_rendered_while_the_fonts_are_forgotten_keeps_what_it_took(monkeypatch):
    paused = letters._collector_paused

    @contextlib.contextmanager
    def forgotten_meanwhile():
        folder = letters._weasy().font_config._folder
        letters.forget_fonts()  # as a pool process stops, or at exit, in another thread
        with paused():
            yield
        assert folder.exists()  # still held by the render

    monkeypatch.setattr(letters, "_collector_paused", forgotten_meanwhile)
    pdf = letters.render_pdf("written_reply", written_reply_context())
    assert pdf_fonts(pdf) == {"Letter-Sans", "Letter-Sans-Bold"}
    assert "We have checked your bill" in pdf_text(pdf)


def test_a_celery_pool_process_forgets_the_fonts_as_it_stops():
    from celery.signals import worker_process_shutdown

    letters.render_pdf("written_reply", written_reply_context())
    folder = letters._weasy().font_config._folder

    worker_process_shutdown.send(sender=None, pid=1234, exitcode=0)

    assert not folder.exists()


@contextlib.contextmanager
def process_holding_fonts():
    """A ``manage.py`` process that has copied the letter fonts and waits: yields it and the
    folder it printed; killed at the end whatever happened."""
    import os
    import subprocess
    import sys

    code = (
        "import time\n"
        "from complaints import letters\n"
        "print(letters._weasy().font_config._folder, flush=True)\n"  # the fonts copied
        "time.sleep(60)\n"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings_test"}
    process = subprocess.Popen(
        [sys.executable, "manage.py", "shell", "--verbosity", "0", "-c", code],
        cwd=settings.BASE_DIR,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        folder = Path(process.stdout.readline().strip())
        assert any(folder.iterdir())
        yield process, folder
    finally:
        process.kill()
        process.wait()


def test_a_manage_py_process_stopped_with_sigterm_deletes_weasyprints_copy_of_the_fonts():
    """``make run`` stops its web server (``manage.py runserver``), which renders a letter's PDF
    when the worker has not yet, with SIGTERM."""
    import signal

    with process_holding_fonts() as (process, folder):
        assert folder.name.startswith("weasyprint")
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 128 + signal.SIGTERM
    assert not folder.exists()


def test_the_fonts_of_a_killed_process_are_deleted_by_the_next_process_that_starts():
    """A process killed with SIGKILL deletes nothing: its copy of the fonts, named after it, is
    deleted by the next web or pool process to start. Folders of living processes are kept."""
    import os
    import signal

    from celery.signals import worker_process_init

    with process_holding_fonts() as (process, killed):
        assert killed.name.startswith(f"{letters.FONT_FOLDER_PREFIX}{process.pid}-")
        mine = letters._weasy().font_config._folder
        assert mine.name.startswith(f"{letters.FONT_FOLDER_PREFIX}{os.getpid()}-")
        assert letters.remove_orphaned_font_folders() == 0  # both processes alive
        process.send_signal(signal.SIGKILL)
        # Not collected (waited for) yet: a zombie, as a pool process is whose worker was killed
        # with it, until something collects it.
        stat = Path(f"/proc/{process.pid}/stat")
        assert wait_for(lambda: stat.read_bytes().rsplit(b")", 1)[1].split()[0] == b"Z", 10)
        assert killed.exists()  # nothing deleted it as it died

        worker_process_init.send(sender=None)  # a Celery pool process starting

        assert not killed.exists()
        assert mine.exists() and any(mine.iterdir())
