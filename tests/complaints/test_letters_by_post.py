"""Letters by post: a customer who gives a postal address gets our letters by post as well as by
e-mail. Staff see what is waiting to be posted, and record each one posted, once."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from complaints import services
from complaints.models import ComplaintEvent, EventKind, Letter, LetterKind, State
from complaints.roles import Actor

pytestmark = pytest.mark.django_db
TO_POST = "/staff/letters/to-post/"


def posted_url(letter: Letter) -> str:
    return f"/staff/letters/{letter.pk}/posted/"


def test_a_letter_to_a_customer_who_gave_an_address_is_to_post_and_one_without_is_not(
    file_complaint,
):
    with_address = file_complaint().acknowledgement
    without = file_complaint(postal_address="  ").acknowledgement
    assert with_address.to_post and with_address.awaiting_post
    assert not without.to_post and not without.awaiting_post


def test_the_list_shows_what_is_waiting_oldest_first_with_the_address(
    client, agent, file_complaint
):
    first = file_complaint(customer_name="Ann First").acknowledgement
    second = file_complaint(
        customer_name="Bob Second", postal_address="9 Mill Lane\nWare\nSG12 9AB"
    ).acknowledgement
    file_complaint(customer_name="Cy Email-Only", postal_address="")
    posted = file_complaint(customer_name="Di Posted").acknowledgement
    services.letter_mark_posted(letter_id=posted.pk, by=Actor.staff(agent))
    client.force_login(agent)
    page = client.get(TO_POST).content.decode()
    assert "2 letters to post" in page
    assert page.index("Ann First") < page.index("Bob Second")
    assert "9 Mill Lane<br>Ware<br>SG12 9AB" in page
    assert "Cy Email-Only" not in page and "Di Posted" not in page
    assert f'action="{posted_url(first)}"' in page and f'action="{posted_url(second)}"' in page
    assert f'href="/staff/letters/{first.pk}.pdf"' in page


def test_recording_a_letter_posted_tells_the_customer_and_a_second_click_changes_nothing(
    client, agent, manager, file_complaint
):
    filed = file_complaint()
    letter = filed.acknowledgement
    agent.first_name, agent.last_name = "Priya", "Shah"
    agent.save()
    client.force_login(agent)
    response = client.post(posted_url(letter), follow=True)
    assert response.redirect_chain[-1][0] == TO_POST
    page = response.content.decode()
    assert f"The acknowledgement to {filed.complaint.reference} (Jane Doe) is recorded" in page
    assert "0 letters to post" in page
    letter = Letter.objects.get(pk=letter.pk)
    assert letter.posted_at is not None and letter.posted_by == agent
    events = ComplaintEvent.objects.filter(complaint=filed.complaint, kind=EventKind.LETTER)
    assert events.count() == 1 and events.get().customer_visible

    client.force_login(manager)
    again = client.post(posted_url(letter), follow=True).content.decode()
    assert "already recorded as posted, by Priya Shah on" in again
    assert events.count() == 1
    assert Letter.objects.get(pk=letter.pk).posted_by == agent

    track = f"/track/{filed.complaint.reference}/{filed.tracking_secret}/"
    tracking = client.get(track).content.decode()
    assert "We posted a letter to you" in tracking
    assert re.search(r"Our acknowledgement of \d+ \w+ 20\d\d was posted to your address", tracking)


def test_the_case_page_says_what_is_to_post_and_when_it_was_posted(client, agent, file_complaint):
    filed = file_complaint()
    case = f"/staff/complaints/{filed.complaint.reference}/"
    client.force_login(agent)
    page = client.get(case).content.decode()
    assert "To post" in page and f'action="{posted_url(filed.acknowledgement)}"' in page
    response = client.post(posted_url(filed.acknowledgement), {"next": case})
    assert response.status_code == 302 and response["Location"] == case
    page = client.get(case).content.decode()
    assert "To post" not in page
    who = agent.get_full_name() or agent.get_username()
    assert re.search(rf"Posted \d+ \w+ 20\d\d · {who}</span>", page)
    assert "Letter posted" in page  # the timeline's entry


def test_recording_a_posting_is_for_staff_only_and_goes_back_only_to_this_site(
    client, outsider, agent, file_complaint
):
    letter = file_complaint().acknowledgement
    assert client.post(posted_url(letter)).status_code == 302  # to sign in
    client.force_login(outsider)
    assert client.post(posted_url(letter)).status_code == 403
    assert Letter.objects.get(pk=letter.pk).posted_at is None
    with pytest.raises(services.NotPermitted):
        services.letter_mark_posted(letter_id=letter.pk, by=Actor.customer())
    client.force_login(agent)
    response = client.post(posted_url(letter), {"next": "https://evil.example/"})
    assert response["Location"] == TO_POST
    assert client.post("/staff/letters/999999/posted/").status_code == 404


def test_a_letter_not_to_post_cannot_be_recorded_as_posted(agent, file_complaint):
    letter = file_complaint(postal_address="").acknowledgement
    with pytest.raises(services.ComplaintError, match="is not to be posted"):
        services.letter_mark_posted(letter_id=letter.pk, by=Actor.staff(agent))
    assert not ComplaintEvent.objects.filter(kind=EventKind.LETTER).exists()


def test_the_list_costs_the_same_queries_for_3_letters_as_for_30(client, agent, file_complaint):
    client.force_login(agent)
    for _ in range(3):
        file_complaint()
    with CaptureQueriesContext(connection) as few:
        assert client.get(TO_POST).status_code == 200
    for _ in range(27):
        file_complaint()
    with CaptureQueriesContext(connection) as many:
        page = client.get(TO_POST).content.decode()
    assert "30 letters to post" in page
    assert len(many) == len(few)


def test_a_letter_not_yet_posted_leaves_the_list_when_the_customers_data_is_removed(
    client, manager, complaint_in
):
    """Erasure leaves no address to post to: the letter is off the list and off the case page's
    "To post", and recording it as posted is refused, not written to the timeline."""
    from complaints import privacy

    complaint = complaint_in(State.CLOSED)
    letter = complaint.letters.get(kind=LetterKind.ACKNOWLEDGEMENT)
    assert letter.awaiting_post
    privacy.customer_erase(complaint=complaint, by=Actor.staff(manager), reason="By e-mail")
    client.force_login(manager)
    assert complaint.reference not in client.get(TO_POST).content.decode()
    case = client.get(f"/staff/complaints/{complaint.reference}/").content.decode()
    assert posted_url(letter) not in case
    with pytest.raises(services.ComplaintError, match="not to be posted"):
        services.letter_mark_posted(letter_id=letter.pk, by=Actor.staff(manager))
    assert not ComplaintEvent.objects.filter(complaint=complaint, kind=EventKind.LETTER).exists()
