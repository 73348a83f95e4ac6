"""Property-based fuzzing of the JX frame decoder and the brake frame parser: no input crashes
them, every byte is accounted for, and good frames survive the garbage around them."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from drivers.brake.jx import decode_frame, parse_identity
from drivers.brake.profiles import JX_BRAKE
from drivers.families import jx

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
    result = decode_frame("brake", JX_BRAKE, jx.Frame(frame), 0.0)
    assert isinstance(result, list | str)
    parse_identity(jx.Frame(frame))


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
