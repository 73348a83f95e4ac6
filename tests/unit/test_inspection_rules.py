"""The step plan and the gates of ``app.domain.inspection``, value by value (D3, R3.7, R12).

``test_domain.py`` tells the story; these pin every field, parameter and boundary, so that a
changed number or a dropped parameter is noticed (issue #7: the mutation run)."""

from __future__ import annotations

import pytest

from app.domain import inspection as rules
from app.domain.categories import CLAUSE_MIN_TIME
from app.domain.inspection import DeviceView, Hold, StepDef, StepState

EVERY_KIND = (
    "brake",
    "gas",
    "smoke",
    "sideslip",
    "suspension",
    "sound",
    "headlight",
    "steering",
    "tread",
    "glass",
)


def test_the_whole_plan_of_a_petrol_car_on_a_fully_equipped_lane() -> None:
    """D3: each step with its devices, minimum time, axle, mode and what completes it."""
    assert rules.plan("M1", 2, "petrol", EVERY_KIND) == [
        StepDef("identification", (), 0.0),
        StepDef("side_slip", ("sideslip",), 3.0, mode="test", finals=("sideslip.result",)),
        StepDef("suspension_axle_1", ("suspension",), 3.0, 1, "test", rules.SUSPENSION_FINALS),
        StepDef("suspension_axle_2", ("suspension",), 3.0, 2, "test", rules.SUSPENSION_FINALS),
        StepDef("brakes_axle_1", ("brake",), 5.0, 1, "test", rules.BRAKE_FINALS),
        StepDef("brakes_axle_2", ("brake",), 5.0, 2, "test", rules.BRAKE_FINALS),
        StepDef(
            "emissions",
            ("gas",),
            10.0,
            mode="stable",
            stable_channel="gas.co",
            tolerance=0.1,
            channels=("gas.co",),
        ),
        StepDef(
            "headlight_left",
            ("headlight",),
            3.0,
            mode="test",
            finals=("headlight.left.high.intensity", "headlight.left.low.intensity"),
            start="measure_left",
        ),
        StepDef(
            "headlight_right",
            ("headlight",),
            3.0,
            mode="test",
            finals=("headlight.right.high.intensity", "headlight.right.low.intensity"),
            start="measure_right",
        ),
        StepDef("noise", ("sound",), 5.0, mode="window", channels=("sound.level",)),
        StepDef("steering", ("steering",), 5.0, mode="window", channels=("steering.play",)),
        StepDef("tyres", ("tread",), 5.0, mode="window", channels=rules.TREAD_CHANNELS),
        StepDef("glass", ("glass",), 5.0, mode="window", channels=rules.GLASS_CHANNELS),
        StepDef("visual", (), 0.0, mode="checklist"),
    ]
    assert rules.BRAKE_FINALS == (
        "brake.force.left.max",
        "brake.force.right.max",
        "brake.wheel_load.left",
        "brake.wheel_load.right",
    )
    assert rules.TREAD_CHANNELS == (
        "tread.front_left",
        "tread.front_right",
        "tread.rear_left",
        "tread.rear_right",
    )
    assert rules.GLASS_CHANNELS == ("glass.windscreen", "glass.front_left", "glass.front_right")


def _ids(*args: object) -> list[str]:
    return [s.id for s in rules.plan(*args)]  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("category", "axles", "fuel", "expected"),
    [
        # a diesel: smoke, not emissions
        ("N1", 1, "diesel", "side_slip suspension_axle_1 brakes_axle_1 smoke headlight_left "
                            "headlight_right noise steering tyres glass"),
        # a gas car is measured like a petrol one
        ("M2", 1, "gas", "side_slip brakes_axle_1 emissions headlight_left headlight_right noise steering "
                         "tyres glass"),
        # an electric car: neither gas nor smoke
        ("M1", 1, "electric", "side_slip suspension_axle_1 brakes_axle_1 headlight_left headlight_right "
                              "noise steering tyres glass"),
        # a motorcycle: no steering play, no glass (category L)
        ("L3", 2, "petrol", "side_slip brakes_axle_1 brakes_axle_2 emissions headlight_left "
                            "headlight_right noise tyres"),
        # a trailer: brakes, tyres and the checklist only
        ("O4", 3, "none", "brakes_axle_1 brakes_axle_2 brakes_axle_3 tyres"),
        ("O1", 1, "petrol", "brakes_axle_1 tyres"),
    ],
)  # fmt: skip
def test_the_plan_follows_category_fuel_and_axles(
    category: str, axles: int, fuel: str, expected: str
) -> None:
    """Identification first and the checklist last, the measured steps between in the lane's order."""
    assert _ids(category, axles, fuel, EVERY_KIND) == ["identification", *expected.split(), "visual"]


@pytest.mark.parametrize("kind", EVERY_KIND[1:])
def test_a_step_needs_its_stand_on_the_lane(kind: str) -> None:
    """D3: a lane without a stand of that kind plans no step for it (petrol and diesel together);
    the brake test is planned on every lane (a lane has a brake stand)."""
    without = tuple(k for k in EVERY_KIND if k != kind)
    for fuel in ("petrol", "diesel"):
        planned = {d for s in rules.plan("N1", 2, fuel, without) for d in s.devices}
        assert kind not in planned and "brake" in planned
    for fuel in ("petrol", "diesel"):
        assert {d for s in rules.plan("N1", 2, fuel, (kind,)) for d in s.devices} <= {kind, "brake"}


def test_the_default_plan_is_a_petrol_car_on_a_brake_stand() -> None:
    assert rules.plan("M1", 1) == rules.plan("M1", 1, "petrol", ("brake",))
    assert _ids("M1", 1) == ["identification", "brakes_axle_1", "visual"]


def test_a_step_is_stored_with_every_field_and_read_back_with_defaults() -> None:
    step = StepDef("x", ("a", "b"), 2.5, 3, "stable", ("f",), "ch", 0.25, "go", ("c1", "c2"))
    assert step.as_dict() == {
        "devices": ["a", "b"],
        "min_s": 2.5,
        "axle": 3,
        "mode": "stable",
        "finals": ["f"],
        "stable_channel": "ch",
        "tolerance": 0.25,
        "start": "go",
        "channels": ["c1", "c2"],
    }
    assert StepDef.from_dict("x", step.as_dict()) == step
    assert StepDef.from_dict("y", {}) == StepDef("y", (), 0.0, None, "manual", (), "", 0.0, "", ())
    assert StepDef("z", (), 1.0) == StepDef("z", (), 1.0, None, "manual", (), "", 0.0, "", ())


def test_a_window_step_needs_every_channel_it_names() -> None:
    tread = StepDef("tyres", ("tread",), 5.0, mode="window", channels=("a", "b"))
    assert rules.window_complete(tread, {"a": [1.0], "b": [2.0]})
    assert not rules.window_complete(tread, {"a": [1.0]})
    assert not rules.window_complete(tread, {"a": [1.0], "b": []})
    assert not rules.window_complete(tread, {})
    bare = StepDef("w", ("x",), 5.0, mode="window")  # names none: any live value will do
    assert rules.window_complete(bare, {"q": [0.0]})
    assert not rules.window_complete(bare, {"q": []})
    assert not rules.window_complete(bare, {})


def test_stability_is_judged_on_the_last_count_values_with_the_tolerance_inclusive() -> None:
    assert rules.stable([1.0, 1.5] * 3, 0.5)  # exactly the tolerance: stable
    assert not rules.stable([1.0, 1.5] * 3, 0.49)
    assert rules.stable([9.0, 1.0, 1.0, 1.0], 0.0, count=3)
    assert not rules.stable([1.0, 1.0], 0.0, count=3)
    assert not rules.stable([9.0, 1.0, 1.0, 1.0, 1.0, 1.0], 0.1)  # the sixth from the end counts
    assert rules.stable([9.0] + [1.0] * 6, 0.1)


def test_a_hold_is_a_code_and_its_parameters() -> None:
    assert Hold("c", {"a": 1}).as_dict() == {"code": "c", "params": {"a": 1}}
    assert Hold("c").as_dict() == {"code": "c", "params": {}}


def test_each_device_hold_names_the_device_its_reason_and_why() -> None:
    """R3.7: missing, not connected, not admitted, frozen — in that precedence, each with its reason."""
    why = {"code": "x", "params": {}}
    devices = [
        DeviceView("b1", "brake", False, False, "off", why=why),
        DeviceView("b2", "brake", True, False, "foreign", why=why),
        DeviceView("b3", "brake", True, True, "frozen", stuck=True, why=why),
        DeviceView("b4", "brake", True, True, "fine"),
        DeviceView("g1", "gas", True, True),
    ]
    step = StepDef("s", ("brake", "smoke"), 1.0)
    assert rules.step_start_holds(step, [], devices) == [
        Hold("device_not_connected", {"device": "b1", "reason": "off", "why": why}),
        Hold("device_not_admitted", {"device": "b2", "reason": "foreign", "why": why}),
        Hold("device_stuck", {"device": "b3", "reason": "frozen", "why": why}),
        Hold("device_missing", {"kind": "smoke"}),
    ]
    assert rules.step_start_holds(StepDef("g", ("gas",), 1.0), [], devices) == []


def test_a_step_waits_for_the_one_that_runs_and_names_it() -> None:
    steps = [StepState("a", "done"), StepState("b", "running"), StepState("c", "pending")]
    assert rules.step_start_holds(StepDef("c", (), 0.0), steps, []) == [Hold("step_running", {"step": "b"})]
    assert rules.step_start_holds(StepDef("c", (), 0.0), steps[:1] + steps[2:], []) == []


def test_a_step_finishes_after_its_minimum_rounded_to_whole_seconds() -> None:
    step = StepDef("brakes_axle_1", ("brake",), 5.0)
    running = StepState("brakes_axle_1", "running", started=10.0, results_in=True)
    assert rules.step_finish_holds(step, running, 11.2) == [
        Hold("step_min_time", {"step": "brakes_axle_1", "left_s": 4})  # 3.8 s left
    ]
    assert rules.step_finish_holds(step, running, 14.9)[0].params["left_s"] == 0
    assert rules.step_finish_holds(step, running, 15.0) == []  # exactly its minimum
    never_started = StepState("brakes_axle_1", "running", started=None, results_in=True)
    assert rules.step_finish_holds(step, never_started, 0.0) == []
    waiting = StepState("brakes_axle_1", "running", started=0.0)
    assert rules.step_finish_holds(step, waiting, 99.0) == [
        Hold("step_waiting_results", {"step": "brakes_axle_1"})
    ]


def test_the_card_waits_for_every_step_every_device_and_the_minimum_time() -> None:
    """R3.7, R12: every reason at once, with the numbers the operator is shown."""
    plan = rules.plan("M1", 1, "petrol", ("brake", "gas"))
    steps = [StepState("identification", "done"), StepState("brakes_axle_1", "running")]
    devices = [DeviceView("b", "brake", True, True), DeviceView("g", "gas", False, False, "off")]
    holds = rules.card_holds("M1", 100.0, 160.5, plan, steps, devices)
    assert holds == [
        Hold("steps_not_done", {"steps": ["brakes_axle_1", "emissions", "visual"]}),
        Hold("device_not_connected", {"device": "g", "reason": "off", "why": {}}),
        Hold("min_duration", {"elapsed_s": 60, "minimum_s": 1200, "left_s": 1140, "clause": CLAUSE_MIN_TIME}),
    ]
    # left_s rounds up: with 0.5 s to go the operator is told 1 s, not 0
    late = rules.card_holds(
        "M1",
        0.0,
        1199.5,
        plan,
        [StepState(s.id, "done") for s in plan],
        devices[:1] + [DeviceView("g", "gas", True, True)],
    )
    assert late == [
        Hold("min_duration", {"elapsed_s": 1199, "minimum_s": 1200, "left_s": 1, "clause": CLAUSE_MIN_TIME})
    ]


def test_the_card_names_the_missing_kinds_in_order() -> None:
    plan = [StepDef("a", ("smoke", "brake"), 0.0), StepDef("b", ("brake",), 0.0)]
    steps = [StepState("a", "done"), StepState("b", "done")]
    assert rules.card_holds("O1", 0.0, 900.0, plan, steps, []) == [
        Hold("device_missing", {"kind": "brake"}),
        Hold("device_missing", {"kind": "smoke"}),
    ]


FULL = rules.plan("M1", 2, "petrol", EVERY_KIND)


@pytest.mark.parametrize(
    ("failed", "rerun"),
    [
        ([], []),
        (["brake.service.imbalance.axle2"], ["brakes_axle_1", "brakes_axle_2"]),
        (["suspension.axle2.efficiency.left"], ["suspension_axle_2"]),
        (["sideslip.result"], ["side_slip"]),
        (["emissions.co"], ["emissions"]),
        (["headlight.left.low.intensity"], ["headlight_left"]),
        (["headlight.right.high.intensity"], ["headlight_right"]),
        (["headlight.high_intensity_sum"], ["headlight_left", "headlight_right"]),  # both lamps again
        (["noise.level"], ["noise"]),
        (["steering.play"], ["steering"]),
        (["tyres.tread.front_left"], ["tyres"]),
        (["glass.windscreen"], ["glass"]),
        (["visual.lights"], ["visual"]),
        (["smoke.k_mean"], []),  # a petrol car has no smoke step: nothing to run again
        (["unknown.item"], []),
        (
            ["glass.x", "suspension.axle1.x", "brake.x"],
            ["suspension_axle_1", "brakes_axle_1", "brakes_axle_2", "glass"],
        ),
    ],
)
def test_a_returning_vehicle_runs_again_what_measures_its_failed_items(
    failed: list[str], rerun: list[str]
) -> None:
    """Issue #8: identification always, then the failed items' steps in the plan's order."""
    assert [s.id for s in rules.reinspection_plan(FULL, failed)] == ["identification", *rerun]
    diesel = rules.plan("N1", 1, "diesel", EVERY_KIND)
    assert [s.id for s in rules.reinspection_plan(diesel, ["smoke.k_mean"])] == ["identification", "smoke"]
