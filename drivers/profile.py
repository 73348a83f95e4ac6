"""A device model as data: the frames it sends, the fields in them, the commands it takes.

A :class:`Profile` says, per reply, how to recognise it and which bytes hold which channel in which
encoding and scale; the same table decodes on the lane and encodes in the simulator, so the two can
never drift apart. Adding a vendor's model of a known family is a new profile plus a protocol test.
(NUT's ``apc_hid2nut`` tables and Home Assistant's sensor descriptions are the pattern.)
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Literal

Encoding = Literal["ascii_int", "ascii_dec", "u16be", "s16be", "f32be"]

#: How long a live analogue channel may repeat the very same non-zero value before we call its sensor
#: frozen. Ours, not a vendor's figure (UNVERIFIED): a running engine's speed, a gas bench's CO2 and a
#: sound level move by a count within a second or two.
FROZEN_S = 10.0


@dataclass(frozen=True)
class Field:
    channel: str
    unit: str
    offset: int
    width: int
    encoding: Encoding
    scale: float = 1.0
    add: float = 0.0  # value = raw × scale + add (kelvin → °C: add = −273)
    absent: int | None = None  # raw value that means "no sensor": no reading
    final: bool = False
    decimals: int = 1  # ascii_dec: digits after the point on the wire
    #: a live channel: seconds of the very same non-zero value that mean the sensor froze
    frozen_after_s: float | None = None

    @property
    def resolution(self) -> float:
        """One count on the wire, in the channel's unit (0 for floats)."""
        if self.encoding == "f32be":
            return 0.0
        return self.scale * (10.0**-self.decimals if self.encoding == "ascii_dec" else 1.0)

    def decode(self, frame: bytes) -> float | None | str:
        """The value, None when the device says the sensor is absent, or why it cannot be read."""
        chunk = frame[self.offset : self.offset + self.width]
        if len(chunk) != self.width:
            return f"{self.channel}: frame too short"
        if self.encoding == "f32be":
            raw = struct.unpack(">f", chunk)[0]
            if raw != raw or abs(raw) > 1e9:  # NaN or absurd: not a measurement
                return f"{self.channel}: not a number"
        elif self.encoding in ("u16be", "s16be"):
            raw = struct.unpack(">H" if self.encoding == "u16be" else ">h", chunk)[0]
        else:
            try:
                text = chunk.decode("ascii").strip().replace("\x00", "")
                raw = int(text) if self.encoding == "ascii_int" else float(text)  # type: ignore[assignment]
            except (UnicodeDecodeError, ValueError):
                return f"{self.channel}: not a number"
            if self.encoding == "ascii_int" and not text.isdigit():
                return f"{self.channel}: not digits"
        if self.absent is not None and raw == self.absent:
            return None
        return round(raw * self.scale + self.add, 6)

    def encode(self, value: float) -> bytes:
        """The inverse of :meth:`decode`, for simulators."""
        raw = (value - self.add) / self.scale
        if self.encoding == "f32be":
            return struct.pack(">f", raw)
        if self.encoding == "u16be":
            return struct.pack(">H", max(0, min(0xFFFF, round(raw))))
        if self.encoding == "s16be":
            return struct.pack(">h", max(-0x8000, min(0x7FFF, round(raw))))
        if self.encoding == "ascii_int":
            return str(max(0, min(10**self.width - 1, round(raw)))).zfill(self.width).encode()
        return f"{raw:.{self.decimals}f}".rjust(self.width)[-self.width :].encode()


@dataclass(frozen=True)
class Reply:
    """One kind of frame from the device: how to recognise it, and what it carries."""

    name: str
    length: int  # whole frame length (for request/response families: the reply to a command)
    kind: int | None = None  # type byte at ``kind_at``, when the family has one
    kind_at: int = 2
    fields: tuple[Field, ...] = ()
    event: str | None = None  # an event this frame signals (end of test …)
    template: bytes = b""  # fixed leading bytes of the frame (family "sum"), for the simulator
    marks: tuple[tuple[int, int], ...] = ()  # (offset, byte) that must also match, e.g. an end marker


@dataclass(frozen=True)
class Profile:
    name: str
    kind: str  # device kind: brake, gas, smoke, sideslip, suspension, headlight, sound, …
    family: str  # jx, sum, ascii
    model: str
    source: str  # where the layout comes from (reference section and public driver)
    baudrate: int
    commands: dict[str, bytes]  # name -> the command's own bytes (the family adds framing)
    replies: tuple[Reply, ...]
    #: request/response devices: the command polled for live values, and how often
    poll: str | None = None
    poll_interval_s: float = 0.2
    #: which reply answers which command (request/response families)
    answers: dict[str, str] = field(default_factory=dict)
    #: commands a technician may send (zeroing, self-test): they change no reading
    service_commands: tuple[str, ...] = ()
    #: test sequence: the command that starts a measurement, and the one that fetches its result
    start: str | None = None
    result: str | None = None
    notes: tuple[str, ...] = ()
    #: family "sum": checksum of commands and of replies ("none", "sum": 8-bit sum of the bytes
    #: before it, "twos": the byte that makes the whole frame sum to 0)
    command_checksum: str = "none"
    reply_checksum: str = "twos"
    reply_timeout_s: float = 0.5
    #: family "modbus": the input registers polled (first, count) and the unit (slave) id
    registers: tuple[int, int] = (0, 0)
    unit: int = 1

    def reply(self, name: str) -> Reply:
        return next(r for r in self.replies if r.name == name)

    def frozen_rules(self) -> dict[str, float]:
        return {f.channel: f.frozen_after_s for r in self.replies for f in r.fields if f.frozen_after_s}

    def channels(self) -> list[tuple[str, str]]:
        seen: dict[str, str] = {}
        for r in self.replies:
            for f in r.fields:
                seen.setdefault(f.channel, f.unit)
        return list(seen.items())


def float32_block(
    name: str, kind: str, model: str, source: str, channels: tuple[tuple[str, str], ...], poll_s: float = 0.5
) -> Profile:
    """A Modbus stand whose input registers, from 0, hold one float32 (high word first) per channel
    in order — the shape of every generic Modbus profile we ship."""
    fields = tuple(Field(ch, unit, 4 * i, 4, "f32be") for i, (ch, unit) in enumerate(channels))
    return Profile(
        name=name,
        kind=kind,
        family="modbus",
        model=model,
        source=source,
        baudrate=9600,
        commands={},
        replies=(Reply("live", 4 * len(channels), fields=fields),),
        poll="live",
        poll_interval_s=poll_s,
        registers=(0, 2 * len(channels)),
    )
