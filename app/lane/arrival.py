"""The plate read when a car arrives (R3.2, issue #26 item 4): the lane looks at its plate camera a
few times a second and, when the picture settles into a new scene (``app/anpr/arrival.py``), reads
the plate once. A plate read is the lane's *arrival*: published on the stream (``arrival``), in
``GET /v1/state``, shown on the operator's lane screen, and the new-car form starts from it — its
recognition is kept by the intake like any other, so the inspection names it and the operator's
correction is journalled beside it. An empty lane clears it, so does the inspection it starts, and
so does time: an arrival is kept ``ARRIVAL_KEEP_S``, well within the time the intake keeps its reading
(a form started from it always finds the reading; a car that left unseen is not offered for ever).

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

from app.anpr.arrival import STILL_LOOKS, ArrivalWatch, signature
from app.errors import OtolaneError
from app.lane import bus
from app.lane.cameras import Cameras, CameraSlot
from app.lane.intake import RECOGNITION_MAX_AGE_S
from app.lane.plate_reader import in_pixels
from drivers.camera.base import Frame

if TYPE_CHECKING:
    import numpy as np

log = logging.getLogger(__name__)

#: seconds between two looks at the plate camera
LOOK_S = 0.4
#: seconds an arrival is offered to the operator (less than the intake keeps its reading)
ARRIVAL_KEEP_S = 300.0
assert ARRIVAL_KEEP_S < RECOGNITION_MAX_AGE_S


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
        self._read_at = 0.0  # monotonic: when ``latest`` was read
        self.watching = False  # the loop runs ([anpr] watch)

    def _camera(self) -> CameraSlot | None:
        return next((s for s in self.cameras.plate_slots() if s.admitted), None)

    async def run(self) -> None:
        self.watching = True
        try:
            await self._watch()
        finally:
            self.watching = False

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(LOOK_S)
            try:
                self.expire()
                await self.look()
            except asyncio.CancelledError:
                raise
            except Exception:  # a look that fails is the next look's to try; the lane goes on
                log.exception("arrival watch: a look failed")

    def expire(self) -> None:
        """An arrival older than ``ARRIVAL_KEEP_S`` is no longer offered (said on the stream)."""
        if self.latest is not None and time.monotonic() - self._read_at >= ARRIVAL_KEEP_S:
            self._offer(None)

    def used(self, recognition: str) -> None:
        """An inspection was started from this reading: the car it names is no longer arriving (the
        watch does not read a car standing still again, so it is not offered a second time)."""
        if recognition and self.latest is not None and self.latest["recognition"] == recognition:
            self._offer(None)

    def _offer(self, arrival: dict[str, Any] | None) -> None:
        self.latest = arrival
        self._read_at = time.monotonic()
        self.publish(bus.arrival(arrival))

    def status(self) -> dict[str, Any]:
        """What the watch is doing, for the technicians' cameras screen: ``state`` is ``off``
        (``[anpr] watch`` false), ``no_camera`` (no admitted plate camera), ``moving``, ``still``
        (settled: read, or nothing new to read); with the camera, the plates read, the frames not
        looked at and the seconds since the arrival now offered was read (no plate: personal data)."""
        slot = self._camera()
        if not self.watching:
            state = "off"
        elif slot is None:
            state = "no_camera"
        elif self.watch.still < STILL_LOOKS:
            state = "moving"
        else:
            state = "still"
        age = time.monotonic() - self._read_at if self.latest is not None else None
        return {
            "state": state,
            "camera": slot.cfg.id if slot is not None else None,
            "reads": self.reads,
            "bad_looks": self.bad_looks,
            "arrival_age_s": None if age is None else round(age),
        }

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
        self._offer(arrival)
