# Trigram indexes for the staff queue's search (see the comment in Complaint.Meta).
# PostgreSQL only, and only in the database, not in the migration state: SQLite (the embedded
# demo) has no pg_trgm, and it rebuilds the whole table, with every index in the state, whenever a
# later migration changes a column of it. pg_trgm is a trusted extension (PostgreSQL 13 and later):
# the database's owner may create it, no superuser needed.

from django.contrib.postgres.operations import TrigramExtension
from django.db import migrations

INDEXES = {
    "complaint_ref_trgm_idx": "reference",
    "complaint_name_trgm_idx": "customer_name",
    "complaint_email_trgm_idx": "email",
    "complaint_account_trgm_idx": "account_number",
}


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, column in INDEXES.items():
        # The expression selectors.search_q's icontains compiles to: UPPER(column::text).
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {name} ON complaints_complaint "
            f"USING gin ((UPPER(({column})::text)) gin_trgm_ops)",
            params=None,
        )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}", params=None)


class Migration(migrations.Migration):
    dependencies = [
        ("complaints", "0008_queue_indexes"),
    ]

    operations = [
        TrigramExtension(),  # does nothing on SQLite
        migrations.RunPython(create, drop),
    ]
