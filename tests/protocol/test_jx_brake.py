"""The JX roller brake tester — a profile of the jx family on the one generic driver — against its
simulator on a real pseudo-terminal: the same bytes as on the stand's RS-232 line (R3.3, R9)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from drivers.base import DeviceStatus, Event, Reading, StatusChange, supervise
from drivers.brake.profiles import JX_BRAKE, MAX_LEFT, MAX_RIGHT
from drivers.device import ProfileDevice
from drivers.sim.pty import PtyPort
from tests.rig import brake_sim, wait_for


class Collector:
    def __init__(self) -> None:
        self.items: list[object] = []

    def __call__(self, item: object) -> None:
        self.items.append(item)

    def readings(self, channel: str | None = None) -> list[Reading]:
        return [i for i in self.items if isinstance(i, Reading) and channel in (None, i.channel)]

    def statuses(self) -> list[StatusChange]:
        return [i for i in self.items if isinstance(i, StatusChange)]


async def _run(tmp_path: Path, **sim_kwargs: object):  # type: ignore[no-untyped-def]
    port = PtyPort(tmp_path / "brake")
    sim = brake_sim(port, rate=50, seed=7, **sim_kwargs)
    stop = asyncio.Event()
    sim_task = asyncio.create_task(sim.run(stop))
    dev = ProfileDevice("brake", str(tmp_path / "brake"), JX_BRAKE)
    sink = Collector()
    sup = asyncio.create_task(supervise(dev, sink, stale_after=1.0))
    return port, sim, stop, sim_task, dev, sink, sup


async def _finish(port, stop, sim_task, sup) -> None:  # type: ignore[no-untyped-def]
    sup.cancel()
    stop.set()
    await asyncio.gather(sim_task, sup, return_exceptions=True)
    port.close()


async def test_driver_identifies_the_stand_and_streams_live_forces(tmp_path: Path) -> None:
    port, sim, stop, sim_task, dev, sink, sup = await _run(tmp_path)
    try:

        async def live() -> bool:
            return len(sink.readings("brake.force.left")) >= 10

        await wait_for(live, "live frames")
        connected = [s for s in sink.statuses() if s.status == DeviceStatus.CONNECTED]
        assert connected[0].identity is not None
        assert connected[0].identity.serial == "2231-0457"
        r = sink.readings("brake.force.left")[-1]
        assert r.unit == "kN" and 0.0 <= r.value < 0.2  # idle rollers: drag only
        assert r.raw[:2] == b"\x41\x0c" and sum(r.raw) % 256 == 0
    finally:
        await _finish(port, stop, sim_task, sup)


async def test_a_brake_test_ends_with_the_end_marker_and_the_result_frame(tmp_path: Path) -> None:
    port, sim, stop, sim_task, dev, sink, sup = await _run(tmp_path, speed=10.0)
    try:
        await wait_for(lambda: _true(sink.readings()), "first frame")
        await dev.command("start")

        async def ended() -> bool:
            return any(isinstance(i, Event) and i.name == "test_end" for i in sink.items)

        await wait_for(ended, "the end marker")
        peak = max(r.value for r in sink.readings("brake.force.left"))
        assert 3.0 < peak <= 3.5  # ramped up to the scenario's 3.42 kN
        await dev.command("result")

        async def result() -> bool:
            return bool(sink.readings(MAX_RIGHT))

        await wait_for(result, "the result frame")
        assert sink.readings(MAX_LEFT)[-1].value == 3.42
        assert sink.readings(MAX_RIGHT)[-1].value == 3.38
        assert sink.readings(MAX_LEFT)[-1].final
        loads = [r.value for r in sink.readings() if r.channel.startswith("brake.wheel_load")]
        assert loads == [520.0, 510.0]
        # The next axle: its own values, and no result while its test runs (never the last axle's).
        n = len(sink.readings(MAX_LEFT))
        ends = sum(1 for i in sink.items if isinstance(i, Event) and i.name == "test_end")
        mark = len(sink.items)
        await dev.command("start")
        await dev.command("result")  # asked while the test runs: the stand has no result yet

        async def ended_again() -> bool:
            return sum(1 for i in sink.items if isinstance(i, Event) and i.name == "test_end") > ends

        await wait_for(ended_again, "the second end marker")
        before_end = sink.items[mark : next(
            k for k in range(mark, len(sink.items))
            if isinstance(sink.items[k], Event) and sink.items[k].name == "test_end"
        )]  # fmt: skip
        assert not [i for i in before_end if getattr(i, "channel", "") == MAX_LEFT]
        assert len(sink.readings(MAX_LEFT)) == n
        await dev.command("result")

        async def second() -> bool:
            return len(sink.readings(MAX_LEFT)) > n

        await wait_for(second, "the second axle's result")
        assert (sink.readings(MAX_LEFT)[-1].value, sink.readings(MAX_RIGHT)[-1].value) == (2.10, 2.02)
    finally:
        await _finish(port, stop, sim_task, sup)


async def _true(x: object) -> bool:
    return bool(x)


async def test_garbled_frames_are_counted_and_the_stream_goes_on(tmp_path: Path) -> None:
    """Bad checksums, garbage and truncated frames are rejected and counted; good frames flow."""
    port, sim, stop, sim_task, dev, sink, sup = await _run(tmp_path, garble=0.3)
    try:

        async def enough() -> bool:
            return dev.log.frames_rejected >= 10 and len(sink.readings()) >= 40

        await wait_for(enough, "rejections and readings", timeout=30)
        assert all(0.0 <= r.value < 0.2 for r in sink.readings("brake.force.left"))
        bad = [f for f in dev.log.recent if not f.ok]
        assert bad and all(f.note for f in bad)
    finally:
        await _finish(port, stop, sim_task, sup)


async def test_pulled_cable_faults_the_device_and_it_reconnects(tmp_path: Path) -> None:
    port, sim, stop, sim_task, dev, sink, sup = await _run(tmp_path)
    try:
        await wait_for(lambda: _true(sink.readings()), "first frame")
        stop.set()
        await sim_task
        port.close()  # the line goes dead: the pty disappears

        async def faulted() -> bool:
            return any(s.status == DeviceStatus.FAULTED for s in sink.statuses())

        await wait_for(faulted, "faulted", timeout=10)
        # plug it back in: a new simulator on the same path
        port = PtyPort(tmp_path / "brake")
        stop = asyncio.Event()
        sim_task = asyncio.create_task(brake_sim(port, rate=50).run(stop))
        n = len(sink.statuses())

        async def back() -> bool:
            return any(s.status == DeviceStatus.CONNECTED for s in sink.statuses()[n:])

        await wait_for(back, "reconnected", timeout=20)
        assert dev.log.reconnects >= 1
    finally:
        await _finish(port, stop, sim_task, sup)
