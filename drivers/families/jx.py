"""Protocol family F3: 'A'-header short frames with ASCII-digit payloads (JX / Jiangxin family).

Layout (``shared/reference/device-protocols.md`` §2.1 and §4.1, VERIFIED-IN-CODE in
``linzewu/veh:…/DeviceBrakRollerDriverOfJXGT2.java``)::

    byte 0   0x41 ('A')            header
    byte 1   total frame length    4 (command / ack), 12 (process), 20 (result) …
    byte 2   type or command character
    …        payload: fixed-width ASCII digit fields
    last     checksum: the 8-bit sum of every byte of the frame is 0 (DERIVED in the reference)

The decoder is total: any byte string gives frames and counted rejections, never an exception.
A rejected run of bytes is reported once, when the decoder finds the next good frame or gives up
on its buffer, so a garbled frame costs one count, and a good frame right after it is not lost.
"""

from __future__ import annotations

from dataclasses import dataclass

HEADER = 0x41
MIN_LEN = 4
MAX_LEN = 64
MAX_BUFFER = 1024


def checksum(body: bytes) -> int:
    """The byte that makes the 8-bit sum of ``body`` plus itself zero."""
    return (-sum(body)) & 0xFF


def encode(kind: bytes, payload: bytes = b"") -> bytes:
    """Build a frame: header, length, one type byte, payload, checksum."""
    if len(kind) != 1:
        raise ValueError("frame type is one byte")
    length = 4 + len(payload)
    if length > MAX_LEN:
        raise ValueError("frame too long")
    body = bytes([HEADER, length]) + kind + payload
    return body + bytes([checksum(body)])


def digits(value: int, width: int = 4) -> bytes:
    """A value as fixed-width ASCII digits, clamped to the field."""
    value = max(0, min(value, 10**width - 1))
    return str(value).zfill(width).encode("ascii")


@dataclass(frozen=True)
class Frame:
    raw: bytes

    @property
    def kind(self) -> int:
        return self.raw[2]

    @property
    def payload(self) -> bytes:
        return self.raw[3:-1]

    def field(self, start: int, width: int = 4) -> int | None:
        """ASCII digits at frame offset ``start``; None if they are not all digits."""
        chunk = self.raw[start : start + width]
        if len(chunk) != width or not chunk.isdigit():
            return None
        return int(chunk)


@dataclass(frozen=True)
class Rejected:
    raw: bytes
    reason: str


class Decoder:
    """Incremental, total decoder: ``feed(bytes)`` returns frames and rejections in order."""

    def __init__(self, lengths: frozenset[int] | None = None) -> None:
        self._buf = bytearray()
        self._skipped = bytearray()
        self._skip_reason = ""
        self._lengths = lengths

    def _skip(self, n: int, reason: str) -> None:
        if not self._skipped:
            self._skip_reason = reason
        self._skipped += self._buf[:n]
        del self._buf[:n]

    def _flush_skipped(self, out: list[Frame | Rejected]) -> None:
        if self._skipped:
            out.append(Rejected(bytes(self._skipped), self._skip_reason))
            self._skipped.clear()

    def feed(self, data: bytes) -> list[Frame | Rejected]:
        out: list[Frame | Rejected] = []
        self._buf += data
        while self._buf:
            start = self._buf.find(HEADER)
            if start < 0:
                self._skip(len(self._buf), "no header")
                break
            if start:
                self._skip(start, "bytes before header")
            if len(self._buf) < 2:
                break
            length = self._buf[1]
            allowed = MIN_LEN <= length <= MAX_LEN and (self._lengths is None or length in self._lengths)
            if not allowed:
                self._skip(1, f"bad length {length}")
                continue
            if len(self._buf) < length:
                break
            candidate = bytes(self._buf[:length])
            if sum(candidate) & 0xFF:
                self._skip(1, "bad checksum")
                continue
            self._flush_skipped(out)
            out.append(Frame(candidate))
            del self._buf[:length]
        if len(self._skipped) + len(self._buf) > MAX_BUFFER:
            self._skip(len(self._buf), "buffer overflow")
        if len(self._skipped) >= MAX_BUFFER:
            self._flush_skipped(out)
        return out

    def flush(self) -> list[Frame | Rejected]:
        """Give up on whatever is buffered (a truncated frame at the end of a stream)."""
        out: list[Frame | Rejected] = []
        if self._buf:
            self._skip(len(self._buf), "truncated frame")
        self._flush_skipped(out)
        return out
