"""The supervisor stops when it is told to, even when a library swallowed the cancel.

Python 3.11's ``asyncio.wait_for`` (pymodbus awaits every answer with it) returns an answer that
arrives together with a cancel and drops the cancel (CPython gh-86296). CI once hung 300 s on it.
The daemon cancels every stand's supervisor when it stops — at shutdown and when an update restarts
it (R3.14) — so a supervisor that goes on would hang the stop until systemd kills the daemon.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from drivers.base import Device, Identity, Reading, supervise
from drivers.registry import PROFILES


class _Swallowing(Device):
    """A device whose awaited step drops one cancel, as 3.11's wait_for does in its race."""

    def __init__(self, where: str) -> None:
        super().__init__("swallow", "/dev/null", PROFILES["modbus-tread-gauge"])
        self.where = where
        self.entered = asyncio.Event()
        self.closed = 0

    async def _step(self, name: str) -> None:
        if name != self.where:
            return
        self.entered.set()
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            return  # the answer "arrived" with the cancel: wait_for returned it

    async def connect(self) -> None:
        await self._step("connect")

    async def identify(self) -> Identity:
        await self._step("identify")
        return Identity("M", "S", "1")

    async def frames(self) -> AsyncIterator[Reading]:
        while True:
            await self._step("frames")
            yield Reading(self.device_id, "tyre.depth", 5.0, "mm", 0.0, b"")
            await asyncio.sleep(0.01)

    async def command(self, name: str) -> None:
        return None

    async def close(self) -> None:
        self.closed += 1


@pytest.mark.parametrize("where", ["connect", "identify", "frames"])
async def test_a_cancel_a_driver_swallowed_still_stops_the_supervisor(where: str) -> None:
    """R3.14: a supervisor told to stop stops and closes its device, whatever the driver did."""
    dev = _Swallowing(where)
    task = asyncio.create_task(supervise(dev, lambda _item: None, stale_after=5.0))
    await asyncio.wait_for(dev.entered.wait(), 5)
    task.cancel()
    done, _ = await asyncio.wait({task}, timeout=5)
    assert task in done, f"the supervisor went on after a cancel swallowed in {where}"
    assert task.cancelled()
    assert dev.closed >= 1
