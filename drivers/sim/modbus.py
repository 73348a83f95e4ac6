"""Modbus stand simulator. On a serial line (RTU): a pymodbus serial server behind a null modem of
two pseudo-terminals (the server opens one end by its path, the driver the other, like
``socat pty pty``). On ``tcp:HOST:PORT``: a Modbus TCP server, as a networked stand. Its input
registers hold the scenario's values, encoded by the profile's own field table; they move a little
at every read, as a live sensor does. Identity answers the standard 0x2B/0x0E request."""

from __future__ import annotations

import asyncio
import contextlib
import random
from typing import Any

from pymodbus import FramerType, ModbusDeviceIdentification
from pymodbus.server import ModbusSerialServer, ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice

from drivers.families.modbus import bytes_to_registers
from drivers.profile import Profile
from drivers.sim.control import until_signal
from drivers.sim.pty import PtyPort


class NullModem:
    """Two ptys joined back to back: bytes written on one end come out of the other.

    ``garble`` is the share of *answers* with a flipped bit. The decision is taken once per answer
    (at its first chunk after a request), not per chunk read: a loaded machine splits an answer
    into more chunks, which would otherwise raise the share behind the test's back."""

    def __init__(self, link: Any, rng: random.Random | None = None) -> None:
        self.device_end = PtyPort()
        self.lane_end = PtyPort(link)
        self.garble = 0.0
        self.garble_next = 0  # so many next answers garbled, whatever the share (a burst of noise)
        self.rng = rng or random.Random()
        self.answer_due = False
        loop = asyncio.get_running_loop()
        loop.add_reader(self.device_end.master, self._pump, self.device_end, self.lane_end, True)
        loop.add_reader(self.lane_end.master, self._pump, self.lane_end, self.device_end, False)

    def _pump(self, src: PtyPort, dst: PtyPort, from_device: bool) -> None:
        data = src.read()
        if not data:
            return
        if not from_device:
            self.answer_due = True
        elif self.answer_due:
            self.answer_due = False
            burst, self.garble_next = self.garble_next > 0, max(0, self.garble_next - 1)
            if burst or (self.garble and self.rng.random() < self.garble):
                data = bytes(
                    b ^ 0x21 if i == len(data) // 2 else b for i, b in enumerate(data)
                )  # a bit flips
        dst.write(data)

    def close(self) -> None:
        loop = asyncio.get_running_loop()
        for p in (self.device_end, self.lane_end):
            with contextlib.suppress(Exception):
                loop.remove_reader(p.master)
            p.close()


def registers_for(
    profile: Profile, scenario: dict[str, float], rng: random.Random | None = None
) -> list[int]:
    reply = profile.replies[0]
    frame = bytearray(profile.registers[1] * 2)
    for f in reply.fields:
        v = scenario.get(f.channel, 0.0)
        if rng is not None and v:
            v *= 1 + rng.uniform(-0.01, 0.01)
        frame[f.offset : f.offset + f.width] = f.encode(v)
    return bytes_to_registers(bytes(frame))


class ModbusSimulator:
    def __init__(
        self,
        link: Any,
        profile: Profile,
        scenario: dict[str, float],
        *,
        serial: str = "SIM-0001",
        model: str | None = None,
        firmware: str = "1.0.0",
        garble: float = 0.0,
        seed: int | None = None,
        **_: object,
    ) -> None:
        self.profile = profile
        self.scenario = scenario
        self.rng = random.Random(seed)
        self.modem = None if str(link).startswith("tcp:") else NullModem(link, self.rng)
        self.garble = garble
        ident = ModbusDeviceIdentification(
            info_name={
                "ModelName": model or profile.model,
                "ProductCode": serial,
                "MajorMinorRevision": firmware,
            }
        )
        start, count = profile.registers
        device = SimDevice(
            id=profile.unit,
            simdata=[SimData(start, count=count, datatype=DataType.REGISTERS)],
            identity=ident,
            action=self._action,
        )
        self.server: ModbusSerialServer | ModbusTcpServer
        if self.modem is None:
            host, _, number = str(link).removeprefix("tcp:").rpartition(":")
            self.server = ModbusTcpServer(
                device,
                framer=FramerType.SOCKET,
                identity=ident,
                address=(host or "127.0.0.1", int(number)),
                trace_packet=self._trace,
            )
        else:
            self.server = ModbusSerialServer(
                device,
                framer=FramerType.RTU,
                identity=ident,
                port=self.modem.device_end.path,
                baudrate=profile.baudrate,
            )

    def _trace(self, sending: bool, data: bytes) -> bytes:
        """Modbus TCP: a share of malformed answers (a bad MBAP protocol id). TCP's own checksum
        keeps the line clean, and Modbus TCP has no CRC, so a flipped data bit would be a wrong
        value no one could see — what a faulty stand sends is a malformed frame."""
        if sending and len(data) > 2 and self._garble and self.rng.random() < self._garble:
            return data[:2] + bytes([data[2] ^ 0x21]) + data[3:]
        return data

    async def _action(
        self,
        function_code: int,
        start_address: int,
        address: int,
        count: int,
        current_registers: list[int],
        set_values: Any,
    ) -> None:
        if function_code == 4 and not self.stuck:  # a live sensor: each read shows the value now
            current_registers[:] = registers_for(self.profile, self.scenario, self.rng)[
                : len(current_registers)
            ]

    # --- faults on command (drivers.sim.control) -------------------------------------------
    stuck = False
    rate = 0.0  # answers when asked: no rate of its own

    _garble = 0.0

    @property
    def garble(self) -> float:
        return self._garble

    @garble.setter
    def garble(self, share: float) -> None:
        self._garble = share
        if self.modem is not None:
            self.modem.garble = share

    def set_serial(self, serial: str) -> None:
        raise NotImplementedError("the Modbus simulator keeps its identity; start another one")

    def pull(self, seconds: float) -> None:
        raise NotImplementedError("the Modbus simulator cannot pull its cable; stop it instead")

    async def run(self, stop: asyncio.Event) -> None:
        await self.server.serve_forever(background=True)
        try:
            await stop.wait()
        finally:
            await self.server.shutdown()
            if self.modem is not None:
                self.modem.close()


async def serve(
    link: str, profile: Profile, scenario: dict[str, float], control: str | None = None, **kwargs: object
) -> None:
    """Run a Modbus stand on a new pty linked at ``link`` until SIGTERM/SIGINT."""
    await until_signal(ModbusSimulator(link, profile, scenario, **kwargs), control=control)
