"""Sound level meters (exhaust noise, horn)."""

from __future__ import annotations

from drivers.profile import FROZEN_S, Field, Profile, Reply

HY = Profile(
    name="hy-sound",
    kind="sound",
    family="ascii",
    model="HY sound level meter",
    source=(
        "shared/reference/device-protocols.md §2.8, VERIFIED-IN-CODE in "
        "linzewu/veh:…/DeviceVolumeOfHY.java: single ASCII bytes 'R' reset, 'C' start/stop, 'M' read; "
        "the reply is 9 ASCII bytes holding the value"
    ),
    baudrate=9600,
    commands={"reset": b"R", "start": b"C", "stop": b"C", "read": b"M", "identify": b"?"},
    answers={"read": "level", "identify": "identity"},
    replies=(
        Reply(
            "level", 9, fields=(Field("sound.level", "dB(A)", 0, 9, "ascii_dec", frozen_after_s=FROZEN_S),)
        ),
        Reply("identity", 0),
    ),
    poll="read",
    poll_interval_s=0.5,
    service_commands=("reset",),
    notes=(
        "Polling 'M' for a live level is our use; the source starts, waits ~3 s, stops, then reads.",
        "Identity query '?' and its CR-terminated line are our extension.",
    ),
)

PROFILES = {p.name: p for p in (HY,)}
SCENARIOS: dict[str, dict[str, float]] = {"good": {"sound.level": 86.5}, "loud": {"sound.level": 104.0}}
