"""The lane clock's origin, kept in the chained journal and owned by one mode.

A clock is (mode, speed, origin). It continues across restarts only while the lane keeps the same
mode (training or production) and speed; any change starts a fresh clock at real time, journalled
(``clock_started``, and ``lane_mode_changed`` for a mode switch), so a training clock run fast can
never leak its lane time into production. The caller aborts an inspection left open across a
fresh clock: its timers were measured on another clock.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from app.domain.clock import LaneClock
from app.journal import Journal


@dataclass(frozen=True)
class ClockStart:
    clock: LaneClock
    mode: str
    fresh: bool  # a new clock replaced an earlier one (an open inspection cannot continue)
    reason: str


def lane_mode(training: bool) -> str:
    return "training" if training else "production"


async def restore_clock(journal: Journal, training: bool, speed: float) -> ClockStart:
    mode = lane_mode(training)
    last = await journal.last("clock_started")
    if last is not None:
        d = last.details
        if d.get("mode") == mode and d.get("speed") == speed:
            return ClockStart(LaneClock(speed, d["origin_wall"], d["origin_lane"]), mode, False, "")
    now = time.time()
    clock = LaneClock(speed, now, now)
    if last is None:
        reason = "first start"
    elif last.details.get("mode") != mode:
        reason = f"mode changed from {last.details.get('mode')} to {mode}"
        await journal.write("laned", "lane_mode_changed", old=last.details.get("mode"), new=mode)
    else:
        reason = f"clock speed changed from {last.details.get('speed')} to {speed:g}"
    await journal.write(
        "laned",
        "clock_started",
        mode=mode,
        speed=speed,
        origin_wall=clock.origin_wall,
        origin_lane=clock.origin_lane,
        reason=reason,
    )
    return ClockStart(clock, mode, last is not None, reason)
