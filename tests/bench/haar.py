"""OpenCV's Haar cascades for post-Soviet plates on each image given, run under OpenCV 4 (its wheel
carries the cascades; OpenCV 5, the lane's, has none): one JSON line per image and cascade with the
boxes found and the ms it took. ``tests/bench/anpr.py`` starts it with OpenCV 4 first on the path."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import cv2

CASCADES = {
    "haar_rus": "haarcascade_russian_plate_number.xml",
    "haar_rus16": "haarcascade_license_plate_rus_16stages.xml",
}


def main() -> int:
    cascades = {n: cv2.CascadeClassifier(str(Path(cv2.data.haarcascades) / f)) for n, f in CASCADES.items()}
    for file in sys.argv[1:]:
        image = cv2.imread(file)
        h, w = image.shape[:2]
        f = max(1.0, w / 960)  # at most 960 wide: a cascade's cost grows with the pixels
        small = cv2.resize(image, (int(w / f), int(h / f))) if f > 1 else image
        gray = cv2.cvtColor(small, cv2.COLOR_BGR2GRAY)
        for name, cascade in cascades.items():
            t0 = time.perf_counter()
            boxes = cascade.detectMultiScale(gray, scaleFactor=1.1, minNeighbors=4, minSize=(40, 12))
            ms = (time.perf_counter() - t0) * 1000
            found = [[int(v * f) for v in b] for b in list(boxes)[:4]]
            print(json.dumps({"file": file, "cascade": name, "boxes": found, "ms": ms}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
