"""Diesel smoke meters (opacimeters): light absorption k (m⁻¹) over free accelerations."""

from __future__ import annotations

from drivers.families.codecs import IDENTITY_LEN
from drivers.profile import FROZEN_S, Field, Profile, Reply

NHT_6 = Profile(
    name="nanhua-nht6",
    kind="smoke",
    family="sum",
    model="Nanhua NHT-6",
    source=(
        "shared/reference/device-protocols.md §2.4, VERIFIED-IN-CODE in "
        "sinq123/OBD:OBDEquThr/NanhuaNht6.cpp: command byte + two's-complement checksum; 0xA5 live "
        "(N ÷10 %, k ÷100 m⁻¹, rpm, oil temperature in K, 0xFFFF = no sensor); 0xB1 K1..K3, K-average"
    ),
    baudrate=9600,
    commands={
        "zero": b"\xa4",
        "live": b"\xa5",
        "clear_max": b"\xa7",
        "result": b"\xb1",
        "identify": b"\xf0",
    },
    answers={"live": "live", "result": "result", "identify": "identity", "zero": "ack", "clear_max": "ack"},
    replies=(
        Reply(
            "live",
            10,
            fields=(
                Field("smoke.opacity", "%", 1, 2, "u16be", scale=0.1),
                Field("smoke.k", "m⁻¹", 3, 2, "u16be", scale=0.01),
                Field("engine.rpm", "min⁻¹", 5, 2, "u16be", frozen_after_s=FROZEN_S),
                Field("engine.oil_temp", "°C", 7, 2, "u16be", add=-273.0, absent=0xFFFF),
            ),
        ),
        Reply(
            "result",
            12,
            fields=(
                Field("smoke.k1", "m⁻¹", 1, 2, "u16be", scale=0.01, final=True),
                Field("smoke.k2", "m⁻¹", 3, 2, "u16be", scale=0.01, final=True),
                Field("smoke.k3", "m⁻¹", 5, 2, "u16be", scale=0.01, final=True),
                Field("smoke.k_mean", "m⁻¹", 7, 2, "u16be", scale=0.01, final=True),
                Field("engine.rpm_idle", "min⁻¹", 9, 2, "u16be", final=True),
            ),
            event="test_end",
        ),
        Reply("ack", 2),
        Reply("identity", IDENTITY_LEN),
    ),
    poll="live",
    poll_interval_s=0.1,  # the peak matters: about 10 Hz (reference §2.4)
    service_commands=("zero",),
    start="clear_max",
    result="result",
    command_checksum="twos",
    reply_checksum="twos",
    reply_timeout_s=0.3,
    notes=(
        "Byte 0 of each reply is read as the echo of the command; acknowledgements are 2 bytes "
        "(echo + checksum) — both assumptions to check against the stand.",
        "Identity query 0xF0 and its 64-byte reply are our extension, not in the public source.",
    ),
)

PROFILES = {p.name: p for p in (NHT_6,)}
SCENARIOS: dict[str, dict[str, float]] = {
    "good": {"smoke.opacity": 8.0, "smoke.k": 0.35, "engine.rpm": 780, "engine.oil_temp": 80.0,
             "smoke.k1": 0.92, "smoke.k2": 0.88, "smoke.k3": 0.90, "smoke.k_mean": 0.90,
             "engine.rpm_idle": 780},
    "smoky": {"smoke.opacity": 41.0, "smoke.k": 2.4, "engine.rpm": 760, "engine.oil_temp": 78.0,
              "smoke.k1": 3.10, "smoke.k2": 2.95, "smoke.k3": 3.02, "smoke.k_mean": 3.02,
              "engine.rpm_idle": 760},
}  # fmt: skip
