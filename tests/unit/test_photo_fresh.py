"""R3.9: the photo is a frame from the trigger on. A camera whose decoder lags (an RTSP stream
waiting for its next key frame, a loaded kiosk) holds an older newest frame for a moment; the photo
waits for the first frame after the trigger instead of taking the car before it was on the stand
(a headless demo on a loaded machine lost its front photo so, as outside the step)."""

from __future__ import annotations

import time
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from app.lane import cameras
from app.lane.cameras import Cameras
from drivers.camera.base import Frame


def _frame(ts: float) -> Frame:
    return Frame(ts, 4, 4, lambda: np.zeros((4, 4, 3), np.uint8))


class _Lagging:
    """A camera's newest frames: stale ones first, then (after ``lag`` calls) one after the trigger."""

    def __init__(self, stale: float, fresh: float | None, lag: int) -> None:
        self.calls, self.stale, self.fresh, self.lag = 0, stale, fresh, lag

    def grab(self, slot: Any) -> Frame:
        self.calls += 1
        if self.fresh is not None and self.calls > self.lag:
            return _frame(self.fresh)
        return _frame(self.stale)


async def test_the_photo_waits_for_the_first_frame_after_its_trigger() -> None:
    now = time.time()
    cams = _Lagging(stale=now - 2.0, fresh=now + 0.1, lag=3)
    frame = await Cameras.fresh_frame(cams, SimpleNamespace(), now)  # type: ignore[arg-type]
    assert frame.ts == now + 0.1 and cams.calls == 4


async def test_a_camera_that_sends_nothing_newer_gives_its_newest_after_the_wait(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Then the step's window judges it (``photo_outside_step``), as before."""
    monkeypatch.setattr(cameras, "FRESH_WAIT_S", 0.2)
    now = time.time()
    cams = _Lagging(stale=now - 2.0, fresh=None, lag=0)
    started = time.monotonic()
    frame = await Cameras.fresh_frame(cams, SimpleNamespace(), now)  # type: ignore[arg-type]
    assert frame.ts == now - 2.0 and 0.2 <= time.monotonic() - started < 1.0
