"""The complaint tables' indexes: each one is written by every filing and change of state, so none
may repeat another's work (migration 0031)."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, connection, transaction

from complaints.models import Complaint

pytestmark = pytest.mark.django_db

# B-tree indexes on one of the app's tables whose key columns (and their operator classes) are the
# first key columns of another B-tree index on the same table, neither of them partial nor on an
# expression: whatever the first serves, the second serves too.
REPEATED = """
SELECT a.indexrelid::regclass::text, b.indexrelid::regclass::text
FROM pg_index a
JOIN pg_index b ON b.indrelid = a.indrelid AND b.indexrelid <> a.indexrelid
JOIN pg_class ca ON ca.oid = a.indexrelid
JOIN pg_class cb ON cb.oid = b.indexrelid
JOIN pg_am ama ON ama.oid = ca.relam
JOIN pg_am amb ON amb.oid = cb.relam
WHERE a.indrelid::regclass::text LIKE 'complaints\\_%'
  AND ama.amname = 'btree' AND amb.amname = 'btree'
  AND NOT a.indisunique
  AND a.indpred IS NULL AND b.indpred IS NULL
  AND a.indexprs IS NULL AND b.indexprs IS NULL
  AND a.indnkeyatts <= b.indnkeyatts
  AND (a.indkey::int2[])[0:a.indnkeyatts - 1] = (b.indkey::int2[])[0:a.indnkeyatts - 1]
  AND (a.indclass::oid[])[0:a.indnkeyatts - 1] = (b.indclass::oid[])[0:a.indnkeyatts - 1]
ORDER BY 1, 2
"""


def test_no_index_repeats_the_beginning_of_another():
    with connection.cursor() as cursor:
        cursor.execute(REPEATED)
        repeated = cursor.fetchall()
    assert repeated == []


def test_the_reference_has_one_btree_index_and_it_keeps_references_unique(file_complaint):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'complaints_complaint'"
            " AND indexdef LIKE '%USING btree (reference%'"
        )
        indexes = cursor.fetchall()
    assert indexes == [
        (
            "complaints_complaint_reference_key",
            "CREATE UNIQUE INDEX complaints_complaint_reference_key ON public.complaints_complaint"
            " USING btree (reference)",
        )
    ]
    first, second = file_complaint().complaint, file_complaint().complaint
    with pytest.raises(IntegrityError), transaction.atomic():
        Complaint.objects.filter(pk=second.pk).update(reference=first.reference)
