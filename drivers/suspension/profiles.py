"""Suspension testers (EUSAMA type): efficiency of each wheel of an axle."""

from __future__ import annotations

from drivers.profile import Field, Profile, Reply

JXXJ = Profile(
    name="jxxj-suspension",
    kind="suspension",
    family="jx",
    model="JXXJ suspension tester",
    source=(
        "shared/reference/device-protocols.md §2.6, VERIFIED-IN-CODE in "
        "linzewu/veh:…/DeviceSuspensionDriverOfJxxj.java: 8-byte process frames 'L'/'R' + 4 ASCII "
        "digits; 27-byte result: efficiencies, difference, static loads"
    ),
    baudrate=9600,
    commands={"start": b"e", "result": b"h", "zero": b"3", "end": b"g", "identify": b"i"},
    replies=(
        Reply(
            "curve_left", 8, kind=ord("L"), fields=(Field("suspension.curve.left", "", 3, 4, "ascii_int"),)
        ),
        Reply(
            "curve_right", 8, kind=ord("R"), fields=(Field("suspension.curve.right", "", 3, 4, "ascii_int"),)
        ),
        Reply(
            "result",
            27,
            fields=(
                Field("suspension.efficiency.left", "%", 3, 5, "ascii_dec", final=True),
                Field("suspension.efficiency.right", "%", 8, 5, "ascii_dec", final=True),
                Field("suspension.difference", "%", 13, 5, "ascii_dec", final=True),
                Field("suspension.load.left", "kg", 18, 4, "ascii_int", final=True),
                Field("suspension.load.right", "kg", 22, 4, "ascii_int", final=True),
            ),
            event="test_end",
        ),
        Reply("ack", 4),
    ),
    service_commands=("zero",),
    start="start",
    result="result",
    notes=(
        "Units of efficiency and load are UNVERIFIED (reference §2.6).",
        "The process frames' 4 digits are an uncalibrated curve value; only the result is judged.",
        "Identity query 'i' / 'I' frame is our extension.",
    ),
)

PROFILES = {p.name: p for p in (JXXJ,)}
SCENARIOS: dict[str, dict[str, float]] = {
    "good": {"suspension.curve.left": 0, "suspension.curve.right": 0,
             "suspension.efficiency.left": 62.5, "suspension.efficiency.right": 59.0,
             "suspension.difference": 3.5, "suspension.load.left": 498, "suspension.load.right": 505},
    "worn": {"suspension.curve.left": 0, "suspension.curve.right": 0,
             "suspension.efficiency.left": 31.0, "suspension.efficiency.right": 58.0,
             "suspension.difference": 27.0, "suspension.load.left": 498, "suspension.load.right": 505},
}  # fmt: skip
