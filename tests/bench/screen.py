"""``./lane bench``: the lane screen at 80×24 — key press → screen changed, and the screen's CPU —
while whatever the caller runs beside it goes on (a stand streaming, plates read)."""

from __future__ import annotations

import asyncio
import statistics
import time

import psutil

from tests.rig import PASSWORDS


async def bench_tui(sock: str, presses: int = 30) -> dict[str, float]:
    """The lane screen at 80×24 while the stand streams at 50 frames/s: key press → screen changed,
    and the CPU this process (the screen and its client) spends per second of streaming."""
    from rich.text import Text

    from tui.app import make_app
    from tui.screens.lane import LaneScreen

    app = make_app(sock, "en")
    lat: list[float] = []
    me = psutil.Process()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press(*"operator", "enter", *PASSWORDS["operator"], "enter")
        while not isinstance(app.screen, LaneScreen):
            await pilot.pause(0.05)
        await pilot.pause(1.0)

        def header() -> str:
            c = app.screen.query_one("#hdr").content  # type: ignore[attr-defined]
            return c.plain if isinstance(c, Text) else str(c)

        cpu0, t0 = me.cpu_times(), time.perf_counter()
        await pilot.pause(5.0)
        cpu1, dt = me.cpu_times(), time.perf_counter() - t0
        for _ in range(presses):
            before = header()
            start = time.perf_counter()
            app.simulate_key("f10")  # as a terminal would send it: no test-harness waiting
            while header() == before:
                await asyncio.sleep(0.001)
            lat.append((time.perf_counter() - start) * 1000)
    q = statistics.quantiles(lat, n=20)
    return {
        "tui_keypress_to_screen_p50_ms": round(statistics.median(lat), 1),
        "tui_keypress_to_screen_p95_ms": round(q[18], 1),
        "tui_cpu_percent_of_core_streaming": round(
            (cpu1.user + cpu1.system - cpu0.user - cpu0.system) / dt * 100, 1
        ),
    }
