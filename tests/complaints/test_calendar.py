"""Tests for complaints.calendar: the working-day rules complaint deadlines rely on.

Every expected date below was worked out by hand from a real calendar (weekday
of each date, UK bank holidays of the nation) and is asserted as a literal, so
the tests check the module against the world rather than against itself. The
property test at the end compares it with a plain day-by-day loop built on the
``holidays`` package directly.

No database and no Django settings are needed.
"""

from datetime import date, timedelta

import holidays
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from complaints.calendar import (
    CLOSURE_NAME,
    NATIONS,
    WorkingDayCalendar,
    calendar_for,
)

ENGLAND = "england-and-wales"
SCOTLAND = "scotland"
NORTHERN_IRELAND = "northern-ireland"


@pytest.fixture(scope="module")
def england():
    return WorkingDayCalendar(ENGLAND)


@pytest.fixture(scope="module")
def scotland():
    return WorkingDayCalendar(SCOTLAND)


@pytest.fixture(scope="module")
def northern_ireland():
    return WorkingDayCalendar(NORTHERN_IRELAND)


# --- Christmas and New Year 2026/27 -------------------------------------------------------
# Fri 18 Dec 2026. Christmas Day is Fri 25 Dec, Boxing Day Sat 26 Dec with its
# substitute on Mon 28 Dec, New Year's Day Fri 1 Jan 2027. Scotland adds 2 Jan
# (a Saturday in 2027), substituted on Mon 4 Jan.
#   E&W: 21,22,23,24 Dec (1-4), 29,30,31 Dec (5-7), 4-8 Jan (8-12), 11,12,13 Jan (13-15)
#   SCT: as E&W but 4 Jan is a holiday, so day 15 moves to Thu 14 Jan.


def test_fifteen_working_days_across_christmas_2026_in_england_and_wales(england):
    assert england.add_working_days(date(2026, 12, 18), 15) == date(2027, 1, 13)


def test_fifteen_working_days_across_christmas_2026_in_northern_ireland(northern_ireland):
    assert northern_ireland.add_working_days(date(2026, 12, 18), 15) == date(2027, 1, 13)


def test_scotland_loses_a_further_day_to_the_second_of_january_substitute(scotland):
    assert scotland.add_working_days(date(2026, 12, 18), 15) == date(2027, 1, 14)
    assert not scotland.is_working_day(date(2027, 1, 4))


def test_christmas_2026_and_its_boxing_day_substitute_are_not_working_days(england):
    assert not england.is_working_day(date(2026, 12, 25))
    assert not england.is_working_day(date(2026, 12, 28))
    assert england.is_working_day(date(2026, 12, 24))
    assert england.is_working_day(date(2026, 12, 29))
    assert england.add_working_days(date(2026, 12, 24), 1) == date(2026, 12, 29)


def test_the_fourth_of_january_2027_is_a_working_day_outside_scotland(england, northern_ireland):
    assert england.is_working_day(date(2027, 1, 4))
    assert northern_ireland.is_working_day(date(2027, 1, 4))


# --- Easter 2027 ------------------------------------------------------------------------
# Good Friday 26 Mar 2027, Easter Monday 29 Mar 2027 (not a bank holiday in Scotland).
# From Wed 24 Mar:
#   E&W/NI: Thu 25 (1), Tue 30 (2), Wed 31 (3), Thu 1 Apr (4), Fri 2 Apr (5)
#   SCT:    Thu 25 (1), Mon 29 (2), Tue 30 (3), Wed 31 (4), Thu 1 Apr (5)


def test_easter_2027_skips_good_friday_and_easter_monday_in_england_and_wales(england):
    assert england.add_working_days(date(2027, 3, 24), 5) == date(2027, 4, 2)


def test_easter_2027_skips_good_friday_and_easter_monday_in_northern_ireland(northern_ireland):
    assert northern_ireland.add_working_days(date(2027, 3, 24), 5) == date(2027, 4, 2)


def test_easter_monday_2027_is_a_working_day_in_scotland(scotland):
    assert scotland.is_working_day(date(2027, 3, 29))
    assert not scotland.is_working_day(date(2027, 3, 26))
    assert scotland.add_working_days(date(2027, 3, 24), 5) == date(2027, 4, 1)


# --- Receipt on a non-working day is day 0 ----------------------------------------------
# Sat 6 / Sun 7 Jun 2026; Mon 8 Jun is the first working day after either.


def test_receipt_on_a_saturday_counts_as_day_zero(england):
    assert england.add_working_days(date(2026, 6, 6), 0) == date(2026, 6, 6)
    assert england.add_working_days(date(2026, 6, 6), 1) == date(2026, 6, 8)
    assert england.add_working_days(date(2026, 6, 6), 5) == date(2026, 6, 12)


def test_receipt_on_a_sunday_counts_as_day_zero(england):
    assert england.add_working_days(date(2026, 6, 7), 0) == date(2026, 6, 7)
    assert england.add_working_days(date(2026, 6, 7), 1) == date(2026, 6, 8)


def test_receipt_on_a_bank_holiday_counts_as_day_zero(england):
    # Mon 31 Aug 2026 is the Late Summer Bank Holiday in England and Wales.
    assert england.add_working_days(date(2026, 8, 31), 0) == date(2026, 8, 31)
    assert england.add_working_days(date(2026, 8, 31), 1) == date(2026, 9, 1)


def test_receipt_on_a_working_day_counts_as_day_zero(england):
    # Mon 8 Jun 2026 is itself a working day; day 1 is the next one.
    assert england.add_working_days(date(2026, 6, 8), 0) == date(2026, 6, 8)
    assert england.add_working_days(date(2026, 6, 8), 1) == date(2026, 6, 9)


# --- Substitute days: Christmas 2027 ----------------------------------------------------
# 25 Dec 2027 is a Saturday and 26 Dec a Sunday, so Mon 27 and Tue 28 Dec are
# substitutes. New Year's Day 2028 is a Saturday: substitute Mon 3 Jan; Scotland
# also has 2 Jan (Sunday), substituted on Tue 4 Jan.
# From Fri 24 Dec 2027:
#   E&W: 29 (1), 30 (2), 31 (3), Tue 4 Jan (4), Wed 5 Jan (5)
#   SCT: 29 (1), 30 (2), 31 (3), Wed 5 Jan (4), Thu 6 Jan (5)


def test_christmas_2027_substitute_days_are_skipped(england):
    assert not england.is_working_day(date(2027, 12, 27))
    assert not england.is_working_day(date(2027, 12, 28))
    assert england.add_working_days(date(2027, 12, 24), 1) == date(2027, 12, 29)


def test_new_year_2028_substitute_day_is_skipped_in_england_and_wales(england):
    assert england.add_working_days(date(2027, 12, 24), 5) == date(2028, 1, 5)


def test_new_year_2028_two_substitute_days_are_skipped_in_scotland(scotland):
    assert scotland.add_working_days(date(2027, 12, 24), 5) == date(2028, 1, 6)


def test_weekend_christmas_days_are_listed_with_their_substitutes(england):
    assert england.holidays_between(date(2027, 12, 20), date(2027, 12, 31)) == [
        (date(2027, 12, 25), "Christmas Day"),
        (date(2027, 12, 26), "Boxing Day"),
        (date(2027, 12, 27), "Christmas Day (observed)"),
        (date(2027, 12, 28), "Boxing Day (observed)"),
    ]


# --- Differences between nations --------------------------------------------------------


def test_st_patricks_day_is_a_holiday_only_in_northern_ireland(england, northern_ireland):
    # Tue 17 Mar 2026; received Mon 16 Mar.
    assert not northern_ireland.is_working_day(date(2026, 3, 17))
    assert england.is_working_day(date(2026, 3, 17))
    assert northern_ireland.add_working_days(date(2026, 3, 16), 1) == date(2026, 3, 18)
    assert england.add_working_days(date(2026, 3, 16), 1) == date(2026, 3, 17)


def test_battle_of_the_boyne_substitute_monday_is_a_holiday_only_in_northern_ireland(
    england, northern_ireland
):
    # 12 Jul 2026 is a Sunday, so Mon 13 Jul is the substitute; received Fri 10 Jul.
    assert not northern_ireland.is_working_day(date(2026, 7, 13))
    assert northern_ireland.add_working_days(date(2026, 7, 10), 1) == date(2026, 7, 14)
    assert england.add_working_days(date(2026, 7, 10), 1) == date(2026, 7, 13)


def test_second_of_january_is_a_holiday_only_in_scotland(england, scotland):
    # Fri 2 Jan 2026; received Wed 31 Dec 2025, Thu 1 Jan is New Year's Day everywhere.
    assert not scotland.is_working_day(date(2026, 1, 2))
    assert england.is_working_day(date(2026, 1, 2))
    assert scotland.add_working_days(date(2025, 12, 31), 1) == date(2026, 1, 5)
    assert england.add_working_days(date(2025, 12, 31), 1) == date(2026, 1, 2)


def test_scotland_has_its_summer_bank_holiday_on_the_first_monday_of_august(england, scotland):
    # Mon 3 Aug 2026; received Fri 31 Jul.
    assert not scotland.is_working_day(date(2026, 8, 3))
    assert england.is_working_day(date(2026, 8, 3))
    assert scotland.add_working_days(date(2026, 7, 31), 1) == date(2026, 8, 4)
    assert england.add_working_days(date(2026, 7, 31), 1) == date(2026, 8, 3)


def test_england_and_wales_has_its_summer_bank_holiday_on_the_last_monday_of_august(
    england, scotland
):
    # Mon 31 Aug 2026; received Fri 28 Aug.
    assert not england.is_working_day(date(2026, 8, 31))
    assert scotland.is_working_day(date(2026, 8, 31))
    assert england.add_working_days(date(2026, 8, 28), 1) == date(2026, 9, 1)
    assert scotland.add_working_days(date(2026, 8, 28), 1) == date(2026, 8, 31)


# --- Company closure days ---------------------------------------------------------------
# Wed 10 Jun 2026 as a closure; received Mon 8 Jun, 3 working days.
#   without: 9 (1), 10 (2), 11 (3)      with: 9 (1), 11 (2), 12 (3)

CLOSURE = date(2026, 6, 10)


def test_a_closure_day_is_skipped():
    calendar = WorkingDayCalendar(ENGLAND, [CLOSURE])
    assert not calendar.is_working_day(CLOSURE)
    assert calendar.add_working_days(date(2026, 6, 8), 3) == date(2026, 6, 12)


def test_the_same_date_without_closures_is_a_working_day(england):
    assert england.is_working_day(CLOSURE)
    assert england.add_working_days(date(2026, 6, 8), 3) == date(2026, 6, 11)


def test_a_closure_on_a_weekend_changes_nothing(england):
    calendar = WorkingDayCalendar(ENGLAND, [date(2026, 6, 13)])
    assert calendar.add_working_days(date(2026, 6, 8), 10) == england.add_working_days(
        date(2026, 6, 8), 10
    )


def test_closure_days_are_listed_with_bank_holidays():
    calendar = WorkingDayCalendar(ENGLAND, [CLOSURE, date(2026, 5, 25)])
    assert calendar.holidays_between(date(2026, 5, 1), date(2026, 6, 30)) == [
        (date(2026, 5, 4), "May Day"),
        (date(2026, 5, 25), f"Spring Bank Holiday; {CLOSURE_NAME}"),
        (CLOSURE, CLOSURE_NAME),
    ]


def test_holidays_between_includes_both_ends_and_is_empty_when_reversed(england):
    assert england.holidays_between(date(2026, 12, 25), date(2026, 12, 25)) == [
        (date(2026, 12, 25), "Christmas Day")
    ]
    assert england.holidays_between(date(2026, 12, 31), date(2026, 12, 1)) == []


# --- 56 working days: the ADR clock -----------------------------------------------------
# Received Mon 2 Nov 2026, England and Wales.
#   Nov 3-30: 20 weekdays, no holidays                        -> 20
#   Dec: 1-4 (4), 7-11 (5), 14-18 (5), 21-24 (4), 29-31 (3)   -> 41
#        (25 Dec Christmas, 28 Dec Boxing Day substitute)
#   Jan 2027: 1 Jan holiday; 4-8 (5) -> 46, 11-15 (5) -> 51, 18-22 (5) -> 56 on Fri 22 Jan
# Scotland also loses Mon 30 Nov (St Andrew's Day) and Mon 4 Jan: 56 falls on Tue 26 Jan.


def test_fifty_six_working_days_for_the_adr_clock_in_england_and_wales(england):
    assert england.add_working_days(date(2026, 11, 2), 56) == date(2027, 1, 22)
    assert england.working_days_between(date(2026, 11, 2), date(2027, 1, 22)) == 56


def test_fifty_six_working_days_for_the_adr_clock_in_scotland(scotland):
    assert scotland.add_working_days(date(2026, 11, 2), 56) == date(2027, 1, 26)


# --- working_days_between ---------------------------------------------------------------


def test_working_days_between_counts_days_after_the_start_up_to_and_including_the_end(england):
    assert england.working_days_between(date(2026, 12, 18), date(2027, 1, 13)) == 15
    # Fri 5 Jun -> Mon 8 Jun 2026: only the Monday counts.
    assert england.working_days_between(date(2026, 6, 5), date(2026, 6, 8)) == 1


def test_working_days_between_is_negative_in_reverse_order(england):
    assert england.working_days_between(date(2027, 1, 13), date(2026, 12, 18)) == -15
    assert england.working_days_between(date(2026, 6, 8), date(2026, 6, 5)) == -1


def test_working_days_between_equal_dates_is_zero(england):
    assert england.working_days_between(date(2026, 6, 8), date(2026, 6, 8)) == 0
    assert england.working_days_between(date(2026, 6, 6), date(2026, 6, 6)) == 0


def test_working_days_between_a_weekend_or_holidays_only_is_zero(england):
    assert england.working_days_between(date(2026, 6, 6), date(2026, 6, 7)) == 0
    # Fri 24 Dec 2027 -> Tue 28 Dec 2027: weekend Christmas plus two substitutes.
    assert england.working_days_between(date(2027, 12, 24), date(2027, 12, 28)) == 0


# --- Range and argument errors ----------------------------------------------------------


def test_the_covered_range_is_2000_to_2079(england):
    assert england.first == date(2000, 1, 1)
    assert england.last == date(2079, 12, 31)


def test_the_first_and_last_days_of_the_range_work(england):
    # Sat 1 Jan 2000; Mon 3 Jan was the New Year substitute.
    assert england.add_working_days(date(2000, 1, 1), 1) == date(2000, 1, 4)
    # 25/26 Dec 2079 are Mon/Tue; 30/31 Dec are Sat/Sun; Fri 29 Dec is the last working day.
    assert england.add_working_days(date(2079, 12, 28), 1) == date(2079, 12, 29)
    assert england.working_days_between(date(2000, 1, 1), date(2000, 1, 1)) == 0
    assert england.add_working_days(date(2079, 12, 31), 0) == date(2079, 12, 31)


@pytest.mark.parametrize("outside", [date(1999, 12, 31), date(2080, 1, 1), date(1, 1, 1)])
def test_dates_outside_the_range_raise_value_error(england, outside):
    for n in (0, 1, 15):
        with pytest.raises(ValueError, match="outside"):
            england.add_working_days(outside, n)
    with pytest.raises(ValueError, match="outside"):
        england.is_working_day(outside)
    with pytest.raises(ValueError, match="outside"):
        england.working_days_between(outside, date(2026, 1, 1))
    with pytest.raises(ValueError, match="outside"):
        england.working_days_between(date(2026, 1, 1), outside)
    with pytest.raises(ValueError, match="outside"):
        england.holidays_between(outside, date(2026, 1, 1))


def test_a_result_beyond_the_range_raises_value_error(england):
    with pytest.raises(ValueError, match="beyond"):
        england.add_working_days(date(2079, 12, 29), 1)
    with pytest.raises(ValueError, match="beyond"):
        england.add_working_days(date(2079, 12, 1), 56)
    with pytest.raises(ValueError, match="beyond"):
        england.add_working_days(date(2000, 1, 1), 10**9)


def test_a_negative_number_of_days_raises_value_error(england):
    with pytest.raises(ValueError, match="n must be >= 0"):
        england.add_working_days(date(2026, 6, 8), -1)


@pytest.mark.parametrize("nation", ["wales", "england", "ENG", "", "Scotland"])
def test_an_unknown_nation_raises_value_error(nation):
    with pytest.raises(ValueError, match="Unknown nation"):
        WorkingDayCalendar(nation)
    with pytest.raises(ValueError, match="Unknown nation"):
        calendar_for(nation)


def test_the_three_nations_are_supported():
    assert set(NATIONS) == {ENGLAND, SCOTLAND, NORTHERN_IRELAND}


# --- calendar_for caching ---------------------------------------------------------------


def test_calendar_for_returns_the_same_object_for_the_same_arguments():
    assert calendar_for(SCOTLAND) is calendar_for(SCOTLAND)
    first = calendar_for(ENGLAND, [date(2026, 6, 10), date(2026, 6, 11)])
    again = calendar_for(ENGLAND, (date(2026, 6, 11), date(2026, 6, 10)))
    assert first is again
    assert first.nation == ENGLAND


def test_calendar_for_returns_different_objects_for_different_closures_or_nations():
    assert calendar_for(ENGLAND) is not calendar_for(ENGLAND, [CLOSURE])
    assert calendar_for(ENGLAND) is not calendar_for(NORTHERN_IRELAND)
    assert calendar_for(ENGLAND, [CLOSURE]).closures == frozenset({CLOSURE})


# --- Property: agrees with a plain day-by-day loop --------------------------------------

# Built once, straight from the holidays package, independently of the module's tables.
# Years run to 2031 because 120 working days after late 2030 reach into 2031.
_SUBDIVISION = {ENGLAND: "ENG", SCOTLAND: "SCT", NORTHERN_IRELAND: "NIR"}
REFERENCE_HOLIDAYS = {
    nation: frozenset(holidays.UK(subdiv=subdiv, years=range(2020, 2032)))
    for nation, subdiv in _SUBDIVISION.items()
}


def reference_is_working_day(day, nation, closures):
    return day.weekday() < 5 and day not in REFERENCE_HOLIDAYS[nation] and day not in closures


def reference_add_working_days(start, n, nation, closures):
    day = start
    remaining = n
    while remaining:
        day += timedelta(days=1)
        if reference_is_working_day(day, nation, closures):
            remaining -= 1
    return day


@settings(max_examples=300, deadline=None, database=None)
@given(
    start=st.dates(min_value=date(2020, 1, 1), max_value=date(2030, 12, 31)),
    n=st.integers(min_value=0, max_value=120),
    nation=st.sampled_from(sorted(_SUBDIVISION)),
    # Closures near the start date, so that they actually fall inside the counted span.
    closure_offsets=st.frozensets(st.integers(min_value=-3, max_value=170), max_size=4),
)
def test_add_working_days_agrees_with_a_day_by_day_loop(start, n, nation, closure_offsets):
    closures = frozenset(start + timedelta(days=k) for k in closure_offsets)
    calendar = calendar_for(nation, closures)

    result = calendar.add_working_days(start, n)

    assert result == reference_add_working_days(start, n, nation, closures)
    if n >= 1:
        assert calendar.is_working_day(result)
        assert reference_is_working_day(result, nation, closures)
    else:
        assert result == start
    assert calendar.working_days_between(start, result) == n
    assert calendar.working_days_between(result, start) == -n
