"""One whole card, worked by hand: every item's value, norm, verdict and deviation, the measurement
protocol, the axles' measurements and the card's own fields (R3.6, R3.8, R3.4). Every input differs,
so a left taken for a right, a lost parameter or a changed rounding shows (issue #7: the mutation run).

The numbers (norms of ``app/domain/norms.py`` for an M1 petrol car with a catalyst):
* axle 1: 3.0 / 2.7 kN → imbalance 100·0.3/3.0 = 10 % (≤ 20: passes); axle 2: 1.6 / 2.0 kN → 20 %
  (at the limit: passes); ΣP = 9.3 kN, M = 500+480+350+330 = 1660 kg → γ = 9300/(1660·9.8) =
  57.17 % < 59 % (fails by −1.83);
* side slip −5.5 m/km (−5…5: fails by −0.5); suspension axle 2 right 38.25 % < 40 (−1.75), difference
  24.25 > 20 (+4.25);
* CO: the median of the last six of 2.0, 0.41, 0.42, 0.40, 0.43, 0.44, 0.45 = 0.43 % (≤ 0.5); λ 1.05 >
  1.03 (+0.02); left high beam 9000 cd < 10000 (−1000); noise max 97.3 > 96 dB(A) (+1.3); tread
  min 1.5 < 1.6 mm (−0.1); front-left glass 65 % < 70 (−5); the horn marked defective (1 > 0).
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

import pytest

from app.domain import inspection as rules
from app.domain.norms import NORMS_VERSION, Vehicle
from app.domain.periodicity import lane_date, next_inspection
from app.lane.card import CardIncomplete, Sheet, StepData, assemble_card, evaluate, settled, step_data
from app.storage.models import Inspection

KINDS = ("brake", "sideslip", "suspension", "gas", "headlight", "sound", "steering", "tread", "glass")

FINALS: dict[str, dict[str, float]] = {
    "side_slip": {"sideslip.result": -5.5, "sideslip.value.extra": 0.5},
    "suspension_axle_1": {"suspension.efficiency.left": 55.0, "suspension.efficiency.right": 40.0},
    "suspension_axle_2": {"suspension.efficiency.left": 62.5, "suspension.efficiency.right": 38.25},
    "brakes_axle_1": {
        "brake.force.left.max": 3.0,
        "brake.force.right.max": 2.7,
        "brake.wheel_load.left": 500.0,
        "brake.wheel_load.right": 480.0,
    },
    "brakes_axle_2": {
        "brake.force.left.max": 1.6,
        "brake.force.right.max": 2.0,
        "brake.wheel_load.left": 350.0,
        "brake.wheel_load.right": 330.0,
    },
    "headlight_left": {"headlight.left.high.intensity": 9000.0, "headlight.left.low.intensity": 5000.0},
    "headlight_right": {"headlight.right.high.intensity": 12000.4, "headlight.right.low.intensity": 6000.0},
}
LIVE: dict[str, dict[str, list[float]]] = {
    "emissions": {
        "gas.co": [2.0, 0.41, 0.42, 0.40, 0.43, 0.44, 0.45],
        "gas.lambda": [1.05] * 6,
        "gas.co2": [14.2] * 3,
    },
    "noise": {"sound.level": [90.0, 97.3, 95.0]},
    "steering": {"steering.play": [4.0] * 6},
    "tyres": {
        "tread.front_left": [3.0] * 6,
        "tread.front_right": [2.5] * 6,
        "tread.rear_left": [1.5] * 6,
        "tread.rear_right": [4.0] * 6,
    },
    "glass": {
        "glass.windscreen": [75.0] * 6,
        "glass.front_left": [65.0] * 6,
        "glass.front_right": [71.0] * 6,
    },
}


def _steps() -> dict[str, dict[str, Any]]:
    steps = {s.id: s.as_dict() | {"status": "done", "run": 1} for s in rules.plan("M1", 2, "petrol", KINDS)}
    steps["brakes_axle_1"]["run"] = 2  # run again after an interruption: only run 2 counts
    steps["visual"]["defects"] = ["visual.horn"]
    return steps


def _readings() -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for step, finals in FINALS.items():
        run = 2 if step == "brakes_axle_1" else 1
        out += [
            {"step": step, "run": run, "channel": c, "value": v, "final": True} for c, v in finals.items()
        ]
    for step, live in LIVE.items():
        out += [
            {"step": step, "run": 1, "channel": c, "value": v, "final": False}
            for c, vs in live.items()
            for v in vs
        ]
    # the interrupted first run of axle 1 measured something else: it must not count
    out += [
        {"step": "brakes_axle_1", "run": 1, "channel": c, "value": 99.0, "final": True}
        for c in FINALS["brakes_axle_1"]
    ]
    return out


def _item(i: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in i.items() if k != "norm"} | {"norm": i["norm"]["id"]}


def _v(id_: str, norm: str, value: float, deviation: float = 0.0, **extra: Any) -> dict[str, Any]:
    return {
        "id": id_,
        **extra,
        "norm": norm,
        "value": value,
        "passed": deviation == 0.0,
        "deviation": deviation,
    }


VISUAL_M1 = (
    "lights",
    "wipers",
    "glazing",
    "horn",
    "mirrors",
    "seat_belts",
    "leaks",
    "exhaust",
    "body",
    "wheels",
    "plates",
    "safety_kit",
)
EXPECTED_ITEMS = [
    _v("sideslip", "sideslip", -5.5, -0.5),
    _v("suspension.axle1.left", "suspension.efficiency", 55.0, axle=1, side="left"),
    _v("suspension.axle1.right", "suspension.efficiency", 40.0, axle=1, side="right"),
    _v("suspension.axle1.difference", "suspension.difference", 15.0, axle=1),
    _v("suspension.axle2.left", "suspension.efficiency", 62.5, axle=2, side="left"),
    _v("suspension.axle2.right", "suspension.efficiency", 38.25, -1.75, axle=2, side="right"),
    _v("suspension.axle2.difference", "suspension.difference", 24.25, 4.25, axle=2),
    _v("brake.imbalance.axle1", "brake.service.imbalance", 10.0, axle=1),
    _v("brake.imbalance.axle2", "brake.service.imbalance", 20.0, axle=2),
    _v("emissions.co_idle", "emissions.co_idle/catalyst", 0.43),
    _v("emissions.lambda", "emissions.lambda/catalyst", 1.05, 0.02),
    _v("headlight.left.high.intensity", "headlight.high_intensity", 9000.0, -1000.0, side="left"),
    _v("headlight.right.high.intensity", "headlight.high_intensity", 12000.0, side="right"),
    _v("noise.exhaust", "noise.exhaust", 97.3, 1.3),
    _v("steering.play", "steering.play/M1+N1", 4.0),
    _v("tyres.tread.min", "tyres.tread/M1+N1+O1+O2", 1.5, -0.1),
    _v("glass.front_left", "glass.transmission", 65.0, -5.0, glass="front_left"),
    _v("glass.front_right", "glass.transmission", 71.0, glass="front_right"),
    _v("glass.windscreen", "glass.transmission", 75.0, glass="windscreen"),
    *(
        _v(f"visual.{c}", f"visual.{c}", 1.0 if c == "horn" else 0.0, 1.0 if c == "horn" else 0.0)
        for c in VISUAL_M1
    ),
    # both high beams together: 9000 + 12000.4 = 21000 cd ≤ 225 000 (judged as printed)
    _v("headlight.high_intensity_sum", "headlight.high_intensity_sum", 21000.0),
    _v("brake.specific_force", "brake.service.specific_force/M1", 57.17, -1.83),
]

EXPECTED_PROTOCOL = [
    {"step": "side_slip", "values": FINALS["side_slip"], "devices": ["sideslip"]},
    {"step": "suspension_axle_1", "values": FINALS["suspension_axle_1"], "devices": ["suspension"]},
    {"step": "suspension_axle_2", "values": FINALS["suspension_axle_2"], "devices": ["suspension"]},
    # the brake tester's values as every step's, with their units and times (issue #22 item 6)
    {"step": "brakes_axle_1", "values": FINALS["brakes_axle_1"], "devices": ["brake"]},
    {"step": "brakes_axle_2", "values": FINALS["brakes_axle_2"], "devices": ["brake"]},
    {
        "step": "emissions",
        "values": {"gas.co": 0.43, "gas.lambda": 1.05, "gas.co2": 14.2},
        "devices": ["gas"],
    },
    {"step": "headlight_left", "values": FINALS["headlight_left"], "devices": ["headlight"]},
    {"step": "headlight_right", "values": FINALS["headlight_right"], "devices": ["headlight"]},
    {"step": "noise", "values": {"sound.level": 97.3}, "devices": ["sound"]},
    {"step": "steering", "values": {"steering.play": 4.0}, "devices": ["steering"]},
    {
        "step": "tyres",
        "values": {
            "tread.front_left": 3.0,
            "tread.front_right": 2.5,
            "tread.rear_left": 1.5,
            "tread.rear_right": 4.0,
        },
        "devices": ["tread"],
    },
    {
        "step": "glass",
        "values": {"glass.windscreen": 75.0, "glass.front_left": 65.0, "glass.front_right": 71.0},
        "devices": ["glass"],
    },
]

DEVICES = [
    {"kind": "brake", "model": "BM-1", "serial": "1"},
    {"kind": "smoke", "model": "SM-1", "serial": "2"},  # a petrol car: the smoke meter made no value
    {"kind": "gas", "model": "GA-1", "serial": "3"},
]


def _iso(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).isoformat(timespec="seconds")


def _card(
    vehicle: dict[str, Any],
    steps: dict[str, dict[str, Any]],
    readings: list[dict[str, Any]],
    started: float,
    finished: float,
) -> dict[str, Any]:
    insp = Inspection(
        id="insp-1",
        number=41,
        category="M1",
        fuel="petrol",
        axles=2,
        operator="op",
        started=started,
        training=False,
        steps=steps,
    )
    return assemble_card(
        contract="otolane-eis/1",
        card_id="card-1",
        insp=insp,
        vehicle=vehicle,
        lane={"name": "Lane 2", "centre": "OTO-7", "latitude": 51.1, "longitude": 71.4, "extra": "dropped"},
        inspector={"username": "op", "name": "A. B."},
        finished=finished,
        readings=readings,
        devices=DEVICES,
    )


def test_a_whole_card_item_by_item() -> None:
    """R3.6 each item with its value, norm and verdict; R3.8 each failure with its deviation; R3.4."""
    started = float(int(time.time()) - 1830)
    finished = started + 1812.46
    vehicle = {
        "plate": "777ABC02",
        "year": 2015,
        "catalyst": 1,
        "turbo": "yes",
        "vin": "XTA21099012345678",
        "make_model": "ВАЗ 21099",
        "use": "taxi",
    }
    readings = _readings()
    card = _card(vehicle, _steps(), readings, started, finished)
    assert [_item(i) for i in card["items"]] == EXPECTED_ITEMS
    assert [_item(i) for i in card["failures"]] == [i for i in EXPECTED_ITEMS if not i["passed"]]
    # these readings carry no unit and no time: each value says so, none is made up
    assert card["protocol"] == [
        e | {"units": dict.fromkeys(e["values"], ""), "times": {}} for e in EXPECTED_PROTOCOL
    ]
    assert card["measurements"] == [
        {
            "axle": 1,
            "force_left_kn": 3.0,
            "force_right_kn": 2.7,
            "wheel_load_left_kg": 500.0,
            "wheel_load_right_kg": 480.0,
        },
        {
            "axle": 2,
            "force_left_kn": 1.6,
            "force_right_kn": 2.0,
            "wheel_load_left_kg": 350.0,
            "wheel_load_right_kg": 330.0,
        },
    ]
    rest = {k: v for k, v in card.items() if k not in ("items", "failures", "protocol", "measurements")}
    assert rest == {
        "contract": "otolane-eis/1",
        "card_id": "card-1",
        "inspection_id": "insp-1",
        "number": 41,
        "training": False,
        "lane": {"name": "Lane 2", "centre": "OTO-7", "latitude": 51.1, "longitude": 71.4},
        "vehicle": {
            "plate": "777ABC02",
            "category": "M1",
            "fuel": "petrol",
            "axles": 2,
            "year": 2015,
            "vin": "XTA21099012345678",
            "make_model": "ВАЗ 21099",
            "catalyst": True,
            "turbo": True,
            "use": "taxi",
        },
        "inspector": {"username": "op", "name": "A. B."},
        "started": _iso(started),
        "finished": _iso(finished),
        "duration_s": 1812.5,
        "verdict": "not_admitted",
        "unjudged": [],
        "devices": [DEVICES[0], DEVICES[2]],
        "readings": len(readings),
        "norms_version": NORMS_VERSION,
        "next_inspection": next_inspection("M1", 2015, "taxi", False, lane_date(finished)).as_dict(),
        "reinspection_of": None,
    }
    assert card["next_inspection"]["rule"] == "re-inspection" and card["next_inspection"]["due"] is None


def test_a_card_with_every_item_passed_admits_the_vehicle_and_says_when_it_is_due() -> None:
    """R3.4: an admitted private car gets its next date; the vehicle's defaults are filled in."""
    steps = {
        s.id: s.as_dict() | {"status": "done", "run": 1} for s in rules.plan("M1", 1, "diesel", ("brake",))
    }
    steps["visual"]["defects"] = []
    finals = {
        "brake.force.left.max": 3.0,
        "brake.force.right.max": 3.0,
        "brake.wheel_load.left": 500.0,
        "brake.wheel_load.right": 500.0,
    }
    readings = [{"step": "brakes_axle_1", "channel": c, "value": v, "final": True} for c, v in finals.items()]
    finished = float(int(time.time()))
    card = _card({"plate": "1A"}, steps, readings, finished - 1300.0, finished)
    assert card["verdict"] == "admitted" and card["failures"] == []
    assert [i["id"] for i in card["items"]][-1] == "brake.specific_force"  # 6000/(1000·9.8) = 61.22 %
    assert card["items"][-1]["value"] == 61.22
    v = card["vehicle"]
    assert (v["year"], v["vin"], v["make_model"], v["catalyst"], v["turbo"], v["use"]) == (
        None,
        "",
        "",
        False,
        False,
        "private",
    )
    assert (
        card["next_inspection"] == next_inspection("M1", None, "private", True, lane_date(finished)).as_dict()
    )
    assert card["next_inspection"]["due"] is not None
    assert card["devices"] == [DEVICES[0]]
    assert card["protocol"] == [
        {
            "step": "brakes_axle_1",
            "values": finals,
            "devices": ["brake"],
            "units": dict.fromkeys(finals, ""),
            "times": {},
        }
    ]
    # a private car two years old is exempt until New Year of its eighth year (R3.4)
    year = lane_date(finished).year - 2
    steps["identification"].pop("devices")  # a step that needs no device may say none
    new = _card({"plate": "1A", "year": year}, steps, readings, finished - 1300.0, finished)
    assert new["next_inspection"]["rule"] == "exempt-new-car"
    assert new["next_inspection"]["due"] == f"{year + 8}-01-01"


def test_a_value_without_a_norm_goes_to_the_protocol_unjudged_to_three_decimals() -> None:
    """A trailer has no steering-play row: the value is kept, not judged."""
    sheet = Sheet(Vehicle("O1"))
    sheet.item("steering.play", "steering.play", 1.23456)
    assert sheet.unjudged == [{"id": "steering.play", "norm_item": "steering.play", "value": 1.235}]
    assert sheet.items == []


def test_the_readings_of_a_step_are_its_finals_and_its_live_series() -> None:
    """Readings of other steps and other runs are left out; one with no run belongs to any run;
    a final keeps the last value sent."""
    readings = [
        {"step": "s", "run": 3, "channel": "f", "value": 1, "final": True},
        {"step": "s", "run": 3, "channel": "f", "value": 2, "final": True},
        {"step": "s", "channel": "l", "value": 5, "final": False},
        {"step": "s", "run": 3, "channel": "l", "value": 6},
        {"step": "s", "run": 2, "channel": "l", "value": 7, "final": False},
        {"step": "t", "run": 3, "channel": "l", "value": 8, "final": False},
    ]
    d = step_data("s", {"run": 3, "channels": ["l"], "x": 1}, readings)
    assert d == StepData(
        "s", {"f": 2.0}, {"l": [5.0, 6.0]}, ("l",), [], {"run": 3, "channels": ["l"], "x": 1}
    )
    assert isinstance(d.finals["f"], float) and isinstance(d.live["l"][0], float)
    assert step_data("s", {}, readings[:2]).channels == ()
    assert d.final("g") is None and d.series("m") is None and d.series("l") == [5.0, 6.0]
    assert d.missing == [{"step": "s", "channel": "g"}, {"step": "s", "channel": "m"}]
    assert StepData("e", {}, {"l": []}, ()).series("l") is None


def test_settled_takes_the_upper_middle_of_an_even_count() -> None:
    assert settled([4.0, 1.0, 3.0, 2.0], n=4) == 3.0
    assert settled([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0], n=2) == 7.0


@pytest.mark.parametrize(
    ("step", "drop", "missing"),
    [
        ("brakes_axle_2", "brake.wheel_load.right", "brake.wheel_load.right"),
        ("brakes_axle_2", "brake.force.left.max", "brake.force.left.max"),
        ("suspension_axle_1", "suspension.efficiency.left", "suspension.efficiency.left"),
        ("headlight_right", "headlight.right.low.intensity", "headlight.right.low.intensity"),
        ("emissions", "gas.lambda", "gas.lambda"),
        ("glass", "glass.front_right", "glass.front_right"),
    ],
)
def test_each_missing_reading_is_named_by_its_step_and_channel(step: str, drop: str, missing: str) -> None:
    readings = [r for r in _readings() if not (r["step"] == step and r["channel"] == drop)]
    with pytest.raises(CardIncomplete) as err:
        evaluate(_steps(), Vehicle("M1", "petrol", 2015, True), readings)
    assert err.value.missing == [{"step": step, "channel": missing}]
    assert str(err.value) == f"{step}: {missing}"


def test_lambda_is_not_needed_where_no_row_judges_it() -> None:
    readings = [r for r in _readings() if r["channel"] != "gas.lambda"]
    sheet = evaluate(_steps(), Vehicle("M1", "petrol", 2015, False), readings)
    assert "emissions.lambda" not in {i["id"] for i in sheet.items}


def test_a_checklist_step_done_without_its_checklist_refuses_the_card() -> None:
    steps = _steps()
    del steps["visual"]["defects"]
    with pytest.raises(CardIncomplete) as err:
        evaluate(steps, Vehicle("M1", "petrol", 2015, True), _readings())
    assert err.value.missing == [{"step": "visual", "channel": "defects"}]


def test_every_step_without_a_rule_or_readings_is_named() -> None:
    steps = {"warp": {}, "brakes_axle_1": _steps()["brakes_axle_2"], "teleport": {}}
    with pytest.raises(CardIncomplete) as err:
        evaluate(steps, Vehicle("M1"), [])
    assert err.value.missing == [
        {"step": "warp", "channel": "*"},
        *({"step": "brakes_axle_1", "channel": c} for c in rules.BRAKE_FINALS),
        {"step": "teleport", "channel": "*"},
    ]
    assert str(err.value).startswith("warp: *, brakes_axle_1: brake.force.left.max, ")


def test_a_diesel_s_smoke_is_judged_and_its_values_kept_in_the_protocol() -> None:
    steps = {
        s.id: s.as_dict() | {"status": "done", "run": 1} for s in rules.plan("N1", 1, "diesel", ("smoke",))
    }
    del steps["brakes_axle_1"], steps["visual"]
    readings = [
        {"step": "smoke", "run": 1, "channel": "smoke.k_mean", "value": 0.9, "final": True},
        {"step": "smoke", "run": 1, "channel": "smoke.k_max", "value": 1.1, "final": True},
    ]
    sheet = evaluate(steps, Vehicle("N1", "diesel", 2010, turbo=True), readings)
    assert sheet.protocol == [{"step": "smoke", "values": {"smoke.k_mean": 0.9, "smoke.k_max": 1.1}}]
    assert [(i["id"], i["value"], i["passed"]) for i in sheet.items] == [("smoke.k", 0.9, True)]


def test_each_protocol_value_keeps_its_unit_and_its_time_on_the_lane_clock_each_lamp_once() -> None:
    """Issue #22 item 6: the protocol names each value's unit as its device sent it and when it was
    measured, on the lane's clock (a training lane's runs faster, as the card's own times); a lamp's
    channels are under its own step only (the stand reports both lamps each time)."""
    readings = [
        r | {"unit": "m/km" if r["channel"].startswith("sideslip") else "cd", "ts": 1000.0 + i}
        for i, r in enumerate(_readings())
    ]
    insp = Inspection(
        id="insp-1", number=41, category="M1", fuel="petrol", axles=2, operator="op",
        started=0.0, training=False, steps=_steps(),
    )  # fmt: skip
    card = assemble_card(
        contract="otolane-eis/1", card_id="card-1", insp=insp, vehicle={"plate": "777ABC02"},
        lane={"name": "L", "centre": "C", "latitude": 0.0, "longitude": 0.0},
        inspector={"username": "op"}, finished=10.0, readings=readings, devices=DEVICES,
        lane_time=lambda wall: 5000.0 + (wall - 1000.0) * 60,
    )  # fmt: skip
    entries = {e["step"]: e for e in card["protocol"]}
    slip = entries["side_slip"]
    assert set(slip["units"].values()) == {"m/km"} and set(slip["units"]) == set(slip["values"])
    last = max(
        i for i, r in enumerate(readings) if r["step"] == "side_slip" and r["channel"] == "sideslip.result"
    )
    assert slip["times"]["sideslip.result"] == _iso(5000.0 + last * 60)
    assert all(ch.startswith("headlight.left.") for ch in entries["headlight_left"]["values"])
    assert all(ch.startswith("headlight.right.") for ch in entries["headlight_right"]["values"])


@pytest.mark.parametrize(("each", "passed"), [(112500.0, True), (112500.6, False), (150000.0, False)])
def test_two_high_beams_each_bright_enough_may_together_dazzle(each: float, passed: bool) -> None:
    """Issue #22 item 8 (norms-official.md §3, [L2]): each high beam at least 10 000 cd, all of them
    together at most 225 000 cd — both lamps passing one by one can fail as a pair; at the limit the
    pair passes (judged as printed: 225 001 cd fails)."""
    readings = [r | {"value": each} if r["channel"].endswith(".high.intensity") else r for r in _readings()]
    card = _card({"plate": "777ABC02"}, _steps(), readings, 0.0, 1900.0)
    items = {i["id"]: i for i in card["items"]}
    assert (
        items["headlight.left.high.intensity"]["passed"] and items["headlight.right.high.intensity"]["passed"]
    )
    pair = items["headlight.high_intensity_sum"]
    assert pair["passed"] is passed and pair["norm"]["high"] == 225000.0
    assert pair["value"] == round(2 * each) and pair["deviation"] == (
        0.0 if passed else round(2 * each) - 225000
    )
