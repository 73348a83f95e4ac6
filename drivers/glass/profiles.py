"""Glass light-transmission (tint) meters."""

from __future__ import annotations

from drivers.profile import float32_block

GENERIC_MODBUS = float32_block(
    "modbus-tint-meter",
    "glass",
    "Light transmission meter (Modbus RTU)",
    (
        "No public protocol for Тоник, Свет or Блик (shared/reference/device-protocols.md §2.11): a "
        "generic Modbus RTU profile in family F6 (§3.1); the register map is ours and UNVERIFIED"
    ),
    (("glass.windscreen", "%"), ("glass.front_left", "%"), ("glass.front_right", "%")),
)

PROFILES = {p.name: p for p in (GENERIC_MODBUS,)}
SCENARIOS: dict[str, dict[str, float]] = {
    "good": {"glass.windscreen": 82.0, "glass.front_left": 78.5, "glass.front_right": 79.0},
    "tinted": {"glass.windscreen": 81.0, "glass.front_left": 34.0, "glass.front_right": 35.0},
}
