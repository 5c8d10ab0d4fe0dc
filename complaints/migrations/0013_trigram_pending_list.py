# The search's trigram indexes (migration 0009) keep a short pending list.
#
# A GIN index takes new entries into an unsorted pending list, which every search reads in full
# until a VACUUM or an overflow merges it into the index; the default limit is 4 MB an index. At
# 1,000,000 complaints, after a few thousand complaints were filed, the lists held 190 to 440
# pages each and a search by reference took 54 ms instead of 23. With a 64 kB limit the INSERT
# that fills the list merges it into the index, so a search never reads more than 64 kB of it.
# PostgreSQL only, as 0009.

from django.db import migrations

INDEXES = (
    "complaint_ref_trgm_idx",
    "complaint_name_trgm_idx",
    "complaint_email_trgm_idx",
    "complaint_account_trgm_idx",
)
PENDING_LIST_KB = 64


def shorten(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in INDEXES:
        schema_editor.execute(
            f"ALTER INDEX {name} SET (gin_pending_list_limit = {PENDING_LIST_KB})", params=None
        )


def restore(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in INDEXES:
        schema_editor.execute(f"ALTER INDEX {name} RESET (gin_pending_list_limit)", params=None)


class Migration(migrations.Migration):
    dependencies = [
        ("complaints", "0012_one_adr_index"),
    ]

    operations = [
        migrations.RunPython(shorten, restore),
    ]
