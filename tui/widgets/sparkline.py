"""Trends of live values as one line of block characters (▁▂▃▄▅▆▇█), for the stands' lines and the
running step. Text, not a widget: it fits inside a table row and costs nothing to redraw."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Sequence
from typing import Any

BLOCKS = "▁▂▃▄▅▆▇█"
#: one sample every SAMPLE_S seconds, so a sparkline of 24 shows the last 12 s whatever the stand's rate
SAMPLE_S = 0.5
KEEP = 48


def sparkline(values: Sequence[float], width: int) -> str:
    """The last ``width`` values scaled between their own minimum and maximum; a flat line when
    they do not move (a steady — or a frozen — value), nothing when there is nothing to show."""
    recent = list(values)[-width:] if width > 0 else []
    if not recent:
        return ""
    low, high = min(recent), max(recent)
    span = high - low
    if span <= 1e-9 * max(1.0, abs(high)):
        return BLOCKS[0] * len(recent)
    top = len(BLOCKS) - 1
    return "".join(BLOCKS[round((v - low) / span * top)] for v in recent)


class Trends:
    """Samples of every live channel the lane screen shows, taken on a fixed cadence."""

    def __init__(self) -> None:
        self._series: dict[tuple[str, str], deque[float]] = {}

    def sample(self, devices: Iterable[dict[str, Any]]) -> None:
        for d in devices:
            if d.get("status") != "connected":
                continue  # no samples from a stand that is away: the trend does not invent values
            for channel, v in d.get("live", {}).items():
                series = self._series.setdefault((d["id"], channel), deque(maxlen=KEEP))
                series.append(float(v["value"]))

    def of(self, device_id: str, channel: str) -> Sequence[float]:
        return self._series.get((device_id, channel), ())
