# complaint_email_idx, rebuilt on PostgreSQL with text_pattern_ops.
#
# The staff queue's search by an e-mail address (selectors.search_q) matches addresses that start
# with the text: lower(email) LIKE 'text%'. Under any collation but "C" a default B-tree cannot
# serve LIKE, and the e-mail trigram index took 70 to 130 ms at 1,000,000 complaints to find one
# address (its trigrams are shared by most addresses); a text_pattern_ops B-tree finds it in a
# fraction of a millisecond and still serves lower(email) = ? (subject access, erasure), so it
# replaces the default one rather than adding a second index for every filing to maintain.
# The name and the expression stay those of the model state; SQLite (the embedded demo) keeps
# the default index, where LIKE needs none.

from django.db import migrations

INDEX = "complaint_email_idx"


def pattern_ops(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(f"DROP INDEX IF EXISTS {INDEX}", params=None)
    schema_editor.execute(
        f"CREATE INDEX {INDEX} ON complaints_complaint (lower((email)::text) text_pattern_ops)",
        params=None,
    )


def default_ops(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(f"DROP INDEX IF EXISTS {INDEX}", params=None)
    schema_editor.execute(
        f"CREATE INDEX {INDEX} ON complaints_complaint (lower((email)::text))", params=None
    )


class Migration(migrations.Migration):
    dependencies = [
        ("complaints", "0013_trigram_pending_list"),
    ]

    operations = [
        migrations.RunPython(pattern_ops, default_ops),
    ]
