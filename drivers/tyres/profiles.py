"""Tyre tread depth gauges: the last depth measured on each wheel, held in the gauge."""

from __future__ import annotations

from drivers.profile import Field, Profile, Reply

GENERIC_MODBUS = Profile(
    name="modbus-tread-gauge",
    kind="tread",
    family="modbus",
    model="Tread depth gauge (Modbus RTU)",
    source=(
        "No public protocol (shared/reference/device-protocols.md §2.10): a generic Modbus RTU profile "
        "in family F6 (§3.1); the register map is ours and UNVERIFIED — take the vendor's"
    ),
    baudrate=9600,
    commands={},
    replies=(
        Reply(
            "live",
            16,
            fields=(
                Field("tread.front_left", "mm", 0, 4, "f32be"),
                Field("tread.front_right", "mm", 4, 4, "f32be"),
                Field("tread.rear_left", "mm", 8, 4, "f32be"),
                Field("tread.rear_right", "mm", 12, 4, "f32be"),
            ),
        ),
    ),
    poll="live",
    poll_interval_s=0.5,
    registers=(0, 8),
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
