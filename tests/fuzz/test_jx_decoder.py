"""Property-based fuzzing of the JX frame decoder: no input crashes it, every byte is accounted for,
and good frames survive the garbage around them. (Each jx profile's field tables, the brake tester's
among them, are fuzzed in test_profile_codecs.py.)"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from drivers.brake.profiles import JX_BRAKE
from drivers.device import decode
from drivers.families import jx
from drivers.families.codecs import codec_for

good_frames = st.builds(
    lambda kind, payload: jx.encode(kind, payload),
    st.sampled_from([b"T", b"R", b"E", b"I", b"f"]),
    st.binary(max_size=20),
)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.binary(max_size=64), max_size=20))
def test_decoder_never_raises_and_accounts_for_every_byte(chunks: list[bytes]) -> None:
    d = jx.Decoder()
    out = []
    for c in chunks:
        out += d.feed(c)
    out += d.flush()
    total = sum(len(x.raw) for x in out)
    assert total == sum(len(c) for c in chunks)
    for x in out:
        if isinstance(x, jx.Frame):
            assert sum(x.raw) % 256 == 0 and x.raw[0] == jx.HEADER and x.raw[1] == len(x.raw)
        else:
            assert x.reason


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.binary(max_size=16), good_frames), min_size=1, max_size=8))
def test_good_frames_are_recovered_between_garbage_without_headers(
    parts: list[tuple[bytes, bytes]],
) -> None:
    stream = b""
    expected = []
    for garbage, frame in parts:
        stream += garbage.replace(b"\x41", b"\x00") + frame
        expected.append(frame)
    d = jx.Decoder()
    got = [x.raw for x in d.feed(stream) + d.flush() if isinstance(x, jx.Frame)]
    assert got == expected


@settings(max_examples=300, deadline=None)
@given(good_frames)
def test_any_checksummed_frame_decodes_to_readings_or_a_reason(frame: bytes) -> None:
    codec = codec_for(JX_BRAKE)
    reply = codec.classify(frame)
    if reply is not None:
        assert isinstance(decode("brake", JX_BRAKE, reply, frame, 0.0), list | str)
    codec.identity_text(frame)


@settings(max_examples=200, deadline=None)
@given(st.binary(min_size=1, max_size=300), st.integers(min_value=1, max_value=7))
def test_split_points_do_not_change_the_result(data: bytes, step: int) -> None:
    whole = jx.Decoder()
    a = [(type(x), x.raw) for x in whole.feed(data) + whole.flush()]
    parts = jx.Decoder()
    b = []
    for i in range(0, len(data), step):
        b += [(type(x), x.raw) for x in parts.feed(data[i : i + step])]
    b += [(type(x), x.raw) for x in parts.flush()]
    frames_a = [r for t, r in a if t is jx.Frame]
    frames_b = [r for t, r in b if t is jx.Frame]
    assert frames_a == frames_b
