"""Roller brake tester over the JX frame family (F3), on a serial port through pyserial-asyncio."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator

import serial_asyncio

from drivers.base import Device, DeviceError, Event, Identity, Reading
from drivers.brake.profiles import BrakeProfile
from drivers.families import jx

FORCE_LEFT = "brake.force.left"
FORCE_RIGHT = "brake.force.right"
MAX_LEFT = "brake.force.left.max"
MAX_RIGHT = "brake.force.right.max"
LOAD_LEFT = "brake.wheel_load.left"
LOAD_RIGHT = "brake.wheel_load.right"


def decode_frame(
    device_id: str, profile: BrakeProfile, frame: jx.Frame, ts: float
) -> list[Reading | Event] | str:
    """Readings or an event from one well-formed frame, or the reason it means nothing to us."""
    raw = frame.raw
    n = len(raw)
    if n == 4:
        return [Event(device_id, f"ack:{chr(frame.kind)}", ts)]
    if n == 12:
        if raw[2] == raw[6] == raw[10] == profile.end_marker:
            return [Event(device_id, "test_end", ts)]
        left, right = frame.field(3), frame.field(7)
        if left is None or right is None:
            return "process frame: fields are not digits"
        s = profile.force_scale
        return [
            Reading(device_id, FORCE_LEFT, round(left * s, 4), profile.force_unit, ts, raw),
            Reading(device_id, FORCE_RIGHT, round(right * s, 4), profile.force_unit, ts, raw),
        ]
    if n == 20:
        fields = [frame.field(o) for o in (3, 7, 11, 15)]
        if any(f is None for f in fields):
            return "result frame: fields are not digits"
        left, right, load_l, load_r = (int(f) for f in fields)  # type: ignore[arg-type]
        s, w = profile.force_scale, profile.load_scale
        return [
            Reading(device_id, MAX_LEFT, round(left * s, 4), profile.force_unit, ts, raw, True),
            Reading(device_id, MAX_RIGHT, round(right * s, 4), profile.force_unit, ts, raw, True),
            Reading(device_id, LOAD_LEFT, round(load_l * w, 2), "kg", ts, raw, True),
            Reading(device_id, LOAD_RIGHT, round(load_r * w, 2), "kg", ts, raw, True),
        ]
    return f"unexpected frame length {n}"


def parse_identity(frame: jx.Frame) -> Identity | None:
    if frame.kind != ord("I"):
        return None
    try:
        parts = frame.payload.decode("ascii").split(";")
    except UnicodeDecodeError:
        return None
    if len(parts) != 3 or not all(parts):
        return None
    return Identity(*parts)


class JXBrakeTester(Device):
    kind = "brake"

    def __init__(self, device_id: str, port: str, profile: BrakeProfile) -> None:
        super().__init__(device_id)
        self.port = port
        self.profile = profile
        self.frozen_after = profile.frozen_after_s
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._decoder = jx.Decoder(profile.lengths)
        self._pending: list[jx.Frame] = []

    async def connect(self) -> None:
        self._decoder = jx.Decoder(self.profile.lengths)
        self._pending.clear()
        self._reader, self._writer = await serial_asyncio.open_serial_connection(
            url=self.port, baudrate=self.profile.baudrate
        )

    async def _read_frames(self) -> list[jx.Frame]:
        assert self._reader is not None
        data = await self._reader.read(512)
        if not data:
            raise OSError(f"{self.port}: end of stream")
        good: list[jx.Frame] = []
        for item in self._decoder.feed(data):
            if isinstance(item, jx.Rejected):
                self.log.rejected(item.raw, item.reason)
            else:
                good.append(item)
        return good

    async def _send(self, name: str) -> None:
        if self._writer is None:
            raise DeviceError("not connected")
        try:
            char = self.profile.commands[name]
        except KeyError:
            raise DeviceError(f"command '{name}' is not in profile {self.profile.name}") from None
        body = bytes([jx.HEADER, 4]) + char
        self._writer.write(body + bytes([jx.checksum(body)]))
        await self._writer.drain()

    async def identify(self) -> Identity:
        await self._send("identify")
        deadline = time.monotonic() + 2.0
        while time.monotonic() < deadline:
            try:
                async with asyncio.timeout(deadline - time.monotonic()):
                    frames = await self._read_frames()
            except TimeoutError:
                break
            for f in frames:
                ident = parse_identity(f)
                if ident is not None:
                    self.log.ok(f.raw, f"identity {ident.model} s/n {ident.serial}")
                    return ident
                self._pending.append(f)
        raise DeviceError("the device did not answer the identity query")

    async def frames(self) -> AsyncIterator[Reading | Event]:
        while True:
            pending, self._pending = self._pending, []
            if not pending:
                pending = await self._read_frames()
            now = time.time()
            for f in pending:
                decoded = decode_frame(self.device_id, self.profile, f, now)
                if isinstance(decoded, str):
                    self.log.rejected(f.raw, decoded)
                    continue
                self.log.ok(f.raw, _describe(decoded))
                for item in decoded:
                    yield item

    async def command(self, name: str) -> None:
        await self._send(name)

    async def close(self) -> None:
        if self._writer is not None:
            with contextlib.suppress(Exception):
                self._writer.close()
        self._reader = self._writer = None


def _describe(items: list[Reading | Event]) -> str:
    parts = []
    for it in items:
        if isinstance(it, Reading):
            parts.append(f"{it.channel.rsplit('.', 1)[-1]}={it.value:g}")
        else:
            parts.append(it.name)
    return " ".join(parts)
