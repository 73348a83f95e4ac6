"""The diagnostic card, assembled from stored readings only (R3.6): never from typed values.

Every step of the inspection's plan has one rule here that names the readings it needs and the items
it makes. A needed reading that is not stored refuses the card (:class:`CardIncomplete`, with the
step and channel): no item is ever judged from a default, and no planned step is left out — a step
with no rule refuses the card too. Only the readings of the run of a step that completed count (a
step run again after an interruption leaves its earlier readings in the chain, unused).

Every item has the measured value, the norm it was judged against and the verdict; the card's
verdict follows from the items. Failed items carry their deviation (measured − norm) for the
second sheet (R3.8). Values with no norm found yet go to the measurement protocol without a verdict.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from app.domain.norms import (
    NORMS_VERSION,
    Vehicle,
    aim_deviation,
    imbalance_percent,
    judge,
    norm_for,
    specific_force_percent,
    visual_checks,
)
from app.domain.periodicity import lane_date, next_inspection
from app.storage.models import Inspection
from drivers.brake.profiles import LOAD_LEFT, LOAD_RIGHT, MAX_LEFT, MAX_RIGHT

#: A settled reading is the median of the last this many live values (the stability gate's count).
SETTLE_COUNT = 6


class CardIncomplete(Exception):
    """Needed readings are not stored: ``missing`` lists ``{"step", "channel"}``."""

    def __init__(self, missing: list[dict[str, str]]) -> None:
        super().__init__(", ".join(f"{m['step']}: {m['channel']}" for m in missing))
        self.missing = missing


def _iso(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).isoformat(timespec="seconds")


def settled(values: list[float], n: int = SETTLE_COUNT) -> float:
    """The value a settled reading shows: the median of the last ``n`` values (never empty)."""
    recent = sorted(values[-n:])
    return recent[len(recent) // 2]


@dataclass
class StepData:
    """The stored readings of one step's completed run; asking for one that is absent records it."""

    step: str
    finals: dict[str, float]
    live: dict[str, list[float]]
    channels: tuple[str, ...]
    missing: list[dict[str, str]] = field(default_factory=list)
    state: dict[str, Any] = field(default_factory=dict)  # the step's stored record (the checklist)

    def final(self, channel: str) -> float | None:
        if channel not in self.finals:
            self.missing.append({"step": self.step, "channel": channel})
            return None
        return self.finals[channel]

    def series(self, channel: str) -> list[float] | None:
        values = self.live.get(channel)
        if not values:
            self.missing.append({"step": self.step, "channel": channel})
            return None
        return values


@dataclass
class Sheet:
    """What the step rules fill in."""

    vehicle: Vehicle
    items: list[dict[str, Any]] = field(default_factory=list)
    protocol: list[dict[str, Any]] = field(default_factory=list)
    measurements: list[dict[str, Any]] = field(default_factory=list)
    unjudged: list[dict[str, Any]] = field(default_factory=list)
    brake_force_kn: float = 0.0
    brake_mass_kg: float = 0.0
    #: side -> its high beam's intensity (cd): judged one by one and together
    high_beams: dict[str, float] = field(default_factory=dict)

    def item(self, item_id: str, norm_item: str, value: float, **extra: Any) -> None:
        """Judge ``value`` by the row of ``norm_item`` for this vehicle; with no row, the value goes
        to the protocol marked "no norm" and is not judged."""
        norm = norm_for(norm_item, self.vehicle)
        if norm is None:
            self.unjudged.append({"id": item_id, "norm_item": norm_item, "value": round(value, 3)})
            return
        self.items.append({"id": item_id, **extra, **judge(norm, value).as_dict()})


def _brakes(d: StepData, sheet: Sheet, axle: int) -> None:
    left, right = d.final(MAX_LEFT), d.final(MAX_RIGHT)
    load_l, load_r = d.final(LOAD_LEFT), d.final(LOAD_RIGHT)
    if left is None or right is None or load_l is None or load_r is None:
        return
    sheet.brake_force_kn += left + right
    sheet.brake_mass_kg += load_l + load_r
    # in the protocol as every step's values, with their units and times (issue #22 item 6); the
    # axle's measurements are the EIS contract's own field as well
    values = {MAX_LEFT: left, MAX_RIGHT: right, LOAD_LEFT: load_l, LOAD_RIGHT: load_r}
    sheet.protocol.append({"step": d.step, "values": values})
    sheet.measurements.append(
        {
            "axle": axle,
            "force_left_kn": left,
            "force_right_kn": right,
            "wheel_load_left_kg": load_l,
            "wheel_load_right_kg": load_r,
        }
    )
    sheet.item(
        f"brake.imbalance.axle{axle}", "brake.service.imbalance", imbalance_percent(left, right), axle=axle
    )


def _sideslip(d: StepData, sheet: Sheet) -> None:
    value = d.final("sideslip.result")
    sheet.protocol.append({"step": d.step, "values": dict(d.finals)})
    if value is not None:
        sheet.item("sideslip", "sideslip", value)


def _suspension(axle: int) -> Callable[[StepData, Sheet], None]:
    def rule(d: StepData, sheet: Sheet) -> None:
        left = d.final("suspension.efficiency.left")
        right = d.final("suspension.efficiency.right")
        sheet.protocol.append({"step": d.step, "values": dict(d.finals)})
        if left is None or right is None:
            return
        sheet.item(f"suspension.axle{axle}.left", "suspension.efficiency", left, axle=axle, side="left")
        sheet.item(f"suspension.axle{axle}.right", "suspension.efficiency", right, axle=axle, side="right")
        sheet.item(f"suspension.axle{axle}.difference", "suspension.difference", abs(left - right), axle=axle)

    return rule


def _smoke(d: StepData, sheet: Sheet) -> None:
    k = d.final("smoke.k_mean")
    sheet.protocol.append({"step": d.step, "values": dict(d.finals)})
    if k is not None:
        sheet.item("smoke.k", "smoke.k", k)


def _emissions(d: StepData, sheet: Sheet) -> None:
    co = d.series("gas.co")
    values = {ch: round(settled(v), 3) for ch, v in d.live.items() if v}
    sheet.protocol.append({"step": d.step, "values": values})
    if co is not None:  # judged as printed: the norm's own rounding
        sheet.item("emissions.co_idle", "emissions.co_idle", settled(co))
    if norm_for("emissions.lambda", sheet.vehicle) is not None:
        lam = d.series("gas.lambda")  # needed only where a row judges it (catalyst cars)
        if lam is not None:
            sheet.item("emissions.lambda", "emissions.lambda", settled(lam))


def _headlight(side: str) -> Callable[[StepData, Sheet], None]:
    def rule(d: StepData, sheet: Sheet) -> None:
        high = d.final(f"headlight.{side}.high.intensity")
        d.final(f"headlight.{side}.low.intensity")
        # the stand reports both lamps; this step measured its own: each channel once in the protocol
        own = {ch: v for ch, v in d.finals.items() if ch.startswith(f"headlight.{side}.")}
        sheet.protocol.append({"step": d.step, "values": own})
        if high is not None:
            sheet.item(f"headlight.{side}.high.intensity", "headlight.high_intensity", high, side=side)
            sheet.high_beams[side] = high
        vertical = d.finals.get(f"headlight.{side}.low.vertical")  # a tester that gives no aim: none
        if vertical is None:
            return
        nominal = sheet.vehicle.headlight_tilt
        if nominal is None:  # no marking given: the aim is in the protocol, not judged (said why)
            sheet.unjudged.append(
                {
                    "id": f"headlight.{side}.low.aim",
                    "norm_item": "headlight.low_aim",
                    "side": side,
                    "value": vertical,
                    "unit": "cm/10m",
                    "why": "no_marking",
                }
            )
            return
        aim = aim_deviation(vertical, nominal)
        sheet.item(f"headlight.{side}.low.aim", "headlight.low_aim", aim, side=side, nominal=nominal)

    return rule


def _noise(d: StepData, sheet: Sheet) -> None:
    series = {ch: d.series(ch) for ch in d.channels}
    sheet.protocol.append({"step": d.step, "values": {ch: max(v) for ch, v in d.live.items() if v}})
    level = series.get("sound.level")
    if level:
        sheet.item("noise.exhaust", "noise.exhaust", max(level))


def _gauges(d: StepData, sheet: Sheet) -> dict[str, float]:
    """Every channel the step needs, settled; the protocol gets them all."""
    values = {ch: round(settled(v), 2) for ch in d.channels if (v := d.series(ch)) is not None}
    sheet.protocol.append({"step": d.step, "values": values})
    return values


def _steering(d: StepData, sheet: Sheet) -> None:
    values = _gauges(d, sheet)
    if "steering.play" in values:
        sheet.item("steering.play", "steering.play", values["steering.play"])


def _tyres(d: StepData, sheet: Sheet) -> None:
    values = _gauges(d, sheet)
    if values and len(values) == len(d.channels):
        sheet.item("tyres.tread.min", "tyres.tread", min(values.values()))


def _glass(d: StepData, sheet: Sheet) -> None:
    for ch, v in sorted(_gauges(d, sheet).items()):
        sheet.item(ch, "glass.transmission", v, glass=ch.removeprefix("glass."))


def _visual(d: StepData, sheet: Sheet) -> None:
    """Every check of the category is an item: 0 (no defect) passes, 1 (defect marked) fails."""
    if "defects" not in d.state:  # done without a checklist: nothing to judge from, never a default
        d.missing.append({"step": d.step, "channel": "defects"})
        return
    defects = set(d.state["defects"])
    for norm in visual_checks(sheet.vehicle.category):
        sheet.item(norm.id, norm.item, 1.0 if norm.id in defects else 0.0)


def _identification(d: StepData, sheet: Sheet) -> None:
    """The plate: typed or recognised at the start (R3.2); no stand reading."""


def rule_for(step: str) -> Callable[[StepData, Sheet], None] | None:
    """The one rule of a planned step, or None (a step with no rule refuses the card)."""
    if step.startswith("brakes_axle_"):
        axle = int(step.rsplit("_", 1)[1])
        return lambda d, sheet: _brakes(d, sheet, axle)
    if step.startswith("suspension_axle_"):
        return _suspension(int(step.rsplit("_", 1)[1]))
    if step.startswith("headlight_"):
        return _headlight(step.removeprefix("headlight_"))
    return RULES.get(step)


RULES: dict[str, Callable[[StepData, Sheet], None]] = {
    "identification": _identification,
    "visual": _visual,
    "side_slip": _sideslip,
    "smoke": _smoke,
    "emissions": _emissions,
    "noise": _noise,
    "steering": _steering,
    "tyres": _tyres,
    "glass": _glass,
}


def step_data(step: str, state: dict[str, Any], readings: list[dict[str, Any]]) -> StepData:
    """The readings of the step's completed run: finals (last value per channel) and live series."""
    run = state.get("run")
    finals: dict[str, float] = {}
    live: dict[str, list[float]] = {}
    for r in readings:
        if r["step"] != step or r.get("run", run) != run:
            continue
        if r.get("final"):
            finals[r["channel"]] = float(r["value"])
        else:
            live.setdefault(r["channel"], []).append(float(r["value"]))
    return StepData(step, finals, live, tuple(state.get("channels", ())), state=state)


def evaluate(steps: dict[str, dict[str, Any]], vehicle: Vehicle, readings: list[dict[str, Any]]) -> Sheet:
    """Every planned step by its rule; raises :class:`CardIncomplete` naming what is not stored."""
    sheet = Sheet(vehicle)
    missing: list[dict[str, str]] = []
    for step, state in steps.items():
        rule = rule_for(step)
        if rule is None:
            missing.append({"step": step, "channel": "*"})
            continue
        data = step_data(step, state, readings)
        rule(data, sheet)
        missing += data.missing
    if missing:
        raise CardIncomplete(missing)
    if len(sheet.high_beams) == 2:  # both lamps measured on this card: together, not too bright
        sheet.item(
            "headlight.high_intensity_sum", "headlight.high_intensity_sum", sum(sheet.high_beams.values())
        )
    if sheet.measurements:  # GOST 33997 A.1: the vehicle's specific braking force, all axles
        sheet.item(
            "brake.specific_force",
            "brake.service.specific_force",
            specific_force_percent(sheet.brake_force_kn, sheet.brake_mass_kg),
        )
    return sheet


def _units_and_times(
    insp: Inspection, readings: list[dict[str, Any]]
) -> dict[tuple[str, str], tuple[str, float]]:
    """(step, channel) → (unit, wall time of its last reading) of each step's completed run."""
    runs = {sid: st.get("run") for sid, st in insp.steps.items()}
    out: dict[tuple[str, str], tuple[str, float]] = {}
    for r in readings:
        step = r["step"]
        if step not in runs or r.get("run", runs[step]) != runs[step]:
            continue
        key, ts = (step, r["channel"]), r.get("ts")
        if key not in out or ts is None or (out[key][1] or 0.0) <= float(ts):
            out[key] = (str(r.get("unit", "")), None if ts is None else float(ts))
    return out


def assemble_card(
    *,
    contract: str,
    card_id: str,
    insp: Inspection,
    vehicle: dict[str, Any],
    lane: dict[str, Any],
    inspector: dict[str, Any],
    finished: float,
    readings: list[dict[str, Any]],
    devices: Sequence[dict[str, Any]] = (),
    lane_time: Callable[[float], float] = lambda wall: wall,
) -> dict[str, Any]:
    """The card as JSON (EIS contract). ``devices``: the lane's measuring instruments (model, serial,
    verification) for the measurement protocol; only those whose kind a planned step used are kept."""
    facts = Vehicle(
        insp.category,
        insp.fuel,
        vehicle.get("year"),
        bool(vehicle.get("catalyst", False)),
        bool(vehicle.get("turbo", False)),
        vehicle.get("headlight_tilt"),
    )
    sheet = evaluate(insp.steps, facts, readings)
    used = {k for st in insp.steps.values() for k in st.get("devices", ())}
    measured = _units_and_times(insp, readings)
    for entry in sheet.protocol:  # which instruments made each value (the protocol names them)
        entry["devices"] = list(insp.steps[entry["step"]].get("devices", ()))
        # each value's unit as its device sent it, and when (on the lane clock, as the card's times)
        found = {ch: measured.get((entry["step"], ch)) for ch in entry["values"]}
        entry["units"] = {ch: f[0] for ch, f in found.items() if f}
        entry["times"] = {ch: _iso(lane_time(f[1])) for ch, f in found.items() if f and f[1] is not None}
    items = sheet.items
    first = vehicle.get("reinspection_of")
    if first:
        # A failed item of the first card that no step measured again stays failed, as it was.
        rechecked = {i["id"] for i in items}
        items += [f | {"carried": True} for f in first["failures"] if f["id"] not in rechecked]
    verdict = "admitted" if all(i["passed"] for i in items) else "not_admitted"
    due = next_inspection(
        insp.category,
        facts.year,
        str(vehicle.get("use", "private")),
        verdict == "admitted",
        lane_date(finished),
    )
    return {
        "contract": contract,
        "card_id": card_id,
        "inspection_id": insp.id,
        "number": insp.number,
        "training": insp.training,
        "lane": {
            "name": lane["name"],
            "centre": lane["centre"],
            "latitude": lane["latitude"],
            "longitude": lane["longitude"],
        },
        "vehicle": {
            "plate": vehicle["plate"],
            "category": insp.category,
            "fuel": insp.fuel,
            "axles": insp.axles,
            "year": facts.year,
            "vin": vehicle.get("vin", ""),
            "make_model": vehicle.get("make_model", ""),
            "catalyst": facts.catalyst,
            "turbo": facts.turbo,
            "use": vehicle.get("use", "private"),
        },
        "inspector": inspector,
        "started": _iso(insp.started),
        "finished": _iso(finished),
        "duration_s": round(finished - insp.started, 1),
        "verdict": verdict,
        "items": items,
        "failures": [i for i in items if not i["passed"]],
        "measurements": sheet.measurements,
        "protocol": sheet.protocol,
        "unjudged": sheet.unjudged,
        "devices": [d for d in devices if d["kind"] in used],
        "readings": len(readings),
        "norms_version": NORMS_VERSION,
        "next_inspection": due.as_dict(),
        "reinspection_of": {"card_id": first["card_id"], "number": first["number"]} if first else None,
    }
