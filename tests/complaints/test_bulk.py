"""A sweep's batch INSERT stores exactly what the ORM would, in one query."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import DataError, IntegrityError, connection
from django.test.utils import CaptureQueriesContext

from complaints import bulk
from complaints.models import Letter, LetterKind, OutboundEmail

pytestmark = pytest.mark.django_db

AT = dt.datetime(2026, 11, 25, 9, 30, 15, 123456, tzinfo=dt.UTC)


def test_it_stores_each_row_as_the_orm_would_with_defaults_and_full_precision(file_complaint):
    complaint = file_complaint().complaint
    context = {"reference": complaint.reference, "text": 'He said "no" \\ twice', "n": [1, None]}
    with CaptureQueriesContext(connection) as queries:
        (row,) = bulk.insert_rows(
            OutboundEmail,
            [
                {
                    "complaint_id": complaint.pk,
                    "template": "deadlock",
                    "to": ["jane@example.com"],
                    "context": context,
                    "dedupe_key": "bulk-test",
                    "created_at": AT,
                    "next_attempt_at": AT,
                }
            ],
            returning=("id", "dedupe_key"),
        )
    assert len(queries) == 1
    email = OutboundEmail.objects.get(pk=row[0])
    assert row[1] == "bulk-test"
    assert email.context == context and email.to == ["jane@example.com"]
    assert email.created_at == AT and email.next_attempt_at == AT, "microseconds are kept"
    assert email.letter_id is None and email.sent_at is None
    assert email.attempts == 0 and email.last_error == "", "left-out columns get their defaults"


def test_ignore_conflicts_skips_rows_already_there_and_returns_only_new_ones(file_complaint):
    complaint = file_complaint().complaint
    row = {"complaint_id": complaint.pk, "template": "deadlock", "to": ["a@example.com"]}
    first = bulk.insert_rows(
        OutboundEmail, [{**row, "dedupe_key": "once"}], returning=("id",), ignore_conflicts=True
    )
    again = bulk.insert_rows(
        OutboundEmail,
        [{**row, "dedupe_key": "once"}, {**row, "dedupe_key": "twice"}],
        returning=("dedupe_key",),
        ignore_conflicts=True,
    )
    assert len(first) == 1 and again == [("twice",)]
    assert OutboundEmail.objects.filter(dedupe_key__in=["once", "twice"]).count() == 2


def test_without_ignore_conflicts_a_second_deadlock_letter_is_refused(file_complaint):
    complaint = file_complaint().complaint
    row = {"complaint_id": complaint.pk, "kind": LetterKind.DEADLOCK, "context": {}}
    bulk.insert_rows(Letter, [row])
    with pytest.raises(IntegrityError):
        bulk.insert_rows(Letter, [row])


def test_a_value_too_long_for_its_column_is_refused_not_cut(file_complaint):
    complaint = file_complaint().complaint
    with pytest.raises(DataError, match="too long"):
        bulk.insert_rows(Letter, [{"complaint_id": complaint.pk, "kind": "x" * 21, "context": {}}])


def test_an_unknown_column_is_refused_before_anything_is_sent():
    with pytest.raises(ValueError, match="no column 'complaint'"):
        bulk.insert_rows(Letter, [{"complaint": 1, "kind": LetterKind.DEADLOCK}])
