"""The filing flow fed generated bad input: unicode of every kind, huge strings, NUL bytes, values
of the wrong kind, dates far in the past and future, and double submissions.

Whatever is sent: never a 5xx; a wrong answer is refused on its page with the error summary; no
complaint exists until valid answers are confirmed, and then exactly one, holding what the customer
typed; sending the confirmation twice (one after the other, or at the same moment) files once.
"""

from __future__ import annotations

import datetime as dt
import itertools
import threading

import pytest
from django.db import connection
from django.test import Client
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from complaints.models import Category, Complaint, Nation, ResponseMethod

from .test_public_filing import ABOUT, CHECK, COMPLAINT, SENT, SUPPORT, send_token

pytestmark = pytest.mark.django_db

FUZZ = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
_addresses = itertools.count(1)

# Any character a browser could send as UTF-8 (lone surrogates cannot be encoded), but no NUL.
CHARACTERS = st.characters(exclude_categories=("Cs",), exclude_characters="\x00")


def _address() -> str:
    """Each example from its own address, so the per-address rate limits stay out of the way."""
    n = next(_addresses)
    return f"10.{n // 65536 % 256}.{n // 256 % 256}.{n % 256}"


# Each field has a sane strategy (what customers type, in any script, at any length allowed) and a
# wild one (anything a form can be sent). Both give (value, verdict): True valid, False invalid,
# None either (no oracle: only "no 5xx, and consistent" is checked for it).
Answer = st.SearchStrategy[tuple[object, bool | None]]


def text_answers(limit: int, *, required: bool) -> tuple[Answer, Answer]:
    def verdict(value: str) -> bool:
        stripped = value.strip()
        return "\x00" not in value and len(stripped) <= limit and (bool(stripped) or not required)

    typed = st.text(CHARACTERS, max_size=min(limit, 300)).map(lambda v: (v, verdict(v)))
    full = st.just("é" * limit).map(lambda v: (v, True))
    huge = st.builds(lambda c, n: c * n, CHARACTERS, st.integers(limit + 1, limit * 5)).filter(
        lambda v: len(v.strip()) > limit
    )
    with_nul = st.builds(lambda a, b: f"{a}\x00{b}", st.text(CHARACTERS, max_size=20), st.text())
    blank = st.sampled_from(["", "   ", "\t\n", "\u3000"]).map(lambda v: (v, not required))
    wild = st.one_of(
        huge.map(lambda v: (v, False)),
        with_nul.map(lambda v: (v, False)),
        blank,
        # The wrong kind of value: a number, several values for one field.
        st.integers().map(lambda v: (v, None)),
        st.lists(st.text(CHARACTERS, max_size=5), min_size=2, max_size=3).map(lambda v: (v, None)),
    )
    return st.one_of(typed, full), wild


def choice_answers(choices: list[str]) -> tuple[Answer, Answer]:
    wild = st.one_of(
        st.text(max_size=30).map(lambda v: (v, v in choices)),
        st.sampled_from(["", "\x00", choices[0] + "\x00", choices[0].upper(), "1"]).map(
            lambda v: (v, False)
        ),
    )
    return st.sampled_from(choices).map(lambda v: (v, True)), wild


EMAILS = (
    st.sampled_from(
        ["jane@example.com", "o'brien@example.co.uk", "jo+c@xn--bcher-kva.example"]
    ).map(lambda v: (v, True)),
    st.one_of(
        st.sampled_from(["jane", "jane@", "@example.com", "jane@exa mple.com", "a\x00@b.com"]).map(
            lambda v: (v, False)
        ),
        st.builds(lambda n: "a" * n + "@example.com", st.integers(250, 5000)).map(
            lambda v: (v, False)
        ),
        st.emails().map(lambda v: (v, None)),
        st.text(CHARACTERS, max_size=60).map(lambda v: (v, None)),
    ),
)
PHONES = (
    st.sampled_from(["", "07700 900123", "+44 808 157 0192", "(01632) 960-001"]).map(
        lambda v: (v, True)
    ),
    st.one_of(
        st.sampled_from(["call me", "123", "07700\x00900123", "0" * 41]).map(lambda v: (v, False)),
        st.text(CHARACTERS, max_size=45).map(lambda v: (v, None)),
    ),
)
# "When did it start?" is the customer's own words: a date of any era is just text.
STARTED = (
    st.one_of(
        st.dates(dt.date(1, 1, 1), dt.date(9999, 12, 31)).map(lambda d: (d.isoformat(), True)),
        st.sampled_from(["31/02/2024", "-4712-01-01", "10000-01-01", "0000-00-00", ""]).map(
            lambda v: (v, True)
        ),
    ),
    text_answers(200, required=False)[1],
)
FIELDS = {
    ABOUT: {
        "customer_name": text_answers(200, required=True),
        "email": EMAILS,
        "phone": PHONES,
        "postal_address": text_answers(500, required=False),
        "account_number": text_answers(40, required=False),
        "nation": choice_answers(Nation.values),
    },
    COMPLAINT: {
        "category": choice_answers(Category.values),
        "what_went_wrong": text_answers(10_000, required=True),
        "started": STARTED,
        "how_affected": text_answers(10_000, required=False),
        "put_right": text_answers(10_000, required=False),
    },
    SUPPORT: {
        "preferred_response": choice_answers(ResponseMethod.values),
        "support_needs": text_answers(5_000, required=False),
    },
}
OPTIONAL = {"phone", "postal_address", "account_number", "started", "how_affected", "put_right"}
OPTIONAL |= {"support_needs"}
ALL_FIELDS = [(url, name) for url, fields in FIELDS.items() for name in fields]


@st.composite
def answers(draw) -> dict:
    """Sane answers with (most of the time) one wild one, possibly a field left out entirely."""
    wild = draw(st.sampled_from([None] * 8 + ALL_FIELDS))
    pages: dict = {}
    for url, fields in FIELDS.items():
        pages[url] = {}
        for name, (sane, anything) in fields.items():
            if wild != (url, name):
                pages[url][name] = draw(sane)
            elif draw(st.integers(0, 4)) == 0:
                pages[url][name] = (None, name in OPTIONAL)  # left out of the form
            else:
                pages[url][name] = draw(anything)
    # Replying by phone needs a phone number.
    phone, phone_ok = pages[ABOUT]["phone"]
    reply, reply_ok = pages[SUPPORT]["preferred_response"]
    if reply == ResponseMethod.PHONE and reply_ok:
        if phone is None or (isinstance(phone, str) and not phone.strip()):
            pages[SUPPORT]["preferred_response"] = (reply, False)
        elif phone_ok is None:
            pages[SUPPORT]["preferred_response"] = (reply, None)
    return pages


def verdict(page: dict) -> bool | None:
    verdicts = [ok for _, ok in page.values()]
    if False in verdicts:
        return False
    return None if None in verdicts else True


def form_data(page: dict) -> dict:
    return {name: value for name, (value, _) in page.items() if value is not None}


def as_read(value) -> str:
    """What the form reads of a posted value: the last of several values for one field, as
    Django's QueryDict gives it, and any other value as text."""
    if isinstance(value, list):
        value = value[-1]
    return str(value)


def assert_refused_on_its_page(response) -> None:
    assert response.status_code == 200, response.status_code
    assert "There is a problem" in response.content.decode()


@FUZZ
@given(pages=answers())
def test_no_bad_answer_gets_a_5xx_or_a_half_written_complaint(pages):
    browser = Client(raise_request_exception=False, REMOTE_ADDR=_address())
    complaints_before = Complaint.objects.count()
    for url, page in pages.items():
        response = browser.post(url, form_data(page))
        assert response.status_code < 500
        expected = verdict(page)
        if expected is True:
            assert response.status_code == 302, response.content.decode()[:2000]
        elif expected is False:
            assert_refused_on_its_page(response)
        assert Complaint.objects.count() == complaints_before, "filed before it was confirmed"
        if response.status_code != 302:
            event(f"refused on {url}")
            return
    event("filed")

    # Every page was accepted: the check page, then "Send", clicked twice.
    token = send_token(browser)
    first = browser.post(CHECK, {"token": token})
    second = browser.post(CHECK, {"token": token})
    assert first.status_code == second.status_code == 302
    assert first.url == second.url == SENT
    assert Complaint.objects.count() == complaints_before + 1
    complaint = Complaint.objects.latest("id")
    about = form_data(pages[ABOUT])
    assert complaint.customer_name == as_read(about["customer_name"]).strip()
    assert complaint.reference in browser.get(SENT).content.decode()
    what = as_read(form_data(pages[COMPLAINT])["what_went_wrong"]).strip()
    assert what in complaint.description


FORM = "application/x-www-form-urlencoded"


@pytest.mark.parametrize(
    ("body", "content_type", "expected"),
    [
        # Bytes that are not UTF-8 are read leniently (U+FFFD for a bad escape): a name like any.
        (b"customer_name=%FF%FE%FD&email=jane%40example.com&nation=scotland", FORM, 302),
        (b"customer_name=Jane\xff\xfe&email=jane@example.com&nation=scotland", FORM, 302),
        (b'{"customer_name": "Jane", "email": "jane@example.com"}', "application/json", 200),
        (b"\x00" * 1000, FORM, 200),
        (b"customer_name=%00&email=jane%40example.com&nation=scotland", FORM, 200),
        (b'--x\r\nContent-Disposition: form-data; name="customer_name"\r\n\r\n', "multi", 200),
    ],
)
def test_a_malformed_body_never_gets_a_5xx(body, content_type, expected):
    browser = Client(raise_request_exception=False)
    content_type = content_type.replace("multi", "multipart/form-data; boundary=x")
    response = browser.generic("POST", ABOUT, body, content_type=content_type)
    assert response.status_code == expected
    if expected == 200:
        assert_refused_on_its_page(response)
    assert Complaint.objects.count() == 0


def test_a_file_sent_in_place_of_a_name_is_refused_on_the_page():
    from django.core.files.uploadedfile import SimpleUploadedFile

    browser = Client(raise_request_exception=False)
    response = browser.post(
        ABOUT,
        {
            "customer_name": SimpleUploadedFile("name.txt", b"Jane Doe"),
            "email": "jane@example.com",
            "nation": "scotland",
        },
    )
    assert_refused_on_its_page(response)
    assert "Enter your full name" in response.content.decode()


VALID_NAMES = st.text(CHARACTERS, min_size=1, max_size=200).filter(lambda v: v.strip())


@pytest.mark.django_db(transaction=True)
@settings(max_examples=5, deadline=None)
@given(name=VALID_NAMES, what=st.text(CHARACTERS, min_size=1, max_size=2000).filter(str.strip))
def test_send_clicked_twice_at_the_same_moment_files_one_complaint(name, what):
    browser = Client(REMOTE_ADDR=_address())
    steps = (
        (ABOUT, {"customer_name": name, "email": "jane@example.com", "nation": "scotland"}),
        (COMPLAINT, {"category": "billing", "what_went_wrong": what}),
        (SUPPORT, {"preferred_response": "written"}),
    )
    for url, data in steps:
        assert browser.post(url, data).status_code == 302
    token = send_token(browser)
    before = Complaint.objects.count()
    statuses: list[int] = []
    both = threading.Barrier(2)

    def click() -> None:
        other = Client(REMOTE_ADDR=browser.defaults["REMOTE_ADDR"])
        other.cookies["sessionid"] = browser.cookies["sessionid"].value
        both.wait()
        try:
            statuses.append(other.post(CHECK, {"token": token}).status_code)
        finally:
            connection.close()

    clicks = [threading.Thread(target=click) for _ in range(2)]
    for thread in clicks:
        thread.start()
    for thread in clicks:
        thread.join(30)
    assert statuses == [302, 302]
    assert Complaint.objects.count() == before + 1
    assert Complaint.objects.latest("id").customer_name == name.strip()
