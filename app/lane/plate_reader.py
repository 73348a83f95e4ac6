"""The plate off a lane camera's frame (R3.2), and the region of the frame it is looked for in.

A lane camera does not move, and the plate of a car on the lane is always in the same part of its
picture: the administrator marks that part once (the cameras screen, ``R``; or
``POST /v1/cameras/{cam}/roi``), and the recogniser reads only there — a smaller picture, found
faster, with nothing else in it to be read as a plate (a sign, a poster). The region is kept as
fractions of the frame, so it holds when the camera's resolution changes, and journalled
(``camera_roi_set``) like every setting of a camera; the last entry of each camera holds.

The recogniser runs in one worker thread with one onnxruntime thread: the kiosk's other core keeps
the screen responsive.
"""

from __future__ import annotations

import asyncio
import base64
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from app.errors import OtolaneError
from app.journal import Journal
from drivers.camera.base import Frame

#: a region smaller than this share of the frame's width or height cannot hold a plate's text
MIN_ROI = 0.05

Roi = tuple[float, float, float, float]  # x, y, w, h as fractions of the frame


def check_roi(value: Any) -> Roi | None:
    """A region as given (four fractions x, y, w, h of the frame; null for none), or ``roi_bad``."""
    if value is None:
        return None
    bad = OtolaneError(
        "roi_bad",
        "the region is four fractions of the frame — x, y, width, height, e.g. [0.25, 0.5, 0.5, 0.4]"
        f" — inside the frame and at least {MIN_ROI:g} of it each way",
        field="roi",
    )
    if not isinstance(value, list | tuple) or len(value) != 4:
        raise bad
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in value):
        raise bad
    x, y, w, h = (float(v) for v in value)
    if not (0 <= x and 0 <= y and w >= MIN_ROI and h >= MIN_ROI and x + w <= 1.0001 and y + h <= 1.0001):
        raise bad
    return (round(x, 4), round(y, 4), round(min(w, 1 - x), 4), round(min(h, 1 - y), 4))


def in_pixels(roi: Roi, width: int, height: int) -> tuple[int, int, int, int]:
    x, y, w, h = roi
    return int(x * width), int(y * height), max(1, int(w * width)), max(1, int(h * height))


class PlateReader:
    def __init__(self, anpr: dict[str, Any], journal: Journal) -> None:
        self.anpr = anpr
        self.journal = journal
        #: each camera's region of interest (absent: the whole frame)
        self.rois: dict[str, Roi] = {}
        self._ocr: Any = None
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="anpr")

    async def load(self) -> None:
        """Each camera's region as the journal leaves it."""
        for e in await self.journal.events("camera_roi_set"):
            roi = e.details.get("roi")
            camera = str(e.details.get("camera", ""))
            if roi is None:
                self.rois.pop(camera, None)
            else:
                self.rois[camera] = tuple(float(v) for v in roi)  # type: ignore[assignment]

    async def set_roi(self, admin: str, camera: str, roi: Roi | None) -> None:
        await self.journal.write(
            admin, "camera_roi_set", camera=camera, roi=list(roi) if roi else None, old=self.rois.get(camera)
        )
        if roi is None:
            self.rois.pop(camera, None)
        else:
            self.rois[camera] = roi

    def stop(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    async def read(self, camera: str, frame: Frame) -> tuple[dict[str, Any], dict[str, Any]]:
        """The plate on the frame (within the camera's region) and a small picture of it."""
        roi = self.rois.get(camera)
        return await asyncio.get_running_loop().run_in_executor(self._pool, self._read, frame, roi)

    def _read(self, frame: Frame, roi: Roi | None) -> tuple[dict[str, Any], dict[str, Any]]:
        if self._ocr is None:
            from app.anpr.recognise import Recogniser

            # one core: the screen keeps the other
            self._ocr = Recogniser(threads=1, engine=self.anpr["engine"], model_dir=self.anpr["model_dir"])
        import cv2

        rgb = frame.rgb()
        bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
        box = in_pixels(roi, bgr.shape[1], bgr.shape[0]) if roi else None
        res = self._ocr.read(bgr, roi=box).as_dict()
        return res | {"roi": list(roi) if roi else None}, preview(rgb, res.get("bbox"))


PREVIEW_W, PREVIEW_H = 32, 6  # pixels: 32 columns × 3 rows of half blocks


def preview(rgb: Any, bbox: Any) -> dict[str, Any]:
    """A tiny RGB picture of the plate (or of the frame when no plate was found) for the screen's
    half-block rendering: width, height and the bytes, base64."""
    import cv2

    h, w = rgb.shape[:2]
    if bbox:
        x, y, bw, bh = (int(v) for v in bbox)
        pad_x, pad_y = bw // 8, bh // 4
        crop = rgb[max(0, y - pad_y) : min(h, y + bh + pad_y), max(0, x - pad_x) : min(w, x + bw + pad_x)]
        size = (PREVIEW_W, PREVIEW_H)
    else:
        crop, size = rgb, (PREVIEW_W // 2, PREVIEW_H)
    small = cv2.resize(crop, size, interpolation=cv2.INTER_AREA)
    return {"width": size[0], "height": size[1], "rgb": base64.b64encode(small.tobytes()).decode()}
