"""One driver for every profile: the family codec frames the bytes, the profile's tables turn
frames into readings. Streaming devices (JX) are read as they talk; request/response devices are
polled, one request in flight per port, with commands from the lane queued between polls."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator

import serial_asyncio

from drivers.base import Device, DeviceError, Event, Identity, Reading
from drivers.families.codecs import Codec, Rejected, codec_for
from drivers.profile import Profile, Reply


def decode(
    device_id: str, profile: Profile, reply: Reply, frame: bytes, ts: float
) -> list[Reading | Event] | str:
    """Readings and events of one recognised frame, or the reason it is refused."""
    out: list[Reading | Event] = []
    for f in reply.fields:
        value = f.decode(frame)
        if isinstance(value, str):
            return value
        if value is not None:
            out.append(Reading(device_id, f.channel, value, f.unit, ts, frame, f.final))
    if reply.event:
        out.append(Event(device_id, reply.event, ts))
    return out


def parse_identity_text(text: str | None) -> Identity | None:
    if not text:
        return None
    parts = text.split(";")
    if len(parts) != 3 or not all(p.strip() for p in parts):
        return None
    return Identity(*(p.strip() for p in parts))


class ProfileDevice(Device):
    def __init__(self, device_id: str, port: str, profile: Profile) -> None:
        super().__init__(device_id, port, profile)
        self.codec: Codec = codec_for(profile)
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._queue: asyncio.Queue[str] = asyncio.Queue()
        self._early: list[bytes] = []

    async def connect(self) -> None:
        self.codec = codec_for(self.profile)
        self._early.clear()
        self._reader, self._writer = await serial_asyncio.open_serial_connection(
            url=self.port, baudrate=self.profile.baudrate
        )

    async def _write(self, data: bytes) -> None:
        if self._writer is None:
            raise DeviceError("not connected")
        self._writer.write(data)
        await self._writer.drain()

    async def _read(self) -> list[bytes]:
        assert self._reader is not None
        data = await self._reader.read(512)
        if not data:
            raise OSError(f"{self.port}: end of stream")
        good = []
        for item in self.codec.feed(data):
            if isinstance(item, Rejected):
                self.log.rejected(item.raw, item.reason)
            else:
                good.append(item)
        return good

    async def _ask(self, name: str) -> list[bytes]:
        """Send a command; with a request/response family, wait for its one reply."""
        answer = self.profile.answers.get(name)
        self.codec.expect(answer)
        await self._write(self.codec.command(name))
        if answer is None or self.profile.family == "jx":
            return []
        deadline = time.monotonic() + self.profile.reply_timeout_s
        while time.monotonic() < deadline:
            try:
                async with asyncio.timeout(deadline - time.monotonic()):
                    frames = await self._read()
            except TimeoutError:
                break
            if frames:
                return frames
        self.codec.expect(None)
        self.log.rejected(b"", f"no reply to '{name}'")
        return []

    async def identify(self) -> Identity:
        if "identify" not in self.profile.commands:
            raise DeviceError(f"profile {self.profile.name} has no identity query")
        frames = await self._ask("identify")
        deadline = time.monotonic() + 2.0
        while True:
            for f in frames:
                ident = parse_identity_text(self.codec.identity_text(f))
                if ident is not None:
                    self.log.identity(f, ident.model, ident.serial)
                    return ident
                self._early.append(f)
            if time.monotonic() >= deadline or self.profile.family != "jx":
                break
            try:
                async with asyncio.timeout(deadline - time.monotonic()):
                    frames = await self._read()
            except TimeoutError:
                break
        raise DeviceError("the device did not answer the identity query")

    def _decoded(self, frames: list[bytes]) -> list[Reading | Event]:
        out: list[Reading | Event] = []
        now = time.time()
        for f in frames:
            reply = self.codec.classify(f)
            if reply is None:
                self.log.rejected(f, "unknown frame")
                continue
            items = decode(self.device_id, self.profile, reply, f, now)
            if isinstance(items, str):
                self.log.rejected(f, items)
                continue
            readings = [i for i in items if isinstance(i, Reading)]
            if readings:
                self.log.readings(f, readings)
            else:  # an acknowledgement, an end of test: said by its name
                self.log.ok(f, " ".join(i.name for i in items) or reply.name, (("reply", reply.name),))
            out += items
        return out

    async def frames(self) -> AsyncIterator[Reading | Event]:
        early, self._early = self._early, []
        for item in self._decoded(early):
            yield item
        if self.profile.poll is None:  # a streaming device talks by itself
            while True:
                for item in self._decoded(await self._read()):
                    yield item
        while True:
            name = self._queue.get_nowait() if not self._queue.empty() else self.profile.poll
            for item in self._decoded(await self._ask(name)):
                yield item
            if self._queue.empty():
                await asyncio.sleep(self.profile.poll_interval_s)

    async def command(self, name: str) -> None:
        if name not in self.profile.commands:
            raise DeviceError(f"command '{name}' is not in profile {self.profile.name}")
        if self.profile.poll is None:
            self.codec.expect(self.profile.answers.get(name))  # an on-demand stand answers this
            await self._write(self.codec.command(name))
        else:
            self._queue.put_nowait(name)  # sent by the polling loop: one request in flight

    async def close(self) -> None:
        if self._writer is not None:
            with contextlib.suppress(Exception):
                self._writer.close()
        self._reader = self._writer = None
