"""Personal data: retention and the anonymisation sweep with legal holds, subject access export,
erasure on request; what stays for the figures and the audit trail, and what goes."""

from __future__ import annotations

import datetime as dt
import io
import json
import threading
import zipfile

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection, connections
from django.db.utils import InternalError, ProgrammingError
from django.utils import timezone
from rest_framework.test import APIClient

from complaints import documents, outbox, privacy, services
from complaints.api_auth import api_token_issue
from complaints.models import (
    CaseView,
    Complaint,
    ComplaintEvent,
    EmailTemplate,
    EventKind,
    Letter,
    OutboundEmail,
    State,
)
from complaints.roles import Actor
from escalation import reports
from escalation import services as escalation_services
from tests.conftest import fresh

pytestmark = pytest.mark.django_db(transaction=False)

NOW = timezone.now()


def ended_years_ago(complaint: Complaint, years: float) -> Complaint:
    """Move a complaint's end (and its whole life) back in time, as if it closed long ago."""
    shift = dt.timedelta(days=365.25 * years)
    field = "closed_at" if complaint.state == State.CLOSED else "withdrawn_at"
    Complaint.objects.filter(pk=complaint.pk).update(
        **{field: getattr(fresh(complaint), field) - shift}
    )
    return fresh(complaint)


def evidence(name="bill.pdf"):
    return SimpleUploadedFile(
        name, b"%PDF-1.4 my bill with my address", content_type="application/pdf"
    )


def figures() -> dict:
    """Every figure of the managers' reports, over all time."""
    start, end = dt.date(2000, 1, 1), dt.date(2100, 1, 1)
    return {
        name: getattr(reports, name)(start, end)
        for name in (
            "received_by_channel",
            "received_by_category",
            "median_working_days_to_resolution",
            "escalations",
            "deadlock_letters",
            "cisas",
        )
    }


def rendered(complaint: Complaint) -> list[Letter]:
    for letter in complaint.letters.all():
        documents.letter_render(letter_id=letter.pk)
    return list(complaint.letters.all())


# --- Holds and retention dates ------------------------------------------------------------------


def test_open_resolved_and_remedy_cases_are_held_and_closed_ones_are_not(complaint_in):
    assert privacy.hold_reasons(complaint_in(State.CS_TEAM)) == ["the complaint is still open"]
    assert privacy.hold_reasons(complaint_in(State.ADR_REFERRED)) == ["it is with CISAS"]
    assert privacy.hold_reasons(complaint_in(State.COURT)) == ["court action is under way"]
    assert "reopen" in privacy.hold_reasons(complaint_in(State.RESOLVED))[0]
    assert privacy.hold_reasons(complaint_in(State.CLOSED)) == []
    assert privacy.hold_reasons(complaint_in(State.WITHDRAWN)) == []


def test_retention_ends_six_years_after_closure_by_default(complaint_in, settings):
    closed = fresh(complaint_in(State.CLOSED))
    assert privacy.retention_ends(closed) == closed.closed_at.replace(
        year=closed.closed_at.year + 6
    )
    settings.RETENTION_YEARS = 2
    assert privacy.retention_ends(closed).year == closed.closed_at.year + 2
    assert privacy.retention_ends(complaint_in(State.CS_TEAM)) is None


def test_a_leap_day_closure_is_kept_until_28_february():
    leap = dt.datetime(2024, 2, 29, 12, tzinfo=dt.UTC)
    assert privacy._years_later(leap, 6) == dt.datetime(2030, 2, 28, 12, tzinfo=dt.UTC)


# --- The retention sweep --------------------------------------------------------------------------


def test_the_sweep_anonymises_only_what_is_past_retention_and_not_held(complaint_in, manager):
    old = ended_years_ago(complaint_in(State.CLOSED), 6.1)
    old_withdrawn = ended_years_ago(complaint_in(State.WITHDRAWN), 7)
    recent = ended_years_ago(complaint_in(State.CLOSED), 5.9)
    held = ended_years_ago(complaint_in(State.CLOSED), 8)
    privacy.complaint_set_legal_hold(
        complaint=held, by=Actor.staff(manager), hold=True, reason="Claim N123", expected=False
    )
    still_open = complaint_in(State.COURT)

    assert privacy.complaints_anonymise_expired() == 2

    assert fresh(old).anonymised_at is not None
    assert fresh(old_withdrawn).anonymised_at is not None
    for kept in (recent, held, still_open):
        assert fresh(kept).anonymised_at is None
        assert fresh(kept).customer_name == "Jane Doe"
    # Idempotent: a second run (or a second worker) finds nothing more.
    assert privacy.complaints_anonymise_expired() == 0
    assert ComplaintEvent.objects.filter(complaint=old, kind=EventKind.PRIVACY).count() == 1


def test_an_outstanding_cisas_remedy_holds_a_closed_case(complaint_in):
    case = ended_years_ago(complaint_in(State.CLOSED), 9)
    Complaint.objects.filter(pk=case.pk).update(remedy_due_date=dt.date(2019, 1, 1))
    assert privacy.complaints_anonymise_expired() == 0
    assert fresh(case).anonymised_at is None


def test_the_sweep_works_through_more_than_one_batch(complaint_in):
    cases = [ended_years_ago(complaint_in(State.CLOSED), 7) for _ in range(5)]
    assert privacy.complaints_anonymise_expired(batch_size=2) == 5
    assert all(fresh(c).anonymised_at for c in cases)


def test_anonymising_removes_the_personal_data_and_keeps_the_figures(
    file_complaint, manager, settings
):
    by = Actor.staff(manager)
    filed = file_complaint(
        vulnerable=True, vulnerability_notes="Hearing impaired", attachments=[evidence()]
    )
    case = filed.complaint
    services.complaint_add_note(complaint=case, by=by, text="Spoke to Jane at 1 High Street.")
    services.complaint_resolve(complaint=case, by=by, summary="Refunded £30 to Jane.")
    services.complaint_close(complaint=case, by=by)
    letters = rendered(case)
    files = [letters[0].pdf.name, *case.attachments.values_list("file", flat=True)]
    assert all(default_storage.exists(name) for name in files)
    sha = letters[0].sha256
    before = figures()
    history = list(case.events.values_list("id", "kind", "actor_id", "created_at"))
    case = ended_years_ago(fresh(case), 6.5)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("django.db.transaction.on_commit", lambda f, **k: f())
        assert privacy.complaints_anonymise_expired() == 1

    case = fresh(case)
    assert case.customer_name == "Anonymised"
    for name in (
        "email",
        "phone",
        "postal_address",
        "account_number",
        "description",
        "vulnerability_notes",
        "resolution_summary",
        "tracking_token_hash",
    ):
        assert getattr(case, name) == "", name
    # What the figures and the audit trail need stays.
    assert (case.reference, case.state, case.category, case.vulnerable) == (
        filed.complaint.reference,
        State.CLOSED,
        "billing",
        True,
    )
    assert case.received_at == filed.complaint.received_at
    assert figures() == before
    events = list(case.events.order_by("id"))
    # Every step stays on the timeline, by whom and when; only what was said is gone.
    assert [(e.id, e.kind, e.actor_id, e.created_at) for e in events[:-1]] == history
    assert all(e.text == "" and e.data == {} for e in events[:-1])
    assert events[-1].kind == EventKind.PRIVACY and "retention" in events[-1].text
    assert events[-1].customer_visible is False
    letter = case.letters.get(pk=letters[0].pk)
    assert (letter.context, letter.pdf.name, letter.sha256) == ({}, "", sha)
    assert not any(default_storage.exists(name) for name in files)
    assert list(case.attachments.values_list("name", "file")) == [("", "")]
    assert all(e.to == [] and e.context == {} for e in OutboundEmail.objects.filter(complaint=case))
    # The customer's tracking link no longer opens anything.
    assert not services.secret_matches(case, filed.tracking_secret)


def test_a_deadlock_letter_by_the_clock_still_counts_as_one_after_anonymising(
    complaint_in, manager
):
    case = complaint_in(State.DEADLOCK)
    letter = case.letters.get(kind="deadlock")
    Letter.objects.filter(pk=letter.pk).update(context={**letter.context, "by_clock": True})
    by = Actor.staff(manager)
    services.complaint_resolve(complaint=case, by=by, summary="Settled.")
    services.complaint_close(complaint=case, by=by)
    before = figures()
    assert before["deadlock_letters"] == {"total": 1, "by_clock": 1, "by_decision": 0}
    ended_years_ago(fresh(case), 7)
    assert privacy.complaints_anonymise_expired() == 1
    assert figures() == before


def test_a_letter_never_rendered_is_not_rendered_from_an_empty_context(complaint_in):
    case = ended_years_ago(complaint_in(State.CLOSED), 7)
    assert case.letters.filter(rendered_at__isnull=True).exists()
    privacy.complaints_anonymise_expired()
    assert documents.letters_render_pending() == 0


def test_unsent_emails_of_an_anonymised_case_are_never_sent(complaint_in, mailoutbox):
    case = ended_years_ago(complaint_in(State.CLOSED), 7)
    assert OutboundEmail.objects.filter(complaint=case, sent_at__isnull=True).exists()
    privacy.complaints_anonymise_expired()
    assert not OutboundEmail.objects.filter(complaint=case, sent_at__isnull=True).exists()


def test_a_failed_e_mails_error_quoting_the_address_is_removed_too(complaint_in, settings):
    settings.EMAIL_BACKEND = "tests.complaints.failing_backend.RefusingBackend"
    case = complaint_in(State.CLOSED)
    outbox.email_deliver_due()
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    assert outbox.email_deliver_due(now=NOW + dt.timedelta(days=1)) > 0  # sent at last
    email = case.emails.filter(sent_at__isnull=False, attempts__gt=1).first()
    assert "jane@example.com" in email.last_error
    privacy.complaints_anonymise_expired(now=NOW + dt.timedelta(days=365 * 7))
    email.refresh_from_db()
    assert email.sent_at is not None and email.to == [] and email.last_error == ""


@pytest.mark.django_db(transaction=True)
def test_two_sweeps_at_once_anonymise_each_case_once(complaint_in):
    cases = [ended_years_ago(complaint_in(State.CLOSED), 7) for _ in range(6)]
    results, barrier = [], threading.Barrier(2)

    def sweep():
        try:
            barrier.wait()
            results.append(privacy.complaints_anonymise_expired(batch_size=2))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=sweep) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(results) == 6
    for case in cases:
        assert ComplaintEvent.objects.filter(complaint=case, kind=EventKind.PRIVACY).count() == 1


# --- The timeline stays append-only -------------------------------------------------------------


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE complaints_complaintevent SET text = 'rewritten'",
        "UPDATE complaints_complaintevent SET kind = 'note', text = '', data = '{}'",
        "DELETE FROM complaints_complaintevent",
    ],
)
def test_even_while_anonymising_the_database_refuses_other_changes_to_events(file_complaint, sql):
    file_complaint()
    refused = pytest.raises((InternalError, ProgrammingError), match="append-only")
    with refused, connection.cursor() as cursor:
        cursor.execute("SET LOCAL complaints.anonymising = 'on'")
        cursor.execute(sql)


def test_without_the_setting_blanking_an_event_is_refused(file_complaint):
    file_complaint()
    refused = pytest.raises((InternalError, ProgrammingError), match="append-only")
    with refused, connection.cursor() as cursor:
        cursor.execute("UPDATE complaints_complaintevent SET text = '', data = '{}'")


# --- Legal hold --------------------------------------------------------------------------------


def test_a_legal_hold_is_compare_and_set_and_on_the_timeline(complaint_in, manager):
    case = complaint_in(State.CLOSED)
    by = Actor.staff(manager)
    privacy.complaint_set_legal_hold(
        complaint=case, by=by, hold=True, reason="Ofcom inquiry", expected=False
    )
    assert (fresh(case).legal_hold, fresh(case).legal_hold_reason) == (True, "Ofcom inquiry")
    stale = Complaint.objects.get(pk=case.pk)
    stale.legal_hold = False  # what an old page showed
    with pytest.raises(privacy.LegalHoldChanged, match="first"):
        privacy.complaint_set_legal_hold(
            complaint=stale, by=by, hold=True, reason="again", expected=False
        )
    privacy.complaint_set_legal_hold(
        complaint=case, by=by, hold=False, reason="Inquiry closed", expected=True
    )
    texts = list(case.events.filter(kind=EventKind.PRIVACY).values_list("text", flat=True))
    assert texts == ["Legal hold placed: Ofcom inquiry", "Legal hold lifted: Inquiry closed"]


def test_agents_may_not_hold_or_erase(complaint_in, agent):
    case = complaint_in(State.CLOSED)
    with pytest.raises(services.NotPermitted):
        privacy.complaint_set_legal_hold(
            complaint=case, by=Actor.staff(agent), hold=True, reason="x", expected=False
        )
    with pytest.raises(services.NotPermitted):
        privacy.customer_erase(complaint=case, by=Actor.staff(agent), reason="x")


# --- Erasure on request -------------------------------------------------------------------------


def test_erasure_takes_what_is_free_and_says_what_is_kept(file_complaint, complaint_in, manager):
    by = Actor.staff(manager)
    closed = complaint_in(State.CLOSED)
    withdrawn = complaint_in(State.WITHDRAWN)
    open_case = complaint_in(State.CS_TEAM)
    someone_else = file_complaint(email="other@example.com").complaint
    done = privacy.customer_erase(complaint=closed, by=by, reason="E-mail of 3 March, ID checked")
    assert sorted(done.erased) == sorted([closed.reference, withdrawn.reference])
    assert done.kept == {open_case.reference: ["the complaint is still open"]}
    assert fresh(closed).anonymised_at and fresh(withdrawn).anonymised_at
    assert fresh(open_case).anonymised_at is None
    assert fresh(someone_else).customer_name == "Jane Doe"
    event = closed.events.filter(kind=EventKind.PRIVACY).get()
    assert event.text == "Personal data removed: erased on request. E-mail of 3 March, ID checked"
    assert event.actor == manager
    # The complaint kept says that erasure was asked for, and why its data is still here.
    kept = open_case.events.filter(kind=EventKind.PRIVACY).get()
    assert kept.text == (
        "Erasure requested; personal data kept because the complaint is still open. "
        "E-mail of 3 March, ID checked"
    )
    assert kept.actor == manager and not kept.customer_visible


def test_erasure_when_everything_is_held_erases_nothing_and_records_the_request(
    complaint_in, manager
):
    case = complaint_in(State.COURT)
    events = ComplaintEvent.objects.count()
    with pytest.raises(privacy.NothingToErase, match="court action is under way"):
        privacy.customer_erase(complaint=case, by=Actor.staff(manager), reason="Letter, ID checked")
    assert fresh(case).anonymised_at is None
    assert fresh(case).customer_name == "Jane Doe"
    assert ComplaintEvent.objects.count() == events + 1
    assert case.events.filter(kind=EventKind.PRIVACY).get().text == (
        "Erasure requested; personal data kept because court action is under way. "
        "Letter, ID checked"
    )


def test_erasure_needs_a_reason(complaint_in, manager):
    case = complaint_in(State.CLOSED)
    with pytest.raises(services.ValidationError):
        privacy.customer_erase(complaint=case, by=Actor.staff(manager), reason="  ")
    assert fresh(case).anonymised_at is None


# --- Subject access export --------------------------------------------------------------------


def test_the_export_holds_every_complaint_of_the_customer_with_letters_and_files(
    file_complaint, manager
):
    first = file_complaint(attachments=[evidence("my bill.pdf")]).complaint
    second = file_complaint(email="JANE@example.com", description="Broadband down.").complaint
    file_complaint(email="someone@example.com")
    services.complaint_add_note(
        complaint=first, by=Actor.staff(manager), text="Customer sounded upset."
    )
    archive = privacy.customer_export(complaint=first, by=Actor.staff(manager))
    with zipfile.ZipFile(io.BytesIO(archive.read())) as z:
        names = z.namelist()
        data = json.loads(z.read("complaints.json"))
        readme = z.read("README.txt").decode()
        letter_pdfs = [n for n in names if n.startswith("letters/")]
        assert all(z.read(n).startswith(b"%PDF") for n in letter_pdfs)
        files = [n for n in names if n.startswith("files/")]
        assert [z.read(n) for n in files] == [b"%PDF-1.4 my bill with my address"]
    assert [c["reference"] for c in data["complaints"]] == [first.reference, second.reference]
    record = data["complaints"][0]
    assert record["your_details"]["email"] == "jane@example.com"
    assert record["complaint"] == "I was charged twice for October."
    assert "Customer sounded upset." in [e["text"] for e in record["timeline"]]
    assert record["files"][0]["name"] == "my bill.pdf"
    assert len(letter_pdfs) == 2  # the two acknowledgements, rendered for the export
    assert "Jane Doe" in readme
    # Each complaint read is in the audit of reads, and the export is on the timeline.
    assert set(
        CaseView.objects.filter(via=CaseView.Via.EXPORT).values_list("complaint_id", flat=True)
    ) == {first.pk, second.pk}
    assert first.events.filter(kind=EventKind.PRIVACY, text__contains=second.reference).exists()


def test_the_export_lists_the_e_mails_sent_to_the_customer_not_the_staffs_alerts(
    file_complaint, manager
):
    complaint = file_complaint().complaint
    overdue = complaint.response_due_at + dt.timedelta(days=1)
    assert escalation_services.sweep_overdue_replies(now=overdue) == 1
    alert = complaint.emails.get(template=EmailTemplate.OVERDUE_ALERT)
    assert "manager@example.com" in alert.to
    archive = privacy.customer_export(complaint=complaint, by=Actor.staff(manager))
    with zipfile.ZipFile(io.BytesIO(archive.read())) as z:
        exported = z.read("complaints.json").decode()
    emails = json.loads(exported)["complaints"][0]["emails"]
    assert emails == [{"about": "Complaint received", "to": ["jane@example.com"], "sent_at": None}]
    assert "manager@example.com" not in exported  # a member of staff's address is theirs


# --- Through the case page ----------------------------------------------------------------------


def act(client, complaint, action, **fields):
    data = {"action": action, f"{action}-expected_state": complaint.state}
    data.update({f"{action}-{k}": v for k, v in fields.items()})
    return client.post(f"/staff/complaints/{complaint.reference}/actions/", data)


def test_a_manager_erases_from_the_case_page(client, manager, complaint_in):
    case = complaint_in(State.CLOSED)
    client.force_login(manager)
    page = client.get(f"/staff/complaints/{case.reference}/")
    assert "erase" in [entry["name"] for entry in page.context["forms"]]
    refused = act(client, case, "erase", reason="By phone")  # not confirmed
    assert refused.status_code == 400
    assert "Confirm that you have checked the request." in refused.content.decode()
    assert fresh(case).anonymised_at is None
    done = act(client, case, "erase", reason="By phone, ID checked", confirm="on")
    assert done.status_code == 302
    page = client.get(f"/staff/complaints/{case.reference}/")
    html = page.content.decode()
    assert "personal data was removed" in html
    assert "jane@example.com" not in html
    assert "erase" not in [entry["name"] for entry in page.context["forms"]]


def test_a_letter_removed_with_the_personal_data_is_not_found_not_an_error(
    client, manager, complaint_in
):
    case = complaint_in(State.CLOSED)
    letter = rendered(case)[0]
    privacy.customer_erase(complaint=case, by=Actor.staff(manager), reason="By phone, ID checked")
    client.force_login(manager)
    response = client.get(f"/staff/letters/{letter.pk}.pdf")
    assert response.status_code == 404
    says_why_to_staff(response, "This letter was removed with the customer’s personal data.")
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {api_token_issue(user=manager)}")
    response = api.get(f"/api/v1/complaints/{case.reference}/letters/{letter.pk}/")
    assert response.status_code == 404 and response.json()["code"] == "not_found"
    # The record that it was issued stays, with its SHA-256.
    assert api.get(f"/api/v1/complaints/{case.reference}/").json()["letters"][0]["sha256"] == (
        letter.sha256
    )


def test_the_api_says_why_a_removed_letter_is_not_found(manager, complaint_in):
    case = complaint_in(State.CLOSED)
    letter = rendered(case)[0]
    privacy.customer_erase(complaint=case, by=Actor.staff(manager), reason="By phone, ID checked")
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {api_token_issue(user=manager)}")
    response = api.get(f"/api/v1/complaints/{case.reference}/letters/{letter.pk}/")
    assert response.status_code == 404
    assert response.json() == {
        "detail": "This letter was removed with the customer's personal data.",
        "code": "not_found",
    }


def test_a_file_removed_with_the_personal_data_is_not_found_not_an_error(
    client, manager, file_complaint
):
    case = file_complaint(attachments=[evidence("my bill.pdf")]).complaint
    services.complaint_withdraw(complaint=case, by=Actor.customer())
    item = case.attachments.get()
    privacy.customer_erase(complaint=case, by=Actor.staff(manager), reason="By phone, ID checked")
    client.force_login(manager)
    response = client.get(f"/staff/complaints/{case.reference}/files/{item.pk}/")
    assert response.status_code == 404
    says_why_to_staff(response, "This file was removed with the customer’s personal data.")


def says_why_to_staff(response, reason: str) -> None:
    """The staff pages' 404 (an old bookmark, say): the reason and the way back to the queue, not
    the customers' advice about replaced tracking links."""
    page = response.content.decode()
    assert reason in page.replace("&#x27;", "’").replace("'", "’")
    assert 'href="/staff/"' in page
    assert "Get a new link to your complaint" not in page


def test_agents_see_no_privacy_actions_and_may_not_export(client, agent, complaint_in):
    case = complaint_in(State.CLOSED)
    client.force_login(agent)
    page = client.get(f"/staff/complaints/{case.reference}/")
    assert not {"erase", "hold", "lift_hold"} & {e["name"] for e in page.context["forms"]}
    assert "subject access export" not in page.content.decode()
    assert client.post(f"/staff/complaints/{case.reference}/subject-access/").status_code == 403
    refused = act(client, case, "erase", reason="x", confirm="on")
    assert refused.status_code == 302
    page = client.get(refused["Location"])
    assert "erase a customer" in page.content.decode()
    assert fresh(case).anonymised_at is None


def test_a_manager_downloads_the_export_from_the_case_page(client, manager, file_complaint):
    case = file_complaint().complaint
    client.force_login(manager)
    response = client.post(f"/staff/complaints/{case.reference}/subject-access/")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    assert f"{case.reference}-subject-access.zip" in response["Content-Disposition"]
    body = b"".join(response.streaming_content)
    assert "complaints.json" in zipfile.ZipFile(io.BytesIO(body)).namelist()


def test_a_manager_places_a_legal_hold_from_the_case_page(client, manager, complaint_in):
    case = complaint_in(State.CLOSED)
    client.force_login(manager)
    response = act(client, case, "hold", reason="Court claim N123", expected_hold="False")
    assert response.status_code == 302
    assert fresh(case).legal_hold
    page = client.get(f"/staff/complaints/{case.reference}/")
    assert "a legal hold: Court claim N123" in page.content.decode()
    assert "lift_hold" in [entry["name"] for entry in page.context["forms"]]
    # A second tab still showing "not held" is refused, and says so.
    stale = act(client, case, "hold", reason="again", expected_hold="False")
    assert stale.status_code == 302
    assert fresh(case).legal_hold_reason == "Court claim N123"


def test_staff_sign_in_records_are_removed_once_past_their_retention(settings):
    """Each sign-in and failed attempt is recorded with the address and browser it came from:
    kept for SIGN_IN_RECORDS_DAYS, then removed by the nightly task."""
    import datetime as dt

    from axes.models import AccessFailureLog, AccessLog
    from django.utils import timezone

    from complaints import tasks

    settings.SIGN_IN_RECORDS_DAYS = 30
    now = timezone.now()
    for days in (31, 29):
        at = now - dt.timedelta(days=days)
        for model in (AccessLog, AccessFailureLog):
            record = model.objects.create(
                username=f"agent{days}", ip_address="203.0.113.9", user_agent="Firefox"
            )
            model.objects.filter(pk=record.pk).update(attempt_time=at)  # created "now"
    assert tasks.purge_sign_in_records() == 2
    assert list(AccessLog.objects.values_list("username", flat=True)) == ["agent29"]
    assert list(AccessFailureLog.objects.values_list("username", flat=True)) == ["agent29"]
