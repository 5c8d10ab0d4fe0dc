"""Working-day calendar for complaint deadlines (UK bank holidays per nation).

What this module promises
-------------------------
* A *working day* is Monday to Friday that is neither a bank holiday (public
  holiday) of the configured UK nation nor a company closure day.
* Nations are ``"england-and-wales"``, ``"scotland"`` and ``"northern-ireland"``;
  bank holidays come from the ``holidays`` package (``GB`` with subdivision
  ``ENG``, ``SCT`` or ``NIR``, public category only), including substitute
  ("observed") days such as 27 and 28 December 2027.
* Counting: the starting date is day 0, whatever kind of day it is (weekend,
  bank holiday, closure). ``add_working_days(d, n)`` for ``n >= 1`` is the n-th
  working day strictly after ``d``, so it is always a working day;
  ``add_working_days(d, 0) == d``.
* ``working_days_between(a, b)`` counts the working days ``w`` with
  ``a < w <= b`` when ``b >= a``, and is ``-working_days_between(b, a)`` when
  ``b < a``. Hence ``working_days_between(d, add_working_days(d, n)) == n`` for
  every ``n >= 0``.
* The covered range is 1 January 2000 to 31 December 2079 inclusive. Any date
  (argument or result) outside it raises ``ValueError``; the module never
  silently answers for a date it has no table for.

Calendars are immutable once built and are shared through ``calendar_for``;
treat every attribute as read-only.
"""

from __future__ import annotations

import bisect
import datetime
import functools
import itertools
from collections.abc import Iterable
from types import MappingProxyType

import holidays

__all__ = [
    "CLOSURE_NAME",
    "FIRST_DATE",
    "LAST_DATE",
    "NATIONS",
    "WorkingDayCalendar",
    "calendar_for",
    "load_bank_holidays",
]

FIRST_DATE = datetime.date(2000, 1, 1)
LAST_DATE = datetime.date(2079, 12, 31)
CLOSURE_NAME = "Company closure"

_SUBDIVISIONS = {
    "england-and-wales": "ENG",
    "scotland": "SCT",
    "northern-ireland": "NIR",
}
NATIONS = tuple(_SUBDIVISIONS)


def _check_nation(nation: str) -> str:
    if nation not in _SUBDIVISIONS:
        raise ValueError(
            f"Unknown nation {nation!r}; expected one of {', '.join(map(repr, NATIONS))}"
        )
    return nation


@functools.lru_cache(maxsize=len(_SUBDIVISIONS))
def _bank_holidays(nation: str) -> MappingProxyType[int, str]:
    # Querying `holidays` for 80 years is the expensive part of building a
    # calendar, so it is done once per nation per process and shared by every
    # calendar of that nation, whatever its closures.
    table = holidays.country_holidays(
        "GB",
        subdiv=_SUBDIVISIONS[nation],
        years=range(FIRST_DATE.year, LAST_DATE.year + 1),
        categories=(holidays.PUBLIC,),
    )
    return MappingProxyType({day.toordinal(): name for day, name in table.items()})


def load_bank_holidays() -> None:
    """Build every nation's bank-holiday table now rather than on first use (gunicorn's master
    does, before forking its workers: config/warmup.py)."""
    for nation in NATIONS:
        _bank_holidays(nation)


def _normalise_closures(closures: Iterable[datetime.date]) -> frozenset[datetime.date]:
    result = set()
    for day in closures:
        if not isinstance(day, datetime.date):
            raise TypeError(f"Closure days must be dates, got {day!r}")
        # A datetime neither equals nor hashes like the date it falls on, so
        # reduce it to a plain date or it would miss the cache and the tables.
        result.add(datetime.date.fromordinal(day.toordinal()))
    return frozenset(result)


class WorkingDayCalendar:
    """Working days of one UK nation plus a fixed set of company closure days.

    All queries are answered from tables built once in ``__init__``:

    * ``_working``: the working days in the covered range, in order, as dates;
    * ``_count[i]``: how many working days fall on or before ``first + i days``;
    * ``_flags[i]``: 1 if ``first + i days`` is a working day, else 0.
    """

    __slots__ = (
        "_base",
        "_count",
        "_flags",
        "_named",
        "_named_ordinals",
        "_working",
        "closures",
        "first",
        "last",
        "nation",
    )

    def __init__(self, nation: str, closures: Iterable[datetime.date] = ()) -> None:
        self.nation = _check_nation(nation)
        self.closures = _normalise_closures(closures)
        self.first = FIRST_DATE
        self.last = LAST_DATE
        base = FIRST_DATE.toordinal()
        end = LAST_DATE.toordinal()
        self._base = base

        bank = _bank_holidays(nation)
        closed = {day.toordinal() for day in self.closures}
        days = end - base + 1
        # Start from the Monday-Friday pattern for the whole range, then knock
        # out holidays and closures; this keeps a rebuild for a new closures set
        # to a few milliseconds. FIRST_DATE.weekday() aligns the weekly pattern.
        week = b"\x01\x01\x01\x01\x01\x00\x00"
        offset = FIRST_DATE.weekday()
        flags = bytearray((week[offset:] + week[:offset]) * (days // 7 + 1))[:days]
        for ordinal in itertools.chain(bank, closed):
            if base <= ordinal <= end:
                flags[ordinal - base] = 0
        self._flags = bytes(flags)
        self._count = list(itertools.accumulate(flags))
        self._working = list(
            map(datetime.date.fromordinal, itertools.compress(range(base, end + 1), flags))
        )

        named: dict[int, str] = {}
        for ordinal, name in bank.items():
            if base <= ordinal <= end:
                named[ordinal] = name
        for ordinal in closed:
            if base <= ordinal <= end:
                # Same joining convention the holidays package uses for two
                # holidays on one date.
                previous = named.get(ordinal)
                named[ordinal] = f"{previous}; {CLOSURE_NAME}" if previous else CLOSURE_NAME
        self._named = named
        self._named_ordinals = sorted(named)

    def __repr__(self) -> str:
        return f"WorkingDayCalendar({self.nation!r}, closures={sorted(self.closures)!r})"

    def _index(self, d: datetime.date, what: str) -> int:
        index = d.toordinal() - self._base
        # Guard both ends explicitly: a negative index would wrap around the
        # tables and silently give an answer from the 2070s.
        if index < 0 or index >= len(self._count):
            raise ValueError(
                f"{what} {d!r} is outside the working-day calendar's range "
                f"{self.first.isoformat()} to {self.last.isoformat()}"
            )
        return index

    def is_working_day(self, d: datetime.date) -> bool:
        """True if ``d`` is Monday-Friday, not a bank holiday and not a closure."""
        return self._flags[self._index(d, "Date")] == 1

    def add_working_days(self, d: datetime.date, n: int) -> datetime.date:
        """Return the n-th working day strictly after ``d`` (``d`` itself when n == 0)."""
        index = d.toordinal() - self._base
        if n > 0 and index >= 0:
            # _count[index] working days fall on or before d, so the first one
            # after d sits at that position of _working and the n-th at +n-1.
            # Both indices are >= 0 here; running off the top end raises
            # IndexError, which the slow path turns into a ValueError.
            try:
                return self._working[self._count[index] + n - 1]
            except IndexError:
                pass
        return self._add_working_days_slow(d, n)

    def _add_working_days_slow(self, d: datetime.date, n: int) -> datetime.date:
        # Everything the fast path declines: n == 0, bad n, and out-of-range
        # dates or results, each with a message that says which.
        if n < 0:
            raise ValueError(f"n must be >= 0, got {n!r}")
        index = self._index(d, "Date")
        if n == 0:
            return d
        raise ValueError(
            f"{n} working days after {d.isoformat()} is beyond the working-day "
            f"calendar's last date {self.last.isoformat()} "
            f"(only {len(self._working) - self._count[index]} working days remain)"
        )

    def working_days_between(self, a: datetime.date, b: datetime.date) -> int:
        """Working days w with a < w <= b; negated when b < a; 0 when a == b."""
        base = self._base
        count = self._count
        ia = a.toordinal() - base
        ib = b.toordinal() - base
        if ia >= 0 and ib >= 0:
            try:
                return count[ib] - count[ia]
            except IndexError:
                pass
        self._index(a, "Start date")
        self._index(b, "End date")
        raise AssertionError("unreachable: both dates were in range")  # pragma: no cover

    def holidays_between(
        self, a: datetime.date, b: datetime.date
    ) -> list[tuple[datetime.date, str]]:
        """Bank holidays and closure days in [a, b], in date order, with their names.

        Includes bank holidays that fall at weekends (e.g. Christmas Day on a
        Saturday) alongside their substitute days, as the official lists do.
        Empty when b < a.
        """
        ia = self._index(a, "Start date") + self._base
        ib = self._index(b, "End date") + self._base
        ordinals = self._named_ordinals
        lo = bisect.bisect_left(ordinals, ia)
        hi = bisect.bisect_right(ordinals, ib)
        fromordinal = datetime.date.fromordinal
        return [(fromordinal(o), self._named[o]) for o in ordinals[lo:hi]]


@functools.lru_cache(maxsize=32)
def _calendar_for(nation: str, closures: frozenset[datetime.date]) -> WorkingDayCalendar:
    return WorkingDayCalendar(nation, closures)


def calendar_for(nation: str, closures: Iterable[datetime.date] = ()) -> WorkingDayCalendar:
    """Shared calendar for ``nation`` and ``closures``.

    The same nation and the same set of closure days (in any order or
    container) give the same object. The per-nation bank-holiday table is
    built once per process, so a new closures set only costs rebuilding the
    day tables.
    """
    return _calendar_for(_check_nation(nation), _normalise_closures(closures))
