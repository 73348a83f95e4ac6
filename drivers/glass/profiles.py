"""Glass light-transmission (tint) meters."""

from __future__ import annotations

from drivers.profile import Field, Profile, Reply

GENERIC_MODBUS = Profile(
    name="modbus-tint-meter",
    kind="glass",
    family="modbus",
    model="Light transmission meter (Modbus RTU)",
    source=(
        "No public protocol for Тоник, Свет or Блик (shared/reference/device-protocols.md §2.11): a "
        "generic Modbus RTU profile in family F6 (§3.1); the register map is ours and UNVERIFIED"
    ),
    baudrate=9600,
    commands={},
    replies=(
        Reply(
            "live",
            12,
            fields=(
                Field("glass.windscreen", "%", 0, 4, "f32be"),
                Field("glass.front_left", "%", 4, 4, "f32be"),
                Field("glass.front_right", "%", 8, 4, "f32be"),
            ),
        ),
    ),
    poll="live",
    poll_interval_s=0.5,
    registers=(0, 6),
)

PROFILES = {p.name: p for p in (GENERIC_MODBUS,)}
SCENARIOS: dict[str, dict[str, float]] = {
    "good": {"glass.windscreen": 82.0, "glass.front_left": 78.5, "glass.front_right": 79.0},
    "tinted": {"glass.windscreen": 81.0, "glass.front_left": 34.0, "glass.front_right": 35.0},
}
