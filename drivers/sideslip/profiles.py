"""Side-slip plates: the signed slip of a steered axle as it drives over."""

from __future__ import annotations

from drivers.profile import Field, Profile, Reply

TLCH_10 = Profile(
    name="tlch10-sideslip",
    kind="sideslip",
    family="jx",
    model="TLCH-10 side-slip tester",
    source=(
        "shared/reference/device-protocols.md §2.5, VERIFIED-IN-CODE in "
        "linzewu/veh:…/DeviceSideslipDriverOfTLCH10.java: JX commands; 10-byte frames, bytes 3–8 an "
        "ASCII signed decimal, byte 2 = 0x7A the final result"
    ),
    baudrate=9600,
    commands={"zero": b"b", "start": b"f", "reset": b"R", "identify": b"i"},
    replies=(
        Reply(
            "result",
            10,
            kind=0x7A,
            fields=(Field("sideslip.result", "m/km", 3, 6, "ascii_dec", final=True),),
            event="test_end",
        ),
        Reply("live", 10, fields=(Field("sideslip.value", "m/km", 3, 6, "ascii_dec"),)),
        Reply("ack", 4),
    ),
    service_commands=("zero",),
    start="start",
    notes=(
        "Unit m/km is UNVERIFIED for each model (reference §2.5).",
        "Identity query 'i' / 'I' frame is our extension, as for the JX brake tester.",
    ),
)

PROFILES = {p.name: p for p in (TLCH_10,)}
SCENARIOS: dict[str, dict[str, float]] = {
    "good": {"sideslip.value": 0.0, "sideslip.result": 2.4},
    "misaligned": {"sideslip.value": 0.0, "sideslip.result": -11.8},
}
