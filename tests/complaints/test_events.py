"""The timeline is evidence: it cannot be changed or removed, through the app or the database."""

from __future__ import annotations

import pytest
from django.db import DatabaseError, connection, transaction

from complaints.models import ComplaintEvent

pytestmark = pytest.mark.django_db


def test_an_event_cannot_be_saved_again(file_complaint):
    event = file_complaint().complaint.events.get()
    event.text = "rewritten"
    with pytest.raises(PermissionError):
        event.save()
    assert ComplaintEvent.objects.get(pk=event.pk).text != "rewritten"


def test_events_cannot_be_deleted_or_bulk_updated(file_complaint):
    complaint = file_complaint().complaint
    with pytest.raises(PermissionError):
        complaint.events.get().delete()
    with pytest.raises(PermissionError):
        ComplaintEvent.objects.all().delete()
    with pytest.raises(PermissionError):
        ComplaintEvent.objects.all().update(text="x")
    assert complaint.events.count() == 1


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE complaints_complaintevent SET text = 'rewritten'",
        "DELETE FROM complaints_complaintevent",
    ],
)
def test_the_database_refuses_raw_updates_and_deletes(file_complaint, sql):
    complaint = file_complaint().complaint
    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(sql)
    assert complaint.events.get().text.startswith("Complaint received")
