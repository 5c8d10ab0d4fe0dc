# A trigram index for the staff queue's search by phone number (selectors.phone_q), as 0009's
# for the other fields: PostgreSQL only, in the database only, with 0013's short pending list.
# It is on the number's digits alone, the expression phone_q compares, so "07700 900123",
# "07700900123" and "+44 7700 900123" are one number to it.

from django.db import migrations

NAME = "complaint_phone_trgm_idx"
# selectors.PHONE_DIGITS as PostgreSQL sees it, cast to text as Django's LIKE lookup casts it.
DIGITS = "phone"
for sign in (" ", "-", "(", ")", ".", "+"):
    DIGITS = f"REPLACE({DIGITS}, '{sign}', '')"


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(
        f"CREATE INDEX IF NOT EXISTS {NAME} ON complaints_complaint "
        f"USING gin ((({DIGITS})::text) gin_trgm_ops) WITH (gin_pending_list_limit = 64)",
        params=None,
    )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(f"DROP INDEX IF EXISTS {NAME}", params=None)


class Migration(migrations.Migration):
    dependencies = [
        ("complaints", "0018_caseview_admin"),
    ]

    operations = [
        migrations.RunPython(create, drop),
    ]
