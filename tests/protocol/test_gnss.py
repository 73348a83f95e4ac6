"""A GNSS receiver's NMEA 0183 on a pseudo-terminal (R3.18): the photo's position is its fix when the
lane has one, the configured position otherwise."""

from __future__ import annotations

import asyncio
import contextlib
import time
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from drivers.gnss import Receiver, parse
from drivers.sim.pty import PtyPort


def sentence(body: str) -> str:
    cs = 0
    for ch in body:
        cs ^= ord(ch)
    return f"${body}*{cs:02X}\r\n"


GGA = sentence("GPGGA,123519,5110.806,N,07126.760,E,1,08,0.9,545.4,M,46.9,M,,")
RMC = sentence("GNRMC,123519,A,3352.128,S,15112.558,E,0.0,0.0,010126,,,A")


def test_gga_and_rmc_give_signed_degrees() -> None:
    lat, lon = parse(GGA)  # type: ignore[misc]
    assert lat == pytest.approx(51.18010, abs=1e-5) and lon == pytest.approx(71.44600, abs=1e-5)
    lat, lon = parse(RMC)  # type: ignore[misc]
    assert lat == pytest.approx(-33.8688, abs=1e-4) and lon == pytest.approx(151.2093, abs=1e-4)


@pytest.mark.parametrize(
    "line",
    [
        GGA.replace("*", "0*"),  # checksum no longer matches
        GGA[:-5] + "*00\r\n",
        sentence("GPGGA,123519,5110.806,N,07126.760,E,0,00,,,M,,M,,"),  # no fix
        sentence("GPRMC,123519,V,5110.806,N,07126.760,E,0,0,010126,,,N"),  # void
        sentence("GPGGA,123519,9110.806,N,07126.760,E,1,08,0.9,545.4,M,46.9,M,,"),  # 91° N
        sentence("GPGSV,3,1,11,03,03,111,00"),  # another sentence
        "garbage",
        "",
    ],
)
def test_what_is_no_fix_is_not_used(line: str) -> None:
    assert parse(line) is None


@given(st.text(max_size=120))
def test_the_parser_is_total(line: str) -> None:
    """Fuzz: any text gives a position or None, never an exception."""
    got = parse(line)
    assert got is None or (-90 <= got[0] <= 90 and -180 <= got[1] <= 180)


@given(st.binary(max_size=300))
def test_the_receiver_counts_what_it_cannot_use(raw: bytes) -> None:
    r = Receiver("/dev/null")
    r.feed(raw)
    assert r.sentences + r.rejected <= 1


async def test_the_receiver_reads_its_fix_off_the_serial_line(tmp_path: Path) -> None:
    """The real byte path: pyserial on the slave end of a pty, sentences (and noise) on the master."""
    port = PtyPort(tmp_path / "gnss")
    r = Receiver(str(tmp_path / "gnss"), 9600)
    task = asyncio.create_task(r.run())
    try:
        deadline = time.monotonic() + 10
        while r.current() is None and time.monotonic() < deadline:
            port.write(b"\x00\xffnoise\r\n" + GGA.encode())
            await asyncio.sleep(0.1)
        fix = r.current()
        assert fix is not None and fix.latitude == pytest.approx(51.1801, abs=1e-4)
        assert r.rejected >= 1  # the noise was counted, and the stream went on
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        port.close()


def test_the_photos_position_is_the_fix_when_fresh_else_the_configured_one() -> None:
    from app.lane.cameras import Cameras
    from app.lane.photos import Place
    from drivers.gnss import Fix

    cams = Cameras.__new__(Cameras)
    cams.photos = type("P", (), {"place": Place(1.0, 2.0)})()  # type: ignore[assignment]
    cams.gnss = None
    assert cams.place() == Place(1.0, 2.0, "config")
    cams.gnss = Receiver("/dev/null")
    cams.gnss.fix = Fix(51.5, 71.5, time.monotonic())
    assert cams.place() == Place(51.5, 71.5, "gnss")
    cams.gnss.fix = Fix(51.5, 71.5, time.monotonic() - 60)  # an old fix: the receiver lost it
    assert cams.place().source == "config"
