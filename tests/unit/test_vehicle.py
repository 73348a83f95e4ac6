"""The vehicle record: VIN, year and fields checked with the field named (issue #8, R7 owner sealed)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from app.domain.vehicle import check_vin, vehicle_record
from app.errors import OtolaneError

THIS_YEAR = dt.date.today().year


def _record(**over: Any) -> Any:
    base: dict[str, Any] = {"plate": "123abc02", "category": "M1", "fuel": "petrol", "axles": 2}
    return vehicle_record(this_year=THIS_YEAR, **(base | over))


def test_a_vin_is_stored_in_capitals_without_spaces() -> None:
    assert check_vin(" xta 21099 0y1234567 ") == "XTA210990Y1234567"


@pytest.mark.parametrize(
    ("vin", "code"),
    [
        ("XTA210990Y123456", "vin_bad"),  # 16
        ("XTA210990Y12345678", "vin_bad"),  # 18
        ("XTA21099OY1234567", "vin_letters"),  # O
        ("ITA210990Y1234567", "vin_letters"),  # I
        ("XTA210990Q1234567", "vin_letters"),  # Q
        ("XTA21099-Y1234567", "vin_bad"),
        ("ХТА210990Y1234567", "vin_bad"),  # Cyrillic Х and Т
    ],
)
def test_a_bad_vin_is_refused_with_its_reason(vin: str, code: str) -> None:
    with pytest.raises(OtolaneError) as exc:
        check_vin(vin)
    assert exc.value.code == code and exc.value.params["field"] == "vin"


def test_the_year_of_manufacture_is_checked_against_the_lane_year() -> None:
    assert _record(year=THIS_YEAR + 1).year == THIS_YEAR + 1  # next year's model is sold this year
    for year in (THIS_YEAR + 2, 1899):
        with pytest.raises(OtolaneError) as exc:
            _record(year=year)
        assert exc.value.code == "year_bad" and exc.value.params["high"] == THIS_YEAR + 1


def test_the_record_separates_public_facts_from_personal_data() -> None:
    r = _record(year=2012, vin="XTA210990Y1234567", make_model="LADA 2109", owner="Ivanov", catalyst=True)
    assert r.plate == "123ABC02"
    assert r.public() == {
        "category": "M1",
        "fuel": "petrol",
        "axles": 2,
        "year": 2012,
        "catalyst": True,
        "turbo": False,
        "use": "private",
    }  # no plate, VIN, make or owner: those are sealed
    assert r.sealed()["owner"] == "Ivanov" and r.sealed()["vin"] == "XTA210990Y1234567"
    assert r.facts.category == "M1" and r.facts.year == 2012 and r.facts.catalyst


@pytest.mark.parametrize(
    ("over", "code"),
    [
        ({"category": "X9"}, "category_unknown"),
        ({"fuel": "coal"}, "fuel_unknown"),
        ({"axles": 0}, "axles_bad"),
        ({"make_model": "x" * 81}, "field_too_long"),
        ({"owner": "x" * 201}, "field_too_long"),
        ({"plate": "  "}, "plate_bad"),
    ],
)
def test_every_bad_field_is_named(over: dict[str, Any], code: str) -> None:
    with pytest.raises(OtolaneError) as exc:
        _record(**over)
    assert exc.value.code == code
