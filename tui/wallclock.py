"""The wall clock, as every screen reads it (the header's time, the export's default period): one
place, so the screens' snapshot tests can hold it still. Lane times come from the daemon."""

from __future__ import annotations

import datetime as dt


def now() -> dt.datetime:
    return dt.datetime.now()


def today() -> dt.date:
    return now().date()


#: Kazakhstan's time, as the daemon counts days (``app/domain/periodicity.py: KZ_TIME``; the screens
#: import nothing of the daemon's but its client, so it is said again here and a test holds them equal)
LANE_TIME = dt.timezone(dt.timedelta(hours=5))


def lane_today() -> dt.date:
    """Today in Kazakhstan (UTC+5), as the daemon counts days (the activity, the journal's days):
    a screen on a machine kept in UTC — a technician's over SSH — still asks for the lane's day."""
    return now().astimezone(LANE_TIME).date()
