"""Re-inspection: which failed card a returning vehicle may come back against (a pure rule).

A vehicle that failed may come back within :data:`REINSPECTION_DAYS` for its failed items only
(``app/domain/inspection.py: reinspection_plan``): the card must exist, have failed, be this
vehicle's (its plate), and be of the lane's mode (a training card never admits a real vehicle).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from app.domain.periodicity import KZ_TIME
from app.errors import OtolaneError

#: A failed vehicle may come back for its failed items within this many days (UNVERIFIED: the RF
#: rules give 20 days; the KZ figure was not found — docs/norms.md).
REINSPECTION_DAYS = 20
DAY_S = 86400


def reinspection_until(finished: str) -> dt.date:
    """The last day (Kazakhstan time) a vehicle whose card failed at ``finished`` (ISO time, as the
    card has it) may come back: what :func:`check_first_card` allows, printed on the failed card."""
    formed = dt.datetime.fromisoformat(finished)
    return (formed + dt.timedelta(days=REINSPECTION_DAYS)).astimezone(KZ_TIME).date()


def check_first_card(card: dict[str, Any], formed: float, plate: str, training: bool, now: float) -> None:
    """Raise the reason the vehicle of ``plate`` may not be re-inspected against ``card`` (formed at
    lane time ``formed``) at ``now``; return when it may."""
    field = "reinspection_of"
    if card["verdict"] != "not_admitted":
        raise OtolaneError("reinspection_not_failed", "only a failed card is re-inspected", 409, field=field)
    if card["vehicle"]["plate"] != plate:
        said = card["vehicle"]["plate"]
        raise OtolaneError(
            "reinspection_plate", "the card is another vehicle's", field="plate", card_plate=said
        )
    if bool(card["training"]) != training:
        raise OtolaneError("reinspection_mode", "the card was formed in the other mode", 409, field=field)
    if now - formed > REINSPECTION_DAYS * DAY_S:
        raise OtolaneError(
            "reinspection_expired", "the re-inspection period is over", 409, days=REINSPECTION_DAYS
        )
