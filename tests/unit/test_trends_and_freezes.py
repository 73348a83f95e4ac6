"""A frozen sensor told from a steady one (issue #4, D3), and the trends drawn on the lane screen."""

from __future__ import annotations

from app.domain import inspection as rules
from drivers.base import FreezeWatch, Reading
from tui.widgets.sparkline import BLOCKS, Trends, sparkline


def _r(value: float, channel: str = "engine.rpm", final: bool = False) -> Reading:
    return Reading("gas", channel, value, "min⁻¹", 0.0, b"", final)


def test_a_value_repeated_longer_than_its_rule_is_a_frozen_sensor() -> None:
    w = FreezeWatch({"engine.rpm": 10.0})
    for t in range(10):
        w.see(_r(812.0), float(t))
    assert not w.frozen  # 9 s of the same value: not yet
    w.see(_r(812.0), 10.0)
    assert w.frozen["engine.rpm"].text == "engine.rpm frozen at 812 min⁻¹ for 10 s"
    w.see(_r(815.0), 11.0)  # it moves again
    assert not w.frozen


def test_zero_final_and_unruled_channels_are_never_frozen() -> None:
    w = FreezeWatch({"engine.rpm": 1.0})
    for t in range(20):
        w.see(_r(0.0), float(t))  # an engine that is off
        w.see(_r(5.0, final=True), float(t))  # a result repeats by nature
        w.see(_r(3.0, channel="gas.co"), float(t))  # no rule for this channel
    assert not w.frozen


def test_a_noisy_value_never_freezes() -> None:
    w = FreezeWatch({"engine.rpm": 2.0})
    for t in range(100):
        w.see(_r(800.0 + (t % 3)), t / 10)
    assert not w.frozen


def test_a_stuck_stand_holds_its_steps_with_the_reason() -> None:
    step = rules.StepDef("emissions", ("gas",), 10.0)
    view = rules.DeviceView("gas", "gas", True, True, "gas.co2 frozen at 14.5 % for 10 s", stuck=True)
    holds = rules.step_start_holds(step, [], [view])
    assert holds == [rules.Hold("device_stuck", {"device": "gas", "reason": view.reason, "why": {}})]


def test_sparkline_scales_between_its_own_extremes() -> None:
    assert sparkline([0, 1, 2, 3, 4, 5, 6, 7], 8) == BLOCKS
    assert sparkline([1, 2, 3], 2) == BLOCKS[0] + BLOCKS[-1]  # only the last `width` values
    assert sparkline([4.2] * 5, 10) == BLOCKS[0] * 5  # steady (or frozen): flat
    assert sparkline([], 10) == "" and sparkline([1.0], 0) == ""


def test_trends_sample_connected_stands_only() -> None:
    trends = Trends()
    dev = {"id": "gas", "status": "connected", "live": {"gas.co": {"value": 0.5}}}
    trends.sample([dev])
    trends.sample([dev | {"status": "faulted"}])
    trends.sample([dev | {"live": {"gas.co": {"value": 0.7}}}])
    assert list(trends.of("gas", "gas.co")) == [0.5, 0.7]
    assert list(trends.of("gas", "gas.hc")) == []
