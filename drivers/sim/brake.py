"""Roller brake tester simulator: speaks the JX profile's bytes on a pseudo-terminal.

It streams process frames at ``rate`` per second (idle rollers show a small drag force), answers the
identity, zero, start and result commands, and runs one axle of its scenario per start command:
forces ramp up over ``ramp_s`` seconds of lane time, then the end marker frame is sent.
``garble`` is the share of frames sent corrupted (bad checksum, garbage, truncation) for fault tests.
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass

from drivers.brake.profiles import JX_BRAKE, BrakeProfile
from drivers.families import jx
from drivers.sim.control import LineFaults
from drivers.sim.faults import corrupt
from drivers.sim.pty import PtyPort, TcpPort, open_line, until_signal


@dataclass(frozen=True)
class Axle:
    left_kn: float
    right_kn: float
    load_left_kg: int
    load_right_kg: int


SCENARIOS: dict[str, list[Axle]] = {
    "good": [Axle(3.42, 3.38, 520, 510), Axle(2.10, 2.02, 380, 372)],
    "weak-rear": [Axle(3.40, 3.31, 520, 510), Axle(2.05, 1.21, 380, 372)],
}


class BrakeSimulator(LineFaults):
    def __init__(
        self,
        port: PtyPort | TcpPort,
        *,
        profile: BrakeProfile = JX_BRAKE,
        serial: str = "2231-0457",
        model: str = "BT-4000",
        firmware: str = "3.2.1",
        scenario: str = "good",
        rate: float = 10.0,
        speed: float = 1.0,
        ramp_s: float = 3.0,
        garble: float = 0.0,
        seed: int | None = None,
    ) -> None:
        self.port = port
        self.profile = profile
        self.identity = f"{model};{serial};{firmware}"
        self.axles = SCENARIOS[scenario]
        self.rate = rate
        self.speed = speed
        self.ramp_s = ramp_s
        self.garble = garble
        self.rng = random.Random(seed)
        self._inbuf = jx.Decoder(frozenset({4}))
        self._axle = 0
        self._test_started: float | None = None
        self._last: Axle | None = None
        self.frames_sent = 0
        self.frames_garbled = 0
        self._last_process = b""
        self._chars = {v: k for k, v in profile.commands.items()}

    # --- what the device sends -------------------------------------------------
    def _scale(self, kn: float) -> int:
        return round(kn / self.profile.force_scale)

    def process_frame(self, left_kn: float, right_kn: float) -> bytes:
        frame = jx.encode(b"T", jx.digits(self._scale(left_kn)) + jx.digits(self._scale(right_kn)))
        self._last_process = frame
        return frame

    def end_frame(self) -> bytes:
        return jx.encode(b"E", b"000E000E")

    def result_frame(self, axle: Axle) -> bytes:
        payload = (
            jx.digits(self._scale(axle.left_kn))
            + jx.digits(self._scale(axle.right_kn))
            + jx.digits(axle.load_left_kg)
            + jx.digits(axle.load_right_kg)
        )
        return jx.encode(b"R", payload)

    def _send(self, frame: bytes) -> None:
        if self.garble and self.rng.random() < self.garble:
            frame = corrupt(frame, self.rng)
            self.frames_garbled += 1
        if self.port.write(frame):
            self.frames_sent += 1

    # --- what the device hears ----------------------------------------------
    def on_command(self, char: bytes) -> None:
        name = self._chars.get(char)
        if name == "identify":
            self.port.write(jx.encode(b"I", self.identity.encode("ascii")))
            return
        self.port.write(jx.encode(char))  # 4-byte acknowledgement echoes the command
        if name == "start":
            self._test_started = time.monotonic()
            self._last = None  # no result until this test ends: never an earlier axle's
        elif name == "result" and self._last is not None:
            self._send(self.result_frame(self._last))

    def _poll_commands(self) -> None:
        data = self.port.read()
        if not data:
            return
        for item in self._inbuf.feed(data):
            if isinstance(item, jx.Frame):
                self.on_command(bytes([item.kind]))

    def tick(self) -> None:
        """One frame period: answer commands, then stream the live values."""
        self._poll_commands()
        if self.stuck and self._last_process:
            self._send(self._last_process)  # a frozen sensor repeats its last value
            return
        if self._test_started is None:
            drag = 0.05 + self.rng.random() * 0.05
            self._send(self.process_frame(drag, drag * 0.97))
            return
        axle = self.axles[self._axle % len(self.axles)]
        progress = (time.monotonic() - self._test_started) * self.speed / self.ramp_s
        if progress >= 1.0:
            self._send(self.end_frame())
            self._last = axle
            self._axle += 1
            self._test_started = None
            return
        k = progress + self.rng.uniform(-0.01, 0.01)
        self._send(self.process_frame(axle.left_kn * k, axle.right_kn * k))

    async def run(self, stop: asyncio.Event) -> None:
        next_at = time.monotonic()
        while not stop.is_set():
            self.tick()
            next_at += 1.0 / self.rate  # read each time: a test may slow the line down
            delay = next_at - time.monotonic()
            if delay < -1.0:
                next_at = time.monotonic()
            try:
                async with asyncio.timeout(max(delay, 0.0)):
                    await stop.wait()
            except TimeoutError:
                pass


async def serve(link: str, control: str | None = None, **kwargs: object) -> None:
    """Run a simulator on a new line at ``link`` (a pty path or tcp:HOST:PORT) until SIGTERM/SIGINT."""
    port = open_line(link)
    await until_signal(BrakeSimulator(port, **kwargs), port, control=control)  # type: ignore[arg-type]
