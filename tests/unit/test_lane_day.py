"""The lane's day on a screen (R11): the daemon counts days in Kazakhstan's time (UTC+5); a screen on
a machine kept in UTC asks for the same day, not the machine's."""

from __future__ import annotations

import datetime as dt

import pytest

from tui import wallclock


@pytest.mark.parametrize(
    ("utc", "day"),
    [
        (dt.datetime(2026, 12, 3, 18, 59, tzinfo=dt.UTC), dt.date(2026, 12, 3)),
        (dt.datetime(2026, 12, 3, 19, 0, tzinfo=dt.UTC), dt.date(2026, 12, 4)),  # midnight in Astana
        (dt.datetime(2026, 12, 31, 23, 0, tzinfo=dt.UTC), dt.date(2027, 1, 1)),
    ],
)
def test_the_lanes_day_is_kazakhstans_whatever_the_machines_zone(
    monkeypatch: pytest.MonkeyPatch, utc: dt.datetime, day: dt.date
) -> None:
    """R11: the activity screen's day is the one the daemon groups by (app/activity.py: day_bounds)."""
    from app.activity import day_bounds
    from app.domain.periodicity import KZ_TIME

    assert wallclock.LANE_TIME == KZ_TIME  # the screens' copy of the daemon's zone
    monkeypatch.setattr(wallclock, "now", lambda: utc)
    assert wallclock.lane_today() == day
    start, end = day_bounds(day.isoformat())
    assert start <= utc.timestamp() < end
