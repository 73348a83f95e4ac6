"""Golden frames (issue #7, R3.3): bytes written down from ``shared/reference/device-protocols.md``
— not produced by our own field tables — against each profile's codec, both ways.

Commands are the constants the reference quotes from the vendors' drivers. Replies are laid out by
hand at the byte positions the reference gives (the checksums computed once, by hand, and pasted);
a frame with any one byte changed must be refused, never decoded."""

from __future__ import annotations

import pytest

from drivers.base import Event, Reading
from drivers.device import decode
from drivers.families.codecs import Rejected, codec_for
from drivers.registry import PROFILES

#: (profile, command name, the frame as the reference writes it)
COMMANDS = [
    # §2.1 JX roller brake tester (DeviceBrakRollerDriverOfJXGT2.java)
    ("jx-brake", "zero", "41 04 62 59"),
    ("jx-brake", "start", "41 04 66 55"),
    ("jx-brake", "weigh", "41 04 68 53"),
    ("jx-brake", "result", "41 04 6B 50"),
    # §2.5 TLCH-10 side slip
    ("tlch10-sideslip", "zero", "41 04 62 59"),
    ("tlch10-sideslip", "start", "41 04 66 55"),
    ("tlch10-sideslip", "reset", "41 04 52 69"),
    # §2.6 JXXJ suspension
    ("jxxj-suspension", "start", "41 04 65 56"),
    ("jxxj-suspension", "result", "41 04 68 53"),
    ("jxxj-suspension", "zero", "41 04 33 88"),
    ("jxxj-suspension", "end", "41 04 67 54"),
    # §2.7 A Mingquan MQD-6A: 02 01 32 <class> <cmd> <cs>
    ("mqd6a-headlight", "measure_left", "02 01 32 54 07 70"),
    ("mqd6a-headlight", "measure_right", "02 01 32 54 40 37"),
    ("mqd6a-headlight", "fetch", "02 01 32 47 4F 35"),
    ("mqd6a-headlight", "home", "02 01 32 4D 47 37"),
    # §2.4 Nanhua NHT-6: command byte + two's-complement checksum
    ("nanhua-nht6", "live", "A5 5B"),
    ("nanhua-nht6", "result", "B1 4F"),
    ("nanhua-nht6", "zero", "A4 5C"),
]


@pytest.mark.parametrize(("profile", "name", "frame"), COMMANDS)
def test_commands_are_the_bytes_the_reference_gives(profile: str, name: str, frame: str) -> None:
    assert codec_for(PROFILES[profile]).command(name) == bytes.fromhex(frame)


def test_the_reference_checksum_examples() -> None:
    """§2.1: 0x41+0x04+0x66 = 0xAB → 0x55; §2.7: 02+01+32+54+51 = 0xDA → 0x26 (two's complement)."""
    from drivers.families.codecs import checksum_byte

    assert checksum_byte(bytes.fromhex("41 04 66"), "twos") == b"\x55"
    assert checksum_byte(bytes.fromhex("02 01 32 54 51"), "twos") == b"\x26"


#: (profile, the command the reply answers or None for a streamed frame, reply bytes, expected)
REPLIES = [
    # §2.1 12-byte process frame: type at 2, left 3–6, right 7–10, 4 ASCII digits (daN).
    ("jx-brake", None, "41 0C 54 30 33 34 32 30 33 33 38 C8",
     {"brake.force.left": 3.42, "brake.force.right": 3.38}),
    # §2.1 the end of measuring: 'E' at bytes 2, 6 and 10.
    ("jx-brake", None, "41 0C 45 30 30 30 45 30 30 30 45 C4", {"event": "test_end"}),
    # §2.1 20-byte result: forces at 3–6 / 7–10, loads at 11–14 / 15–18.
    ("jx-brake", None, "41 14 52 30 33 34 32 30 33 33 38 30 35 32 30 30 35 31 30 35",
     {"brake.force.left.max": 3.42, "brake.force.right.max": 3.38,
      "brake.wheel_load.left": 520, "brake.wheel_load.right": 510}),
    # §2.5 10-byte frame, byte 2 = 0x7A: the final result, bytes 3–8 a signed ASCII decimal.
    ("tlch10-sideslip", None, "41 0A 7A 2D 30 31 31 2E 38 16",
     {"sideslip.result": -11.8, "event": "test_end"}),
    # §2.6 27-byte result: efficiencies 3–7 / 8–12, difference 13–17, static loads 18–21 / 22–25.
    ("jxxj-suspension", None,
     "41 1B 52 30 38 35 2E 30 30 38 32 2E 35 30 30 32 2E 35 30 34 35 30 30 34 34 30 D4",
     {"suspension.efficiency.left": 85.0, "suspension.efficiency.right": 82.5,
      "suspension.difference": 2.5, "suspension.load.left": 450, "suspension.load.right": 440,
      "event": "test_end"}),
    # §2.4 0xA5 live: N ÷10 %, k ÷100 m⁻¹, rpm, oil temperature in K (353 K = 80 °C), big-endian.
    ("nanhua-nht6", "live", "A5 00 50 00 23 03 0C 01 61 77",
     {"smoke.opacity": 8.0, "smoke.k": 0.35, "engine.rpm": 780, "engine.oil_temp": 80.0}),
    # §2.4 0xB1 result: K1, K2, K3, K-average ÷100, low-idle rpm.
    ("nanhua-nht6", "result", "B1 00 5C 00 58 00 5A 00 5A 03 0C D8",
     {"smoke.k1": 0.92, "smoke.k2": 0.88, "smoke.k3": 0.90, "smoke.k_mean": 0.90,
      "engine.rpm_idle": 780, "event": "test_end"}),
    # §2.7 A 5-byte status 02 32 54 <code> <cs>: 0x4F = main high beam measured.
    ("mqd6a-headlight", "measure_left", "02 32 54 4F 29", {}),
]  # fmt: skip


def _decoded(profile_name: str, ask: str | None, raw: bytes) -> list[Reading | Event] | str:
    profile = PROFILES[profile_name]
    codec = codec_for(profile)
    if ask is not None:
        codec.command(ask)
        codec.expect(profile.answers.get(ask))
    frames = codec.feed(raw)
    assert len(frames) == 1, frames
    frame = frames[0]
    if isinstance(frame, Rejected):
        return f"rejected: {frame.reason}"
    reply = codec.classify(frame)
    if reply is None:
        return "unclassified"
    return decode(profile_name, profile, reply, frame, 0.0)


@pytest.mark.parametrize(("profile", "ask", "frame", "expected"), REPLIES)
def test_replies_written_by_hand_decode_to_their_values(
    profile: str, ask: str | None, frame: str, expected: dict[str, float | str]
) -> None:
    got = _decoded(profile, ask, bytes.fromhex(frame))
    assert not isinstance(got, str), got
    values = {r.channel: r.value for r in got if isinstance(r, Reading)}
    events = [e.name for e in got if isinstance(e, Event)]
    want = dict(expected)
    event = want.pop("event", None)
    assert values == pytest.approx(want)
    assert events == ([event] if event else [])


@pytest.mark.parametrize(("profile", "ask", "frame", "expected"), REPLIES)
def test_any_one_byte_changed_is_never_decoded_as_a_value(
    profile: str, ask: str | None, frame: str, expected: dict[str, float | str]
) -> None:
    raw = bytes.fromhex(frame)
    good = _decoded(profile, ask, raw)
    for k in range(len(raw)):
        bad = bytearray(raw)
        bad[k] ^= 0x01
        profile_obj = PROFILES[profile]
        codec = codec_for(profile_obj)
        if ask is not None:
            codec.command(ask)
            codec.expect(profile_obj.answers.get(ask))
        for item in codec.feed(bytes(bad)):
            if isinstance(item, Rejected):
                continue
            reply = codec.classify(item)
            if reply is None:
                continue
            decoded = decode(profile, profile_obj, reply, item, 0.0)
            assert decoded == good or isinstance(decoded, str), (k, decoded)
