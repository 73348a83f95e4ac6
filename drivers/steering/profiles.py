"""Steering play (backlash) meters."""

from __future__ import annotations

from drivers.profile import float32_block

GENERIC_MODBUS = float32_block(
    "modbus-steering-play",
    "steering",
    "Steering play meter (Modbus RTU)",
    (
        "No public protocol (shared/reference/device-protocols.md §2.9): a generic Modbus RTU profile "
        "in family F6 (§3.1); the register map is ours and UNVERIFIED — take the vendor's"
    ),
    (("steering.play", "°"), ("steering.force", "N")),
)

PROFILES = {p.name: p for p in (GENERIC_MODBUS,)}
SCENARIOS: dict[str, dict[str, float]] = {
    "good": {"steering.play": 6.5, "steering.force": 10.0},
    "worn": {"steering.play": 14.0, "steering.force": 10.0},
}
