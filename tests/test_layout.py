"""One layout for every page: the customers' pages (Jinja2) and the staff pages (Django's engine,
through templates/base.html) draw the same header, contact bar and footer."""

from __future__ import annotations

import re

import pytest
from django.template import Template, TemplateSyntaxError
from django.test import Client

pytestmark = pytest.mark.django_db


def frame(page: str) -> tuple[str, str]:
    """The page's header and contact bar, and its footer and scripts."""
    top = page[: page.index('<main id="main"')]
    bottom = page[page.index("</main>") :]
    top = re.sub(r"<title>.*</title>", "", top)
    bottom = re.sub(r'<script src="/static/js/public\.[^"]*" defer></script>', "", bottom)
    return top, bottom.rstrip()


def test_the_sign_in_page_and_the_customers_pages_share_one_layout(client):
    home = client.get("/").content.decode()  # Jinja2
    sign_in = client.get("/staff/login/").content.decode()  # Django's engine
    assert frame(home) == frame(sign_in)
    assert "Staff sign in" in frame(home)[0]
    assert "Calls may be recorded for monitoring and training purposes." in frame(home)[1]
    assert "<title>How to complain – Express Telephony</title>" in home
    assert "<title>Staff sign in – Express Telephony</title>" in sign_in


def test_a_staff_page_in_the_layout_has_its_own_blocks_the_menu_and_a_working_sign_out(
    manager,
):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(manager)
    page = browser.get("/staff/").content.decode()
    assert page.startswith("<!doctype html>")
    assert page.count("<html") == 1 and page.count("<main") == 1
    assert '<a class="nav-link" href="/staff/" aria-current="page">Case queue</a>' in page
    assert ">Closure days</a>" in page  # a manager's menu
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    signed_out = browser.post("/staff/logout/", {"csrfmiddlewaretoken": token})
    assert signed_out.status_code == 302
    assert browser.get("/staff/").status_code == 302  # to the sign-in page


def test_the_layout_tag_says_what_it_needs():
    with pytest.raises(TemplateSyntaxError, match="takes the layout's name"):
        Template("{% load layout %}{% layout %}{% endlayout %}")
    with pytest.raises(TemplateSyntaxError, match="takes the part's name"):
        Template('{% load layout %}{% layout "base.html" %}{% part %}{% endpart %}{% endlayout %}')
