"""When the vehicle is due next (R3.4): rules by category, age and use, kept as versioned data.

The rules belong to Appendix 2 of Order No. 329 (26.03.2015), which could not be read in full here
(``shared/reference/norms.md`` §3.2). What is SOURCED: a passenger car not used in business road
transport is exempt while it is at most 7 years old; the source's own example (cars built in 2014
lost the exemption on 1 January 2022) makes a car built in year Y first due on 1 January of Y + 8.
Every other period is UNVERIFIED — the secondary sources disagree (yearly or every two years) —
and is set to the stricter reading until the official
text is read; ``docs/norms.md`` lists them. A card that is not admitted has no next date: the vehicle
comes back for re-inspection.
"""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass

from app.domain.norms import L_CATS, M_N, O_CATS

PERIODICITY_VERSION = "otolane-periodicity/2"  # 2: cars SECONDARY (the 2025 statements)
#: Kazakhstan keeps one time zone, UTC+5, since 1 March 2024: the date on the card is that day's.
KZ_TIME = dt.timezone(dt.timedelta(hours=5))
USES = ("private", "commercial", "taxi", "bus_service", "dangerous_goods", "driving_school")
EXEMPT_AGE_YEARS = 7


@dataclass(frozen=True)
class Rule:
    id: str
    categories: frozenset[str]
    uses: frozenset[str] | None  # None: any use
    months: int
    clause: str
    status: str


_ORDER_329 = "Order No. 329 (26.03.2015) App. 2"
_UNVERIFIED = "UNVERIFIED: App. 2 not read; the stricter of the secondary readings [K10][K11]"

RULES: tuple[Rule, ...] = (
    Rule(
        "special-use",
        M_N | O_CATS,
        frozenset({"taxi", "bus_service", "dangerous_goods", "driving_school"}),
        6,
        _ORDER_329,
        _UNVERIFIED,
    ),
    Rule("buses", frozenset({"M2", "M3"}), None, 6, _ORDER_329, _UNVERIFIED),
    Rule("heavy", frozenset({"N2", "N3", "O3", "O4"}), None, 12, _ORDER_329, _UNVERIFIED),
    Rule(
        "cars",
        frozenset({"M1", "N1"}),
        None,
        12,
        _ORDER_329,
        "SECONDARY: the government's statements of October 2025 that inspection stays yearly [K14][K15];"
        " App. 2 not read",
    ),
    Rule("light-trailers-and-l", frozenset({"O1", "O2"}) | L_CATS, None, 12, _ORDER_329, _UNVERIFIED),
)


@dataclass(frozen=True)
class NextInspection:
    due: dt.date | None  # None: not admitted, the vehicle comes back for re-inspection
    rule: str
    clause: str
    status: str

    def as_dict(self) -> dict[str, str | None]:
        return {
            "due": self.due.isoformat() if self.due else None,
            "rule": self.rule,
            "clause": self.clause,
            "status": self.status,
            "version": PERIODICITY_VERSION,
        }


def add_months(day: dt.date, months: int) -> dt.date:
    """The same day ``months`` later; the 31st becomes the month's last day."""
    y, m = divmod(day.month - 1 + months, 12)
    year, month = day.year + y, m + 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def lane_date(ts: float) -> dt.date:
    """The calendar day in Kazakhstan of a lane time."""
    return dt.datetime.fromtimestamp(ts, KZ_TIME).date()


def next_inspection(
    category: str, year: int | None, use: str, admitted: bool, inspected: dt.date
) -> NextInspection:
    """The next due date after an inspection on ``inspected`` (R3.4)."""
    if not admitted:
        return NextInspection(None, "re-inspection", "Order No. 329 App. 1", "a failed vehicle comes back")
    if use == "private" and category == "M1" and year is not None:
        first_due = dt.date(year + EXEMPT_AGE_YEARS + 1, 1, 1)
        if inspected < first_due:
            return NextInspection(
                first_due,
                "exempt-new-car",
                "Law RK 'On road traffic' (passenger cars ≤ 7 years not in business use)",
                "SOURCED [K7]",
            )
    rule = next((r for r in RULES if category in r.categories and (r.uses is None or use in r.uses)), None)
    if rule is None:  # every category has a row; kept for a table edited by hand
        return NextInspection(None, "no-rule", _ORDER_329, "no rule for this category")
    return NextInspection(add_months(inspected, rule.months), rule.id, rule.clause, rule.status)
