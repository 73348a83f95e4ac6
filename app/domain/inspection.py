"""The inspection as data: which steps apply, and the gates that hold them (D3, R3.7, R12).

Everything here is a pure function of the state and the clock, so it is tested without hardware.
A :class:`Hold` is a reason in words (a catalog key and its parameters), never a bare "no".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from app.domain.categories import CLAUSE_MIN_TIME, min_duration_s


@dataclass(frozen=True)
class StepDef:
    id: str
    devices: tuple[str, ...]  # device kinds the step needs
    min_s: float  # the step's own minimum time (lane seconds)
    axle: int | None = None


def plan(category: str, axles: int) -> list[StepDef]:
    """Steps for this vehicle. More kinds (emissions, headlights …) arrive with their stands."""
    steps = [StepDef("identification", (), 0.0)]
    steps += [StepDef(f"brakes_axle_{i}", ("brake",), 5.0, axle=i) for i in range(1, axles + 1)]
    return steps


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
                holds.append(Hold("device_not_connected", {"device": d.id, "reason": d.reason}))
            elif not d.admitted:
                holds.append(Hold("device_not_admitted", {"device": d.id, "reason": d.reason}))
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
