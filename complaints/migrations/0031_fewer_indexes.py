# Indexes that no query needs, and that every write paid for.
#
# Django gives each foreign key an index of its own, and on PostgreSQL each unique CharField a
# second index for LIKE 'prefix%'. Six of these served nothing another index did not already
# serve: each foreign key here is the first column of an index made for the queries on it
# (complaint_assignee_idx, event_timeline_idx, caseview_complaint_idx, caseview_viewer_idx,
# one_complaint_per_filing_key), and nothing looks a reference up by its beginning. An index is
# written by every INSERT and by every UPDATE that PostgreSQL cannot make in place, which is every
# change of a complaint's state: each filing, each sweep and each case page opened (its CaseView
# row) wrote to them. Dropped, the complaint table is 38 MB smaller at a million complaints.
#
# The reference stays unique through the index it always had (complaints_complaint_reference_key,
# the name PostgreSQL gave unique=True's): only Django's record of it moves, from the field to a
# constraint of the same name, and only the LIKE index is dropped.

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


# The name Django gave unique=True's LIKE index on the reference (made by migration 0001 on
# PostgreSQL only), and how it made it.
REFERENCE_LIKE = "complaints_complaint_reference_d6095155_like"
DROP_REFERENCE_LIKE = f"DROP INDEX IF EXISTS {REFERENCE_LIKE}"
MAKE_REFERENCE_LIKE = (
    f"CREATE INDEX {REFERENCE_LIKE} ON complaints_complaint (reference varchar_pattern_ops)"
)


def drop_reference_like_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP_REFERENCE_LIKE, params=None)


def make_reference_like_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(MAKE_REFERENCE_LIKE, params=None)


class Migration(migrations.Migration):
    dependencies = [
        ("complaints", "0030_complaint_autovacuum"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AlterField(
            model_name="caseview",
            name="complaint",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="views",
                to="complaints.complaint",
            ),
        ),
        migrations.AlterField(
            model_name="caseview",
            name="viewer",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AlterField(
            model_name="complaint",
            name="assigned_to",
            field=models.ForeignKey(
                blank=True,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="assigned_complaints",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AlterField(
            model_name="complaintevent",
            name="complaint",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="events",
                to="complaints.complaint",
            ),
        ),
        migrations.AlterField(
            model_name="filingkey",
            name="user",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="complaint",
                    name="reference",
                    field=models.CharField(editable=False, max_length=20),
                ),
                migrations.AddConstraint(
                    model_name="complaint",
                    constraint=models.UniqueConstraint(
                        fields=("reference",), name="complaints_complaint_reference_key"
                    ),
                ),
            ],
            database_operations=[
                migrations.RunPython(drop_reference_like_index, make_reference_like_index),
            ],
        ),
    ]
