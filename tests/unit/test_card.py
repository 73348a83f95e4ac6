"""The card is judged from stored readings only (R3.6, issue #7 item 1): no item from a default, no
planned step silently left out, only the readings of a step's completed run."""

from __future__ import annotations

from typing import Any

import pytest

from app.domain import inspection as rules
from app.domain.norms import Vehicle
from app.lane.card import CardIncomplete, evaluate, rule_for

ALL_KINDS = (
    "brake",
    "sideslip",
    "suspension",
    "gas",
    "smoke",
    "headlight",
    "sound",
    "steering",
    "tread",
    "glass",
)
HEADLIGHT = {"high": 32000.0, "low": 12000.0}
M1 = Vehicle("M1")


def _plan(fuel: str, defects: tuple[str, ...] = ()) -> dict[str, dict[str, Any]]:
    steps = {s.id: s.as_dict() | {"status": "done", "run": 1} for s in rules.plan("M1", 2, fuel, ALL_KINDS)}
    steps["visual"]["defects"] = list(defects)
    return steps


def _readings(steps: dict[str, dict[str, Any]], run: int = 1) -> list[dict[str, Any]]:
    """What a good lane stores for every planned step: each final once, each live channel 6 times."""
    out: list[dict[str, Any]] = []
    for step, st in steps.items():
        for ch in st["finals"]:
            value = 25.0 if "force" in ch else 450.0 if "load" in ch else 70.0
            if "headlight" in ch:
                value = HEADLIGHT[ch.split(".")[2]]
            if ch == "sideslip.result":
                value = 1.0
            if ch == "smoke.k_mean":
                value = 0.8
            out.append({"step": step, "run": run, "channel": ch, "value": value, "final": True})
        for ch in st["channels"]:
            value = {"gas.co": 0.3, "sound.level": 80.0, "steering.play": 5.0}.get(ch, 75.0)
            if ch.startswith("tread."):
                value = 5.0
            out += [{"step": step, "run": run, "channel": ch, "value": value, "final": False}] * 6
    return out


@pytest.mark.parametrize("fuel", ["petrol", "diesel"])
def test_every_planned_step_has_its_rule(fuel: str) -> None:
    for step in _plan(fuel):
        assert rule_for(step) is not None, step


@pytest.mark.parametrize("fuel", ["petrol", "diesel"])
def test_a_complete_lane_gives_every_item(fuel: str) -> None:
    steps = _plan(fuel)
    sheet = evaluate(steps, Vehicle("M1", fuel), _readings(steps))
    ids = {i["id"] for i in sheet.items}
    # Side slip, suspension, noise and smoke carry a norm (issue #8): a smoky diesel cannot be admitted.
    assert {"sideslip", "noise.exhaust", "suspension.axle1.left", "suspension.axle2.difference"} <= ids
    assert ("smoke.k" in ids) == (fuel == "diesel")
    assert {"brake.imbalance.axle1", "brake.imbalance.axle2", "brake.specific_force"} <= ids
    assert {"steering.play", "tyres.tread.min", "glass.windscreen"} <= ids
    assert {"headlight.left.high.intensity", "headlight.right.high.intensity"} <= ids
    assert ("emissions.co_idle" in ids) == (fuel == "petrol")
    protocol = {p["step"] for p in sheet.protocol}
    assert "noise" in protocol and ("smoke" in protocol) == (fuel == "diesel")


def _needed(steps: dict[str, dict[str, Any]]) -> list[tuple[str, str]]:
    return [(s, ch) for s, st in steps.items() for ch in (*st["finals"], *st["channels"])]


@pytest.mark.parametrize("fuel", ["petrol", "diesel"])
def test_any_one_missing_reading_refuses_the_card_naming_it(fuel: str) -> None:
    steps = _plan(fuel)
    full = _readings(steps)
    needed = _needed(steps)
    assert len(needed) > 20
    for step, channel in needed:
        readings = [r for r in full if not (r["step"] == step and r["channel"] == channel)]
        with pytest.raises(CardIncomplete) as err:
            evaluate(steps, M1, readings)
        assert {"step": step, "channel": channel} in err.value.missing, (step, channel)


def test_no_readings_at_all_never_gives_a_card_of_zeros() -> None:
    steps = _plan("petrol")
    with pytest.raises(CardIncomplete) as err:
        evaluate(steps, M1, [])
    assert len(err.value.missing) == len(_needed(steps))


def test_a_step_with_no_rule_refuses_the_card() -> None:
    steps = _plan("petrol") | {"mystery": {"status": "done", "run": 1, "finals": [], "channels": []}}
    with pytest.raises(CardIncomplete) as err:
        evaluate(steps, M1, _readings(_plan("petrol")))
    assert err.value.missing == [{"step": "mystery", "channel": "*"}]


def test_only_the_completed_run_of_a_step_counts() -> None:
    """A step interrupted and run again: readings of run 1 stay in the chain, unused."""
    steps = _plan("petrol")
    steps["brakes_axle_1"]["run"] = 2
    readings = _readings(steps)  # every step's readings as run 1
    with pytest.raises(CardIncomplete) as err:
        evaluate(steps, M1, readings)
    assert {m["step"] for m in err.value.missing} == {"brakes_axle_1"}
    weak = [dict(r, value=5.0) if r["channel"] == "brake.force.left.max" else r for r in readings]
    rerun = [dict(r, run=2) for r in _readings({"brakes_axle_1": steps["brakes_axle_1"]}, run=2)]
    sheet = evaluate(steps, M1, weak + rerun)
    axle1 = next(i for i in sheet.items if i["id"] == "brake.imbalance.axle1")
    assert axle1["value"] == 0.0  # from run 2 (25 / 25), not from run 1's 5 / 25


def test_settled_is_the_median_of_the_last_six() -> None:
    from app.lane.card import settled

    assert settled([9.0, 1.0, 5.0, 2.0, 4.0, 3.0, 6.0]) == 4.0  # last six 1 5 2 4 3 6 → sorted[3]
    assert settled([7.0]) == 7.0
    assert settled([1.0, 2.0, 3.0]) == 2.0


def test_the_protocol_keeps_every_value_rounded_as_measured() -> None:
    """R3.6: the measurement protocol lists each step's values — settled live values rounded to the
    stand's resolution, finals as sent, noise at its maximum — and the items take the same values."""
    steps = _plan("petrol")
    readings = _readings(steps)
    live = {
        "gas.co": [0.9, 0.31234, 0.31111, 0.31456, 0.31222, 0.31333, 0.31444],
        "steering.play": [9.0, 5.126, 5.121, 5.129, 5.124, 5.123, 5.127],
        "sound.level": [80.0, 84.5, 81.0],
        "tread.front_left": [4.0, 3.456, 3.451, 3.459, 3.454, 3.453, 3.457],
    }
    readings = [r for r in readings if r["channel"] not in live] + [
        {"step": s, "run": 1, "channel": ch, "value": v, "final": False}
        for s, st in steps.items()
        for ch in st["channels"]
        if ch in live
        for v in live[ch]
    ]
    readings.append(
        {"step": "side_slip", "run": 1, "channel": "sideslip.value.extra", "value": 0.5, "final": True}
    )
    sheet = evaluate(steps, M1, readings)
    protocol = {p["step"]: p["values"] for p in sheet.protocol}
    assert protocol["emissions"] == {"gas.co": 0.313}  # median of the last six, 3 decimals
    assert protocol["steering"] == {"steering.play": 5.13}
    assert protocol["noise"] == {"sound.level": 84.5}
    assert protocol["tyres"]["tread.front_left"] == 3.46
    assert protocol["side_slip"] == {"sideslip.result": 1.0, "sideslip.value.extra": 0.5}
    assert protocol["headlight_left"]["headlight.left.high.intensity"] == HEADLIGHT["high"]
    items = {i["id"]: i["value"] for i in sheet.items}
    # Judged as printed: the norm's own precision (3 decimals for CO, 2 for steering play).
    assert items["emissions.co_idle"] == 0.313 and items["steering.play"] == 5.13
    assert items["tyres.tread.min"] == 3.46


def test_a_tyre_not_measured_gives_no_tread_item_but_refuses_the_card() -> None:
    steps = _plan("petrol")
    readings = [r for r in _readings(steps) if r["channel"] != "tread.rear_right"]
    with pytest.raises(CardIncomplete) as err:
        evaluate(steps, M1, readings)
    assert err.value.missing == [{"step": "tyres", "channel": "tread.rear_right"}]
    assert "tyres: tread.rear_right" in str(err.value)


def test_a_failed_item_not_measured_again_stays_failed_on_the_reinspection_card() -> None:
    """Issue #8 re-inspection: an item of the first card that no step rechecked is carried as it was
    (marked), so a re-inspection that skipped it can never admit the vehicle."""
    from app.domain.norms import NORMS, judge
    from app.lane.card import assemble_card
    from app.storage.models import Inspection

    full = _plan("petrol")
    steps = {
        sid: st for sid, st in full.items() if sid in ("identification", "brakes_axle_1", "brakes_axle_2")
    }
    smoke = {"id": "smoke.k", **judge(NORMS["smoke.k/natural"], 3.4).as_dict()}
    brake = {
        "id": "brake.imbalance.axle2",
        "axle": 2,
        **judge(NORMS["brake.service.imbalance"], 41.0).as_dict(),
    }
    first = {"card_id": "first", "number": 7, "failures": [smoke, brake]}
    insp = Inspection(
        id="i2", number=8, category="M1", fuel="petrol", axles=2, operator="op", started=0.0, training=True,
        steps=steps,
    )  # fmt: skip
    card = assemble_card(
        contract="otolane-eis/1", card_id="c2", insp=insp,
        vehicle={"plate": "123ABC02", "reinspection_of": first},
        lane={"name": "l", "centre": "c", "latitude": 0.0, "longitude": 0.0},
        inspector={"username": "op"}, finished=1500.0, readings=_readings(steps),
    )  # fmt: skip
    ids = {i["id"]: i for i in card["items"]}
    assert (
        ids["brake.imbalance.axle2"]["passed"] and "carried" not in ids["brake.imbalance.axle2"]
    )  # rechecked
    assert ids["smoke.k"]["carried"] and not ids["smoke.k"]["passed"]  # not rechecked: as it was
    assert card["verdict"] == "not_admitted" and card["reinspection_of"] == {"card_id": "first", "number": 7}


@pytest.mark.parametrize(
    ("vertical_cm", "nominal", "deviation", "passed"),
    [
        (-10.0, 1.0, 0.0, True),  # 10 cm lower at 10 m: 1.0 % down, as marked
        (-15.0, 1.0, 0.5, True),  # the limit itself passes (TR 720 App. 7 cl. 3.2: within ±0.5 %)
        (-5.0, 1.0, -0.5, True),
        (-16.0, 1.0, 0.6, False),  # aimed too low
        (-4.0, 1.0, -0.6, False),  # too high: dazzles
        (2.0, 1.0, -1.2, False),  # above the lamp's axis
    ],
)
def test_the_dipped_beams_aim_is_judged_against_the_headlamps_marking(
    vertical_cm: float, nominal: float, deviation: float, passed: bool
) -> None:
    """Issue #22 (7): the measured aim of each dipped beam has a verdict, by its marked tilt."""
    steps = _plan("petrol")
    aim = [(f"headlight_{side}", f"headlight.{side}.low.vertical") for side in ("left", "right")]
    readings = _readings(steps) + [
        {"step": step, "run": 1, "channel": ch, "value": vertical_cm, "final": True} for step, ch in aim
    ]
    sheet = evaluate(steps, Vehicle("M1", headlight_tilt=nominal), readings)
    aims = [i for i in sheet.items if i["norm"]["item"] == "headlight.low_aim"]
    assert [i["side"] for i in aims] == ["left", "right"]
    assert all(i["value"] == deviation and i["passed"] is passed for i in aims), aims
    assert aims[0]["nominal"] == nominal and aims[0]["norm"]["text"] == "-0.5…0.5 %"
    # no marking given: the aim is measured, in the protocol, and not judged — never a default
    unmarked = evaluate(steps, M1, readings)
    assert not [i for i in unmarked.items if i["norm"]["item"] == "headlight.low_aim"]
    assert {u["id"] for u in unmarked.unjudged} >= {"headlight.left.low.aim", "headlight.right.low.aim"}
