"""Tyre tread depth gauges: the last depth measured on each wheel, held in the gauge."""

from __future__ import annotations

from drivers.profile import float32_block

GENERIC_MODBUS = float32_block(
    "modbus-tread-gauge",
    "tread",
    "Tread depth gauge (Modbus RTU)",
    (
        "No public protocol (shared/reference/device-protocols.md §2.10): a generic Modbus RTU profile "
        "in family F6 (§3.1); the register map is ours and UNVERIFIED — take the vendor's"
    ),
    (
        ("tread.front_left", "mm"),
        ("tread.front_right", "mm"),
        ("tread.rear_left", "mm"),
        ("tread.rear_right", "mm"),
    ),
)

PROFILES = {p.name: p for p in (GENERIC_MODBUS,)}
SCENARIOS: dict[str, dict[str, float]] = {
    "good": {
        "tread.front_left": 5.2,
        "tread.front_right": 5.0,
        "tread.rear_left": 4.8,
        "tread.rear_right": 4.9,
    },
    "bald": {
        "tread.front_left": 5.2,
        "tread.front_right": 1.1,
        "tread.rear_left": 4.8,
        "tread.rear_right": 4.9,
    },
}
