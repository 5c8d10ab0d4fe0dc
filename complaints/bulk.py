"""One INSERT for a sweep's batch of rows, with the batch sent as a single JSON document.

Django's ``bulk_create`` on PostgreSQL sends each column as an array (``INSERT ... SELECT * FROM
UNNEST(...)``), and psycopg writes each element of those arrays into the query in Python, escaping
every double quote of every JSON value with a regular expression, after Django has prepared each
value of each instance. For the ADR sweep's batch of 500 deadlock letters that took 42 ms of the
client's CPU, against 6 ms this way (see the Sweeps section of bench/README.md). Here the rows
travel as one JSON array, serialised by the json module's C encoder and quoted once, and
PostgreSQL unpacks it with ``jsonb_to_recordset``. It is still one statement per batch, run
through Django's cursor, so it is counted and logged like any other query.
"""

from __future__ import annotations

import datetime as dt
import decimal
import functools
import json
import uuid
from collections.abc import Sequence
from typing import Any

from django.db import IntegrityError, connection, models, transaction
from django.utils import timezone


def _json_default(value: Any) -> Any:
    # Full precision, unlike DjangoJSONEncoder, which cuts datetimes to milliseconds.
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal | uuid.UUID):
        return str(value)
    raise TypeError(f"cannot insert a {type(value).__name__} with bulk.insert_rows")


def insert_rows(
    model: type[models.Model],
    rows: Sequence[dict[str, Any]],
    *,
    returning: Sequence[str] = (),
    ignore_conflicts: bool = False,
) -> list[tuple]:
    """Insert ``rows`` (dicts keyed by field ``attname``: ``complaint_id``, not ``complaint``) into
    ``model``'s table with one statement, and return the ``returning`` columns of the rows
    inserted (in no guaranteed order: return a key with them to match them up).

    A field a row leaves out gets its model default, evaluated once for the batch (so every row of
    it gets the same ``timezone.now``). No model ``save()``, signals or ``pre_save`` run, as with
    ``bulk_create``. ``ignore_conflicts`` adds ``ON CONFLICT DO NOTHING``: a row that would break a
    unique constraint is skipped (and not returned)."""
    if not rows:
        return []
    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    given = set().union(*(row.keys() for row in rows))
    unknown = given - {f.attname for f in fields}
    if unknown:
        raise ValueError(f"{model.__name__} has no column {sorted(unknown)[0]!r}")
    now = timezone.now()
    defaults = {
        f.attname: now
        if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False)
        else f.get_default()
        for f in fields
        if f.attname not in given
    }
    if connection.vendor != "postgresql":
        return _insert_rows_portably(model, rows, defaults, returning, ignore_conflicts)
    document = json.dumps(
        [{**defaults, **row} for row in rows],
        default=_json_default,
        separators=(",", ":"),
    )
    sql = _insert_sql(model, tuple(returning), ignore_conflicts)
    with connection.cursor() as cursor:
        cursor.execute(sql, [document])
        return cursor.fetchall() if returning else []


# The statement for a model, made once a process: the columns' types were looked up again for
# every insert, a tenth of the CPU of a filing's e-mail row (bench/README.md).
@functools.cache
def _insert_sql(
    model: type[models.Model], returning: tuple[str, ...], ignore_conflicts: bool
) -> str:
    quote = connection.ops.quote_name
    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    columns = ", ".join(quote(f.column) for f in fields)
    # The record's types without length limits (varchar, not varchar(20)): the INSERT itself
    # checks each value against its column, with PostgreSQL's usual error.
    record = ", ".join(f"{quote(f.attname)} {f.db_type(connection).split('(')[0]}" for f in fields)
    selected = ", ".join(quote(f.attname) for f in fields)
    # Only the model's own, quoted names are put into the SQL; the rows are its one parameter.
    sql = (
        f"INSERT INTO {quote(model._meta.db_table)} ({columns}) "  # noqa: S608
        f"SELECT {selected} FROM jsonb_to_recordset(%s::jsonb) AS batch({record})"
    )
    if ignore_conflicts:
        sql += " ON CONFLICT DO NOTHING"
    if returning:
        sql += " RETURNING " + ", ".join(
            quote(model._meta.get_field(name).column) for name in returning
        )
    return sql


def _insert_rows_portably(
    model: type[models.Model],
    rows: Sequence[dict[str, Any]],
    defaults: dict[str, Any],
    returning: Sequence[str],
    ignore_conflicts: bool,
) -> list[tuple]:
    """The same rows through the ORM, for the embedded demo's SQLite (``make run``)."""
    objs = [model(**{**defaults, **row}) for row in rows]
    if returning and ignore_conflicts:
        # bulk_create does not say which rows it skipped: one INSERT each, in a savepoint.
        inserted = []
        for obj in objs:
            try:
                with transaction.atomic():
                    obj.save(force_insert=True)
            except IntegrityError:
                continue
            inserted.append(obj)
        objs = inserted
    else:
        objs = model._default_manager.bulk_create(objs, ignore_conflicts=ignore_conflicts)
    if not returning:
        return []
    names = [model._meta.get_field(name).attname for name in returning]
    return [tuple(getattr(obj, name) for name in names) for obj in objs]
