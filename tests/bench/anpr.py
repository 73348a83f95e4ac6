"""Plate recognition figures (R3.2, issues #9 and #26), for ``./lane bench``.

Two sets side by side: the **real** photographs (``tests/data/anpr/real``: Kazakh, neighbours' and
other plates, labelled by eye) and the **rendered** lane scenes (``app/anpr/scenes.py``). For each:
exact plates, characters right, ms per frame on one core (p50, p95), and Debian's tesseract on the
same images through the same grammar. Then, on the real set, the ways of finding the plate before it
is read, each on its own: OpenCV's Haar cascades for post-Soviet plates (OpenCV 4's, ``haar.py``),
our contour finder, and PP-OCR's text detector; and on the rendered frames the time with a camera's
plate region (ROI), and the recogniser's memory.

Goals (issue #26): real Kazakh ≥ 95 % exact, neighbours ≥ 85 %, characters ≥ 98 %; ≤ 150 ms p95 per
1280×720 frame on one core, ≤ 60 ms with an ROI; the recogniser ≤ 250 MB.
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REAL = Path(__file__).resolve().parents[1] / "data" / "anpr" / "real"
#: OpenCV 4, put aside by ``./lane bench`` for the Haar cascades (OpenCV 5 has none)
CV4 = Path(__file__).resolve().parents[2] / "var" / "bench" / "cv4"


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def tesseract(image: Any) -> str | None:
    """Debian's tesseract on the same image, its lines through the same plate grammar."""
    import cv2

    from app.domain.plates import readings

    ok, png = cv2.imencode(".png", image)
    whitelist = "tessedit_char_whitelist=ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 "
    r = subprocess.run(
        ["tesseract", "stdin", "stdout", "--psm", "11", "-c", whitelist],
        input=png.tobytes(),
        capture_output=True,
        check=False,
    )
    words = r.stdout.decode(errors="replace").split()
    texts = words + ["".join(words[i : i + n]) for n in (2, 3) for i in range(len(words) - n + 1)]
    best = max((x for t in texts for x in readings(t)[:1]), key=lambda x: x.score, default=None)
    return best.plate if best else None


def _set_figures(prefix: str, outcomes: list[Any]) -> dict[str, float]:
    from app.anpr.evaluate import by_group

    out: dict[str, float] = {}
    for group, f in by_group(outcomes).items():
        if not f["images"]:
            continue
        key = prefix if group == "all" else f"{prefix}_{group}"
        out[f"{key}_images"] = f["images"]
        out[f"{key}_exact_percent"] = f["exact_percent"]
        out[f"{key}_chars_percent"] = f["chars_percent"]
        if group == "all":
            out[f"{key}_ms_p50_one_core"] = f["ms_p50"]
            out[f"{key}_ms_p95_one_core"] = f["ms_p95"]
    return out


def bench_real(rec: Any) -> dict[str, float]:
    """The real photographs: per group (kz, neighbours, other), and tesseract on the same."""
    import cv2

    from app.anpr import evaluate

    samples = evaluate.load_set(REAL)

    def ours(path: Path) -> tuple[str | None, float, float]:
        got = rec.read(cv2.imread(str(path)))
        return got.plate, got.confidence, got.ms

    out = _set_figures("anpr_real", evaluate.run(samples, ours))
    if shutil.which("tesseract"):

        def theirs(path: Path) -> tuple[str | None, float, float]:
            t0 = time.perf_counter()
            plate = tesseract(cv2.imread(str(path)))
            return plate, 0.0, (time.perf_counter() - t0) * 1000

        t = evaluate.by_group(evaluate.run(samples, theirs))
        out |= {f"tesseract_real_{g}_exact_percent": f["exact_percent"] for g, f in t.items() if f["images"]}
        out["tesseract_real_ms_p50"] = t["all"]["ms_p50"]
    return out


def bench_rendered(rec: Any, n: int = 20) -> dict[str, float]:
    """The rendered lane scenes (every format × clean, perspective, blur, glare, dirt, night), then
    the same frames read within a camera's plate region: 480×270 around where the plate stands, as
    an administrator marks it once on a camera that does not move."""
    from app.anpr.evaluate import edits, percentile
    from app.anpr.scenes import CONDITIONS, evaluation_set

    scenes = evaluation_set(n, seed=2026)
    exact, chars, total, ms, roi_ms, roi_exact = 0, 0, 0, [], [], 0
    by_condition = dict.fromkeys(CONDITIONS, 0)
    for sc in scenes:
        got = rec.read(sc.image)
        ms.append(got.ms)
        exact += got.plate == sc.plate
        by_condition[sc.condition] += got.plate == sc.plate
        chars += max(0, len(sc.plate) - edits(got.plate or "", sc.plate))
        total += len(sc.plate)
        h, w = sc.image.shape[:2]
        x, y, bw, bh = sc.box
        rx = min(max(0, x + bw // 2 - 240), w - 480)
        ry = min(max(0, y + bh // 2 - 135), h - 270)
        t0 = time.perf_counter()
        in_roi = rec.read(sc.image, roi=(rx, ry, 480, 270))
        roi_ms.append((time.perf_counter() - t0) * 1000)
        roi_exact += in_roi.plate == sc.plate
    out: dict[str, float] = {
        "anpr_rendered_images": len(scenes),
        "anpr_rendered_exact_percent": round(100 * exact / len(scenes), 1),
        "anpr_rendered_chars_percent": round(100 * chars / total, 1),
        "anpr_rendered_ms_p50_one_core": round(statistics.median(ms), 1),
        "anpr_rendered_ms_p95_one_core": percentile(ms, 0.95),
        "anpr_roi_exact_percent": round(100 * roi_exact / len(scenes), 1),
        "anpr_roi_ms_p50_one_core": round(statistics.median(roi_ms), 1),
        "anpr_roi_ms_p95_one_core": percentile(roi_ms, 0.95),
    } | {f"anpr_rendered_exact_{c}_percent": round(100 * k / n, 1) for c, k in by_condition.items()}
    if shutil.which("tesseract"):
        t0, hits = time.perf_counter(), 0
        for sc in scenes:
            hits += tesseract(sc.image) == sc.plate
        out["tesseract_rendered_exact_percent"] = round(100 * hits / len(scenes), 1)
        out["tesseract_rendered_ms_per_frame"] = round((time.perf_counter() - t0) * 1000 / len(scenes), 1)
    return out


def _haar(files: list[Path]) -> dict[tuple[str, str], tuple[list[tuple[int, int, int, int]], float]]:
    """OpenCV 4's Haar cascades on the files (``tests/bench/haar.py`` in a process of its own, with
    OpenCV 4 — put aside by ``./lane bench`` — first on the path): (file, cascade) → boxes, ms."""
    import json
    import os
    import sys

    if not (CV4 / "cv2").is_dir():
        return {}
    env = os.environ | {"PYTHONPATH": f"{CV4}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    run = subprocess.run(
        [sys.executable, str(Path(__file__).with_name("haar.py")), *map(str, files)],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=False,
    )
    out = {}
    for line in run.stdout.splitlines():
        row = json.loads(line)
        out[(row["file"], row["cascade"])] = ([tuple(b) for b in row["boxes"]], float(row["ms"]))
    return out


def bench_finders(rec: Any) -> dict[str, float]:
    """On the real set: each finder's boxes read by the same recogniser (no detector): how many
    plates each finder leads to, and what finding costs (ms, p50)."""
    import cv2

    from app.anpr import evaluate
    from app.anpr.recognise import locate

    samples = evaluate.load_set(REAL)
    images = {s.file: cv2.imread(str(s.file)) for s in samples}
    haar = _haar([s.file for s in samples])
    finders: dict[str, Callable[[Path], tuple[list[tuple[int, int, int, int]], float]]] = {}

    def contours(path: Path) -> tuple[list[tuple[int, int, int, int]], float]:
        t0 = time.perf_counter()
        boxes = locate(images[path])
        return boxes, (time.perf_counter() - t0) * 1000

    finders["contours"] = contours
    for name in ("haar_rus", "haar_rus16"):
        if any(k[1] == name for k in haar):
            finders[name] = lambda path, n=name: haar[(str(path), n)]
    out: dict[str, float] = {}
    for name, find in finders.items():
        hits, ms = 0, []
        for s in samples:
            img = images[s.file]
            boxes, took = find(s.file)
            ms.append(took)
            if any(rec.read_box(img, box)[0].plate == s.plate for box in boxes):
                hits += 1
        out[f"finder_{name}_plates_percent"] = round(100 * hits / len(samples), 1)
        out[f"finder_{name}_ms_p50"] = round(statistics.median(ms), 1)
    # PP-OCR's detector on the whole frame (what the recogniser falls back to)
    hits, ms = 0, []
    for s in samples:
        t0 = time.perf_counter()
        got = rec.read_whole(images[s.file])
        ms.append((time.perf_counter() - t0) * 1000)
        hits += got.plate == s.plate
    out["finder_ppocr_det_plates_percent"] = round(100 * hits / len(samples), 1)
    out["finder_ppocr_det_ms_p50"] = round(statistics.median(ms), 1)
    return out


def bench_anpr() -> dict[str, float]:
    import cv2

    from app.anpr.recognise import Recogniser
    from app.anpr.scenes import evaluation_set

    before = _rss_mb()
    rec = Recogniser(threads=1)
    rec.read(evaluation_set(1, seed=1)[0].image)  # the first call sets the engine up …
    rec.read(cv2.imread(str(REAL / "ua-12.jpg")))  # … and one with no plate found, the second size too
    mb = round(_rss_mb() - before, 1)  # before any set is held in memory
    out = bench_real(rec)
    out |= bench_rendered(rec)
    out |= bench_finders(rec)
    out["anpr_recogniser_mb"] = mb
    return out
