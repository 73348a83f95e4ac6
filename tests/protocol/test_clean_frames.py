"""Issue #22 item 1 (R3.9, R3.18): a photo that proves the car was on the stand is a whole, cleanly
decoded picture. The camera simulator streams pictures that change from one frame to the next; the
frames the lane's camera driver gives are compared with the simulator's own pictures by SSIM — over
real RTSP (H.264 with a long GOP, armed half-way between two key frames, as the photo step arms it),
MJPEG and JPEG snapshots. Before the fix the RTSP frame after arming was predicted from pictures the
decoder had skipped: a smear of blocks."""

from __future__ import annotations

import asyncio
import contextlib
import time

import cv2
import numpy as np
import pytest

from app.demo_config import free_port
from app.lane.photos import Place, judged
from drivers.camera.base import Camera, CameraIdentity
from drivers.camera.sim import CameraSim, rtsp_available
from drivers.camera.stream import StreamCamera
from drivers.camera.web import WebCamera

W, H, N = 1280, 720, 30  # the least a photo may be (R6)


def _pictures(_: str) -> list[np.ndarray]:
    """Smooth pictures (JPEG and H.264 keep them well) in which everything moves every frame: a
    picture predicted from the wrong one cannot look like any of them."""
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
    out = []
    for i in range(N):
        phase = i * 2 * np.pi / N
        img = np.zeros((H, W, 3), np.uint8)
        img[..., 0] = (127 + 100 * np.sin(xx / 37 + phase * 3)).astype(np.uint8)
        img[..., 1] = (127 + 100 * np.cos(yy / 23 - phase * 2)).astype(np.uint8)
        img[..., 2] = (127 + 100 * np.sin((xx + yy) / 51 + phase)).astype(np.uint8)
        x = 80 + i * 36
        cv2.rectangle(img, (x, 300), (x + 320, 380), (255, 255, 255), -1)  # a plate driving past
        cv2.putText(img, f"{i:03d}KZA", (x + 16, 360), cv2.FONT_HERSHEY_SIMPLEX, 2.0, (0, 0, 0), 4)
        out.append(img)
    return out


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    """The structural similarity of two pictures (Wang et al. 2004), on their grey levels, with the
    paper's 11×11 Gaussian window of σ 1.5 and its constants."""
    x = cv2.cvtColor(a, cv2.COLOR_RGB2GRAY).astype(np.float64)
    y = cv2.cvtColor(b, cv2.COLOR_RGB2GRAY).astype(np.float64)
    if x.shape[1] > 640:  # at half size: as telling, a quarter of the time
        x, y = (cv2.resize(v, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA) for v in (x, y))
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2

    def blur(v: np.ndarray) -> np.ndarray:
        return cv2.GaussianBlur(v, (11, 11), 1.5)

    mx, my = blur(x), blur(y)
    sx, sy, sxy = blur(x * x) - mx * mx, blur(y * y) - my * my, blur(x * y) - mx * my
    m = ((2 * mx * my + c1) * (2 * sxy + c2)) / ((mx * mx + my * my + c1) * (sx + sy + c2))
    return float(m.mean())


def _best(frame_rgb: np.ndarray, sources: list[np.ndarray]) -> float:
    return max(ssim(frame_rgb, cv2.cvtColor(s, cv2.COLOR_BGR2RGB)) for s in sources)


async def _frames_after(cam: Camera, since: float, n: int) -> list[np.ndarray]:
    """The next ``n`` different frames the camera keeps after ``since``."""
    out: list[np.ndarray] = []
    seen = since
    deadline = time.monotonic() + 20
    while len(out) < n and time.monotonic() < deadline:
        f = cam.latest
        if f is not None and f.ts > seen:
            seen = f.ts
            out.append(await asyncio.to_thread(f.rgb))
        await asyncio.sleep(0.02)
    assert len(out) == n, f"{cam.id}: {len(out)} frames in 20 s"
    return out


@pytest.mark.parametrize("kind", ["rtsp", "mjpeg", "jpeg"])
async def test_every_frame_kept_is_the_picture_the_camera_sent(kind: str) -> None:
    if kind == "rtsp":
        assert rtsp_available() == "", rtsp_available()
    sim = CameraSim(_pictures, CameraIdentity("Sim", "CAM", "SN-1", "1.0"), fps=10.0)
    sim.gop = 40  # a key frame every 4 s, as many IP cameras are set
    await sim.start(rtsp_port=free_port() if kind == "rtsp" else None)
    url = {"rtsp": sim.rtsp_url, "mjpeg": f"{sim.http_url}/mjpeg", "jpeg": f"{sim.http_url}/snapshot.jpg"}
    cam: Camera = (
        StreamCamera("front", url[kind], kind="rtsp")
        if kind == "rtsp"
        else WebCamera("front", url[kind], kind=kind, fps=5.0)
    )
    task = asyncio.create_task(cam.run(lambda _c: None))
    try:
        await _frames_after(cam, 0.0, 1)  # unarmed: a key frame
        await asyncio.sleep(1.7)  # half-way to the next key frame
        cam.armed = True  # the photo step starts
        frames = await _frames_after(cam, time.time(), 6)
        sources = (
            sim.render("")
            if kind == "rtsp"
            else [cv2.imdecode(np.frombuffer(j, np.uint8), 1) for j in sim.jpegs]
        )
        scores = [round(_best(f, sources), 3) for f in frames]
        assert min(scores) >= 0.95, scores
        assert cam.counters.bad_frames == 0
        # and the photo the lane stores of such a frame
        assert cam.latest is not None and cam.identity is not None
        jpeg, _ = judged(cam.latest, cam.identity, "front", Place(51.1, 71.4))
        stored = cv2.cvtColor(
            cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB
        )
        assert _best(stored, sources) >= 0.95
    finally:
        cam.stop()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await sim.stop()
