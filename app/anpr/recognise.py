"""Plate recognition (R3.2): PP-OCR text detection and recognition, run by onnxruntime from the models
the ``rapidocr`` wheel ships (nothing is fetched at run time: a model that is not in the wheel is a
clear error, never a download), then the grammar of Kazakh plates (``app/domain/plates.py``) picks
the plate among the texts read and corrects look-alike characters.

One :class:`Recogniser` per process (loading the models takes a second); :meth:`Recogniser.read`
takes a BGR image (OpenCV's order) and answers a :class:`PlateResult`. The engine runs on one thread
by default: the lane's kiosk has two slow cores and the screen must stay responsive.

The engine is behind one call — ``engine(image, use_det=, use_cls=, use_rec=)`` answering ``boxes``,
``txts``, ``scores`` — so a site that installs ``paddleocr`` and its models locally may use it instead
(``[anpr] engine = "paddleocr"``, :class:`PaddleEngine`); rapidocr's models stay the default.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from app.domain.plates import Reading, readings, unformatted
from app.errors import OtolaneError

#: the models the rapidocr wheel carries (PP-OCRv6 small detection and recognition)
MODELS = {"Det": "PP-OCRv6_det_small.onnx", "Rec": "PP-OCRv6_rec_small.onnx"}
#: the detector sees the frame at most this wide or high (a 1280×720 frame at 3/8) … — on the real
#: photographs 480 finds as many plates as 640 did, in half the time (docs/anpr.md)
DETECT_SIDE = 480
#: … and, when that read nothing surer than UNSURE (a small region code missed, a far plate), once
#: more at this size
SECOND_SIDE = 960
#: boxes on one line joined into one text, at most (``123`` ``ABC`` ``02``)
MAX_JOIN = 3
#: a quick reading read as is with the recogniser this confident is taken without the detector
SURE = 0.9
#: a plate read less sure than this (or none) is looked for once more at SECOND_SIDE: a sign or a
#: badge read with corrections must not hide a small plate the larger picture shows
UNSURE = 0.4
#: plate-like regions the quick way reads, at most
REGIONS = 4


def locate(image: np.ndarray, n: int = REGIONS, f: int | None = None) -> list[tuple[int, int, int, int]]:
    """Plate-like regions (x, y, w, h), largest first: dark characters on a light band, found on the
    frame at half size by a black-hat, the horizontal gradient, and a closing into text lines. ``f``:
    the frame is looked at 1/f of its size (by default half a frame 960 wide or more; a camera's
    plate region is looked at as its whole frame would be, its plate as large)."""
    import cv2

    height, width = image.shape[:2]
    if f is None:
        f = 2 if width >= 960 else 1
    small = cv2.resize(image, (width // f, height // f)) if f > 1 else image
    gray = cv2.cvtColor(small, cv2.COLOR_BGR2GRAY)
    kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (13, 5))
    black = cv2.morphologyEx(gray, cv2.MORPH_BLACKHAT, kernel)
    gx = np.absolute(cv2.Sobel(black, cv2.CV_32F, 1, 0, ksize=-1))
    gx = (255 * (gx - gx.min()) / (gx.max() - gx.min() + 1e-6)).astype(np.uint8)
    gx = cv2.morphologyEx(cv2.GaussianBlur(gx, (5, 5), 0), cv2.MORPH_CLOSE, kernel)
    _, mask = cv2.threshold(gx, 0, 255, cv2.THRESH_BINARY | cv2.THRESH_OTSU)
    mask = cv2.dilate(cv2.erode(mask, None, iterations=1), None, iterations=2)
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    lines, glyphs = [], []
    for c in contours:
        box = cv2.boundingRect(c)
        x, y, w, h = box
        if h >= 8 and w >= 30 and 2.0 <= w / h <= 10:  # a plate's text line: wide, not tiny
            lines.append(box)
        elif h >= 8 and 0.2 <= w / h < 2.0:  # a character standing apart (a 1993 plate's region)
            glyphs.append(box)
    found = [_with_glyphs(box, glyphs) for box in lines]
    found.sort(key=lambda b: b[2] * b[3], reverse=True)
    return [(x * f, y * f, w * f, h * f) for x, y, w, h in found[:n]]


def _with_glyphs(
    line: tuple[int, int, int, int], glyphs: list[tuple[int, int, int, int]]
) -> tuple[int, int, int, int]:
    """A text line widened by the characters standing just beside it on the same line, of its
    height (the region letter a 1993 plate prints apart from its digits)."""
    x, y, w, h = line
    grown = True
    while grown:
        grown = False
        for gx, gy, gw, gh in glyphs:
            same_line = abs((gy + gh / 2) - (y + h / 2)) < h / 2 and 0.5 * h <= gh <= 1.3 * h
            left_gap, right_gap = x - (gx + gw), gx - (x + w)
            if same_line and (0 <= left_gap < 0.8 * h or 0 <= right_gap < 0.8 * h):
                both = _union((x, y, w, h), (gx, gy, gw, gh))
                if both != (x, y, w, h):
                    x, y, w, h = both
                    grown = True
    return x, y, w, h


def _union(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> tuple[int, int, int, int]:
    """The box (x, y, w, h) holding both."""
    x0, y0 = min(a[0], b[0]), min(a[1], b[1])
    x1, y1 = max(a[0] + a[2], b[0] + b[2]), max(a[1] + a[3], b[1] + b[3])
    return x0, y0, x1 - x0, y1 - y0


def side_by_side(boxes: list[tuple[int, int, int, int]]) -> list[tuple[int, int, int, int]]:
    """Two regions on one line with less than a line's height between them, as one: a plate seen
    large (a camera's plate region) is often found in two parts — its digits, and its letters with
    the region — split at the gap the plate leaves between them."""
    out = []
    for i, a in enumerate(boxes):
        for b in boxes[i + 1 :]:
            left, right = (a, b) if a[0] <= b[0] else (b, a)
            height = max(a[3], b[3])
            gap = right[0] - (left[0] + left[2])
            mid_a, mid_b = a[1] + a[3] / 2, b[1] + b[3] / 2
            if -height < gap < height and abs(mid_a - mid_b) < height / 2:
                out.append(_union(a, b))
    return out


@dataclass(frozen=True)
class PlateResult:
    plate: str | None  # upper case, no spaces, e.g. 123ABC02; None when no plate was read
    confidence: float  # 0…1: the recogniser's own confidence × how well the text fits a format
    bbox: tuple[int, int, int, int] | None  # x, y, w, h in the image
    ms: float
    text: str = ""  # what was read, before the grammar
    format: str = ""
    candidates: list[tuple[str, float]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "plate": self.plate,
            "confidence": round(self.confidence, 3),
            "bbox": list(self.bbox) if self.bbox else None,
            "ms": round(self.ms, 1),
        }


def _model(name: str) -> str:
    path = Path(str(resources.files("rapidocr").joinpath("models", name)))
    if not path.is_file():
        raise OtolaneError(
            "anpr_model_missing",
            f"the recognition model {name} is not in the installed rapidocr package; reinstall it"
            " (./lane installs it): models are never downloaded at run time",
            model=name,
        )
    return str(path)


class Recogniser:
    def __init__(
        self,
        threads: int = 1,
        side: int = DETECT_SIDE,
        second: int | None = SECOND_SIDE,
        engine: str = "rapidocr",
        model_dir: str = "",
    ) -> None:
        self.threads = threads
        self.side = side
        if engine == "paddleocr":
            self.engine: Any = PaddleEngine(model_dir, threads)
            second = None  # its detector is not sized by us
        elif engine == "rapidocr":
            self.engine = _engine(threads, side)
        else:
            raise OtolaneError(
                "anpr_engine_unknown", f"no plate recognition engine {engine!r}", engine=engine
            )
        self.second_side = second
        self._second: Any = None  # made at its first use: most frames never need it

    def read(self, image: np.ndarray, roi: tuple[int, int, int, int] | None = None) -> PlateResult:
        """The fast way first — OpenCV finds plate-like regions, the recogniser reads only those
        (tens of ms); when that gives no sure plate, the text detector looks at the whole frame.
        ``roi`` (x, y, w, h in pixels): only that part of the frame is looked at — a lane camera's
        plate region (``app/lane/plate_reader.py``); the box answered is in the whole frame."""
        t0 = time.perf_counter()
        x, y, scale = 0, 0, None
        if roi is not None:  # the region is looked at as its whole frame would be: its plate as large
            x, y, w, h = roi
            image, scale = image[y : y + h, x : x + w], 2 if image.shape[1] >= 960 else 1
        got, sure = self._quick(image, scale, in_region=roi is not None)
        if not sure:
            got = max(got, self._read(self.engine, image), key=lambda r: r.confidence)
        # a missed region code, a small plate: once more larger — unless the detector saw it whole
        if got.confidence < UNSURE and self.second_side and max(image.shape[:2]) > self.side:
            if self._second is None:
                self._second = _engine(self.threads, self.second_side)
            got = max(got, self._read(self._second, image), key=lambda r: r.confidence)
        if got.bbox is not None:  # said in the whole frame
            bx, by, bw, bh = got.bbox
            got = dataclasses.replace(got, bbox=(bx + x, by + y, bw, bh))
        return dataclasses.replace(got, ms=(time.perf_counter() - t0) * 1000)

    def read_whole(self, image: np.ndarray) -> PlateResult:
        """The text detector on the whole frame, without the quick way first (the bench compares
        the ways of finding a plate one by one)."""
        return self._read(self.engine, image)

    def _quick(
        self, image: np.ndarray, scale: int | None = None, in_region: bool = False
    ) -> tuple[PlateResult, bool]:
        """The best plate read in the plate-like regions, and whether it is sure — the detector is
        not needed: read as is (no look-alike corrected) with the recogniser's confidence at least
        SURE; ``in_region`` (the image is a camera's plate region, where nothing but the plate is
        there to be read), of a known format at least UNSURE — the detector would find the same
        text at three times the cost."""
        best, sure = PlateResult(None, 0.0, None, 0.0), False
        boxes = locate(image, f=scale)
        for box in side_by_side(boxes) + boxes:
            got, sure_here = self.read_box(image, box)
            if got.confidence > best.confidence:
                best, sure = got, sure_here
            if sure:  # read as is, of a known format, confident: the other regions cannot do better
                break
        if in_region and best.confidence >= UNSURE and best.format != "unknown":
            sure = True
        return best, sure

    def read_box(self, image: np.ndarray, box: tuple[int, int, int, int]) -> tuple[PlateResult, bool]:
        """The plate in one plate-like region (x, y, w, h; padded by 0.4 of its height), read by the
        recogniser alone, and whether it is sure: read as is (no look-alike corrected), of a known
        format, with the recogniser's confidence at least SURE. Any finder's boxes are read so."""
        x, y, w, h = box
        pad = int(h * 0.4)
        crop = image[max(0, y - pad) : y + h + pad, max(0, x - pad) : x + w + pad]
        out = self.engine(crop, use_det=False, use_cls=False, use_rec=True)
        text = "".join(out.txts or ())
        conf = float(out.scores[0]) if out.scores else 0.0
        for r in _best(text):
            sure = r.corrected == 0 and conf >= SURE and r.format != "unknown"
            return PlateResult(r.plate, r.score * conf, box, 0.0, text, r.format), sure
        return PlateResult(None, 0.0, None, 0.0, text), False

    @staticmethod
    def _read(engine: Any, image: np.ndarray) -> PlateResult:
        out = engine(
            image, use_det=True, use_cls=False, use_rec=True
        )  # flags each call: the engine keeps the last
        boxes = [] if out.boxes is None else [np.asarray(b) for b in out.boxes]
        texts = list(out.txts or ())
        scores = [float(s) for s in (out.scores or ())]
        best: tuple[float, str, str, str, tuple[int, int, int, int]] | None = None
        tried: list[tuple[str, float]] = []
        for text, conf, box in _lines(boxes, texts, scores):
            for r in _best(text):
                score = r.score * conf
                tried.append((r.plate, round(score, 3)))
                if best is None or score > best[0]:
                    best = (score, r.plate, r.format, text, box)
        if best is None:
            return PlateResult(None, 0.0, None, 0.0, " ".join(texts), candidates=tried)
        score, plate, fmt, text, box = best
        return PlateResult(plate, score, box, 0.0, text, fmt, sorted(tried, key=lambda c: -c[1])[:5])


def _best(text: str) -> list[Reading]:
    """The best reading of a text: the grammar's, else the text as read when it looks like a plate
    of a format the grammar does not know (offered unsure, for the operator to confirm)."""
    found = readings(text)[:1]
    if not found and (raw := unformatted(text)) is not None:
        found = [raw]
    return found


def _engine(threads: int, side: int) -> Any:
    from rapidocr import RapidOCR  # loaded with the recogniser only: the daemon starts without it

    params: dict[str, Any] = {
        "Global.use_cls": False,  # plates are upright
        "Global.log_level": "error",  # "no text found" is an answer here, not a warning
        "Global.text_score": 0.3,
        "Det.model_path": _model(MODELS["Det"]),
        "Rec.model_path": _model(MODELS["Rec"]),
        "Det.limit_side_len": side,
        "Det.limit_type": "max",
        "EngineConfig.onnxruntime.intra_op_num_threads": threads,
        "EngineConfig.onnxruntime.inter_op_num_threads": 1,
    }
    return RapidOCR(params=params)


@dataclass
class EngineOutput:
    """What an engine answers: text boxes (4 points each, or None without detection), texts, scores."""

    boxes: list[np.ndarray] | None
    txts: tuple[str, ...]
    scores: tuple[float, ...]


class PaddleEngine:
    """PaddleOCR (2.x API) with detection and recognition models installed on the site
    (``model_dir/det`` and ``model_dir/rec``: PaddleOCR's inference folders). It is never downloaded:
    a site without the package or the models gets a clear error."""

    def __init__(self, model_dir: str, threads: int = 1) -> None:
        try:
            from paddleocr import PaddleOCR
        except ImportError:
            raise OtolaneError(
                "anpr_engine_missing",
                "the paddleocr engine is chosen but paddleocr is not installed (pip install paddleocr);"
                " the default engine needs nothing more",
                engine="paddleocr",
            ) from None
        base = Path(model_dir)
        for part in ("det", "rec"):
            if not (base / part).is_dir():
                raise OtolaneError(
                    "anpr_model_missing",
                    f"PaddleOCR's {part} model is not in {base / part}: install it there (never downloaded)",
                    model=str(base / part),
                )
        self.ocr = PaddleOCR(
            det_model_dir=str(base / "det"),
            rec_model_dir=str(base / "rec"),
            use_angle_cls=False,
            show_log=False,
            cpu_threads=threads,
        )

    def __call__(self, image: np.ndarray, use_det: bool, use_cls: bool, use_rec: bool) -> EngineOutput:
        return from_paddle(self.ocr.ocr(image, det=use_det, rec=use_rec, cls=False), use_det)


def from_paddle(result: Any, det: bool) -> EngineOutput:
    """PaddleOCR 2.x's answer for one image — ``[[[box, (text, score)], …]]`` with detection,
    ``[[(text, score), …]]`` without — as the engine call answers."""
    lines = (result or [None])[0] or []
    if det:
        boxes = [np.asarray(box, dtype=np.float32) for box, _ in lines]
        return EngineOutput(
            boxes, tuple(str(t) for _, (t, _) in lines), tuple(float(c) for _, (_, c) in lines)
        )
    return EngineOutput(None, tuple(str(t) for t, _ in lines), tuple(float(c) for _, c in lines))


def _lines(
    boxes: list[np.ndarray], texts: list[str], scores: list[float]
) -> list[tuple[str, float, tuple[int, int, int, int]]]:
    """Each text box, and runs of up to MAX_JOIN boxes side by side on one line joined left to right
    (a plate is often read as ``123`` ``ABC`` ``02``), with the mean confidence and the joint box."""
    items = []
    for b, t, s in zip(boxes, texts, scores, strict=False):
        x0, y0 = b.min(axis=0)
        x1, y1 = b.max(axis=0)
        items.append((float(x0), float(y0), float(x1), float(y1), t, s))
    items.sort(key=lambda i: i[0])
    out = _stacked(items)
    for i, first in enumerate(items):
        run = [first]
        out.append(_joined(run))
        for nxt in items[i + 1 :]:
            last = run[-1]
            height = max(last[3] - last[1], 1.0)
            same_line = abs((nxt[1] + nxt[3]) / 2 - (last[1] + last[3]) / 2) < height / 2
            close = nxt[0] - last[2] < height * 1.5
            if not (same_line and close) or len(run) == MAX_JOIN:
                break
            run.append(nxt)
            out.append(_joined(run))
    return out


def _joined(
    run: list[tuple[float, float, float, float, str, float]],
) -> tuple[str, float, tuple[int, int, int, int]]:
    x0, y0 = min(r[0] for r in run), min(r[1] for r in run)
    x1, y1 = max(r[2] for r in run), max(r[3] for r in run)
    text = "".join(r[4] for r in run)
    conf = sum(r[5] for r in run) / len(run)
    return text, conf, (int(x0), int(y0), int(x1 - x0), int(y1 - y0))


def _stacked(
    items: list[tuple[float, float, float, float, str, float]],
) -> list[tuple[str, float, tuple[int, int, int, int]]]:
    """Two text boxes one above the other, alike in height and overlapping across: the lines of a
    square plate (``241`` over ``10 VBZ``), read top line first."""
    out = []
    for top in items:
        th = top[3] - top[1]
        for below in items:
            bh = below[3] - below[1]
            if below is top or th <= 0 or not 0.5 <= bh / th <= 2.0:
                continue
            overlap = min(top[2], below[2]) - max(top[0], below[0])
            # the detector's boxes of two lines may overlap: the centres tell which is below
            drop = (below[1] + below[3]) / 2 - (top[1] + top[3]) / 2
            if overlap > 0.5 * min(top[2] - top[0], below[2] - below[0]) and 0.4 * th <= drop <= 1.8 * th:
                out.append(_joined([top, below]))
    return out
