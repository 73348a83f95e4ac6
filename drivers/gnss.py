"""A GNSS receiver on a serial line (R3.18): the lane's position from NMEA 0183 sentences, when the
lane has a receiver; otherwise the position is the configuration's.

Only what a photo needs is read: ``GGA`` (fix quality, position) and ``RMC`` (status, position), from
any talker (GP, GN, GL, GA, BD …). A sentence is used only with a valid checksum and a fix; a
garbled line is counted and logged and the stream goes on (the parser is total: it never raises).
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass

log = logging.getLogger("otolane.gnss")


@dataclass(frozen=True)
class Fix:
    latitude: float
    longitude: float
    ts: float  # when it was received (monotonic)


def _checksum_ok(line: str) -> bool:
    if not line.startswith("$") or "*" not in line:
        return False
    body, _, given = line[1:].rpartition("*")
    calc = 0
    for ch in body:
        calc ^= ord(ch)
    try:
        return int(given[:2], 16) == calc and len(given.strip()) == 2
    except ValueError:
        return False


def _coord(value: str, hemi: str, degree_digits: int) -> float | None:
    """``ddmm.mmmm`` / ``dddmm.mmmm`` and N/S/E/W to signed degrees."""
    if len(value) < degree_digits + 2 or hemi not in ("N", "S", "E", "W"):
        return None
    try:
        deg = int(value[:degree_digits])
        minutes = float(value[degree_digits:])
    except ValueError:
        return None
    if not 0 <= minutes < 60:
        return None
    x = deg + minutes / 60
    limit = 90 if degree_digits == 2 else 180
    if x > limit:
        return None
    return -x if hemi in ("S", "W") else x


def parse(line: str) -> tuple[float, float] | None:
    """(latitude, longitude) of a GGA or RMC sentence with a fix, else None."""
    line = line.strip()
    if not _checksum_ok(line):
        return None
    fields = line[1:].rpartition("*")[0].split(",")
    kind = fields[0][2:] if len(fields[0]) == 5 else ""
    if kind == "GGA" and len(fields) >= 7:
        if fields[6] in ("", "0"):
            return None  # no fix
        lat, lon = _coord(fields[2], fields[3], 2), _coord(fields[4], fields[5], 3)
    elif kind == "RMC" and len(fields) >= 7:
        if fields[2] != "A":
            return None  # void
        lat, lon = _coord(fields[3], fields[4], 2), _coord(fields[5], fields[6], 3)
    else:
        return None
    return (lat, lon) if lat is not None and lon is not None else None


class Receiver:
    """Reads the receiver's line forever (reopening it after a failure); :attr:`fix` is the newest."""

    def __init__(self, port: str, baudrate: int = 9600) -> None:
        self.port = port
        self.baudrate = baudrate
        self.fix: Fix | None = None
        self.sentences = 0
        self.rejected = 0

    def current(self, max_age_s: float = 10.0) -> Fix | None:
        f = self.fix
        return f if f is not None and time.monotonic() - f.ts <= max_age_s else None

    def feed(self, raw: bytes) -> None:
        line = raw.decode("ascii", errors="replace")
        if not line.strip():
            return
        got = parse(line)
        if got is None:
            if not line.lstrip().startswith("$") or not _checksum_ok(line.strip()):
                self.rejected += 1
                log.debug("gnss: a line rejected: %r", line[:80])
            return
        self.sentences += 1
        self.fix = Fix(got[0], got[1], time.monotonic())

    async def run(self) -> None:
        import serial_asyncio

        delay = 0.5
        while True:
            try:
                reader, writer = await serial_asyncio.open_serial_connection(
                    url=self.port, baudrate=self.baudrate
                )
                delay = 0.5
                try:
                    while True:
                        raw = await reader.readline()
                        if not raw:
                            raise ConnectionError("the receiver's line closed")
                        self.feed(raw[:256])
                finally:
                    writer.close()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a receiver that is unplugged: the configured position is used
                log.warning("gnss %s: %s", self.port, exc)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 10.0)
