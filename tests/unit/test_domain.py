"""Categories, norms and gates are pure functions: tested without hardware."""

from __future__ import annotations

import pytest

from app.domain import inspection as rules
from app.domain.categories import CATEGORIES, min_duration_s
from app.domain.norms import imbalance_percent, judge, specific_force_percent
from app.domain.plates import normalise_plate
from app.errors import OtolaneError


@pytest.mark.parametrize(
    ("category", "minutes"),
    [("O1", 15), *((f"L{i}", 15) for i in range(1, 8)), ("M1", 20)]
    + [(c, 30) for c in ("M2", "M3", "N1", "N2", "N3", "O2", "O3", "O4")],
)
def test_minimum_inspection_time_by_category(category: str, minutes: int) -> None:
    """R12: O-1, L-1…7 15 min; M-1 20 min; M-2, M-3, N-1…3, O-2…4 30 min."""
    assert min_duration_s(category) == minutes * 60


def test_every_category_has_a_minimum_time() -> None:
    assert len(CATEGORIES) == 17


def test_imbalance_follows_gost_33997() -> None:
    assert imbalance_percent(3.42, 3.38) == pytest.approx(1.1696, abs=1e-3)
    assert imbalance_percent(1.21, 2.05) == pytest.approx(40.98, abs=0.01)
    assert imbalance_percent(0, 0) == 0.0


def test_a_verdict_keeps_its_norm_and_deviation() -> None:
    v = judge("brake.service.imbalance", 31.0)
    assert not v.passed and v.deviation == 11.0 and v.norm.high == 20.0
    assert judge("brake.service.imbalance", 20.0).passed
    low = judge("brake.service.specific_force/N1+N2+N3", 41.5)
    assert not low.passed and low.deviation == -8.5
    assert specific_force_percent(10.92, 1782) == pytest.approx(62.53, abs=0.01)


def _views(connected: bool = True, admitted: bool = True) -> list[rules.DeviceView]:
    return [rules.DeviceView("brake", "brake", connected, admitted, "why")]


def test_card_holds_name_every_reason() -> None:
    """R3.7 and R12: steps, devices and time, each with its reason."""
    plan = rules.plan("M1", 2)
    steps = [rules.StepState(s.id, "pending") for s in plan]
    holds = rules.card_holds("M1", 0.0, 60.0, plan, steps, _views(connected=False))
    codes = [h.code for h in holds]
    assert codes == ["steps_not_done", "device_not_connected", "min_duration"]
    assert holds[2].params["left_s"] == 1140


def test_card_can_be_formed_when_all_gates_are_open() -> None:
    plan = rules.plan("M1", 2)
    steps = [rules.StepState(s.id, "done") for s in plan]
    assert rules.card_holds("M1", 0.0, 1200.0, plan, steps, _views()) == []
    assert rules.card_holds("M1", 0.0, 1199.0, plan, steps, _views())[0].code == "min_duration"


def test_a_step_waits_for_its_device_and_for_the_running_step() -> None:
    """D3: a step starts only when its device is connected and admitted, one step at a time."""
    plan = rules.plan("M1", 2)
    brake1 = plan[1]
    idle = [rules.StepState(s.id, "pending") for s in plan]
    assert rules.step_start_holds(brake1, idle, _views()) == []
    assert rules.step_start_holds(brake1, idle, _views(admitted=False))[0].code == "device_not_admitted"
    running = [rules.StepState(plan[2].id, "running")]
    assert rules.step_start_holds(brake1, running, _views())[0].code == "step_running"


def test_a_step_finishes_only_with_results_and_after_its_own_minimum() -> None:
    step = rules.plan("M1", 1)[1]
    st = rules.StepState(step.id, "running", started=0.0, results_in=False)
    assert [h.code for h in rules.step_finish_holds(step, st, 1.0)] == [
        "step_waiting_results",
        "step_min_time",
    ]
    done = rules.StepState(step.id, "running", started=0.0, results_in=True)
    assert rules.step_finish_holds(step, done, step.min_s) == []


def test_steps_of_a_two_axle_car() -> None:
    assert [s.id for s in rules.plan("M1", 2)] == [
        "identification",
        "brakes_axle_1",
        "brakes_axle_2",
        "visual",
    ]


ALL = ("brake", "gas", "smoke", "sideslip", "suspension", "sound")


def test_steps_follow_the_vehicle_and_the_lanes_equipment() -> None:
    """D3: which steps apply is decided by category, fuel, axles and the stands of the lane."""
    petrol = [s.id for s in rules.plan("M1", 2, "petrol", ALL)]
    assert petrol == [
        "identification", "side_slip", "suspension_axle_1", "suspension_axle_2",
        "brakes_axle_1", "brakes_axle_2", "emissions", "noise", "visual",
    ]  # fmt: skip
    diesel_truck = [s.id for s in rules.plan("N3", 3, "diesel", ALL)]
    assert "smoke" in diesel_truck and "emissions" not in diesel_truck
    assert not any(s.startswith("suspension") for s in diesel_truck)  # EUSAMA plates: M1/N1
    trailer = [s.id for s in rules.plan("O2", 2, "none", ALL)]
    assert trailer == ["identification", "brakes_axle_1", "brakes_axle_2", "visual"]
    assert [s.id for s in rules.plan("M1", 1, "petrol", ("brake",))] == [
        "identification",
        "brakes_axle_1",
        "visual",
    ]


def test_a_step_plan_survives_storage() -> None:
    for s in rules.plan("M1", 2, "petrol", ALL):
        assert rules.StepDef.from_dict(s.id, s.as_dict()) == s


def test_values_are_stable_only_when_the_last_six_agree() -> None:
    assert not rules.stable([0.2] * 5, 0.1)
    assert rules.stable([3.0, 0.2, 0.21, 0.25, 0.22, 0.2, 0.24], 0.1)
    assert not rules.stable([0.2, 0.21, 0.25, 0.22, 0.2, 0.34], 0.1)


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("123ABC02", "123ABC02"),
        ("123 abc 02", "123ABC02"),
        ("123АВС02", "123ABC02"),  # Cyrillic А В С typed on a Russian layout
        ("123авс02", "123ABC02"),
        ("１２３ＡＢＣ０２", "123ABC02"),  # full-width
        ("KZ-777-ОТО", "KZ777OTO"),
    ],
)
def test_a_plate_is_stored_in_latin_letters(typed: str, stored: str) -> None:
    """Issue #7 item 8: look-alikes are mapped, so one car is never two vehicles."""
    assert normalise_plate(typed) == stored


@pytest.mark.parametrize(
    ("typed", "char"),
    [("123ЖБД02", "Ж"), ("123ӘBC02", "Ә"), ("123ΑΒΓ02", "Α"), ("123ABC02;", ";"), ("12\u200b3ABC", "\u200b")],
)
def test_a_plate_in_another_script_is_refused_naming_the_character(typed: str, char: str) -> None:
    with pytest.raises(OtolaneError) as err:
        normalise_plate(typed)
    assert err.value.code == "plate_char" and err.value.params["char"] == char


@pytest.mark.parametrize("typed", ["", "   ", "1" * 13])
def test_an_empty_or_long_plate_is_refused(typed: str) -> None:
    with pytest.raises(OtolaneError) as err:
        normalise_plate(typed)
    assert err.value.code == "plate_bad"
