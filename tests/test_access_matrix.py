"""Every route for every kind of visitor, with the status each must get (GET).

A route added without a row here fails ``test_every_route_has_a_row``: deciding who may see a new
page is part of adding it.
"""

from __future__ import annotations

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from complaints.api_auth import api_token_issue

WHO = ("anonymous", "customer", "agent", "manager", "admin")

# route pattern -> expected status for anonymous, customer (with the tracking link), agent,
# manager, admin. 302 for staff pages means "sent to sign in".
MATRIX: dict[str, tuple[int, int, int, int, int]] = {
    "": (200, 200, 200, 200, 200),
    "complain/": (302, 302, 302, 302, 302),  # to the first page of the flow
    "complain/check/": (302, 302, 302, 302, 302),  # nothing to check yet: back to the start
    "complain/sent/": (302, 302, 302, 302, 302),  # nothing sent yet: back to the start
    "complain/<slug:slug>/": (200, 200, 200, 200, 200),
    "track/lost/": (200, 200, 200, 200, 200),
    "track/lost/sent/": (200, 200, 200, 200, 200),
    # "anonymous" has a wrong secret; staff opening a customer's link see what the customer sees.
    "track/<str:reference>/<str:secret>/": (404, 200, 200, 200, 200),
    # POST only; a GET (a reloaded page) goes to the tracking page.
    "track/<str:reference>/<str:secret>/message/": (404, 302, 302, 302, 302),
    "track/<str:reference>/<str:secret>/written-reply/": (404, 302, 302, 302, 302),
    "track/<str:reference>/<str:secret>/letters/<int:letter_id>/": (404, 200, 200, 200, 200),
    "track/<str:reference>/<str:secret>/letters/<int:letter_id>.pdf": (404, 200, 200, 200, 200),
    "track/<str:reference>/<str:secret>/files/<int:attachment_id>/": (404, 200, 200, 200, 200),
    "track/<str:reference>/<str:secret>/<slug:name>/": (404, 302, 302, 302, 302),
    "healthz": (200, 200, 200, 200, 200),
    "favicon.ico": (302, 302, 302, 302, 302),  # to the icon in static/
    "staff/login/": (200, 200, 302, 302, 302),
    "staff/logout/": (405, 405, 405, 405, 405),
    "staff/": (302, 302, 200, 200, 200),
    "staff/complaints/new/": (302, 302, 200, 200, 200),
    "staff/complaints/<str:reference>/": (302, 302, 200, 200, 200),
    "staff/complaints/<str:reference>/actions/": (405, 405, 405, 405, 405),
    "staff/complaints/<str:reference>/files/<int:attachment_id>/": (302, 302, 200, 200, 200),
    # POST only; who may POST it is tested in tests/complaints/test_privacy.py (managers only).
    "staff/complaints/<str:reference>/subject-access/": (405, 405, 405, 405, 405),
    "staff/letters/<int:letter_id>.pdf": (302, 302, 200, 200, 200),
    "staff/letters/to-post/": (302, 302, 200, 200, 200),
    # POST only; who may POST it is tested in tests/complaints/test_letters_by_post.py.
    "staff/letters/<int:letter_id>/posted/": (405, 405, 405, 405, 405),
    "staff/session/keepalive/": (405, 405, 405, 405, 405),
    "staff/escalations/": (302, 302, 403, 200, 200),
    "staff/reports/": (302, 302, 403, 200, 200),
    "staff/reports/cases.csv": (302, 302, 403, 200, 200),
    "staff/reports/figures.csv": (302, 302, 403, 200, 200),
    "staff/closure-days/": (302, 302, 403, 200, 200),
    "staff/closure-days/<int:pk>/delete/": (405, 405, 405, 405, 405),
    "api/v1/^complaints/$": (401, 401, 200, 200, 200),
    "api/v1/^complaints/(?P<reference>[^/]+)/$": (401, 401, 200, 200, 200),
    "api/v1/^complaints/(?P<reference>[^/]+)/assign/$": (401, 401, 405, 405, 405),
    "api/v1/^complaints/(?P<reference>[^/]+)/events/$": (401, 401, 200, 200, 200),
    "api/v1/^complaints/(?P<reference>[^/]+)/letters/(?P<letter_id>\\d+)/$": (
        401,
        401,
        200,
        200,
        200,
    ),
    "api/v1/^complaints/(?P<reference>[^/]+)/messages/$": (401, 401, 405, 405, 405),
    "api/v1/^complaints/(?P<reference>[^/]+)/replies/$": (401, 401, 405, 405, 405),
    "api/v1/^complaints/(?P<reference>[^/]+)/transitions/$": (
        401,
        401,
        405,
        405,
        405,
    ),
    # The API's contract is public documentation; it holds no personal data.
    "api/schema/": (200, 200, 200, 200, 200),
    "api/docs/": (200, 200, 200, 200, 200),
    # The admin site is for administrators only (agents and managers are not is_staff).
    "admin/": (302, 302, 302, 302, 200),
}


def routes(patterns=None, prefix=""):
    for p in get_resolver().url_patterns if patterns is None else patterns:
        if isinstance(p, URLResolver):
            if str(p.pattern).startswith("admin/"):
                yield "admin/"
                continue
            yield from routes(p.url_patterns, prefix + str(p.pattern))
        elif isinstance(p, URLPattern):
            yield prefix + str(p.pattern)


@pytest.fixture
def cast(db, agent, manager, administrator, file_complaint, tmp_path):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from complaints.models import ClosureDay

    filed = file_complaint(
        attachments=[SimpleUploadedFile("bill.pdf", b"%PDF-1.4 test", "application/pdf")]
    )
    complaint = filed.complaint
    import datetime as dt

    closure = ClosureDay.objects.create(date=dt.date(2030, 12, 27), reason="Office closed")
    return {
        "complaint": complaint,
        "secret": filed.tracking_secret,
        "letter": complaint.letters.get(),
        "attachment": complaint.attachments.get(),
        "closure": closure,
        "users": {"agent": agent, "manager": manager, "admin": administrator},
    }


def concrete(pattern: str, cast: dict) -> str:
    c = cast["complaint"]
    url = (
        pattern.replace("(?P<reference>[^/]+)", c.reference)
        .replace("^", "")
        .replace("$", "")
        .replace("(?P<letter_id>\\d+)", str(cast["letter"].pk))
        .replace("<str:reference>", c.reference)
        .replace("<str:secret>", cast["secret"])
        .replace("<int:letter_id>", str(cast["letter"].pk))
        .replace("<int:attachment_id>", str(cast["attachment"].pk))
        .replace("<int:pk>", str(cast["closure"].pk))
        .replace("<slug:slug>", "about-you")
        .replace("<slug:name>", "escalate")
    )
    return "/" + url


def visit(client, who: str, url: str, cast: dict) -> int:
    if who in cast["users"]:
        user = cast["users"][who]
        client.force_login(user)
        if url.startswith("/api/v1/"):
            token = api_token_issue(user=user)
            return client.get(url, HTTP_AUTHORIZATION=f"Token {token}").status_code
    if who == "customer" or who == "anonymous":
        client.logout()
        if who == "anonymous" and "/track/" in url and cast["secret"] in url:
            url = url.replace(cast["secret"], "not-the-secret-" + "x" * 20)
    return client.get(url).status_code


def test_every_route_has_a_row():
    missing = [pattern for pattern in routes() if pattern not in MATRIX]
    assert missing == [], "add these routes to MATRIX with who may see them"
    assert set(MATRIX) <= set(routes()), "MATRIX names routes that no longer exist"


@pytest.mark.parametrize("pattern", list(MATRIX))
def test_each_route_answers_each_visitor_as_the_matrix_says(client, cast, pattern):
    url = concrete(pattern, cast)
    got = tuple(visit(client, who, url, cast) for who in WHO)
    assert dict(zip(WHO, got, strict=True)) == dict(zip(WHO, MATRIX[pattern], strict=True)), url
