# Trigram indexes for the staff queue's search (see the comment above them in Complaint.Meta).
# PostgreSQL only: the embedded SQLite demo has no pg_trgm, so there the indexes are recorded in the
# migration state (models and migrations agree) but not created. pg_trgm is a trusted extension
# (PostgreSQL 13 and later): the database's owner may create it, no superuser needed.

import django.contrib.postgres.indexes
import django.db.models.functions.comparison
import django.db.models.functions.text
from django.contrib.postgres.operations import TrigramExtension
from django.db import migrations, models


class AddIndexOnPostgreSQL(migrations.AddIndex):
    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_forwards(app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_backwards(app_label, schema_editor, from_state, to_state)


def trigram_index(field: str, short: str) -> AddIndexOnPostgreSQL:
    return AddIndexOnPostgreSQL(
        model_name="complaint",
        index=django.contrib.postgres.indexes.GinIndex(
            django.contrib.postgres.indexes.OpClass(
                django.db.models.functions.text.Upper(
                    django.db.models.functions.comparison.Cast(field, models.TextField())
                ),
                name="gin_trgm_ops",
            ),
            name=f"complaint_{short}_trgm_idx",
        ),
    )


class Migration(migrations.Migration):
    dependencies = [
        ("complaints", "0008_queue_indexes"),
    ]

    operations = [
        TrigramExtension(),  # does nothing on SQLite
        trigram_index("reference", "ref"),
        trigram_index("customer_name", "name"),
        trigram_index("email", "email"),
        trigram_index("account_number", "account"),
    ]
