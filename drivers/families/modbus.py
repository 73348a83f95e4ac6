"""Protocol family F6: Modbus RTU on a serial line, or Modbus TCP when the port is
``socket://host:port``, through pymodbus (reference §3.1: use a maintained library rather
than hand-rolled CRC and timing). Input registers are polled as one block; the block, as big-endian
bytes, is decoded by the profile's field table (float32 = two registers, high word first). Identity
comes from the standard "read device identification" function (0x2B/0x0E): ModelName, ProductCode
(the serial number) and MajorMinorRevision (the firmware)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator

from pymodbus.client import AsyncModbusSerialClient, AsyncModbusTcpClient
from pymodbus.exceptions import ModbusException

from drivers.base import Device, DeviceError, Event, Identity, Reading
from drivers.profile import Profile

MODEL, SERIAL, FIRMWARE = 0x05, 0x01, 0x02


def registers_to_bytes(registers: list[int]) -> bytes:
    return b"".join(int(r).to_bytes(2, "big") for r in registers)


def bytes_to_registers(data: bytes) -> list[int]:
    return [int.from_bytes(data[i : i + 2], "big") for i in range(0, len(data), 2)]


class ModbusDevice(Device):
    def __init__(self, device_id: str, port: str, profile: Profile) -> None:
        super().__init__(device_id, port, profile)
        self._client: AsyncModbusSerialClient | AsyncModbusTcpClient | None = None

    async def connect(self) -> None:
        # Reconnecting is the supervisor's job (with its back-off): pymodbus must not retry on its own.
        if self.port.startswith("socket://"):  # a networked stand: Modbus TCP (MBAP header, no CRC)
            host, _, number = self.port.removeprefix("socket://").rpartition(":")
            self._client = AsyncModbusTcpClient(
                host, port=int(number), timeout=self.profile.reply_timeout_s, retries=0, reconnect_delay=0
            )
        else:
            self._client = AsyncModbusSerialClient(
                self.port,
                baudrate=self.profile.baudrate,
                timeout=self.profile.reply_timeout_s,
                retries=0,
                reconnect_delay=0,
            )
        if not await self._client.connect():
            raise OSError(f"{self.port}: cannot open")

    def _need(self) -> AsyncModbusSerialClient | AsyncModbusTcpClient:
        if self._client is None or not self._client.connected:
            raise OSError(f"{self.port}: not connected")
        return self._client

    async def identify(self) -> Identity:
        try:
            rr = await self._need().read_device_information(read_code=0x02, device_id=self.profile.unit)
        except ModbusException as exc:
            raise DeviceError(f"no device identification: {exc}") from None
        if rr.isError():
            raise DeviceError("the device refused the identification request")
        info = {
            k: (v.decode("ascii", "replace") if isinstance(v, bytes) else str(v))
            for k, v in rr.information.items()
        }
        if not info.get(SERIAL) or not info.get(MODEL):
            raise DeviceError("the device identification has no model or serial")
        ident = Identity(info[MODEL], info[SERIAL], info.get(FIRMWARE, ""))
        self.log.identity(b"", ident.model, ident.serial)
        return ident

    async def frames(self) -> AsyncIterator[Reading | Event]:
        start, count = self.profile.registers
        reply = self.profile.replies[0]
        while True:
            try:
                rr = await self._need().read_input_registers(start, count=count, device_id=self.profile.unit)
            except ModbusException as exc:
                if not self._need().connected:
                    raise OSError(f"{self.port}: {exc}") from None
                self.log.rejected(b"", f"no valid reply: {exc}")
            else:
                if rr.isError():
                    self.log.rejected(b"", f"exception response {rr}")
                else:
                    frame = registers_to_bytes(rr.registers)
                    now = time.time()
                    out: list[Reading] = []
                    for f in reply.fields:
                        value = f.decode(frame)
                        if isinstance(value, str):
                            self.log.rejected(frame, value)
                            out = []
                            break
                        if value is not None:
                            out.append(Reading(self.device_id, f.channel, value, f.unit, now, frame, f.final))
                    if out:
                        self.log.readings(frame, out)
                    for r in out:
                        yield r
            await asyncio.sleep(self.profile.poll_interval_s)

    async def command(self, name: str) -> None:
        raise DeviceError(f"profile {self.profile.name} takes no commands")

    async def close(self) -> None:
        if self._client is not None:
            with contextlib.suppress(Exception):
                self._client.close()
        self._client = None
