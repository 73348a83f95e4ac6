"""The lane clock: wall time, or — on a training lane only — time running faster.

Lane time is ``origin_lane + (wall − origin_wall) × speed``; the origin is kept in the database so a
restart of the daemon continues the same lane time and no inspection timer jumps back.
"""

from __future__ import annotations

import time
from dataclasses import dataclass


@dataclass
class LaneClock:
    speed: float = 1.0
    origin_wall: float = 0.0
    origin_lane: float = 0.0

    def now(self) -> float:
        if self.speed == 1.0 and self.origin_wall == self.origin_lane:
            return time.time()
        return self.origin_lane + (time.time() - self.origin_wall) * self.speed

    def at(self, wall: float) -> float:
        """The lane time of a wall-clock moment (a camera frame's): one clock for all a card shows."""
        if self.speed == 1.0 and self.origin_wall == self.origin_lane:
            return wall
        return self.origin_lane + (wall - self.origin_wall) * self.speed

    def real_seconds(self, lane_seconds: float) -> float:
        return lane_seconds / self.speed
