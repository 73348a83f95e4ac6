"""One simulator for every profile: it speaks the profile's family on a pseudo-terminal, answers its
commands, streams or answers live values from a vehicle scenario, runs a test when told to start,
and corrupts a share of its frames on demand (``garble``) for fault tests.

A scenario maps channels to values; a tuple gives one value per test, in order (the axles of a car on
the brake rollers). While a test runs, a live channel whose final ``<channel>.max`` is in the scenario
climbs towards it (a brake force ramping up), and when the test ends a stand that fetches its result
on command sends its end frame; the result command is not answered while a test runs.

Frames are built from the same :class:`~drivers.profile.Field` tables the driver decodes with.
"""

from __future__ import annotations

import asyncio
import random
import time

from drivers.families import jx
from drivers.families.codecs import IDENTITY_LEN, checksum_byte
from drivers.profile import Field, Profile, Reply
from drivers.sim.control import LineFaults, until_signal
from drivers.sim.faults import corrupt
from drivers.sim.pty import PtyPort, TcpPort, open_line


class ProfileSimulator(LineFaults):
    def __init__(
        self,
        port: PtyPort | TcpPort,
        profile: Profile,
        scenario: dict[str, float | tuple[float, ...]],
        *,
        serial: str = "SIM-0001",
        model: str | None = None,
        firmware: str = "1.0.0",
        rate: float = 10.0,
        speed: float = 1.0,
        test_s: float = 3.0,
        garble: float = 0.0,
        seed: int | None = None,
    ) -> None:
        self.port = port
        self.profile = profile
        self.scenario = dict(scenario)
        self.identity = f"{model or profile.model};{serial};{firmware}"
        self.rate = rate
        self.speed = speed
        self.test_s = test_s
        self.garble = garble
        self.rng = random.Random(seed)
        self._names = {v: k for k, v in profile.commands.items()}
        self._jx_in = jx.Decoder(frozenset({4}))
        self._inbuf = bytearray()
        self._test_started: float | None = None
        self.frames_sent = 0
        self._phase = 0
        self._held: dict[str, float] = {}
        self._tests = 0  # tests started so far: a tuple in the scenario gives one value per test
        self.tests_done = 0  # tests run to their end (a test waits on this, never on a sleep)

    # --- frames ------------------------------------------------------------------------
    def _scenario(self, channel: str) -> float:
        v = self.scenario.get(channel, 0.0)
        if isinstance(v, tuple):
            v = v[max(0, self._tests - 1) % len(v)]
        return float(v)

    def value(self, f: Field, live: bool) -> float:
        channel = f.channel
        v = self._scenario(channel)
        if live and self._test_started is not None and f"{channel}.max" in self.scenario:
            v = self._scenario(f"{channel}.max") * min(1.0, self._progress())
        if live and v:
            if self.stuck and channel in self._held:
                return self._held[channel]  # a frozen sensor repeats itself
            # Noise of 1 %, and never less than a count or so: a live sensor moves at the wire's resolution.
            v += self.rng.uniform(-1.0, 1.0) * max(0.01 * abs(v), 1.5 * f.resolution)
            self._held[channel] = v
        return v

    def _progress(self) -> float:
        if self._test_started is None:
            return 0.0
        return (time.monotonic() - self._test_started) * self.speed / self.test_s

    def build(self, reply: Reply, echo: int = 0, live: bool = True) -> bytes:
        p = self.profile
        if p.family == "ascii":
            f = reply.fields[0]
            return f.encode(self.value(f, live))
        frame = (
            bytearray(b"0" * reply.length) if p.family == "jx" or reply.fields else bytearray(reply.length)
        )
        frame[: len(reply.template)] = reply.template
        for f in reply.fields:
            frame[f.offset : f.offset + f.width] = f.encode(self.value(f, live and not f.final))
        if p.family == "jx":
            frame[0], frame[1] = jx.HEADER, reply.length
            frame[reply.kind_at] = reply.kind if reply.kind is not None else ord("T")
            for at, byte in reply.marks:
                frame[at] = byte
            frame[-1] = jx.checksum(bytes(frame[:-1]))
        else:
            if not reply.template:
                frame[0] = echo
            frame[-1:] = checksum_byte(bytes(frame[:-1]), p.reply_checksum)
        return bytes(frame)

    def identity_frame(self, echo: int) -> bytes:
        text = self.identity.encode("ascii")
        if self.profile.family == "jx":
            return jx.encode(b"I", text)
        if self.profile.family == "ascii":
            return text + b"\r"
        body = bytes([echo]) + text[: IDENTITY_LEN - 2].ljust(IDENTITY_LEN - 2, b"\x00")
        return body + checksum_byte(body, self.profile.reply_checksum)

    def send(self, frame: bytes, corruptible: bool = True) -> None:
        if corruptible and self.garble and self.rng.random() < self.garble:
            frame = corrupt(frame, self.rng, has_checksum=self.profile.family != "ascii")
        if self.port.write(frame):
            self.frames_sent += 1

    # --- commands ----------------------------------------------------------------------
    def _commands(self) -> list[tuple[str, int]]:
        data = self.port.read()
        if not data:
            return []
        if self.profile.family == "jx":
            return [
                (self._names.get(bytes([f.kind]), ""), f.kind)
                for f in self._jx_in.feed(data)
                if isinstance(f, jx.Frame)
            ]
        self._inbuf += data
        out = []
        extra = 0 if self.profile.command_checksum == "none" else 1
        size = max(len(c) for c in self.profile.commands.values())  # one length per profile
        while len(self._inbuf) >= size + extra:
            cmd = bytes(self._inbuf[:size])
            del self._inbuf[: size + extra]
            out.append((self._names.get(cmd, ""), cmd[0]))
        return out

    def on_command(self, name: str, byte: int) -> None:
        p = self.profile
        if name == "identify":
            self.send(self.identity_frame(byte), corruptible=False)
            return
        if p.family == "jx":
            self.send(jx.encode(bytes([byte])), corruptible=False)
        if name == p.start:
            self._test_started = time.monotonic()
            self._tests += 1
        answer = p.answers.get(name)
        if name == p.result and self._test_started is not None:
            return  # no result while the test runs: never an earlier test's
        if name == p.result or (p.family != "jx" and answer == "result"):
            self.send(self.build(p.reply("result"), byte, live=False))
        elif answer == "ack":
            body = bytes([byte])
            self.send(body + checksum_byte(body, p.reply_checksum), corruptible=False)
        elif answer is not None and p.family != "jx":
            self.send(self.build(p.reply(answer), byte))

    # --- time ----------------------------------------------------------------------------
    def tick(self) -> None:
        for name, byte in self._commands():
            self.on_command(name, byte)
        p = self.profile
        if self._test_started is not None and self._progress() >= 1.0:
            self._test_started = None
            self.tests_done += 1
            if p.family == "jx" and p.result is None:  # the device reports its result itself
                self.send(self.build(p.reply("result"), live=False))
            elif p.family == "jx" and any(r.name == "end" for r in p.replies):
                self.send(self.build(p.reply("end"), live=False))  # fetch the result now
        if p.family != "jx":
            return  # request/response devices speak only when asked
        live = [r for r in p.replies if r.fields and not any(f.final for f in r.fields)]
        if live:
            self._phase = (self._phase + 1) % len(live)
            self.send(self.build(live[self._phase]))

    async def run(self, stop: asyncio.Event) -> None:
        next_at = time.monotonic()
        while not stop.is_set():
            self.tick()
            next_at += 1.0 / self.rate  # read each time: a line can slow down
            delay = next_at - time.monotonic()
            if delay < -1.0:  # far behind (a slow line just ended, a busy host): start afresh
                next_at = time.monotonic()
            try:
                async with asyncio.timeout(max(delay, 0.0)):  # on schedule: no drift from tick's own time
                    await stop.wait()
            except TimeoutError:
                pass


async def serve(
    link: str, profile: Profile, scenario: dict[str, float], control: str | None = None, **kwargs: object
) -> None:
    """Run a simulator on a new line at ``link`` (a pty path or tcp:HOST:PORT) until SIGTERM/SIGINT."""
    port = open_line(link)
    # Streaming stands talk at 10 frames/s; request/response stands answer within a few ms.
    kwargs.setdefault("rate", 10.0 if profile.family == "jx" else 200.0)
    sim = ProfileSimulator(port, profile, scenario, **kwargs)  # type: ignore[arg-type]
    await until_signal(sim, port, control=control)
