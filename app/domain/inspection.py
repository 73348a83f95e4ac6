"""The inspection as data: which steps apply, and the gates that hold them (D3, R3.7, R12).

Everything here is a pure function of the state and the clock, so it is tested without hardware.
A :class:`Hold` is a reason in words (a catalog key and its parameters), never a bare "no".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from app.domain.categories import CATEGORIES, CLAUSE_MIN_TIME, min_duration_s

BRAKE_FINALS = (
    "brake.force.left.max",
    "brake.force.right.max",
    "brake.wheel_load.left",
    "brake.wheel_load.right",
)
SUSPENSION_FINALS = ("suspension.efficiency.left", "suspension.efficiency.right")
SMOKE_FINALS = ("smoke.k_mean",)
#: the live channels a window or stable step must have seen, every one (the card needs them all)
EMISSIONS_CHANNELS = ("gas.co",)
NOISE_CHANNELS = ("sound.level",)
STEERING_CHANNELS = ("steering.play",)
TREAD_CHANNELS = ("tread.front_left", "tread.front_right", "tread.rear_left", "tread.rear_right")
GLASS_CHANNELS = ("glass.windscreen", "glass.front_left", "glass.front_right")


@dataclass(frozen=True)
class StepDef:
    """A step: the device kinds it needs, its own minimum time, and how it completes.

    ``mode``: ``test`` — the stand runs a test and reports final values (``finals``);
    ``stable`` — live values must settle (``stable_channel`` within ``tolerance``);
    ``window`` — live values are taken over the step's minimum time; ``channels`` are the live
    channels it must have seen (each of them); ``checklist`` — the operator marks the visual checks
    (no stand, never "running").
    """

    id: str
    devices: tuple[str, ...]
    min_s: float
    axle: int | None = None
    mode: str = "manual"
    finals: tuple[str, ...] = ()
    stable_channel: str = ""
    tolerance: float = 0.0
    start: str = ""  # the stand's command that starts this step's test, when not the profile's own
    channels: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {
            "devices": list(self.devices),
            "min_s": self.min_s,
            "axle": self.axle,
            "mode": self.mode,
            "finals": list(self.finals),
            "stable_channel": self.stable_channel,
            "tolerance": self.tolerance,
            "start": self.start,
            "channels": list(self.channels),
        }

    @classmethod
    def from_dict(cls, step_id: str, d: dict[str, Any]) -> StepDef:
        return cls(
            step_id,
            tuple(d.get("devices", ())),
            float(d.get("min_s", 0.0)),
            d.get("axle"),
            d.get("mode", "manual"),
            tuple(d.get("finals", ())),
            d.get("stable_channel", ""),
            float(d.get("tolerance", 0.0)),
            d.get("start", ""),
            tuple(d.get("channels", ())),
        )


def plan(
    category: str, axles: int, fuel: str = "petrol", kinds: tuple[str, ...] = ("brake",)
) -> list[StepDef]:
    """Steps for this vehicle on a lane equipped with ``kinds`` of stands, in the lane's order.

    The plan is fixed when the inspection starts (it is stored with it), so a configuration change
    during an inspection does not change its steps.
    """
    trailer = CATEGORIES[category].trailer
    steps = [StepDef("identification", (), 0.0)]
    if "sideslip" in kinds and not trailer:
        steps.append(StepDef("side_slip", ("sideslip",), 3.0, mode="test", finals=("sideslip.result",)))
    if "suspension" in kinds and category in ("M1", "N1"):
        steps += [
            StepDef(f"suspension_axle_{i}", ("suspension",), 3.0, i, "test", SUSPENSION_FINALS)
            for i in range(1, axles + 1)
        ]
    steps += [
        StepDef(f"brakes_axle_{i}", ("brake",), 5.0, i, "test", BRAKE_FINALS) for i in range(1, axles + 1)
    ]
    if not trailer and fuel in ("petrol", "gas") and "gas" in kinds:
        steps.append(
            StepDef(
                "emissions",
                ("gas",),
                10.0,
                mode="stable",
                stable_channel="gas.co",
                tolerance=0.1,
                channels=EMISSIONS_CHANNELS,
            )
        )
    if not trailer and fuel == "diesel" and "smoke" in kinds:
        steps.append(StepDef("smoke", ("smoke",), 5.0, mode="test", finals=SMOKE_FINALS))
    if not trailer and "headlight" in kinds:
        steps += [
            StepDef(
                f"headlight_{side}",
                ("headlight",),
                3.0,
                mode="test",
                finals=tuple(f"headlight.{side}.{b}.intensity" for b in ("high", "low")),
                start=f"measure_{side}",
            )
            for side in ("left", "right")
        ]
    if not trailer and "sound" in kinds:
        steps.append(StepDef("noise", ("sound",), 5.0, mode="window", channels=NOISE_CHANNELS))
    if not trailer and not category.startswith("L") and "steering" in kinds:
        steps.append(StepDef("steering", ("steering",), 5.0, mode="window", channels=STEERING_CHANNELS))
    if "tread" in kinds:
        steps.append(StepDef("tyres", ("tread",), 5.0, mode="window", channels=TREAD_CHANNELS))
    if category[0] in "MN" and "glass" in kinds:
        steps.append(StepDef("glass", ("glass",), 5.0, mode="window", channels=GLASS_CHANNELS))
    # What no stand measures: the operator marks the defects on the checklist (norms.VISUAL).
    steps.append(StepDef("visual", (), 0.0, mode="checklist"))
    return steps


def window_complete(step: StepDef, recent: dict[str, list[float]]) -> bool:
    """A window step has its values when every channel it needs has been seen."""
    return all(recent.get(ch) for ch in step.channels) if step.channels else any(recent.values())


def stable(values: list[float], tolerance: float, count: int = 6) -> bool:
    """D3 "values are stable": the last ``count`` values lie within ``tolerance`` of each other."""
    recent = values[-count:]
    return len(recent) == count and max(recent) - min(recent) <= tolerance


@dataclass(frozen=True)
class Hold:
    code: str
    params: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "params": self.params}


@dataclass(frozen=True)
class DeviceView:
    """What the gates need to know of a device."""

    id: str
    kind: str
    connected: bool
    admitted: bool
    reason: str = ""
    stuck: bool = False  # frames come, but a live sensor froze (drivers.base.FreezeWatch)
    why: dict[str, Any] = field(default_factory=dict)  # the reason as a catalog code and parameters


@dataclass(frozen=True)
class StepState:
    id: str
    status: str  # pending / running / done
    started: float | None = None
    finished: float | None = None
    results_in: bool = False


def _device_holds(kinds: tuple[str, ...], devices: list[DeviceView]) -> list[Hold]:
    holds = []
    for kind in kinds:
        mine = [d for d in devices if d.kind == kind]
        if not mine:
            holds.append(Hold("device_missing", {"kind": kind}))
        for d in mine:
            if not d.connected:
                holds.append(Hold("device_not_connected", {"device": d.id, "reason": d.reason, "why": d.why}))
            elif not d.admitted:
                holds.append(Hold("device_not_admitted", {"device": d.id, "reason": d.reason, "why": d.why}))
            elif d.stuck:
                holds.append(Hold("device_stuck", {"device": d.id, "reason": d.reason, "why": d.why}))
    return holds


def step_start_holds(step: StepDef, steps: list[StepState], devices: list[DeviceView]) -> list[Hold]:
    holds = []
    if any(s.status == "running" for s in steps):
        running = next(s.id for s in steps if s.status == "running")
        holds.append(Hold("step_running", {"step": running}))
    holds += _device_holds(step.devices, devices)
    return holds


def step_finish_holds(step: StepDef, state: StepState, now: float) -> list[Hold]:
    holds = []
    if not state.results_in:
        holds.append(Hold("step_waiting_results", {"step": step.id}))
    if state.started is not None and now - state.started < step.min_s:
        holds.append(
            Hold(
                "step_min_time",
                {"step": step.id, "left_s": round(step.min_s - (now - state.started))},
            )
        )
    return holds


def card_holds(
    category: str,
    started: float,
    now: float,
    plan_: list[StepDef],
    steps: list[StepState],
    devices: list[DeviceView],
) -> list[Hold]:
    """Why the card cannot be formed now; empty when it can. No role can bypass these (R3.7)."""
    holds: list[Hold] = []
    done = {s.id for s in steps if s.status == "done"}
    missing = [s.id for s in plan_ if s.id not in done]
    if missing:
        holds.append(Hold("steps_not_done", {"steps": missing}))
    needed = tuple(sorted({k for s in plan_ for k in s.devices}))
    holds += _device_holds(needed, devices)  # R3.7: equipment must be connected
    minimum = min_duration_s(category)
    elapsed = now - started
    if elapsed < minimum:  # R12
        holds.append(
            Hold(
                "min_duration",
                {
                    "elapsed_s": int(elapsed),
                    "minimum_s": minimum,
                    "left_s": int(minimum - elapsed + 0.999),
                    "clause": CLAUSE_MIN_TIME,
                },
            )
        )
    return holds


#: A failed card item → the steps that measure it again (re-inspection): a step's id, or a prefix
#: ending in "_" for every step it begins (every brake axle, both headlamps); a suspension item's
#: own axle is added to its prefix.
_ITEM_STEP = (
    ("brake.", "brakes_axle_"),  # any brake item: every axle again (the specific force needs them all)
    ("suspension.axle", "suspension_axle_"),
    ("sideslip", "side_slip"),
    ("emissions.", "emissions"),
    ("smoke.", "smoke"),
    ("headlight.high_intensity_sum", "headlight_"),  # both lamps together: both measured again
    ("headlight.left", "headlight_left"),
    ("headlight.right", "headlight_right"),
    ("noise.", "noise"),
    ("steering.", "steering"),
    ("tyres.", "tyres"),
    ("glass.", "glass"),
    ("visual.", "visual"),
)


def reinspection_plan(full: list[StepDef], failed_items: list[str]) -> list[StepDef]:
    """The steps a returning vehicle runs again: identification, and those that measure a failed
    item of its first card. A failed suspension item reruns its own axle; a failed brake item every
    brake axle. An item no step measures any more (the lane lost a stand) keeps nothing from the
    first card: the plan then holds no step for it, and the card says which items were not rechecked."""
    wanted: set[str] = {"identification"}
    for item in failed_items:
        for prefix, step in _ITEM_STEP:
            if item.startswith(prefix):
                if step == "suspension_axle_":
                    step += item.removeprefix("suspension.axle").split(".", 1)[0]
                wanted.add(step)
                break
    return [s for s in full if any(s.id == w or (w.endswith("_") and s.id.startswith(w)) for w in wanted)]
