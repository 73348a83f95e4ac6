"""The diagnostic card, assembled from stored readings only (R3.6): never from typed values.

Every item has the measured value, the norm it was judged against and the verdict; the card's
verdict follows from the items. Failed items carry their deviation (measured − norm) for the
second sheet (R3.8).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from app.domain.norms import (
    NORMS_VERSION,
    imbalance_percent,
    judge,
    norm_group,
    specific_force_percent,
)
from app.storage.models import Inspection
from drivers.brake.profiles import LOAD_LEFT, LOAD_RIGHT, MAX_LEFT, MAX_RIGHT


def _iso(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).isoformat(timespec="seconds")


def _finals(readings: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """step -> channel -> the last final value recorded for it."""
    out: dict[str, dict[str, float]] = {}
    for r in readings:
        if r.get("final"):
            out.setdefault(r["step"], {})[r["channel"]] = float(r["value"])
    return out


def _live(readings: list[dict[str, Any]]) -> dict[str, dict[str, list[float]]]:
    """step -> channel -> the live values recorded during the step, in order."""
    out: dict[str, dict[str, list[float]]] = {}
    for r in readings:
        if not r.get("final"):
            out.setdefault(r["step"], {}).setdefault(r["channel"], []).append(float(r["value"]))
    return out


def _settled(values: list[float], n: int = 6) -> float:
    """The value a settled reading shows: the median of the last ``n`` values."""
    recent = sorted(values[-n:])
    return recent[len(recent) // 2] if recent else 0.0


def _gauge_items(step: str, values: dict[str, float], category: str) -> list[dict[str, Any]]:
    """Steering play, tyre tread and glass transmission, judged by the category's norm."""
    if step == "steering" and "steering.play" in values:
        norm = norm_group("steering.play", category)
        return [{"id": "steering.play", **judge(norm, values["steering.play"]).as_dict()}] if norm else []
    if step == "tyres" and values:
        norm = norm_group("tyres.tread", category)
        return [{"id": "tyres.tread.min", **judge(norm, min(values.values())).as_dict()}] if norm else []
    if step == "glass":
        return [{"id": ch, **judge("glass.transmission", v).as_dict()} for ch, v in sorted(values.items())]
    return []


def other_steps(
    readings: list[dict[str, Any]], steps: list[str], category: str = "M1"
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Items and protocol lines of the steps beyond the brakes: emissions, smoke, side slip,
    suspension, noise. Values come from the stored readings; norms from ``app/domain/norms.py``;
    where no norm was found (side slip, suspension, smoke k, noise) the value goes to the protocol
    without a verdict."""
    finals, live = _finals(readings), _live(readings)
    items: list[dict[str, Any]] = []
    protocol: list[dict[str, Any]] = []
    for step in steps:
        if step == "emissions":
            values = {ch: round(_settled(v), 3) for ch, v in live.get(step, {}).items()}
            items.append(
                {"id": "emissions.co_idle", **judge("emissions.co_idle", values.get("gas.co", 0.0)).as_dict()}
            )
            protocol.append({"step": step, "values": values})
        elif step == "noise":
            values = {ch: max(v) for ch, v in live.get(step, {}).items()}
            protocol.append({"step": step, "values": values})
        elif step.startswith("headlight_"):
            side = step.removeprefix("headlight_")
            values = finals.get(step, {})
            protocol.append({"step": step, "values": values})
            key = f"headlight.{side}.high.intensity"
            if key in values:
                items.append({"id": key, **judge("headlight.high_intensity", values[key]).as_dict()})
        elif step in ("steering", "tyres", "glass"):
            values = {ch: round(_settled(v), 2) for ch, v in live.get(step, {}).items()}
            protocol.append({"step": step, "values": values})
            items += _gauge_items(step, values, category)
        elif step in ("smoke", "side_slip") or step.startswith("suspension_axle_"):
            protocol.append({"step": step, "values": finals.get(step, {})})
    return items, protocol


def assemble_card(
    *,
    contract: str,
    card_id: str,
    insp: Inspection,
    plate: str,
    lane: dict[str, Any],
    inspector: dict[str, Any],
    finished: float,
    readings: list[dict[str, Any]],
) -> dict[str, Any]:
    finals = _finals(readings)
    items: list[dict[str, Any]] = []
    measurements: list[dict[str, Any]] = []
    total_force = total_mass = 0.0
    for axle in range(1, insp.axles + 1):
        step = f"brakes_axle_{axle}"
        f = finals.get(step, {})
        left, right = f.get(MAX_LEFT, 0.0), f.get(MAX_RIGHT, 0.0)
        mass = f.get(LOAD_LEFT, 0.0) + f.get(LOAD_RIGHT, 0.0)
        total_force += left + right
        total_mass += mass
        measurements.append(
            {
                "axle": axle,
                "force_left_kn": left,
                "force_right_kn": right,
                "wheel_load_left_kg": f.get(LOAD_LEFT, 0.0),
                "wheel_load_right_kg": f.get(LOAD_RIGHT, 0.0),
            }
        )
        v = judge("brake.imbalance", imbalance_percent(left, right))
        items.append({"id": f"brake.imbalance.axle{axle}", "axle": axle, **v.as_dict()})
    v = judge("brake.specific_force", specific_force_percent(total_force, total_mass))
    items.append({"id": "brake.specific_force", **v.as_dict()})
    more_items, protocol = other_steps(readings, list(insp.steps), insp.category)
    items += more_items
    verdict = "admitted" if all(i["passed"] for i in items) else "not_admitted"
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
            "plate": plate,
            "category": insp.category,
            "fuel": insp.fuel,
            "axles": insp.axles,
        },
        "inspector": inspector,
        "started": _iso(insp.started),
        "finished": _iso(finished),
        "duration_s": round(finished - insp.started, 1),
        "verdict": verdict,
        "items": items,
        "failures": [i for i in items if not i["passed"]],
        "measurements": measurements,
        "protocol": protocol,
        "readings": len(readings),
        "norms_version": NORMS_VERSION,
        "next_inspection": None,
    }
