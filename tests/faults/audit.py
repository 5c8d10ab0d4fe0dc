"""What an auditor checks after a fault: every letter rendered once, every e-mail sent once."""

from __future__ import annotations

import hashlib
from collections import Counter

from .harness import Portal

SUBJECT_TEMPLATES = (
    ("We have received your complaint", "acknowledgement"),
    ("Our reply to your complaint", "reply"),
    ("is now with our Customer Services Manager", "escalation"),
    ("We have recorded your formal written complaint", "escalation"),
    ("We have reopened your complaint", "escalation"),
    ("Our final response to your complaint", "deadlock"),
    ("Your new link", "new_link"),
    ("A message about your complaint", "message"),
    ("We have resolved your complaint", "resolved"),
    ("CISAS's decision on your complaint", "adr_decision"),
    ("is withdrawn", "withdrawn"),
    ("overdue", "overdue_alert"),
    ("The customer has written", "customer_wrote"),
)


def template_of(subject: str) -> str:
    for words, template in SUBJECT_TEMPLATES:
        if words in subject:
            return template
    raise AssertionError(f"an e-mail no template sends: {subject!r}")


def pending(portal: Portal) -> tuple[int, int]:
    """(letters not yet rendered, e-mails not yet sent)."""
    ((letters,),) = portal.query("SELECT count(*) FROM complaints_letter WHERE rendered_at IS NULL")
    ((emails,),) = portal.query(
        "SELECT count(*) FROM complaints_outboundemail WHERE sent_at IS NULL"
    )
    return letters, emails


def assert_each_letter_rendered_once(portal: Portal) -> int:
    """One PDF file per letter, at the name the row records, with the SHA-256 it records; no
    other file. Returns how many letters there are."""
    rows = portal.query("SELECT id, pdf, sha256, rendered_at FROM complaints_letter ORDER BY id")
    files = {str(p.relative_to(portal.media)): p for p in portal.letter_files()}
    assert all(rendered_at is not None for _, _, _, rendered_at in rows), "a letter never rendered"
    assert sorted(files) == sorted(pdf for _, pdf, _, _ in rows), "a letter file too many or few"
    for _, pdf, sha256, _ in rows:
        assert hashlib.sha256(files[pdf].read_bytes()).hexdigest() == sha256, pdf
        assert files[pdf].read_bytes().startswith(b"%PDF-"), pdf
    return len(rows)


def assert_each_email_sent_once(portal: Portal) -> int:
    """Every e-mail recorded is marked sent, and the mail server received each exactly once
    (by complaint, kind of e-mail and addressees); each attached letter is the stored one.
    Returns how many e-mails there are."""
    rows = portal.query(
        "SELECT context->>'reference', template, \"to\", sent_at FROM complaints_outboundemail"
    )
    assert all(sent_at is not None for *_, sent_at in rows), "an e-mail never sent"
    recorded = Counter((ref, template, tuple(sorted(to))) for ref, template, to, _ in rows)
    messages = portal.sent_messages()
    received = Counter(
        (
            m["X-Complaint-Reference"],
            template_of(" ".join(m["Subject"].split())),
            tuple(sorted(a.strip() for a in m["To"].split(","))),
        )
        for m in messages
    )
    assert received == recorded, f"sent {received - recorded}, missing {recorded - received}"
    letters = {sha for (sha,) in portal.query("SELECT sha256 FROM complaints_letter")}
    for message in messages:
        for part in message.walk():
            if part.get_content_type() == "application/pdf":
                assert hashlib.sha256(part.get_payload(decode=True)).hexdigest() in letters
    return len(rows)


def assert_one_letter_and_one_email(portal: Portal, reference: str) -> None:
    """After one complaint's filing and a fault: its one letter rendered once (one row, one PDF
    with the recorded SHA-256), and its one e-mail sent once."""
    assert assert_each_letter_rendered_once(portal) == 1
    assert assert_each_email_sent_once(portal) == 1
    (message,) = portal.sent_messages()
    assert message["X-Complaint-Reference"] == reference
