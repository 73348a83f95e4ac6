"""Steering play (backlash) meters."""

from __future__ import annotations

from drivers.profile import Field, Profile, Reply

GENERIC_MODBUS = Profile(
    name="modbus-steering-play",
    kind="steering",
    family="modbus",
    model="Steering play meter (Modbus RTU)",
    source=(
        "No public protocol (shared/reference/device-protocols.md §2.9): a generic Modbus RTU profile "
        "in family F6 (§3.1); the register map is ours and UNVERIFIED — take the vendor's"
    ),
    baudrate=9600,
    commands={},
    replies=(
        Reply(
            "live",
            8,
            fields=(
                Field("steering.play", "°", 0, 4, "f32be"),
                Field("steering.force", "N", 4, 4, "f32be"),
            ),
        ),
    ),
    poll="live",
    poll_interval_s=0.5,
    registers=(0, 4),
)

PROFILES = {p.name: p for p in (GENERIC_MODBUS,)}
SCENARIOS: dict[str, dict[str, float]] = {
    "good": {"steering.play": 6.5, "steering.force": 10.0},
    "worn": {"steering.play": 14.0, "steering.force": 10.0},
}
