"""Fuzz of what the arrival watch looks at (R3.2, issue #26 item 4): a camera's frame, whole,
damaged or cut, in any plate region. A look never stops the watch: a frame that does not decode is
counted and passed over, and nothing is read for it."""

from __future__ import annotations

import asyncio
import time
from types import SimpleNamespace
from typing import Any

import cv2
from hypothesis import given, settings
from hypothesis import strategies as st

from app.anpr.arrival import SIG_H, SIG_W
from app.anpr.scenes import camera_frames
from app.lane.arrival import Arrivals, frame_signature
from drivers.camera.base import Frame

JPEG = cv2.imencode(".jpg", camera_frames("123ABC02", 1)[0])[1].tobytes()
ROIS = st.one_of(
    st.none(),
    st.tuples(st.floats(0, 0.95), st.floats(0, 0.95), st.floats(0.05, 1.0), st.floats(0.05, 1.0)).map(
        lambda r: (r[0], r[1], min(r[2], 1 - r[0]), min(r[3], 1 - r[1]))
    ),
)


def _frame(data: bytes) -> Frame:
    return Frame(time.time(), 1280, 720, lambda: cv2.imdecode(bytes(data), cv2.IMREAD_COLOR), "jpeg", data)


@given(st.integers(0, len(JPEG) - 1), st.integers(0, 255), st.integers(2, 4000), ROIS)
@settings(max_examples=200, deadline=None)
def test_a_damaged_frame_gives_a_signature_or_a_clear_refusal(
    pos: int, byte: int, cut: int, roi: Any
) -> None:
    data = bytearray(JPEG[: cut * 10])
    if pos < len(data):
        data[pos] = byte
    try:
        sig = frame_signature(_frame(bytes(data)), roi)
    except (ValueError, cv2.error):
        return
    assert sig.shape == (SIG_H, SIG_W)


def test_a_camera_sending_garbage_is_counted_and_nothing_is_read() -> None:
    """R3.2: undecodable frames are counted; the watch goes on and asks for no reading."""
    asked: list[str] = []

    async def read(camera: str) -> dict[str, Any]:
        asked.append(camera)
        return {}

    frames = iter([b"\xff\xd8garbage", b"", bytes(range(256)) * 4] * 5)
    cam = SimpleNamespace(grab=lambda _age: _frame(next(frames)))
    slot = SimpleNamespace(cfg=SimpleNamespace(id="front", roles=("plate",)), admitted=True, cam=cam)
    cameras = SimpleNamespace(plate_slots=lambda camera_id="": [slot], plates=SimpleNamespace(rois={}))
    watch = Arrivals(cameras, read, lambda e: None)  # type: ignore[arg-type]

    async def looks() -> None:
        for _ in range(15):
            await watch.look()
            await asyncio.sleep(0.001)  # each frame newer than the last

    asyncio.run(looks())
    assert watch.bad_looks == 15 and asked == [] and watch.latest is None
