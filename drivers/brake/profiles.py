"""Roller brake testers: forces left/right of one axle while the rollers turn, then the axle's
maximum forces and wheel loads."""

from __future__ import annotations

from drivers.profile import Field, Profile, Reply

FORCE_LEFT = "brake.force.left"
FORCE_RIGHT = "brake.force.right"
MAX_LEFT = "brake.force.left.max"
MAX_RIGHT = "brake.force.right.max"
LOAD_LEFT = "brake.wheel_load.left"
LOAD_RIGHT = "brake.wheel_load.right"

#: forces: 4 ASCII digits in daN (UNVERIFIED in the reference): 342 -> 3.42 kN
DAN = 0.01
E = ord("E")

JX_BRAKE = Profile(
    name="jx-brake",
    kind="brake",
    family="jx",
    model="JX roller brake tester",
    source=(
        "shared/reference/device-protocols.md §2.1: commands 41 04 cmd cs and 12/20-byte replies, "
        "VERIFIED-IN-CODE in linzewu/veh DeviceBrakRollerDriverOfJXGT2.java"
    ),
    baudrate=9600,
    commands={
        "zero": b"b",  # 41 04 62 59  clear / zero meters
        "start": b"f",  # 41 04 66 55  start test
        "result": b"k",  # 41 04 6B 50  fetch result
        "weigh": b"h",  # 41 04 68 53  start weighing / read
        "identify": b"i",  # otolane extension, see notes
    },
    replies=(
        # The end of a test: a 12-byte frame with 'E' at bytes 2, 6 and 10 (before "live": same length).
        Reply("end", 12, kind=E, marks=((6, E), (10, E)), event="test_end"),
        Reply(
            "live",
            12,
            # A loaded roller's force moves by a count (0.01 kN) many times a second; 5 s without
            # one is a frozen sensor. Ours, UNVERIFIED: to be set from the vendor's noise figure.
            fields=(
                Field(FORCE_LEFT, "kN", 3, 4, "ascii_int", scale=DAN, frozen_after_s=5.0),
                Field(FORCE_RIGHT, "kN", 7, 4, "ascii_int", scale=DAN, frozen_after_s=5.0),
            ),
        ),
        Reply(
            "result",
            20,
            fields=(
                Field(MAX_LEFT, "kN", 3, 4, "ascii_int", scale=DAN, final=True),
                Field(MAX_RIGHT, "kN", 7, 4, "ascii_int", scale=DAN, final=True),
                Field(LOAD_LEFT, "kg", 11, 4, "ascii_int", final=True),
                Field(LOAD_RIGHT, "kg", 15, 4, "ascii_int", final=True),
            ),
        ),
        Reply("ack", 4),
    ),
    service_commands=("zero",),
    start="start",
    result="result",
    notes=(
        "Force unit daN is UNVERIFIED (reference §2.1): calibrate against the stand's display.",
        "Result frame bytes 11-14 / 15-18 are read as left / right wheel load in kg, as in the "
        "weighing reply of the same shape; the reference marks them UNVERIFIED for the result.",
        "Identity query 'i' and its 'I' reply (ASCII 'model;serial;firmware') are not in the public "
        "source: they are our extension, to be replaced by the vendor's identity command.",
    ),
)

PROFILES = {p.name: p for p in (JX_BRAKE,)}
#: one value per axle where the axles differ: each test (start command) takes the next one
SCENARIOS: dict[str, dict[str, float | tuple[float, ...]]] = {
    "good": {FORCE_LEFT: 0.07, FORCE_RIGHT: 0.07,  # idle rollers: drag only
             MAX_LEFT: (3.42, 2.10), MAX_RIGHT: (3.38, 2.02),
             LOAD_LEFT: (520, 380), LOAD_RIGHT: (510, 372)},
    "weak-rear": {FORCE_LEFT: 0.07, FORCE_RIGHT: 0.07,
                  MAX_LEFT: (3.40, 2.05), MAX_RIGHT: (3.31, 1.21),
                  LOAD_LEFT: (520, 380), LOAD_RIGHT: (510, 372)},
}  # fmt: skip
