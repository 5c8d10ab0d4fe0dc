"""Customers and staff driving the portal through gunicorn over HTTP, every answer recorded."""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass, field

import requests

REFERENCE = re.compile(r"CMP-\d{4}-\d{6}")
CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
SEND_TOKEN = re.compile(r'name="token" value="([^"]+)"')

ABOUT = {
    "customer_name": "Jane Doe",
    "phone": "07700 900123",
    "postal_address": "1 High Street\nHertford\nSG14 1AA",
    "account_number": "ET123456",
    "nation": "england-and-wales",
}
COMPLAINT = {
    "category": "billing",
    "what_went_wrong": "I was charged twice for October.",
    "started": "early October",
    "how_affected": "I went overdrawn.",
    "put_right": "Refund the second charge.",
}
SUPPORT = {"preferred_response": "written", "support_needs": ""}


@dataclass(frozen=True)
class Answer:
    at: float  # time.monotonic() when the answer came
    who: str
    method: str
    path: str
    status: int  # 0: no HTTP answer at all (connection refused or reset)
    retry_after: str | None
    body: str


@dataclass
class Journal:
    """Every answer the simulated visitors got, in order."""

    answers: list[Answer] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, answer: Answer) -> None:
        with self.lock:
            self.answers.append(answer)

    def statuses(self) -> list[int]:
        with self.lock:
            return [a.status for a in self.answers]

    def between(self, start: float, end: float) -> list[Answer]:
        with self.lock:
            return [a for a in self.answers if start <= a.at <= end]


class Unavailable(Exception):
    """The portal answered 503 (or not at all): the visitor tries again a little later."""


class Visitor:
    """One browser: its own cookies, and its own address (X-Forwarded-For, set by the proxy)."""

    def __init__(self, base_url: str, journal: Journal, who: str, address: str) -> None:
        self.base_url = base_url
        self.journal = journal
        self.who = who
        self.http = requests.Session()
        self.http.headers["X-Forwarded-For"] = address

    def request(self, method: str, path: str, data: dict | None = None) -> requests.Response:
        try:
            response = self.http.request(
                method, self.base_url + path, data=data, allow_redirects=False, timeout=30
            )
        except requests.RequestException:
            self.journal.add(Answer(time.monotonic(), self.who, method, path, 0, None, ""))
            raise Unavailable(path) from None
        self.journal.add(
            Answer(
                time.monotonic(),
                self.who,
                method,
                path,
                response.status_code,
                response.headers.get("Retry-After"),
                response.text if response.status_code >= 400 else "",
            )
        )
        if response.status_code == 503:
            raise Unavailable(path)
        return response

    def page(self, path: str) -> str:
        response = self.request("GET", path)
        assert response.status_code == 200, (path, response.status_code)
        return response.text

    def post_form(self, path: str, data: dict, page: str | None = None) -> requests.Response:
        page = page if page is not None else self.page(path)
        token = CSRF.search(page).group(1)
        return self.request("POST", path, {"csrfmiddlewaretoken": token, **data})


def file_complaint(visitor: Visitor, email: str, what: str = "") -> str:
    """The whole filing flow, as a customer's browser goes through it; returns the reference shown
    on the confirmation. Raises Unavailable when the portal answers 503 on the way."""
    steps = (
        ("/complain/about-you/", {**ABOUT, "email": email}),
        (
            "/complain/your-complaint/",
            {**COMPLAINT, "what_went_wrong": what or COMPLAINT["what_went_wrong"]},
        ),
        ("/complain/support/", SUPPORT),
    )
    for path, answers in steps:
        response = visitor.post_form(path, answers)
        assert response.status_code == 302, (path, response.status_code, response.text[:500])
    check = visitor.page("/complain/check/")
    token = SEND_TOKEN.search(check).group(1)
    response = visitor.post_form("/complain/check/", {"token": token}, page=check)
    where = response.headers.get("Location")
    assert response.status_code == 302 and where == "/complain/sent/", (response.status_code, where)
    sent = visitor.page("/complain/sent/")
    return REFERENCE.search(sent).group(0)


def sign_in(visitor: Visitor, username: str, password: str) -> None:
    response = visitor.post_form("/staff/login/", {"username": username, "password": password})
    assert response.status_code == 302, response.text[:500]


def staff_action(visitor: Visitor, reference: str, action: str, **fields: str) -> None:
    """One action from the case page's forms, as the member of staff sends it."""
    case = visitor.page(f"/staff/complaints/{reference}/")
    state = re.search(rf'name="{action}-expected_state" value="([^"]+)"', case).group(1)
    # Each action's form on the page has its own prefix.
    data = {"action": action, **{f"{action}-{k}": v for k, v in fields.items()}}
    data[f"{action}-expected_state"] = state
    response = visitor.post_form(f"/staff/complaints/{reference}/actions/", data, page=case)
    assert response.status_code == 302, (action, response.status_code, response.text[:800])
