# A session's save rewritten in place: no index on what a save changes, and room on its page.
#
# Every page of a customer's filing saves their session (config/sessions.py): five writes a
# filing. Django's table has three indexes: the primary key, one on expire_date and, since the
# key is a CharField, a second on session_key for LIKE 'prefix%'. Each save sets expire_date, so
# PostgreSQL could never update a row in place (a heap-only tuple): every save wrote a new row
# version and an entry into all three indexes. Measured under the filing benchmark
# (bench/README.md): 0 of 178,799 session updates were made in place before, 14,931 of 14,932
# after, and PostgreSQL's CPU per web filing went from 3.0 to 2.8 ms.
#
# - The LIKE index served nothing: a session is only ever looked up by its whole key.
# - The expire_date index served only the daily purge of expired sessions (clear_expired in
#   drafts.drafts_purge_abandoned, 03:17), which now reads the table through: 50 ms for 43,669
#   sessions (33 MB) on the benchmark machine, once a day.
# - fillfactor 70 leaves room on each page for a session's next version to go beside it.
#
# PostgreSQL only (the embedded demo's SQLite has neither the LIKE index nor in-place updates).
# Reversible: the indexes come back as Django made them.

from django.db import migrations

TABLE = "django_session"
INDEXES = {
    "django_session_session_key_c0390e0f_like": "(session_key varchar_pattern_ops)",
    "django_session_expire_date_a5c62663": "(expire_date)",
}


def in_place(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}", params=None)
    schema_editor.execute(f"ALTER TABLE {TABLE} SET (fillfactor = 70)", params=None)


def as_django_made_it(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, columns in INDEXES.items():
        schema_editor.execute(f"CREATE INDEX IF NOT EXISTS {name} ON {TABLE} {columns}", params=None)
    schema_editor.execute(f"ALTER TABLE {TABLE} RESET (fillfactor)", params=None)


class Migration(migrations.Migration):
    dependencies = [
        ("complaints", "0031_fewer_indexes"),
        ("sessions", "0001_initial"),
    ]

    operations = [migrations.RunPython(in_place, as_django_made_it)]
