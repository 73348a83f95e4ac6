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
        "plate_format": "kz2012",
        "headlight_tilt": None,
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


@pytest.mark.parametrize(
    ("plate", "fmt", "region"),
    [
        ("123ABC02", "kz2012", "02"),
        ("001AA17", "kz2012_legal", "17"),
        ("777kzz 20", "kz2012", "20"),
        ("A585CUO", "kz1993", "A"),
        ("Z001AA", "kz1993_legal", "Z"),
        ("F123402", "foreign", "02"),
        ("D12345", "diplomatic", None),
    ],
)
def test_each_plate_format_is_known_with_its_region(plate: str, fmt: str, region: str | None) -> None:
    """Issue #9: the grammar of Kazakh plates (norms.md §4) — 2012+ (individuals, legal entities),
    1993 (still valid), foreign and diplomatic series — with the region code or old region letter."""
    from app.domain.plates import FORMATS, normalise_plate, plate_format

    found = plate_format(normalise_plate(plate))
    assert found is not None and found.id == fmt
    assert found.region(normalise_plate(plate)) == region
    assert all(f.pattern.match(f.example) for f in FORMATS)  # each format's example is its own


@pytest.mark.parametrize("plate", ["ZZZ", "123ABC00", "123ABC21", "Q585CUO", "1234ABC02", "ABC12302"])
def test_a_plate_in_no_format_needs_the_operators_confirmation(plate: str) -> None:
    """Issue #9: ``ZZZ`` was accepted as a plate; now a plate in no known format is refused until the
    operator confirms it is written so (transit, military and special series are not in the grammar:
    norms.md §4.4 says flag them, do not reject them)."""
    with pytest.raises(OtolaneError) as e:
        _record(plate=plate)
    assert e.value.code == "plate_format_unknown" and e.value.params["field"] == "plate"
    assert _record(plate=plate, plate_confirmed=True).plate_format == "unknown_confirmed"


@pytest.mark.parametrize(
    ("text", "plate", "changed"),
    [
        ("123ABC02", "123ABC02", 0),
        ("I23A8C02", "123ABC02", 2),  # I read for 1 among the digits, 8 for B among the letters
        ("123 ABC O2", "123ABC02", 1),  # spaces and an O in the region
        ("l23abcO2", "123ABC02", 2),
        ("123АВС02", "123ABC02", 0),  # Cyrillic twins
        ("A585CU0", "A585CUO", 1),
        ("123AB02", "123AB02", 0),
    ],
)
def test_recognised_text_is_fitted_to_a_plate_format_with_look_alikes_corrected(
    text: str, plate: str, changed: int
) -> None:
    """Issue #9: the grammar corrects look-alike characters and scores the candidates; the best
    reading is the plate, and a correction lowers its score."""
    from app.domain.plates import readings

    best = readings(text)[0]
    assert (best.plate, best.corrected) == (plate, changed)
    assert (best.score < 1.0) == (changed > 0 or best.format != "kz2012")


def test_text_that_fits_no_format_gives_no_plate() -> None:
    from app.domain.plates import readings

    assert readings("ZZZ") == [] and readings("") == [] and readings("123ABC99") == []


@pytest.mark.parametrize("tilt", [0.0, 1.0, 1.25, 4.0])
def test_the_headlamps_marked_tilt_is_kept_to_a_tenth(tilt: float) -> None:
    """Issue #22 (7): the nominal the dipped beam's aim is judged by, as marked on the headlamp."""
    record = _record(headlight_tilt=tilt)
    assert record.headlight_tilt == round(tilt, 1) and record.facts.headlight_tilt == round(tilt, 1)
    assert record.public()["headlight_tilt"] == round(tilt, 1)


@pytest.mark.parametrize("tilt", [-0.1, 4.05, 12.0])
def test_a_marked_tilt_out_of_range_is_named(tilt: float) -> None:
    with pytest.raises(OtolaneError) as e:
        _record(headlight_tilt=tilt)
    assert (e.value.code, e.value.params) == ("headlight_tilt_bad", {"field": "headlight_tilt", "high": 4.0})


@pytest.mark.parametrize(
    ("text", "plate", "fmt"),
    [
        ("A100AE799", "A100AE799", "ru"),  # the region whole, not A100AE
        ("А123ВС 77", "A123BC77", "ru"),  # Cyrillic, as the plate is printed
        ("01 KG 123 ABC", "01KG123ABC", "kg2016"),
        ("01 A 123 BC", "01A123BC", "uz"),
        ("AA 1234 BB", "AA1234BB", "ua"),
        ("AP ET 7007", "AP7007ET", "ua_two_line"),  # the square plate, read top line first
        ("1234 AB-7", "1234AB7", "by"),
        ("241 10VBZ", "241VBZ10", "kz2012_two_line"),
        ("KZ 498VDZ08", "498VDZ08", "kz2012"),  # the KZ by the flag is not part of the plate
    ],
)
def test_neighbours_plates_are_read_as_their_plates_say(text: str, plate: str, fmt: str) -> None:
    """R3.2 (issue #26): a foreign car is read as its plate says, with its region."""
    from app.domain.plates import normalise_plate, plate_format, readings

    best = readings(text)[0]
    assert (best.plate, best.format) == (plate, fmt)
    found = plate_format(normalise_plate(plate))  # typed by hand, it needs no confirmation
    assert found is not None


def test_a_text_of_no_format_is_offered_unsure_when_it_looks_like_a_plate() -> None:
    """R3.2 (issue #26): the operator sees something to confirm, never a sure reading."""
    from app.domain.plates import UNFORMATTED_SCORE, unformatted

    got = unformatted("RP 70012")
    assert got is not None and (got.plate, got.format, got.score) == ("RP70012", "unknown", UNFORMATTED_SCORE)
    assert unformatted("PASSAT") is None and unformatted("12345678") is None and unformatted("A1") is None
