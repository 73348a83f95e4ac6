"""Property-based fuzzing of every family codec and every profile's field tables: any bytes give
frames or counted rejections, never an exception; every decoded value comes from a frame that
passed its family's checks."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drivers.device import decode, parse_identity_text
from drivers.families.codecs import Rejected, codec_for
from drivers.registry import PROFILES

NAMES = sorted(PROFILES)
#: Modbus framing is pymodbus's own (and tested there); its field tables are fuzzed below like all
FRAMED = sorted(n for n, p in PROFILES.items() if p.family != "modbus")


@pytest.mark.parametrize("name", FRAMED)
@settings(max_examples=150, deadline=None)
@given(chunks=st.lists(st.binary(max_size=40), max_size=12), ask=st.booleans())
def test_codecs_are_total(name: str, chunks: list[bytes], ask: bool) -> None:
    profile = PROFILES[name]
    codec = codec_for(profile)
    if ask and profile.poll:
        codec.command(profile.poll)
        codec.expect(profile.answers.get(profile.poll))
    for c in chunks:
        for item in codec.feed(c):
            if isinstance(item, Rejected):
                assert item.reason
                continue
            reply = codec.classify(item)
            if reply is not None:
                result = decode(name, profile, reply, item, 0.0)
                assert isinstance(result, list | str)
            parse_identity_text(codec.identity_text(item))


@pytest.mark.parametrize("name", NAMES)
@settings(max_examples=100, deadline=None)
@given(data=st.data())
def test_every_field_decodes_what_it_encodes(name: str, data: st.DataObject) -> None:
    """The simulator's encoding and the driver's decoding are one table, read both ways."""
    for reply in PROFILES[name].replies:
        for f in reply.fields:
            lo = 0.0 if f.encoding in ("u16be", "ascii_int") else -50.0
            value = data.draw(st.floats(min_value=lo, max_value=99.0, allow_nan=False))
            frame = bytearray(b"0" * reply.length)
            frame[f.offset : f.offset + f.width] = f.encode(value)
            got = f.decode(bytes(frame))
            if f.absent is not None and got is None:
                continue
            assert isinstance(got, float | int)
            step = f.scale if f.encoding != "ascii_dec" else f.scale * 10**-f.decimals
            assert abs(got - value) <= step / 2 + 1e-6 + abs(f.add) * 1e-9
