"""Headlight (beam) testers: offsets, intensity and height of each lamp."""

from __future__ import annotations

from drivers.families.codecs import IDENTITY_LEN
from drivers.profile import Field, Profile, Reply

_RECORDS = {"left": (2, 20, 38), "right": (57, 75, 93)}
_BEAMS = ("high", "low", "aux")  # the order of the 18-byte records of a side: UNVERIFIED


def _record(side: str, beam: str, at: int) -> tuple[Field, ...]:
    ch = f"headlight.{side}.{beam}"
    return (
        Field(f"{ch}.horizontal", "cm/10m", at, 5, "ascii_dec", final=True),
        Field(f"{ch}.vertical", "cm/10m", at + 5, 5, "ascii_dec", final=True),
        Field(f"{ch}.intensity", "cd", at + 10, 4, "ascii_int", scale=100.0, final=True),
        Field(f"{ch}.height", "mm", at + 14, 4, "ascii_int", final=True),
    )


MQD_6A = Profile(
    name="mqd6a-headlight",
    kind="headlight",
    family="sum",
    model="Mingquan MQD-6A headlight tester",
    source=(
        "shared/reference/device-protocols.md §2.7 A, VERIFIED-IN-CODE in "
        "linzewu/veh:…/DeviceLightDriverOfMQD6A.java: PC frames 02 01 32 <class> <cmd> <cs>, replies "
        "02 32 54 <code> <cs>, a 112-byte 'fetch all' block of 18-byte records; checksum = two's "
        "complement of the sum of every earlier byte, STX included (DERIVED)"
    ),
    baudrate=9600,
    commands={
        "measure_left": b"\x02\x01\x32\x54\x07",
        "measure_right": b"\x02\x01\x32\x54\x40",
        "fetch": b"\x02\x01\x32\x47\x4f",
        "home": b"\x02\x01\x32\x4d\x47",
        "identify": b"\x02\x01\x32\x49\x44",
    },
    answers={
        "measure_left": "status",
        "measure_right": "status",
        "home": "status",
        "fetch": "result",
        "identify": "identity",
    },
    replies=(
        Reply("status", 5, template=b"\x02\x32\x54\x4f"),
        Reply(
            "result",
            112,
            template=b"\x02\x32",
            fields=tuple(
                f
                for side, ats in _RECORDS.items()
                for beam, at in zip(_BEAMS, ats, strict=True)
                for f in _record(side, beam, at)
            ),  # fmt: skip
            event="test_end",
        ),
        Reply("identity", IDENTITY_LEN),
    ),
    service_commands=("home",),
    start="measure_left",
    result="fetch",
    command_checksum="twos",
    reply_checksum="twos",
    reply_timeout_s=2.5,
    notes=(
        "Offset units (cm per 10 m) and the order high / low / auxiliary of a side's records are "
        "UNVERIFIED (reference §2.7); byte 56 of the block is read as a separator.",
        "Identity command 02 01 32 'I' 'D' and its 64-byte reply are our extension.",
        "On demand only: the stand sends nothing unasked, so its stale time is long (config).",
    ),
)

PROFILES = {p.name: p for p in (MQD_6A,)}
# a dipped beam 12 cm lower at 10 m (1.2 % down), as a headlamp marked "1.2 %" is set
_GOOD = {"horizontal": 0.4, "vertical": -12.0, "intensity": 18500.0, "height": 650.0}
_DIM = {"horizontal": 0.4, "vertical": -12.0, "intensity": 7200.0, "height": 650.0}


def _scenario(values: dict[str, float], dim_side: str | None = None) -> dict[str, float]:
    out = {}
    for side in _RECORDS:
        for beam in _BEAMS:
            for k, v in (_DIM if side == dim_side and beam == "high" else values).items():
                out[f"headlight.{side}.{beam}.{k}"] = v
    return out


SCENARIOS: dict[str, dict[str, float]] = {"good": _scenario(_GOOD), "dim-right": _scenario(_GOOD, "right")}
