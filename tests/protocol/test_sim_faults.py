"""Faults on command, each seen by the real driver over the real line (issue #4): a stuck sensor on a
polled stand and on a Modbus stand, a pulled cable with another serial behind it, a slow line.
The orders go through the simulator's control socket, as `otolane sim fault` sends them."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from drivers.base import DeviceStatus, Reading, StatusChange
from drivers.sim.control import send_order, serve_control
from tests.protocol.test_profiles import Sink, _close, _pair
from tests.rig import wait_for


def statuses(sink: Sink) -> list[StatusChange]:
    return [i for i in sink if isinstance(i, StatusChange)]


@contextlib.asynccontextmanager
async def controlled(tmp_path: Path, name: str) -> AsyncIterator[tuple[Any, Any, Sink, str]]:
    """A profile's simulator and driver on a pty, the simulator taking orders on a control socket."""
    profile, sim, stop, sim_task, dev, sink, sup, port = await _pair(tmp_path, name)
    control = tmp_path / f"{name}.ctl"
    server = await serve_control(control, sim)
    try:
        yield sim, dev, sink, str(control)
    finally:
        server.close()
        await _close(stop, sim_task, sup, port)


async def _stuck_then_free(tmp_path: Path, name: str, channel: str) -> None:
    async with controlled(tmp_path, name) as (sim, dev, sink, control):
        dev.frozen_after = {channel: 1.0}  # the profile's rule, shortened for the test

        async def live() -> bool:
            return len(sink.readings(channel)) >= 5

        await wait_for(live, f"{name}: live {channel}")
        assert not any(s.status == DeviceStatus.STUCK for s in statuses(sink))  # noise is not a fault
        assert "stuck=on" in await send_order(control, "stuck on")

        async def stuck() -> StatusChange | None:
            return next((s for s in statuses(sink) if s.status == DeviceStatus.STUCK), None)

        change = await wait_for(stuck, f"{name}: stuck", timeout=15)
        assert change.reason.startswith(f"{channel} frozen at ")
        n = len(sink)
        assert "stuck=off" in await send_order(control, "stuck off")

        async def free() -> bool:
            return any(isinstance(i, StatusChange) and i.status == DeviceStatus.CONNECTED for i in sink[n:])

        await wait_for(free, f"{name}: moving again", timeout=15)


async def test_a_stuck_rpm_sensor_on_a_polled_gas_analyser_is_detected(tmp_path: Path) -> None:
    await _stuck_then_free(tmp_path, "nanhua-nha503", "engine.rpm")


async def test_a_stuck_register_on_a_modbus_stand_is_detected(tmp_path: Path) -> None:
    await _stuck_then_free(tmp_path, "modbus-steering-play", "steering.play")


async def test_a_pulled_cable_and_another_serial_behind_it(tmp_path: Path) -> None:
    """`pull` unplugs the line for a while; `serial` makes the stand answer its next identity query
    as another unit — the swapped stand the lane must refuse (R3.15)."""
    async with controlled(tmp_path, "tlch10-sideslip") as (sim, dev, sink, control):

        async def connected() -> bool:
            return any(s.identity is not None for s in statuses(sink))

        await wait_for(connected, "identified")
        assert (await send_order(control, "serial NEW-42")).startswith("ok")
        assert (await send_order(control, "pull 1.5")).startswith("ok")

        async def faulted() -> bool:
            return any(s.status == DeviceStatus.FAULTED for s in statuses(sink))

        await wait_for(faulted, "the pulled cable seen", timeout=15)

        async def new_serial() -> bool:
            return any(s.identity is not None and s.identity.serial == "NEW-42" for s in statuses(sink))

        await wait_for(new_serial, "the other serial after the cable is back", timeout=30)
        assert dev.log.reconnects >= 1


async def test_bad_orders_get_a_clear_answer(tmp_path: Path) -> None:
    async with controlled(tmp_path, "hy-sound") as (sim, dev, sink, control):
        for order, expected in (
            ("garble 2", "error: garble takes a share between 0 and 1"),
            ("slow -1", "error: slow takes seconds > 0, or off"),
            ("stuck maybe", "error: unknown order"),
            ("pull soon", "error: 'soon' is not a number"),
            ("", "error: empty order"),
        ):
            assert (await send_order(control, order)).startswith(expected), order
        assert (await send_order(control, "garble 0.5")).startswith("ok garble=0.5")
        assert (await send_order(control, "clear")).startswith("ok garble=0 stuck=off")
        assert oct(Path(control).stat().st_mode & 0o777) == "0o600"


async def test_a_slow_line_on_command_goes_stale_and_back(tmp_path: Path) -> None:
    async with controlled(tmp_path, "tlch10-sideslip") as (sim, dev, sink, control):

        async def live() -> bool:
            return any(isinstance(i, Reading) for i in sink)

        await wait_for(live, "live values")
        assert (await send_order(control, "slow 5")).startswith("ok")

        async def stale() -> bool:
            return any(s.status == DeviceStatus.STALE for s in statuses(sink))

        await wait_for(stale, "stale", timeout=15)
        n = len(sink)
        assert (await send_order(control, "slow off")).startswith("ok")

        async def back() -> bool:
            return any(isinstance(i, StatusChange) and i.status == DeviceStatus.CONNECTED for i in sink[n:])

        await wait_for(back, "connected again", timeout=15)
