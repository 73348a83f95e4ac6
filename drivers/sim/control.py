"""Faults on command: a running simulator listens on a small Unix socket for one-line orders, so a
technician, the demo or a test can break a stand while the lane runs
(``otolane sim fault CONTROL stuck on``).

Orders (one per line; the reply is ``ok …`` or ``error …``):

* ``garble SHARE`` — corrupt that share (0–1) of the frames (bad checksum, garbage, truncation);
* ``stuck on|off`` — the live values freeze at what they are now (a stuck sensor);
* ``slow SECONDS|off`` — one frame every SECONDS (a slow line; streaming stands);
* ``serial TEXT`` — answer the next identity query with another serial (a swapped stand);
* ``pull SECONDS`` — unplug the cable for that long;
* ``clear`` — all of the above back to normal;
* ``status`` — what is injected now.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import re
import signal
from pathlib import Path
from typing import Any, Protocol

from drivers.sim.pty import PtyPort, TcpPort


class Breakable(Protocol):
    """What a simulator offers to the control socket."""

    garble: float
    stuck: bool
    rate: float

    def set_serial(self, serial: str) -> None: ...

    def pull(self, seconds: float) -> None: ...


def _numeric(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def apply(sim: Breakable, line: str, normal_rate: float) -> str:
    """Carry out one order on ``sim``; the reply says what was done, or what was wrong."""
    words = line.split()
    if not words:
        return "error: empty order"
    order, args = words[0].lower(), words[1:]
    if any(not math.isfinite(float(a)) for a in args if _numeric(a)):
        return f"error: '{' '.join(args)}' is not a finite number"
    try:
        if order == "garble" and len(args) == 1:
            share = float(args[0])
            if not 0.0 <= share <= 1.0:
                return "error: garble takes a share between 0 and 1"
            sim.garble = share
        elif order == "stuck" and args in (["on"], ["off"]):
            sim.stuck = args[0] == "on"
        elif order == "slow" and len(args) == 1:
            if args[0] == "off":
                sim.rate = normal_rate
            else:
                seconds = float(args[0])
                if seconds <= 0:
                    return "error: slow takes seconds > 0, or off"
                sim.rate = 1.0 / seconds
        elif order == "serial" and len(args) == 1:
            if not re.fullmatch(r"[A-Za-z0-9._-]{1,32}", args[0]):
                return "error: a serial is 1-32 letters, digits, '.', '_' or '-'"
            sim.set_serial(args[0])
        elif order == "pull" and len(args) == 1:
            seconds = float(args[0])
            if not 0 < seconds <= 3600:
                return "error: pull takes seconds between 0 and 3600"
            sim.pull(seconds)
        elif order == "clear" and not args:
            sim.garble, sim.stuck, sim.rate = 0.0, False, normal_rate
        elif order == "status" and not args:
            pass
        else:
            return f"error: unknown order '{line.strip()}' (garble, stuck, slow, serial, pull, clear, status)"
    except ValueError:
        return f"error: '{' '.join(args)}' is not a number"
    except NotImplementedError as exc:
        return f"error: {exc}"
    return f"ok garble={sim.garble:g} stuck={'on' if sim.stuck else 'off'} rate={sim.rate:g}/s"


class LineFaults:
    """The faults every simulator on a line (pty or TCP) can take; mixed into the simulators."""

    port: PtyPort | TcpPort
    identity: str  # "model;serial;firmware"
    stuck: bool = False

    def set_serial(self, serial: str) -> None:
        model, _, firmware = self.identity.split(";")
        self.identity = f"{model};{serial};{firmware}"

    def pull(self, seconds: float) -> None:
        self.port.unplug()
        asyncio.get_running_loop().call_later(seconds, self.port.replug)


async def serve_control(path: str | os.PathLike[str], sim: Breakable) -> asyncio.AbstractServer:
    """Listen on a Unix socket (0600: faults are for the one who runs the simulator)."""
    normal_rate = sim.rate
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileNotFoundError):
        path.unlink()

    async def client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while line := await reader.readline():
                writer.write((apply(sim, line.decode("utf-8", "replace"), normal_rate) + "\n").encode())
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_unix_server(client, path=str(path))
    os.chmod(path, 0o600)
    return server


async def send_order(path: str, order: str, timeout: float = 5.0) -> str:
    """``otolane sim fault``: one order to a running simulator, its reply."""
    async with asyncio.timeout(timeout):
        reader, writer = await asyncio.open_unix_connection(path)
        writer.write(order.strip().encode() + b"\n")
        await writer.drain()
        reply = await reader.readline()
        writer.close()
    return reply.decode().strip()


async def until_signal(
    sim: Any, *lines: PtyPort | TcpPort, control: str | os.PathLike[str] | None = None
) -> None:
    """Run a simulator until SIGTERM/SIGINT, then close its lines (``otolane sim …``); with
    ``control``, take fault orders on that Unix socket meanwhile (:mod:`drivers.sim.control`)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    server = await serve_control(control, sim) if control else None
    try:
        await sim.run(stop)
    finally:
        if server is not None:
            server.close()
        for line in lines:
            line.close()
