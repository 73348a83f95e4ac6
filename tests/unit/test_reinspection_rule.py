"""Which failed card a returning vehicle may come back against (``app/domain/reinspection.py``):
a failed card of this vehicle, of the lane's mode, within the period — each refusal with its code,
the field it concerns and its status (R3.6, R3.8)."""

from __future__ import annotations

from typing import Any

import pytest

from app.domain.norms import LIVE_IMBALANCE_FLOOR_KN, live_imbalance
from app.domain.reinspection import REINSPECTION_DAYS, check_first_card
from app.errors import OtolaneError

DAY = 86400.0
MESSAGES = {
    "reinspection_not_failed": "only a failed card is re-inspected",
    "reinspection_plate": "the card is another vehicle's",
    "reinspection_mode": "the card was formed in the other mode",
    "reinspection_expired": "the re-inspection period is over",
}
FORMED = 1_800_000_000.0


def _card(**kw: Any) -> dict[str, Any]:
    return {"verdict": "not_admitted", "vehicle": {"plate": "123ABC02"}, "training": True} | kw


def _refusal(
    card: dict[str, Any], plate: str = "123ABC02", training: bool = True, days: float = 1
) -> OtolaneError:
    with pytest.raises(OtolaneError) as err:
        check_first_card(card, FORMED, plate, training, FORMED + days * DAY)
    return err.value


def test_a_failed_card_of_this_vehicle_within_the_period_may_be_returned_to() -> None:
    check_first_card(_card(), FORMED, "123ABC02", True, FORMED)
    check_first_card(_card(), FORMED, "123ABC02", True, FORMED + REINSPECTION_DAYS * DAY)  # to the second
    check_first_card(_card(training=False), FORMED, "123ABC02", False, FORMED + DAY)


@pytest.mark.parametrize(
    ("card", "plate", "training", "days", "said"),
    [
        (
            _card(verdict="admitted"),
            "123ABC02",
            True,
            1,
            ("reinspection_not_failed", 409, {"field": "reinspection_of"}),
        ),
        (
            _card(),
            "777AAA01",
            True,
            1,
            ("reinspection_plate", 400, {"field": "plate", "card_plate": "123ABC02"}),
        ),
        (_card(), "123ABC02", False, 1, ("reinspection_mode", 409, {"field": "reinspection_of"})),
        (
            _card(training=False),
            "123ABC02",
            True,
            1,
            ("reinspection_mode", 409, {"field": "reinspection_of"}),
        ),
        (
            _card(),
            "123ABC02",
            True,
            REINSPECTION_DAYS + 1 / DAY,
            ("reinspection_expired", 409, {"days": REINSPECTION_DAYS}),
        ),
    ],
)
def test_each_refusal_says_why_and_where(
    card: dict[str, Any], plate: str, training: bool, days: float, said: tuple[str, int, dict[str, Any]]
) -> None:
    err = _refusal(card, plate, training, days)
    assert (err.code, err.status, err.params) == said
    assert err.message == MESSAGES[err.code]  # the log's and a script's words


def test_the_period_is_twenty_days() -> None:
    """UNVERIFIED for Kazakhstan (docs/norms.md): the RF rules' figure."""
    assert REINSPECTION_DAYS == 20


def test_idle_rollers_show_no_live_imbalance() -> None:
    """The live imbalance of the lane screen: 0 until a wheel brakes past the floor, then GOST 33997
    A.2's figure."""
    assert LIVE_IMBALANCE_FLOOR_KN == 0.3
    assert live_imbalance(0.3, 0.1) == 0.0 and live_imbalance(0.1, 0.3) == 0.0
    assert live_imbalance(0.31, 0.0) == 100.0 and live_imbalance(0.0, 0.4) == 100.0
    assert live_imbalance(4.0, 3.0) == 25.0


def test_the_printed_last_day_is_the_last_day_the_rule_admits() -> None:
    """Issue #22 (9): a failed card states its re-inspection deadline — the day (Kazakhstan time,
    UTC+5) on which the period :func:`check_first_card` allows ends."""
    import datetime as dt

    from app.domain.reinspection import reinspection_until

    formed = dt.datetime(2026, 12, 3, 18, 30, tzinfo=dt.UTC)  # 23:30 in Astana
    until = reinspection_until(formed.isoformat())
    assert until == dt.date(2026, 12, 23)
    end = dt.datetime.combine(until, dt.time(23, 29), dt.timezone(dt.timedelta(hours=5))).timestamp()
    check_first_card(_card(), formed.timestamp(), "123ABC02", True, end)  # still allowed that day
    late = formed.timestamp() + REINSPECTION_DAYS * DAY + 60
    with pytest.raises(OtolaneError):
        check_first_card(_card(), formed.timestamp(), "123ABC02", True, late)
    assert reinspection_until(dt.datetime(2026, 12, 3, 20, 0, tzinfo=dt.UTC).isoformat()) == dt.date(
        2026, 12, 24
    )
