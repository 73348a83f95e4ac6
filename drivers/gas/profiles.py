"""Exhaust gas analysers (4/5-gas, petrol and gas engines)."""

from __future__ import annotations

from drivers.families.codecs import IDENTITY_LEN
from drivers.profile import FROZEN_S, Field, Profile, Reply

NHA_503 = Profile(
    name="nanhua-nha503",
    kind="gas",
    family="sum",
    model="Nanhua NHA-503",
    source=(
        "shared/reference/device-protocols.md §2.3 B, VERIFIED-IN-CODE in "
        "sinq123/OBD:OBDEquThr/NanhuaNha503.cpp: command 0x81 → 21-byte reply, 16-bit big-endian "
        "values, plain 8-bit sum checksum"
    ),
    baudrate=9600,
    commands={"live": b"\x81", "identify": b"\xf0"},
    answers={"live": "live", "identify": "identity"},
    replies=(
        Reply(
            "live",
            21,
            fields=(
                Field("gas.hc", "ppm", 1, 2, "s16be"),
                Field("gas.co", "%", 3, 2, "s16be", scale=0.01),
                Field("gas.co2", "%", 5, 2, "s16be", scale=0.01, frozen_after_s=FROZEN_S),
                Field("gas.o2", "%", 7, 2, "s16be", scale=0.01),
                Field("gas.no", "ppm", 9, 2, "s16be"),
                Field("engine.rpm", "min⁻¹", 11, 2, "u16be", frozen_after_s=FROZEN_S),
                Field("engine.oil_temp", "°C", 13, 2, "s16be", scale=0.1),
                Field("gas.lambda", "", 18, 2, "u16be", scale=0.01),
            ),
        ),
        Reply("identity", IDENTITY_LEN),
    ),
    poll="live",
    poll_interval_s=0.5,
    reply_checksum="sum",
    reply_timeout_s=2.5,
    notes=(
        "Byte 0 of the reply is read as the echo of the command (not stated in the reference).",
        "Identity query 0xF0 and its 64-byte reply are our extension, not in the public source.",
        "Zeroing and calibration commands are kept off the operator path (reference §2.3 B).",
    ),
)

PROFILES = {p.name: p for p in (NHA_503,)}
SCENARIOS: dict[str, dict[str, float]] = {
    "good": {"gas.hc": 85, "gas.co": 0.21, "gas.co2": 14.6, "gas.o2": 0.4, "gas.no": 120,
             "engine.rpm": 820, "engine.oil_temp": 84.0, "gas.lambda": 1.01},
    "high-co": {"gas.hc": 410, "gas.co": 4.2, "gas.co2": 11.9, "gas.o2": 1.1, "gas.no": 90,
                "engine.rpm": 810, "engine.oil_temp": 82.0, "gas.lambda": 0.92},
}  # fmt: skip
