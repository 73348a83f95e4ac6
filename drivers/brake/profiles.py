"""Roller brake tester profiles: a device model described as data.

A profile names the commands (bytes on the wire), the frame fields and their scale. Adding a vendor's
model of the same protocol family is a new profile plus a protocol test, not new code.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class BrakeProfile:
    name: str
    family: str
    model: str
    source: str
    baudrate: int
    #: command name -> the one command character of a 4-byte JX command frame
    commands: dict[str, bytes]
    #: frame length -> meaning
    lengths: frozenset[int]
    #: kN per count of the 4-digit force fields
    force_scale: float
    force_unit: str = "kN"
    #: kg per count of the wheel-load fields of the result frame
    load_scale: float = 1.0
    end_marker: int = ord("E")
    #: the test sequence: the command that starts a test and the one that fetches its result
    start: str = "start"
    result: str = "result"
    #: commands a technician may send: they change no reading
    service_commands: tuple[str, ...] = ("zero",)
    identity_kind: int = ord("I")
    #: live channel -> seconds of the very same non-zero value that mean the sensor froze
    frozen_after_s: dict[str, float] = field(default_factory=dict)
    notes: tuple[str, ...] = field(default_factory=tuple)


JX_BRAKE = BrakeProfile(
    name="jx-brake",
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
    lengths=frozenset({4, 12, 20} | set(range(5, 65))),
    force_scale=0.01,  # 4 ASCII digits in daN (UNVERIFIED in the reference): 342 -> 3.42 kN
    load_scale=1.0,
    # A loaded roller's force moves by a count (0.01 kN) many times a second; 5 s without one is a
    # frozen sensor. Ours, UNVERIFIED: to be set from the vendor's noise figure.
    frozen_after_s={"brake.force.left": 5.0, "brake.force.right": 5.0},
    notes=(
        "Force unit daN is UNVERIFIED (reference §2.1): calibrate against the stand's display.",
        "Result frame bytes 11-14 / 15-18 are read as left / right wheel load in kg, as in the "
        "weighing reply of the same shape; the reference marks them UNVERIFIED for the result.",
        "Identity query 'i' and its 'I' reply (ASCII 'model;serial;firmware') are not in the public "
        "source: they are our extension, to be replaced by the vendor's identity command.",
    ),
)

PROFILES: dict[str, BrakeProfile] = {p.name: p for p in (JX_BRAKE,)}
