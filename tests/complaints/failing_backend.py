"""A mail server that refuses every message, for the retry tests."""

from smtplib import SMTPRecipientsRefused

from django.core.mail.backends.base import BaseEmailBackend


class FailingBackend(BaseEmailBackend):
    def send_messages(self, email_messages):
        raise ConnectionRefusedError("connection refused by the mail server")


class RefusingBackend(BaseEmailBackend):
    """A mail server that refuses the recipient, quoting the address as servers do."""

    def send_messages(self, email_messages):
        to = email_messages[0].to[0]
        raise SMTPRecipientsRefused({to: (550, f"5.1.1 <{to}>: Recipient address rejected")})


class OutOfTimeBackend(BaseEmailBackend):
    """A send under way when the worker's soft time limit fires: Celery raises
    SoftTimeLimitExceeded inside the task, wherever it is."""

    def send_messages(self, email_messages):
        from celery.exceptions import SoftTimeLimitExceeded

        raise SoftTimeLimitExceeded()
