# Autovacuum for the complaints table after 1 % of its rows have changed, not PostgreSQL's 20 %.
#
# The queues' counts and pages are index-only scans (complaint_queue_idx, complaint_due_idx and
# the sections' own: see Complaint.Meta), which skip the table only for pages the visibility map
# marks all-visible. Every reply, assignment and transition, and every new complaint, clears that
# mark for its page until the table is vacuumed. Measured at a million complaints
# (bench/README.md): one UPDATE of the 25,000 cases migration 0029 fills in took the managers'
# queue from 36 to 72 ms at p95, and repeated passes to 200 ms; VACUUM brought it back to 36.
# With the defaults, autovacuum waits for 200,000 changed rows (20 % of a million) and 200,000
# inserted ones; the open cases the queues read are a tenth of the table and the newest of it.
#
# PostgreSQL only (SQLite, the embedded demo, has no autovacuum). Storage parameters, not
# settings: they travel with the table, and an operator can still change them.

from django.db import migrations

TABLE = "complaints_complaint"
PARAMETERS = {
    "autovacuum_vacuum_scale_factor": "0.01",
    "autovacuum_vacuum_insert_scale_factor": "0.01",
    "autovacuum_analyze_scale_factor": "0.02",
}


def tune(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    values = ", ".join(f"{name} = {value}" for name, value in PARAMETERS.items())
    schema_editor.execute(f"ALTER TABLE {TABLE} SET ({values})", params=None)


def untune(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(f"ALTER TABLE {TABLE} RESET ({', '.join(PARAMETERS)})", params=None)


class Migration(migrations.Migration):
    dependencies = [("complaints", "0029_complaint_first_reply")]

    operations = [migrations.RunPython(tune, untune)]
