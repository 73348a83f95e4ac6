"""R3.4: the next inspection date from category, age and use; rules as versioned data. Dates are
relative to today: no fixed date in a test."""

from __future__ import annotations

import datetime as dt

import pytest

from app.domain.periodicity import RULES, USES, add_months, lane_date, next_inspection

TODAY = dt.date.today()


def test_a_new_private_car_is_first_due_on_new_year_of_its_eighth_year() -> None:
    """The source's example: built in year Y, exempt until 1 January of Y + 8."""
    year = TODAY.year - 3
    due = next_inspection("M1", year, "private", True, TODAY)
    assert due.due == dt.date(year + 8, 1, 1) and due.status.startswith("SOURCED")
    # The last day of the exemption, and the first day after it.
    assert next_inspection("M1", year, "private", True, dt.date(year + 7, 12, 31)).rule == "exempt-new-car"
    after = next_inspection("M1", year, "private", True, dt.date(year + 8, 1, 1))
    assert after.rule == "cars" and after.due == dt.date(year + 9, 1, 1)


def test_a_taxi_is_never_exempt_and_comes_twice_a_year() -> None:
    due = next_inspection("M1", TODAY.year, "taxi", True, TODAY)
    assert due.rule == "special-use" and due.due == add_months(TODAY, 6)


@pytest.mark.parametrize(
    ("category", "use", "rule", "months"),
    [
        ("M2", "private", "buses", 6),
        ("M3", "bus_service", "special-use", 6),
        ("N3", "dangerous_goods", "special-use", 6),
        ("N3", "commercial", "heavy", 12),
        ("O4", "private", "heavy", 12),
        ("N1", "commercial", "cars", 12),
        ("O1", "private", "light-trailers-and-l", 12),
        ("L3", "private", "light-trailers-and-l", 12),
    ],
)
def test_the_period_by_category_and_use(category: str, use: str, rule: str, months: int) -> None:
    due = next_inspection(category, TODAY.year - 10, use, True, TODAY)
    assert (due.rule, due.due) == (rule, add_months(TODAY, months))


def test_an_old_car_or_a_car_without_a_year_gets_the_yearly_period() -> None:
    for year in (TODAY.year - 8, None):
        assert next_inspection("M1", year, "private", True, TODAY).due == add_months(TODAY, 12)


def test_a_failed_vehicle_has_no_next_date_it_comes_back() -> None:
    due = next_inspection("M1", TODAY.year - 10, "private", False, TODAY)
    assert due.due is None and due.rule == "re-inspection" and due.as_dict()["due"] is None


def test_every_category_and_use_has_a_rule() -> None:
    from app.domain.categories import CATEGORIES

    for category in CATEGORIES:
        for use in USES:
            assert next_inspection(category, None, use, True, TODAY).due is not None, (category, use)
    assert all(r.clause and r.status for r in RULES)


def test_months_are_added_to_the_calendar_not_counted_in_days() -> None:
    assert add_months(dt.date(TODAY.year, 1, 31), 1) == dt.date(
        TODAY.year, 2, 29 if TODAY.year % 4 == 0 and (TODAY.year % 100 or TODAY.year % 400 == 0) else 28
    )
    assert add_months(dt.date(TODAY.year, 8, 15), 6) == dt.date(TODAY.year + 1, 2, 15)
    assert add_months(dt.date(TODAY.year, 12, 1), 12) == dt.date(TODAY.year + 1, 12, 1)


def test_the_card_date_is_kazakhstan_s_day() -> None:
    """19:30 UTC is already the next day in Kazakhstan (UTC+5)."""
    late = dt.datetime.combine(TODAY, dt.time(19, 30), dt.UTC).timestamp()
    assert lane_date(late) == TODAY + dt.timedelta(days=1)
