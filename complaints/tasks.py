"""Workers' tasks for letters and e-mail: thin, idempotent, safe to run twice or in parallel."""

from celery import shared_task

from . import documents, drafts, outbox, privacy


@shared_task(ignore_result=True)
def render_letters(letter_ids: list[int] | None = None) -> int:
    """Render the given letters (or any still waiting). Each letter is rendered exactly once."""
    return documents.letters_render_pending(letter_ids=letter_ids)


@shared_task(ignore_result=True)
def deliver_outbox() -> int:
    """Send due e-mails; each is marked sent once (see complaints.outbox for the guarantee)."""
    return outbox.email_deliver_due()


@shared_task(ignore_result=True)
def purge_abandoned_drafts() -> int:
    """Delete evidence uploaded to complaints that were never sent, once no session can use it."""
    return drafts.drafts_purge_abandoned()


@shared_task(ignore_result=True)
def anonymise_expired() -> int:
    """The retention sweep: remove personal data kept past the retention period (see privacy)."""
    return privacy.complaints_anonymise_expired()


@shared_task(ignore_result=True)
def purge_sign_in_records() -> int:
    """Staff sign-in records past SIGN_IN_RECORDS_DAYS (see privacy)."""
    return privacy.signin_records_purge()
