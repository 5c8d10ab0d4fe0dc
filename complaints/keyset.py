"""Keyset ("seek") pagination for the staff queues.

A queue is ordered by a date (the reply due date, the ADR date...) and then by id. Django's
``Paginator`` fetches page 2,000 with ``OFFSET 49975``: PostgreSQL reads and throws away every row
before it, so the deeper the page, the slower. Here a page's "next" link names the last row shown
(its date and id) and the next page is ``WHERE (date, id) > (that date, that id) ORDER BY date, id
LIMIT 26``: one short index range, however deep.

An ordering is a list of ``Segment`` s, read one after the other: a segment is the rows matching a
condition, ordered by one field and then id (rows where the field is empty make a segment of their
own, after it). "Waiting for a reply first, each group by due date, undated last" is four
segments, each a plain index range, so no query has to sort on an expression. The queryset given
must be ordered the same way (its ORDER BY is used when everything fits on one page).

Links carry ``after`` (or ``before``) and ``page``; ``page`` is only the number shown ("Page 3 of
40"), never used to skip rows. A cursor is ``<segment>.<value>.<id>`` with the value as an integer
(microseconds since the epoch for a date and time, the day number for a date), so links are short,
stable and bookmarkable. A cursor that cannot be read shows the first page.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from django.db import models
from django.db.models import F, Q, QuerySet

EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
# Counting stops here: beyond it the page says "more than 100,000" rather than reading every row.
COUNT_LIMIT = 100_000
# A search's first page reads the ids of this many matches at most, and counts them.
PROBE_LIMIT = 1_000


@dataclass(frozen=True)
class Segment:
    """The rows matching ``where``, ordered by ``field`` then id. ``test`` says whether a fetched
    row is one of them (the same condition, in Python). In a ``null`` segment the field is empty
    in every row, so rows follow each other by id; they are still ordered by (field, id), which is
    the same order, so that the index on (field, id) serves them."""

    where: Q
    field: str
    test: Callable[[Any], bool] = lambda row: True
    null: bool = False
    descending: bool = False  # field then id, both from the highest

    def order(self, *, backwards: bool = False) -> list[str]:
        """The segment's ORDER BY, or its reverse."""
        down = self.descending != backwards
        return [f"-{name}" if down else name for name in (self.field, "id")]


def ordered_by(
    field: str,
    where: Q | None = None,
    test: Callable[[Any], bool] | None = None,
    *,
    nullable: bool = True,
    descending: bool = False,
) -> list[Segment]:
    """``ORDER BY field ASC NULLS LAST, id`` (PostgreSQL's default for ASC) as segments, over the
    rows matching ``where`` (``test`` being the same condition in Python); with ``descending``,
    ``ORDER BY field DESC NULLS LAST, id DESC``."""
    where = where if where is not None else Q()
    test = test or (lambda row: True)
    if not nullable:
        return [Segment(where, field, test, descending=descending)]
    return [
        Segment(
            where & Q(**{f"{field}__isnull": False}),
            field,
            lambda row: test(row) and getattr(row, field) is not None,
            descending=descending,
        ),
        Segment(
            where & Q(**{f"{field}__isnull": True}),
            field,
            lambda row: test(row) and getattr(row, field) is None,
            null=True,
            descending=descending,
        ),
    ]


def queryset_order(segments: Sequence[Segment]) -> list:
    """The ORDER BY that gives ``ordered_by``'s segments in one query (nulls last, then id), for
    the queryset a paginator pages: its first page, when everything fits, is read with it."""
    field, descending = segments[0].field, segments[0].descending
    one_order = (
        not segments[0].null
        and len(segments) <= 2
        and all(s.field == field and s.descending == descending for s in segments)
        and (len(segments) == 1 or segments[1].null)
    )
    if not one_order:
        raise ValueError("only one ordered_by()'s segments (one field, one way) make one ORDER BY")
    if descending:
        return [F(field).desc(nulls_last=True), "-id"]
    return [F(field).asc(nulls_last=True), "id"]


@dataclass(frozen=True)
class Cursor:
    segment: int
    value: Any  # the row's value of the segment's field (None in a null segment)
    id: int


def _encode(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        delta = value - EPOCH
        return str((delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds)
    if isinstance(value, dt.date):
        return str(value.toordinal())
    return str(int(value))


def _decode(field: models.Field | None, text: str) -> Any:
    if field is None:
        if text:
            raise ValueError("no value expected")
        return None
    number = int(text)
    if isinstance(field, models.DateTimeField):
        return EPOCH + dt.timedelta(microseconds=number)
    if isinstance(field, models.DateField):
        return dt.date.fromordinal(number)
    return number


class KeysetPage:
    """What the templates read from a Django ``Page``, for a keyset page."""

    is_keyset = True

    def __init__(
        self,
        paginator: KeysetPaginator,
        rows: list,
        *,
        number: int,
        has_next: bool,
        has_previous: bool,
    ) -> None:
        self.paginator = paginator
        self.object_list = rows
        self.has_previous_rows = has_previous
        self.has_next_rows = has_next
        self._number = number

    def has_next(self) -> bool:
        return self.has_next_rows

    def has_previous(self) -> bool:
        return self.has_previous_rows

    def has_other_pages(self) -> bool:
        return self.has_next_rows or self.has_previous_rows

    @property
    def number(self) -> int:
        if not self.has_previous_rows:
            return 1
        number = max(self._number, 2)
        if self.paginator.count_is_exact:
            number = min(number, self.paginator.num_pages)
        return number

    def next_page_number(self) -> int:
        return self.number + 1

    def previous_page_number(self) -> int:
        return max(self.number - 1, 1)

    @property
    def next_cursor(self) -> str:
        return self.paginator.cursor_of(self.object_list[-1]) if self.has_next_rows else ""

    @property
    def previous_cursor(self) -> str:
        return self.paginator.cursor_of(self.object_list[0]) if self.has_previous_rows else ""

    def __len__(self) -> int:
        return len(self.object_list)

    def __iter__(self):
        return iter(self.object_list)


class KeysetPaginator:
    """Pages of ``queryset`` in the order the segments give, ``per_page`` rows each."""

    def __init__(
        self,
        queryset: QuerySet,
        segments: Sequence[Segment],
        per_page: int,
        *,
        count: int | None = None,
        likely_one_page: bool = False,
        restart_when_empty: bool = True,
    ) -> None:
        """``count``: how many rows the queryset holds, when the caller has counted them already
        (then it is not counted again). ``likely_one_page``: the rows probably fit on one page (a
        search), so the first page finds the matches once for both the rows and their count.
        ``restart_when_empty``: a Next link past the last row (rows were removed since) shows the
        first page, as a person would want; a program walking the pages wants an empty page."""
        self.queryset = queryset
        self.restart_when_empty = restart_when_empty
        self.likely_one_page = likely_one_page
        if count is not None:
            self._counted = count
        self.segments = list(segments)
        self.per_page = per_page
        self._fields = [
            None if s.null else queryset.model._meta.get_field(s.field) for s in self.segments
        ]

    # --- Counting (for "N cases" and "Page 3 of 40") ----------------------------------------------

    @cached_property
    def _counted(self) -> int:
        # SELECT count(*) FROM (SELECT ... LIMIT 100001): never reads more rows than that.
        return self.queryset.order_by()[: COUNT_LIMIT + 1].count()

    @property
    def count(self) -> int:
        return min(self._counted, COUNT_LIMIT)

    @property
    def count_is_exact(self) -> bool:
        return self._counted <= COUNT_LIMIT

    @property
    def num_pages(self) -> int:
        return max(math.ceil(self.count / self.per_page), 1)

    # --- Cursors --------------------------------------------------------------------------------

    def segment_of(self, row) -> int:
        """Which segment a row belongs to (the first whose condition it meets)."""
        for index, segment in enumerate(self.segments):
            if segment.test(row):
                return index
        raise ValueError(f"{row!r} is in no segment")

    def cursor_of(self, row) -> str:
        index = self.segment_of(row)
        segment = self.segments[index]
        value = None if segment.null else getattr(row, segment.field)
        return f"{index}.{_encode(value)}.{row.pk}"

    def parse(self, text: str) -> Cursor | None:
        try:
            index_text, value_text, id_text = (text or "").split(".")
            index = int(index_text)
            if not 0 <= index < len(self.segments):
                return None
            return Cursor(index, _decode(self._fields[index], value_text), int(id_text))
        except (ValueError, OverflowError):
            return None

    # --- Fetching -------------------------------------------------------------------------------

    def _rows(self, index: int, cursor: Cursor | None, *, backwards: bool, limit: int) -> list:
        segment = self.segments[index]
        rows = self.queryset.filter(segment.where)
        field = segment.field
        if cursor is not None:
            less_or_more = "lt" if segment.descending != backwards else "gt"
            if not segment.null:
                # (field, id) > (value, id): "field >= value" bounds the index range; the OR
                # only drops the rows tied on value that were already shown.
                rows = rows.filter(
                    Q(**{f"{field}__{less_or_more}e": cursor.value})
                    & (
                        Q(**{f"{field}__{less_or_more}": cursor.value})
                        | Q(**{f"pk__{less_or_more}": cursor.id})
                    )
                )
            else:
                rows = rows.filter(**{f"pk__{less_or_more}": cursor.id})
        return list(rows.order_by(*segment.order(backwards=backwards))[:limit])

    def first_page(self) -> KeysetPage:
        if self.likely_one_page and "_counted" not in self.__dict__:
            return self._searched_first_page()
        if self.count_is_exact and self.count <= self.per_page:
            # All of it fits on one page (a search, a short section): one query, in the
            # queryset's own ORDER BY, which is the segments' order.
            rows = list(self.queryset)
            return KeysetPage(self, rows, number=1, has_next=False, has_previous=False)
        return self._forward(None, number=1)

    def _searched_first_page(self) -> KeysetPage:
        """A search's first page: the ids of up to ``PROBE_LIMIT`` matching rows, in the
        queryset's own ORDER BY (the segments' order), give both the count and the page, whose
        rows are then read by primary key. Finding the matches is the search's whole cost (the
        trigram indexes, then every matching row rechecked); asking for the first page and then
        for a count made PostgreSQL find them twice whenever they were more than a page. Not
        COUNT(*) OVER () in the same query: a window holds every matching row, whole, before the
        first comes out, and a search matching most cases took three times as long with it."""
        probe = max(PROBE_LIMIT, self.per_page)
        keys = list(self.queryset.values_list("pk", flat=True)[: probe + 1])
        if len(keys) <= probe:
            self._counted = len(keys)
        # else: more matches than that, counted (capped) when the page asks how many.
        shown = keys[: self.per_page]
        rows = list(self.queryset.filter(pk__in=shown)) if shown else []
        return KeysetPage(
            self, rows, number=1, has_next=len(keys) > self.per_page, has_previous=False
        )

    def _forward(self, cursor: Cursor | None, *, number: int) -> KeysetPage:
        rows: list = []
        start = cursor.segment if cursor else 0
        for index in range(start, len(self.segments)):
            rows += self._rows(
                index,
                cursor if cursor and index == cursor.segment else None,
                backwards=False,
                limit=self.per_page + 1 - len(rows),
            )
            if len(rows) > self.per_page:
                break
        if cursor is not None and not rows and self.restart_when_empty:
            return self.first_page()
        return KeysetPage(
            self,
            rows[: self.per_page],
            number=number,
            has_next=len(rows) > self.per_page,
            has_previous=cursor is not None,
        )

    def _backward(self, cursor: Cursor, *, number: int) -> KeysetPage:
        rows: list = []
        for index in range(cursor.segment, -1, -1):
            rows += self._rows(
                index,
                cursor if index == cursor.segment else None,
                backwards=True,
                limit=self.per_page + 1 - len(rows),
            )
            if len(rows) > self.per_page:
                break
        if len(rows) <= self.per_page:
            # Back at the start: show the first page whole, as a fresh visit would.
            return self.first_page()
        rows = rows[: self.per_page]
        rows.reverse()
        return KeysetPage(self, rows, number=number, has_next=True, has_previous=True)

    def get_page(self, params) -> KeysetPage:
        """The page a request's query string asks for: ``after`` or ``before`` a cursor, with
        ``page`` as the number to show. Anything unreadable gives the first page."""
        try:
            number = max(int(params.get("page") or 1), 1)
        except (TypeError, ValueError):
            number = 1
        after = self.parse(params.get("after", ""))
        if after is not None:
            return self._forward(after, number=number)
        before = self.parse(params.get("before", ""))
        if before is not None:
            return self._backward(before, number=number)
        return self.first_page()

    def query_at(self, offset: int) -> dict[str, str]:
        """The query string (``after``, ``page``) of the page starting ``offset`` rows in, found
        with OFFSET: for tools and tests that need a deep page's bookmark, never for a request."""
        if offset <= 0:
            return {}
        seen = 0
        for segment in self.segments:
            rows = self.queryset.filter(segment.where)
            size = rows.count()
            if offset <= seen + size:
                before = rows.order_by(*segment.order())[offset - seen - 1]
                return {"after": self.cursor_of(before), "page": str(offset // self.per_page + 1)}
            seen += size
        return {}
