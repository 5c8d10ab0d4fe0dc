"""The timeline is evidence: on PostgreSQL, refuse UPDATE and DELETE of events in the database
itself, so no code path (raw SQL, a bulk update, a shell) can rewrite a case's history."""

from django.db import migrations

FORBID = """
CREATE OR REPLACE FUNCTION complaints_event_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'complaint events are append-only (% refused)', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER complaints_event_append_only
    BEFORE UPDATE OR DELETE ON complaints_complaintevent
    FOR EACH ROW EXECUTE FUNCTION complaints_event_append_only();
"""
ALLOW = """
DROP TRIGGER IF EXISTS complaints_event_append_only ON complaints_complaintevent;
DROP FUNCTION IF EXISTS complaints_event_append_only();
"""


def forbid(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FORBID, params=None)


def allow(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(ALLOW, params=None)


class Migration(migrations.Migration):
    dependencies = [("complaints", "0001_initial")]
    operations = [migrations.RunPython(forbid, allow)]
