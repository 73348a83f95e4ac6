"""When a car has arrived in front of the plate camera (R3.2, issue #26 item 4): the moment to read
its plate without the operator asking.

A lane camera does not move, so its picture changes only when something in front of it does. The
watch keeps a tiny grey copy of the picture (its *signature*: the plate region, or the frame,
shrunk to 32×18) a few times a second. When the picture has stopped moving for ``STILL_LOOKS``
looks and differs from the scene last read, the scene has *settled* into something new — a car
drove in and stopped, or drove out — and the caller reads it once: a plate read is an arrival, no
plate an empty lane. A car standing still is read once, not every look; sensor noise and slow
light are below the thresholds (a mean grey difference out of 255).

Pure: pictures in, decisions out; the lane's loop (``app/lane/arrival.py``) does the looking.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the daemon loads numpy and OpenCV only when a camera first needs them
    import numpy as np

#: the signature's size: enough to see a car come and go, too small to see noise
SIG_W, SIG_H = 32, 18
#: mean grey difference between two looks above which the picture is moving
MOTION = 4.0
#: mean grey difference between the scene last read and a settled picture above which it is a new scene
CHANGE = 8.0
#: looks in a row without movement before a picture counts as settled
STILL_LOOKS = 3


def signature(image: np.ndarray, box: tuple[int, int, int, int] | None = None) -> np.ndarray:
    """The picture (grey, or RGB/BGR — the order does not matter for grey here) or its ``box``
    (x, y, w, h in pixels) as a SIG_W × SIG_H grey float32 array."""
    import cv2
    import numpy as np

    if box is not None:
        x, y, w, h = box
        image = image[y : y + h, x : x + w]
    grey = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    return cv2.resize(grey, (SIG_W, SIG_H), interpolation=cv2.INTER_AREA).astype(np.float32)


def difference(a: np.ndarray, b: np.ndarray) -> float:
    """Mean absolute grey difference of two signatures (0–255)."""
    return float(abs(a - b).mean())


@dataclass
class ArrivalWatch:
    """Feed it one signature per look; it says when the scene has settled into a new one."""

    settled: np.ndarray | None = None  # the scene last read
    last: np.ndarray | None = None
    still: int = 0

    def look(self, sig: np.ndarray) -> bool:
        """True when the picture has come to rest on a scene other than the one last read (or on the
        first scene seen): the caller reads it now."""
        moving = self.last is not None and difference(sig, self.last) > MOTION
        self.last = sig
        self.still = 0 if moving else self.still + 1
        if self.still < STILL_LOOKS:
            return False
        if self.settled is not None and difference(sig, self.settled) <= CHANGE:
            return False
        self.settled = sig
        return True
