"""Every norm row judged at, just above and just below its limit, and the row each vehicle gets
(issue #8; R3.6: each item with its value, norm and verdict; R3.8: the deviation of a failed item)."""

from __future__ import annotations

import pytest

from app.domain.categories import CATEGORIES
from app.domain.norms import ITEMS, NORMS, NORMS_VERSION, TABLE, Norm, Vehicle, judge, norm_for, visual_checks


def _step(norm: Norm) -> float:
    return 10.0**-norm.decimals


@pytest.mark.parametrize("norm", TABLE, ids=lambda n: n.id)
def test_every_row_passes_at_its_limit_and_fails_one_step_beyond(norm: Norm) -> None:
    """At its limit a row passes — but a strict one (its text: "unfit at not more than"), which fails
    there and passes one step above."""
    step = _step(norm)
    if norm.low is not None:
        assert judge(norm, norm.low).passed is not norm.strict
        assert judge(norm, norm.low + step).passed
        below = judge(norm, norm.low - step)
        assert not below.passed and below.deviation == pytest.approx(-step)
    if norm.high is not None:
        assert judge(norm, norm.high).passed
        assert judge(norm, norm.high - step).passed
        above = judge(norm, norm.high + step)
        assert not above.passed and above.deviation == pytest.approx(step)


@pytest.mark.parametrize("norm", TABLE, ids=lambda n: n.id)
def test_every_row_names_its_clause_and_status(norm: Norm) -> None:
    assert norm.clause and norm.unit is not None
    assert norm.status.split(":")[0].split(" ")[0] in ("SOURCED", "SECONDARY", "UNVERIFIED")
    assert norm.low is not None or norm.high is not None
    d = norm.as_dict()
    assert d["version"] == NORMS_VERSION and d["text"] == norm.describe() and d["id"] == norm.id


def test_a_value_between_two_printed_steps_is_judged_as_printed() -> None:
    """A card never shows '20.00 %' failed against '≤ 20 %': the value is rounded as printed first."""
    v = judge("brake.service.imbalance", 20.004)
    assert v.passed and v.value == 20.0
    assert not judge("brake.service.imbalance", 20.006).passed


SERVICE_BRAKE = {
    "M1": 59.0,
    "M2": 51.0,
    "M3": 51.0,
    "N1": 50.0,
    "N2": 50.0,
    "N3": 50.0,
    "O1": 49.0,
    "O4": 49.0,
}


@pytest.mark.parametrize(("category", "limit"), SERVICE_BRAKE.items())
def test_braking_efficiency_differs_by_category(category: str, limit: float) -> None:
    norm = norm_for("brake.service.specific_force", Vehicle(category))
    assert norm is not None and norm.low == limit


@pytest.mark.parametrize(
    ("item", "category", "bound"),
    [
        ("steering.play", "M1", 10.0),
        ("steering.play", "N1", 10.0),
        ("steering.play", "M3", 20.0),
        ("steering.play", "N3", 25.0),
        ("tyres.tread", "M1", 1.6),
        ("tyres.tread", "O2", 1.6),
        ("tyres.tread", "O4", 1.0),
        ("tyres.tread", "N2", 1.0),
        ("tyres.tread", "L3", 0.8),
        ("tyres.tread", "M2", 2.0),
    ],
)
def test_category_rows_of_steering_and_tyres(item: str, category: str, bound: float) -> None:
    norm = norm_for(item, Vehicle(category))
    assert norm is not None and bound in (norm.low, norm.high)


def test_an_item_with_no_row_for_the_vehicle_is_not_judged() -> None:
    assert norm_for("steering.play", Vehicle("L1")) is None
    assert norm_for("brake.service.specific_force", Vehicle("L3")) is None  # NOT FOUND for L
    assert norm_for("suspension.efficiency", Vehicle("N3")) is None
    assert norm_for("smoke.k", Vehicle("M1", "petrol")) is None
    assert norm_for("emissions.co_idle", Vehicle("M1", "diesel")) is None
    assert norm_for("noise.exhaust", Vehicle("M1", "electric")) is None


@pytest.mark.parametrize(
    ("vehicle", "limit"),
    [
        (Vehicle("M1", "petrol", 1979), 4.5),
        (Vehicle("M1", "petrol", 1985, catalyst=True), 4.5),  # the year decides before the catalyst
        (Vehicle("M1", "petrol", 1986), 3.5),  # built in 1986: the month is unknown, the stricter row
        (Vehicle("M1", "petrol", None), 3.5),  # no year: no old-car row
        (Vehicle("N2", "gas", 2001), 3.5),
        (Vehicle("M1", "petrol", 2015, catalyst=True), 0.5),
    ],
)
def test_co_at_idle_by_year_and_after_treatment(vehicle: Vehicle, limit: float) -> None:
    norm = norm_for("emissions.co_idle", vehicle)
    assert norm is not None and norm.high == limit


def test_lambda_is_judged_only_with_a_catalyst() -> None:
    assert norm_for("emissions.lambda", Vehicle("M1", "petrol", 2015, catalyst=False)) is None
    norm = norm_for("emissions.lambda", Vehicle("M1", "petrol", 2015, catalyst=True))
    assert norm is not None and (norm.low, norm.high) == (0.97, 1.03)


@pytest.mark.parametrize(("turbo", "limit"), [(False, 2.5), (True, 3.0)])
def test_smoke_by_engine(turbo: bool, limit: float) -> None:
    norm = norm_for("smoke.k", Vehicle("N3", "diesel", turbo=turbo))
    assert norm is not None and norm.high == limit
    # The smoky diesel of the demo (k = 3.02 m⁻¹) fails either way.
    assert not judge(norm, 3.02).passed


def test_every_item_has_a_row_for_a_passenger_car_of_its_fuel_or_a_trailer() -> None:
    """An M1 on petrol with a catalyst, an M1 diesel and a trailer together meet every item."""
    vehicles = (
        Vehicle("M1", "petrol", 2015, catalyst=True),
        Vehicle("M1", "diesel", 2015),
        Vehicle("O2", "none"),
    )
    missing = [i for i in ITEMS if all(norm_for(i, v) is None for v in vehicles)]
    assert missing == []


def test_the_visual_checklist_follows_the_category() -> None:
    """Issue #8 visual checks: from the same catalogue as the norms, each with its clause."""
    car = [n.id for n in visual_checks("M1")]
    assert "visual.seat_belts" in car and "visual.coupling" not in car
    trailer = [n.id for n in visual_checks("O2")]
    assert "visual.coupling" in trailer and "visual.seat_belts" not in trailer
    assert all(n.clause.startswith("TR CU 018/2011 App. 8") for n in visual_checks("M1"))
    defect = judge(NORMS["visual.leaks"], 1.0)
    assert not defect.passed and judge(NORMS["visual.leaks"], 0.0).passed


def test_row_ids_are_unique_and_categories_known() -> None:
    assert len(NORMS) == len(TABLE)
    for norm in TABLE:
        assert norm.applies.categories <= CATEGORIES.keys(), norm.id


def test_docs_norms_lists_every_row_and_the_version() -> None:
    """docs/norms.md is the table in words: a row added to the code without it fails here."""
    from pathlib import Path

    doc = (Path(__file__).parents[2] / "docs" / "norms.md").read_text(encoding="utf-8")
    assert NORMS_VERSION in doc
    rows = {line.split("|")[1].strip(): line for line in doc.splitlines() if line.startswith("| `")}
    for norm in TABLE:
        line = rows.get(f"`{norm.id}`")
        assert line is not None, norm.id
        # The row in words is the row in code: limit, clause and status, word for word.
        assert f"| {norm.clause} | {norm.status} |" in line, norm.id
        if norm.kind == "measured":
            assert f"| {norm.describe()} |" in line, norm.id


@pytest.mark.parametrize("category", ["L3", "N3", "M1", "M2"])
def test_a_tread_exactly_at_its_limit_fails_as_appendix_8_says(category: str) -> None:
    """Issue #22 item 8: TR CU 018/2011 App. 8 cl. 5.6.2 makes a tyre unfit when its residual tread
    is *not more than* the limit — the limit itself fails; a hundredth more passes. A limit the text
    allows ("not more than 10°" of play) still passes at the limit."""
    from app.domain.norms import judge

    norm = norm_for("tyres.tread", Vehicle(category))
    assert norm is not None and norm.low is not None and norm.strict
    at = judge(norm, norm.low)
    assert not at.passed and at.deviation == 0.0
    assert judge(norm, norm.low + 0.01).passed
    assert norm.describe().startswith(">") and norm.status.startswith("SOURCED")
    play = norm_for("steering.play", Vehicle("M1"))
    assert play is not None and play.high is not None and judge(play, play.high).passed
