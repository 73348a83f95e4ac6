"""Framing of each protocol family, behind one small interface, so one driver and one simulator
serve every profile:

* ``jx``  — F3, 'A'-header frames with a length byte and a zero-sum checksum, streamed by the device
  (``drivers/families/jx.py``);
* ``sum`` — F1, binary request/response: a command byte (+ checksum), a reply of fixed length per
  command ending in a checksum (Nanhua NHA-503 and NHT-6, reference §2.3 B and §2.4);
* ``ascii`` — F4, single ASCII byte commands, fixed-length ASCII replies, no checksum (HY sound
  meter, reference §2.8); identity lines end in CR.

Every decoder is total: bytes in, frames and counted rejections out, never an exception.
"""

from __future__ import annotations

from dataclasses import dataclass

from drivers.families import jx
from drivers.profile import Profile, Reply

IDENTITY_LEN = 64  # family "sum": echo + 62 ASCII bytes (NUL padded) + checksum — our extension


@dataclass(frozen=True)
class Rejected:
    raw: bytes
    reason: str


def checksum_byte(body: bytes, mode: str) -> bytes:
    if mode == "none":
        return b""
    total = sum(body) & 0xFF
    return bytes([total if mode == "sum" else (-total) & 0xFF])


def check(frame: bytes, mode: str) -> bool:
    if mode == "none":
        return True
    return checksum_byte(frame[:-1], mode) == frame[-1:]


class Codec:
    """Framing for one profile. ``expect`` tells request/response codecs what answer comes next."""

    def __init__(self, profile: Profile) -> None:
        self.profile = profile

    def command(self, name: str) -> bytes:
        raise NotImplementedError

    def expect(self, reply: str | None) -> None:
        """The reply the last command asks for (request/response families)."""

    def feed(self, data: bytes) -> list[bytes | Rejected]:
        raise NotImplementedError

    def classify(self, frame: bytes) -> Reply | None:
        raise NotImplementedError

    def identity_text(self, frame: bytes) -> str | None:
        raise NotImplementedError


class JXCodec(Codec):
    def __init__(self, profile: Profile) -> None:
        super().__init__(profile)
        self._dec = jx.Decoder()

    def command(self, name: str) -> bytes:
        body = bytes([jx.HEADER, 4]) + self.profile.commands[name]
        return body + bytes([jx.checksum(body)])

    def feed(self, data: bytes) -> list[bytes | Rejected]:
        out: list[bytes | Rejected] = []
        for item in self._dec.feed(data):
            out.append(item.raw if isinstance(item, jx.Frame) else Rejected(item.raw, item.reason))
        return out

    def classify(self, frame: bytes) -> Reply | None:
        for r in self.profile.replies:
            if (
                r.length == len(frame)
                and (r.kind is None or frame[r.kind_at] == r.kind)
                and all(frame[at] == b for at, b in r.marks)
            ):
                return r
        return None

    def identity_text(self, frame: bytes) -> str | None:
        if frame[2] != ord("I"):
            return None
        return frame[3:-1].decode("ascii", "replace")


class ExpectingCodec(Codec):
    """Shared by request/response families: a reply's length is known from the command asked."""

    def __init__(self, profile: Profile) -> None:
        super().__init__(profile)
        self._buf = bytearray()
        self._expected: Reply | None = None
        self._noise: list[bytes | Rejected] = []

    def expect(self, reply: str | None) -> None:
        self._expected = None if reply is None else self.profile.reply(reply)
        if self._buf:  # what came before the question is noise: counted at the next feed
            self._noise.append(Rejected(bytes(self._buf), "bytes before the reply"))
            self._buf.clear()

    def _length(self) -> int:
        return self._expected.length if self._expected else 0

    def _valid(self, frame: bytes) -> bool:
        raise NotImplementedError

    def feed(self, data: bytes) -> list[bytes | Rejected]:
        self._buf += data
        out, self._noise = self._noise, []
        n = self._length()
        if n == 0:
            if self._buf:
                out.append(Rejected(bytes(self._buf), "unprompted bytes"))
                self._buf.clear()
            return out
        if len(self._buf) >= n:
            frame = bytes(self._buf[:n])
            rest = bytes(self._buf[n:])
            self._buf.clear()
            if self._valid(frame):
                out.append(frame)
                self._expected = None
            else:
                out.append(Rejected(frame, "bad checksum or shape"))
                self._expected = None
            if rest:
                out.append(Rejected(rest, "bytes after the reply"))
        return out

    def classify(self, frame: bytes) -> Reply | None:
        return next((r for r in self.profile.replies if r.length == len(frame)), None)


class SumCodec(ExpectingCodec):
    _echo = -1

    def command(self, name: str) -> bytes:
        body = self.profile.commands[name]
        self._echo = body[0]
        return body + checksum_byte(body, self.profile.command_checksum)

    def _valid(self, frame: bytes) -> bool:
        # A reply echoes the command it answers: with the checksum, noise rarely passes for a frame.
        return frame[0] == self._echo and check(frame, self.profile.reply_checksum)

    def identity_text(self, frame: bytes) -> str | None:
        if len(frame) != IDENTITY_LEN:
            return None
        return frame[1:-1].rstrip(b"\x00").decode("ascii", "replace")


class AsciiCodec(ExpectingCodec):
    def command(self, name: str) -> bytes:
        return self.profile.commands[name]

    def _valid(self, frame: bytes) -> bool:
        try:
            frame.decode("ascii")
        except UnicodeDecodeError:
            return False
        return True

    def feed(self, data: bytes) -> list[bytes | Rejected]:
        if self._expected is not None and self._expected.name == "identity":
            self._buf += data
            end = self._buf.find(b"\r")
            if end < 0:
                if len(self._buf) > 64:
                    bad = bytes(self._buf)
                    self._buf.clear()
                    return [Rejected(bad, "identity line too long")]
                return []
            line = bytes(self._buf[: end + 1])
            del self._buf[: end + 1]
            self._expected = None
            return [line]
        return super().feed(data)

    def identity_text(self, frame: bytes) -> str | None:
        if not frame.endswith(b"\r"):
            return None
        return frame[:-1].decode("ascii", "replace")


CODECS: dict[str, type[Codec]] = {"jx": JXCodec, "sum": SumCodec, "ascii": AsciiCodec}


def codec_for(profile: Profile) -> Codec:
    return CODECS[profile.family](profile)
