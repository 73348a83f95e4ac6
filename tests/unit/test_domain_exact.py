"""The domain's answers in full: every refusal with its code, message and parameters, every due date
with its rule and clause, every photo problem with its parameters, and the builders of the norm and
plate tables called as the tables call them (issue #7: the mutation run found these unpinned)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from app.domain import inspection as rules
from app.domain import norms, periodicity, photo, plates
from app.domain.norms import Norm, Vehicle
from app.domain.periodicity import PERIODICITY_VERSION, NextInspection, next_inspection
from app.domain.vehicle import MAX_OWNER, MAX_TEXT, OLDEST_YEAR, VehicleRecord, check_vin, vehicle_record
from app.errors import OtolaneError

THIS_YEAR = dt.date.today().year


def _error(fn: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
    with pytest.raises(OtolaneError) as err:
        fn(*args, **kwargs)
    return {"code": err.value.code, "message": err.value.message, "params": err.value.params}


# --- the vehicle record ------------------------------------------------------------------------


def _record(**kw: Any) -> VehicleRecord:
    args: dict[str, Any] = {"plate": "123ABC02", "category": "M1", "fuel": "petrol", "axles": 2} | kw
    return vehicle_record(this_year=THIS_YEAR, **args)


def test_a_record_keeps_every_field_and_fills_the_defaults() -> None:
    assert _record() == VehicleRecord(
        "123ABC02", "M1", "petrol", 2, None, "", "", False, False, "", "private", "kz2012"
    )
    full = _record(
        year=2010,
        vin="xta 21099012345678",
        make_model="  Lada 2109 ",
        catalyst=True,
        turbo=True,
        owner="ТОО Жол",
        use="taxi",
    )
    assert full == VehicleRecord(
        "123ABC02",
        "M1",
        "petrol",
        2,
        2010,
        "XTA21099012345678",
        "Lada 2109",
        True,
        True,
        "ТОО Жол",
        "taxi",
        "kz2012",
    )
    assert full.facts == Vehicle("M1", "petrol", 2010, True, True)
    assert full.public() == {
        "category": "M1",
        "fuel": "petrol",
        "axles": 2,
        "year": 2010,
        "catalyst": True,
        "turbo": True,
        "use": "taxi",
        "plate_format": "kz2012",
        "headlight_tilt": None,
    }
    assert full.sealed()["owner"] == "ТОО Жол" and full.sealed()["vin"] == "XTA21099012345678"


@pytest.mark.parametrize("axles", [1, 6])
def test_one_to_six_axles_are_taken(axles: int) -> None:
    assert _record(axles=axles).axles == axles


@pytest.mark.parametrize("axles", [0, 7])
def test_other_axle_counts_are_refused(axles: int) -> None:
    assert _error(_record, axles=axles) == {
        "code": "axles_bad",
        "message": "axles are 1 to 6",
        "params": {"axles": axles},
    }


@pytest.mark.parametrize("year", [OLDEST_YEAR, THIS_YEAR + 1])
def test_the_year_may_be_from_1900_to_next_year(year: int) -> None:
    assert _record(year=year).year == year


@pytest.mark.parametrize("year", [OLDEST_YEAR - 1, THIS_YEAR + 2])
def test_a_year_out_of_range_is_refused_with_the_range(year: int) -> None:
    assert _error(_record, year=year) == {
        "code": "year_bad",
        "message": "the year of manufacture is out of range",
        "params": {"year": year, "low": OLDEST_YEAR, "high": THIS_YEAR + 1},
    }


@pytest.mark.parametrize(("name", "limit"), [("make_model", MAX_TEXT), ("owner", MAX_OWNER)])
def test_a_text_field_is_taken_up_to_its_limit_and_refused_beyond(name: str, limit: int) -> None:
    assert len(getattr(_record(**{name: "x" * limit}), name)) == limit
    assert _error(_record, **{name: "x" * (limit + 1)}) == {
        "code": "field_too_long",
        "message": f"'{name}' is at most {limit} characters",
        "params": {"field": name, "max": limit},
    }


def test_unknown_category_fuel_and_use_are_refused_by_name() -> None:
    assert _error(_record, category="Q7" * 10)["params"] == {"category": "Q7Q7Q7Q7"}
    assert _error(_record, fuel="plutonium-239-x")["params"] == {"fuel": "plutonium-239-x"}
    assert _error(_record, use="u" * 30) == {
        "code": "use_unknown",
        "message": "unknown use of the vehicle",
        "params": {"field": "use", "use": "u" * 20},
    }


def test_a_vin_is_17_latin_capitals_and_digits_without_i_o_q() -> None:
    assert check_vin(" xta21099 012345678 ") == "XTA21099012345678"
    assert _error(check_vin, "XTA2109901234567") == {
        "code": "vin_bad",
        "message": "a VIN has 17 characters",
        "params": {"field": "vin", "length": 16},
    }
    assert _error(check_vin, "XTQ2109901234567O") == {
        "code": "vin_letters",
        "message": "a VIN never has the letters I, O or Q",
        "params": {"field": "vin", "letters": "O Q"},
    }
    assert _error(check_vin, "XTA21099012345Ж78") == {
        "code": "vin_bad",
        "message": "a VIN has only Latin capitals and digits",
        "params": {"field": "vin", "length": 17},
    }


# --- the next inspection -------------------------------------------------------------------------


def test_each_kind_of_next_date_says_its_rule_clause_and_status() -> None:
    """R3.4: a failed vehicle comes back; a new private car is exempt; the others by their rule."""
    day = dt.date(THIS_YEAR, 3, 31)
    assert next_inspection("M1", 2001, "private", False, day) == NextInspection(
        None, "re-inspection", "Order No. 329 App. 1", "a failed vehicle comes back"
    )
    assert next_inspection("M1", THIS_YEAR - 1, "private", True, day) == NextInspection(
        dt.date(THIS_YEAR + 7, 1, 1),
        "exempt-new-car",
        "Law RK 'On road traffic' (passenger cars ≤ 7 years not in business use)",
        "SOURCED [K7]",
    )
    cars = next(r for r in periodicity.RULES if r.id == "cars")
    assert next_inspection("M1", None, "private", True, day) == NextInspection(
        dt.date(THIS_YEAR + 1, 3, 31), "cars", cars.clause, cars.status
    )
    assert next_inspection("X9", None, "private", True, day) == NextInspection(
        None, "no-rule", "Order No. 329 (26.03.2015) App. 2", "no rule for this category"
    )
    assert next_inspection("M1", None, "private", True, day).as_dict() == {
        "due": f"{THIS_YEAR + 1}-03-31",
        "rule": "cars",
        "clause": cars.clause,
        "status": cars.status,
        "version": PERIODICITY_VERSION,
    }
    assert NextInspection(None, "r", "c", "s").as_dict() == {
        "due": None,
        "rule": "r",
        "clause": "c",
        "status": "s",
        "version": PERIODICITY_VERSION,
    }


# --- the photo -----------------------------------------------------------------------------------


def test_each_photo_problem_carries_what_the_screen_says() -> None:
    """R6: size, format, colour depth, greyscale — each with its parameters."""
    assert photo.problems(1280, 720, "jpeg", 3, 8, 1.5) == []
    assert photo.problems(1279, 720, "png", 3, 8, 9.0) == [
        ("photo_too_small", {"size": "1279×720", "min": "1280×720"})
    ]
    assert photo.problems(1280, 719, "gif", 1, 8, 0.0) == [
        ("photo_too_small", {"size": "1280×719", "min": "1280×720"}),
        ("photo_format", {"format": "gif"}),
        ("photo_not_rgb", {"channels": 1, "bits": 8}),
    ]
    assert photo.problems(1920, 1080, "jpeg", 3, 5, 9.0) == [("photo_not_rgb", {"channels": 3, "bits": 5})]
    assert photo.problems(1920, 1080, "jpeg", 4, 8, 9.0) == [("photo_not_rgb", {"channels": 4, "bits": 8})]
    assert photo.problems(1920, 1080, "jpeg", 3, 6, 9.0) == []  # 18 bits of colour
    assert photo.problems(1920, 1080, "jpeg", 3, 8, 1.49876) == [("photo_greyscale", {"chroma": 1.5})]
    assert photo.problems(1920, 1080, "jpeg", 3, 8, 0.123) == [("photo_greyscale", {"chroma": 0.12})]


def test_the_photo_is_triggered_by_a_braked_wheel_of_its_own_step() -> None:
    """R3.9: 0.5 kN on a wheel of the trigger step, or the step's final maximum force."""
    assert photo.triggers("brakes_axle_1", "brakes_axle_1", "brake.force.left", 0.5, False)
    assert not photo.triggers("brakes_axle_1", "brakes_axle_1", "brake.force.left", 0.49, False)
    assert not photo.triggers("brakes_axle_2", "brakes_axle_1", "brake.force.left", 3.0, False)
    assert not photo.triggers("brakes_axle_1", "brakes_axle_1", "brake.wheel_load.left", 500.0, False)
    assert photo.triggers("brakes_axle_1", "brakes_axle_1", "brake.force.right.max", 0.0, True)
    assert not photo.triggers("brakes_axle_1", "brakes_axle_1", "brake.force.right", 3.0, True)
    assert not photo.triggers("brakes_axle_1", "brakes_axle_1", "brake.ovality.max", 3.0, True)
    assert photo.photo_step("M1", 3) == "brakes_axle_1"
    assert photo.photo_step("O2", 3) == "brakes_axle_3"
    assert photo.photo_step("O1", 0) == "brakes_axle_1"


# --- the plan ------------------------------------------------------------------------------------


def test_a_diesel_s_smoke_step() -> None:
    smoke = next(s for s in rules.plan("N3", 2, "diesel", ("smoke",)) if s.id == "smoke")
    assert smoke == rules.StepDef("smoke", ("smoke",), 5.0, None, "test", ("smoke.k_mean",))


def test_the_default_fuel_is_petrol() -> None:
    assert [s.id for s in rules.plan("M1", 1, kinds=("gas",))] == [
        "identification",
        "brakes_axle_1",
        "emissions",
        "visual",
    ]


# --- plates --------------------------------------------------------------------------------------


def test_a_plate_refusal_says_the_plate_and_the_character() -> None:
    assert _error(plates.normalise_plate, "1234567890123") == {
        "code": "plate_bad",
        "message": "the plate is 1–12 Latin letters and digits",
        "params": {"plate": "123456789012…"},
    }
    assert plates.normalise_plate("123456789012") == "123456789012"
    assert _error(plates.normalise_plate, "12Ж") == {
        "code": "plate_char",
        "message": "'Ж' cannot be on a plate: Latin letters and digits only",
        "params": {"plate": "12Ж", "char": "Ж"},
    }
    assert _error(plates.normalise_plate, " - ") == {
        "code": "plate_bad",
        "message": "the plate is empty",
        "params": {"plate": " - "},
    }


def test_a_plate_in_no_format_needs_the_operator_s_word() -> None:
    err = _error(plates.check_format, "ZZZ")
    assert err["code"] == "plate_format_unknown" and err["params"] == {"plate": "ZZZ", "field": "plate"}
    assert err["message"].startswith("ZZZ is in no plate format this lane knows (Kazakh e.g. 123ABC02")
    assert err["message"].endswith(" written so on the plate (a transit or special plate), confirm it")
    with pytest.raises(OtolaneError) as raised:
        plates.check_format("ZZZ")
    assert raised.value.status == 409
    assert plates.check_format("ZZZ", confirmed=True) == "unknown_confirmed"
    assert plates.check_format("123ABC02") == "kz2012"


def test_a_format_row_is_built_as_written() -> None:
    row = plates.format_row("x", r"\d{2}", "12", "S", "src", "DD", 0.5)
    assert (row.id, row.pattern.pattern, row.example, row.status, row.source, row.shape, row.prior) == (
        "x",
        r"^\d{2}$",
        "12",
        "S",
        "src",
        "DD",
        0.5,
    )
    assert row.region("12") is None and row.region("123") is None
    kz = plates.FORMATS[0]
    assert kz.region("123ABC02") == "02" and kz.region("nope") is None


def test_a_reading_s_score_falls_with_each_character_corrected() -> None:
    """Issue #9, #26 (R3.2): each look-alike corrected costs the same share (CORRECTED), each
    character left out beside the plate another (DROPPED), the KZ by the flag nothing."""
    exact = plates.readings("123ABC02")[0]
    assert (exact.plate, exact.format, exact.score, exact.corrected) == ("123ABC02", "kz2012", 1.0, 0)
    one = next(r for r in plates.readings("I23ABC02") if r.format == "kz2012")
    assert (one.plate, one.corrected, one.score) == ("123ABC02", 1, 0.7)
    two = next(r for r in plates.readings("I23A8C02") if r.format == "kz2012")
    assert (two.corrected, two.score) == (2, 0.49)
    beside = next(r for r in plates.readings("1123ABC02") if r.format == "kz2012")
    assert (beside.plate, beside.score) == ("123ABC02", 0.6)
    assert plates.readings("KZ123ABC02")[0].score == 1.0
    dip = next(r for r in plates.readings("D12345") if r.format == "diplomatic")
    assert (dip.plate, dip.corrected, dip.score) == ("D12345", 0, 0.4)


# --- norms ---------------------------------------------------------------------------------------


def test_a_row_per_category_group_is_built_as_the_table_builds_it() -> None:
    low = norms.by_category(
        "i",
        "%",
        ((frozenset({"M1"}), 5.0), (frozenset({"N2", "N1"}), 7.0)),
        bound="low",
        clause="c",
        status="s",
    )
    assert low == (
        Norm("i/M1", "i", "%", 5.0, None, "c", "s", norms.Applies(categories=frozenset({"M1"}))),
        Norm("i/N1+N2", "i", "%", 7.0, None, "c", "s", norms.Applies(categories=frozenset({"N1", "N2"}))),
    )
    high = norms.by_category("j", "°", ((frozenset({"M1"}), 9.0),), bound="high", clause="c", status="s")
    assert high == (Norm("j/M1", "j", "°", None, 9.0, "c", "s", norms.Applies(categories=frozenset({"M1"}))),)
    assert norms.cats("M1", "N1") == frozenset({"M1", "N1"})
    assert norms.NORMS["brake.service.specific_force/M1"] == Norm(
        "brake.service.specific_force/M1",
        "brake.service.specific_force",
        "%",
        59.0,
        None,
        "TR CU 018/2011 App. 8 cl. 1.3 Table 1.3; formula GOST 33997 A.1",
        norms.GOST_51709,
        norms.Applies(categories=frozenset({"M1"})),
    )


def test_a_norm_says_itself_in_words_and_as_data() -> None:
    both = Norm("x", "x", "m/km", -5.0, 5.0, "c", "SOURCED")
    assert both.describe() == "-5…5 m/km"
    assert Norm("x", "x", "%", 40.0, None, "c", "s").describe() == "≥ 40 %"
    assert Norm("x", "x", "dB", None, 96.5, "c", "s").describe() == "≤ 96.5 dB"
    visual = norms.NORMS["visual.horn"]
    assert visual.describe() == "no defect"
    assert both.verified and not Norm("x", "x", "", 0, None, "c", "UNVERIFIED: why").verified
    d = Norm(
        "x", "x", "%", 1.0, None, "c", "s", norms.Applies(frozenset({"M2", "M1"}), frozenset({"gas"}), 2000)
    ).as_dict()
    assert d["applies"] == {
        "categories": ["M1", "M2"],
        "fuels": ["gas"],
        "built_before": 2000,
        "catalyst": None,
        "turbo": None,
    }
    assert (d["text"], d["version"], d["decimals"], d["kind"]) == (
        "≥ 1 %",
        norms.NORMS_VERSION,
        2,
        "measured",
    )


def test_a_vehicle_matches_a_row_by_each_of_its_facts() -> None:
    applies = norms.Applies(frozenset({"M1"}), frozenset({"petrol"}), 2000, True, False)
    assert applies.matches(Vehicle("M1", "petrol", 1999, True, False))
    assert not applies.matches(Vehicle("N1", "petrol", 1999, True, False))
    assert not applies.matches(Vehicle("M1", "diesel", 1999, True, False))
    assert not applies.matches(Vehicle("M1", "petrol", 2000, True, False))
    assert not applies.matches(Vehicle("M1", "petrol", None, True, False))
    assert not applies.matches(Vehicle("M1", "petrol", 1999, False, False))
    assert not applies.matches(Vehicle("M1", "petrol", 1999, True, True))
    assert norms.Applies().matches(Vehicle("L7", "electric", None, True, True))


def test_the_formulas_of_gost_33997_at_their_edges() -> None:
    assert norms.imbalance_percent(1.0, 0.5) == 50.0
    assert norms.imbalance_percent(0.5, 0.25) == 50.0
    assert norms.imbalance_percent(-1.0, -2.0) == 0.0
    assert norms.specific_force_percent(0.0098, 1.0) == pytest.approx(100.0)
    assert norms.specific_force_percent(0.0049, 0.5) == pytest.approx(100.0)
    assert norms.specific_force_percent(5.0, 0.0) == 0.0
    assert norms.specific_force_percent(5.0, -1.0) == 0.0


def test_the_lane_clock_runs_at_its_speed_from_its_origin() -> None:
    """A training lane's time runs faster; a lane second is 1/speed of a real one (issue #7 item 5)."""
    import time

    from app.domain.clock import LaneClock

    fast = LaneClock(speed=60.0, origin_wall=time.time() - 10.0, origin_lane=1000.0)
    assert fast.now() == pytest.approx(1000.0 + 600.0, abs=5.0)
    assert fast.real_seconds(1200.0) == 20.0
    plain = LaneClock()
    assert plain.now() == pytest.approx(time.time(), abs=1.0) and plain.real_seconds(5.0) == 5.0
    # the wall-time shortcut is taken only at speed 1 from an origin that has not moved
    t0 = time.time() - 100.0
    twice = LaneClock(speed=2.0, origin_wall=t0, origin_lane=t0)
    assert twice.now() == pytest.approx(t0 + 200.0, abs=5.0)
    ahead = LaneClock(speed=1.0, origin_wall=t0, origin_lane=t0 + 3600.0)
    assert ahead.now() == pytest.approx(time.time() + 3600.0, abs=5.0)
