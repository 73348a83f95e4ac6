"""The wall clock, as every screen reads it (the header's time, the export's default period): one
place, so the screens' snapshot tests can hold it still. Lane times come from the daemon."""

from __future__ import annotations

import datetime as dt


def now() -> dt.datetime:
    return dt.datetime.now()


def today() -> dt.date:
    return now().date()
