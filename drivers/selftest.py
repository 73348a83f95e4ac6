"""A driver's self-test (issue #24: the health check after an update): every field of every reply of
a profile read back through the profile's own tables — a known count written at the field's place,
decoded, the same value out — and the family's codec built. Pure: no port, no device."""

from __future__ import annotations

from drivers.families.codecs import codec_for
from drivers.profile import Field, Profile

#: the count written: not 0 (an empty frame reads 0 too), small enough for every width
_COUNT = 7


def _field(f: Field) -> str | None:
    value = _COUNT * f.scale * (10.0**-f.decimals if f.encoding == "ascii_dec" else 1.0) + f.add
    if f.encoding == "f32be":
        value = _COUNT + 0.5
    frame = bytearray(b"0" * (f.offset + f.width))
    frame[f.offset : f.offset + f.width] = f.encode(value)
    got = f.decode(bytes(frame))
    if isinstance(got, str) or got is None:
        return f"{f.channel}: {got or 'read as absent'}"
    if abs(got - value) > max(f.resolution, 1e-6):
        return f"{f.channel}: wrote {value}, read {got}"
    return None


def check(profile: Profile) -> list[str]:
    """What the profile's tables get wrong; empty when every field reads back."""
    problems: list[str] = []
    try:
        if profile.family != "modbus":  # pymodbus frames Modbus; the fields are read back below
            codec_for(profile)
    except Exception as exc:  # a family the release cannot frame is the problem itself
        problems.append(f"{profile.name}: its codec cannot be made ({type(exc).__name__}: {exc})")
    for reply in profile.replies:
        for f in reply.fields:
            why = _field(f)
            if why:
                problems.append(f"{profile.name} {reply.name}: {why}")
    return problems
