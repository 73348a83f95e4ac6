"""The plate read when a car arrives (R3.2, issue #26 item 4): the lane looks at its plate camera a
few times a second and, when the picture settles into a new scene (``app/anpr/arrival.py``), reads
the plate once. A plate read is the lane's *arrival*: published on the stream (``arrival``), in
``GET /v1/state``, shown on the operator's lane screen, and the new-car form starts from it — its
recognition is kept by the intake like any other, so the inspection names it and the operator's
correction is journalled beside it. An empty lane clears it.

The looks are cheap (a JPEG decoded at an eighth of its size, shrunk to 32×18); the reading runs
in the recogniser's one thread, as every reading does. A camera that is not admitted, gives no
frame or is not there is simply not looked at: the cameras' own status says why.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from app.anpr.arrival import ArrivalWatch, signature
from app.errors import OtolaneError
from app.lane import bus
from app.lane.cameras import Cameras, CameraSlot
from app.lane.plate_reader import in_pixels
from drivers.camera.base import Frame

if TYPE_CHECKING:
    import numpy as np

log = logging.getLogger(__name__)

#: seconds between two looks at the plate camera
LOOK_S = 0.4


def frame_signature(frame: Frame, roi: tuple[float, float, float, float] | None) -> np.ndarray:
    import cv2
    import numpy as np

    if frame.encoded == "jpeg" and frame.data:  # an eighth of the JPEG, grey: a millisecond or two
        image = cv2.imdecode(np.frombuffer(frame.data, np.uint8), cv2.IMREAD_REDUCED_GRAYSCALE_8)
        if image is None:
            raise ValueError("undecodable frame")
    else:
        image = frame.rgb()
    box = in_pixels(roi, image.shape[1], image.shape[0]) if roi else None
    return signature(image, box)


class Arrivals:
    def __init__(
        self,
        cameras: Cameras,
        read: Callable[[str], Awaitable[dict[str, Any]]],
        publish: Callable[[dict[str, Any]], None],
    ) -> None:
        """``read(camera)``: the intake's reading of the plate now (kept by its recognition id)."""
        self.cameras = cameras
        self.read = read
        self.publish = publish
        #: the car standing in front of the plate camera as last read (None: nobody, or not read yet)
        self.latest: dict[str, Any] | None = None
        self.watch = ArrivalWatch()
        #: plates read by the watch (a car standing still is read once), frames that would not decode
        self.reads = 0
        self.bad_looks = 0
        self._roi: Any = None
        self._seen_ts = 0.0

    def _camera(self) -> CameraSlot | None:
        return next((s for s in self.cameras.plate_slots() if s.admitted), None)

    async def run(self) -> None:
        while True:
            await asyncio.sleep(LOOK_S)
            try:
                await self.look()
            except asyncio.CancelledError:
                raise
            except Exception:  # a look that fails is the next look's to try; the lane goes on
                log.exception("arrival watch: a look failed")

    async def look(self) -> None:
        """One look at the plate camera; the plate read when its picture settled into a new scene."""
        slot = self._camera()
        if slot is None:
            return
        try:
            frame = slot.cam.grab(3.0)
        except Exception:  # no fresh frame: the camera's status says so
            return
        if frame.ts == self._seen_ts:
            return
        self._seen_ts = frame.ts
        roi = self.cameras.plates.rois.get(slot.cfg.id)
        if roi != self._roi:  # another region: another picture to compare with
            self._roi = roi
            self.watch = ArrivalWatch()
        try:
            sig = await asyncio.to_thread(frame_signature, frame, roi)
        except Exception as exc:  # a frame that does not decode: counted, said once in a while
            self.bad_looks += 1
            if self.bad_looks % 100 == 1:
                log.warning(
                    "arrival watch: %d frame(s) of %s not looked at: %s", self.bad_looks, slot.cfg.id, exc
                )
            return
        if not self.watch.look(sig):
            return
        self.reads += 1
        try:
            got = await self.read(slot.cfg.id)
        except OtolaneError as exc:
            log.warning("arrival watch: the plate could not be read: %s", exc.message)
            return
        arrival = None
        if got.get("plate"):
            arrival = {
                "plate": got["plate"],
                "confidence": got["confidence"],
                "camera": got["camera"],
                "recognition": got["recognition"],
                "at": time.time(),
                "preview": got.get("preview"),
            }
        if arrival is not None:  # the plate itself is personal data: the log says only that one came
            log.info("arrival: a plate read on %s (%.2f)", arrival["camera"], arrival["confidence"])
        self.latest = arrival
        self.publish(bus.arrival(arrival))
