"""Plate recognition (issue #9, R3.2): PP-OCR from the models in the rapidocr wheel, then the plate
grammar. The images are rendered lane scenes (``app/anpr/scenes.py``) with plates of every format
under clean, tilted, blurred, glaring, dirty and night conditions; the full evaluation set and its
figures are ``./lane bench``'s."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from app.anpr.recognise import Recogniser
from app.anpr.scenes import CONDITIONS, HEIGHT, WIDTH, render_scene


@pytest.fixture(scope="module")
def recogniser() -> Recogniser:
    return Recogniser()


def test_a_scene_is_the_same_for_the_same_seed_and_at_least_1280x720() -> None:
    a, b = render_scene("123ABC02", "dirt", 7), render_scene("123ABC02", "dirt", 7)
    assert np.array_equal(a.image, b.image) and a.image.shape == (HEIGHT, WIDTH, 3)
    assert not np.array_equal(a.image, render_scene("123ABC02", "dirt", 8).image)
    x, y, w, h = a.box
    assert 0 < x < x + w < WIDTH and 0 < y < y + h < HEIGHT


@pytest.mark.parametrize(
    ("plate", "condition"),
    [
        ("123ABC02", "clean"),
        ("001AA17", "perspective"),  # a legal entity's plate, tilted
        ("A585CUO", "night"),  # a 1993 plate in the dark
        ("907KZE20", "blur"),
        ("F123402", "glare"),  # a foreign owner's yellow plate
        ("318BOX05", "dirt"),
    ],
)
def test_the_plate_is_read_in_every_format_and_condition(
    recogniser: Recogniser, plate: str, condition: str
) -> None:
    scene = render_scene(plate, condition, 11)
    got = recogniser.read(scene.image)
    assert got.plate == plate, (got.text, got.candidates)
    assert 0.3 < got.confidence <= 1.0 and got.ms > 0
    x, y, w, h = got.bbox
    sx, sy, sw, sh = scene.box
    assert x < sx + sw and sx < x + w and y < sy + sh and sy < y + h  # the box is on the plate


def test_a_scene_without_a_plate_reads_none(recogniser: Recogniser) -> None:
    scene = render_scene("123ABC02", "clean", 1)
    x, y, w, h = scene.box
    blank = scene.image.copy()
    blank[y - 5 : y + h + 5, x - 5 : x + w + 5] = blank[y - 5, x - 5]
    got = recogniser.read(blank)
    assert got.plate is None and got.confidence == 0.0 and got.bbox is None


def test_the_command_prints_one_json_object_per_image(tmp_path: Path) -> None:
    """``otolane anpr IMAGE… --json``: file, plate (upper case, no spaces, or null), confidence,
    bbox, ms; an unreadable file is said, not a traceback; exit 1 when any image gave no plate."""
    good = tmp_path / "car.jpg"
    cv2.imwrite(str(good), render_scene("555KZZ01", "clean", 2).image)
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not a picture")
    r = subprocess.run(
        [sys.executable, "-m", "app.cli", "anpr", str(good), str(bad), "--json"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 1 and "Traceback" not in r.stderr
    first, second = (json.loads(line) for line in r.stdout.splitlines())
    assert first["file"] == str(good) and first["plate"] == "555KZZ01"
    assert set(first) == {"file", "plate", "confidence", "bbox", "ms"} and len(first["bbox"]) == 4
    assert second == {"file": str(bad), "plate": None, "error": "not an image this lane can read (JPEG, PNG)"}


def test_every_condition_is_rendered() -> None:
    assert {render_scene("123ABC02", c, 0).condition for c in CONDITIONS} == set(CONDITIONS)
    with pytest.raises(ValueError):
        render_scene("123ABC02", "fog")


def test_paddleocr_answers_are_read_as_the_engines_own() -> None:
    """The optional engine (issue #9): PaddleOCR 2.x's answer shapes, with and without detection."""
    from app.anpr.recognise import from_paddle

    box = [[10, 20], [110, 20], [110, 50], [10, 50]]
    out = from_paddle([[[box, ("123ABC", 0.97)], [box, ("02", 0.91)]]], det=True)
    assert out.txts == ("123ABC", "02") and out.scores == (0.97, 0.91)
    assert out.boxes is not None and out.boxes[0].shape == (4, 2)
    rec = from_paddle([[("123ABC02", 0.99)]], det=False)
    assert rec.boxes is None and rec.txts == ("123ABC02",)
    assert from_paddle([None], det=True).txts == ()


def test_choosing_paddleocr_without_it_installed_says_so(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import importlib.util

    import pytest

    from app.anpr.recognise import Recogniser
    from app.errors import OtolaneError

    with pytest.raises(OtolaneError) as err:
        Recogniser(engine="paddleocr", model_dir=str(tmp_path))
    want = "anpr_engine_missing" if importlib.util.find_spec("paddleocr") is None else "anpr_model_missing"
    assert err.value.code == want
    with pytest.raises(OtolaneError) as err:
        Recogniser(engine="tesseract")
    assert err.value.code == "anpr_engine_unknown"
