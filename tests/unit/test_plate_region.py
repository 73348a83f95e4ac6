"""The plate region of a lane camera (issue #26, R3.2): checked as given, applied in pixels, drawn
on the cameras screen's picture."""

from __future__ import annotations

import base64

import pytest

from app.errors import OtolaneError
from app.lane.plate_reader import check_roi, in_pixels
from tui.screens.cameras import marked, region_text


@pytest.mark.parametrize(
    "bad",
    [[0.5, 0.5, 0.6, 0.2], [0, 0, 0.01, 0.5], [0, 0, 1], "all", [0, 0, True, 1], [-0.1, 0, 0.5, 0.5], {}],
)
def test_a_region_outside_the_frame_or_too_small_is_refused(bad: object) -> None:
    """R3.2: four fractions inside the frame, each side at least MIN_ROI of it."""
    with pytest.raises(OtolaneError) as e:
        check_roi(bad)
    assert e.value.code == "roi_bad" and e.value.params == {"field": "roi"}


def test_a_region_is_kept_as_fractions_and_applied_in_pixels() -> None:
    assert check_roi(None) is None
    assert check_roi([0.25, 0.5, 0.5, 0.4]) == (0.25, 0.5, 0.5, 0.4)
    assert check_roi([0, 0, 1, 1]) == (0.0, 0.0, 1.0, 1.0)
    assert in_pixels((0.25, 0.5, 0.5, 0.4), 1280, 720) == (320, 360, 640, 288)


def test_the_picture_dims_what_lies_outside_the_region_and_draws_its_edge() -> None:
    w, h = 10, 10
    grey = base64.b64encode(bytes([150]) * (w * h * 3)).decode()
    out = base64.b64decode(marked(w, h, grey, [0.2, 0.2, 0.5, 0.5]))
    px = lambda x, y: out[(y * w + x) * 3 : (y * w + x) * 3 + 3]  # noqa: E731
    assert px(0, 0) == bytes([50, 50, 50])  # outside: a third as bright
    assert px(2, 2) == b"\xff\xd7\x00"  # the edge: yellow
    assert px(4, 4) == bytes([150, 150, 150])  # inside: as it is
    assert marked(w, h, "AAAA", [0, 0, 1, 1]) == "AAAA"  # not a picture of that size: left alone


def test_the_region_is_said_in_percent_of_the_frame() -> None:
    said = region_text(lambda key, **p: f"{key}:{p}", [0.25, 0.5, 0.5, 0.4])
    assert said == "cameras.region:{'x': 25, 'y': 50, 'w': 50, 'h': 40}"
    assert region_text(lambda key, **p: key, None) == "cameras.region_whole"


def test_the_recogniser_reads_within_the_region_and_says_the_box_in_the_frame() -> None:
    """R3.2: the box answered is in the whole frame; outside the region nothing is read."""
    from app.anpr.recognise import Recogniser
    from app.anpr.scenes import render_scene

    scene = render_scene("123ABC02", "clean", 3)
    x, y, bw, bh = scene.box
    rec = Recogniser()
    got = rec.read(scene.image, roi=(max(0, x - bw), max(0, y - bh), 3 * bw, 3 * bh))
    assert got.plate == "123ABC02" and got.bbox is not None
    assert abs(got.bbox[0] - x) < bw // 2 and abs(got.bbox[1] - y) < bh // 2
    far = (0, 0, 200, 120) if y > 240 else (0, 600, 200, 120)
    assert rec.read(scene.image, roi=far).plate is None


def test_two_parts_of_one_line_are_read_as_one_and_other_lines_are_not_joined() -> None:
    """R3.2 (issue #26): a plate seen large is found in two parts split at its gap (``123`` and
    ``ABC 02``): they are read joined; parts on other lines or far apart are not."""
    from app.anpr.recognise import side_by_side

    digits, letters = (94, 112, 118, 46), (226, 98, 230, 76)
    assert side_by_side([letters, digits]) == [(94, 98, 362, 76)]
    assert side_by_side([digits, (226, 200, 230, 76)]) == []  # the next line down
    assert side_by_side([digits, (400, 112, 118, 46)]) == []  # a line's height and more apart


@pytest.mark.parametrize(
    ("plate", "condition", "seed"),
    [
        ("113DO10", "clean", 1),
        ("011VK16", "clean", 1),
        ("Z525SHY", "clean", 1),
        ("981WQJ20", "clean", 1),
        ("664PLD09", "clean", 1),
        ("L317FJJ", "clean", 1),
        ("153OZ20", "blur", 1),
        ("468OWW04", "glare", 0),
        ("468OWW04", "night", 0),
    ],
)
def test_in_a_plate_region_the_plate_is_read_without_the_text_detector(
    plate: str, condition: str, seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """R3.2 (issue #26, ≤ 60 ms with a region): in the region the administrator marked, the plate
    is large and nothing else is there — it is read by the quick way alone, the whole plate: both
    halves of a 2012 plate joined, a 1993 plate's region letter standing apart taken with it (these
    plates sent the region to the detector, three times the cost); a blurred or glaring plate read
    less than sure but of a known format is kept (docs/anpr.md says what that costs)."""
    from app.anpr.scenes import render_scene

    rec = _recogniser()
    engine, detector = rec.engine, []

    def counting(image, use_det, use_cls, use_rec):  # type: ignore[no-untyped-def]
        detector.extend([1] if use_det else [])
        return engine(image, use_det=use_det, use_cls=use_cls, use_rec=use_rec)

    monkeypatch.setattr(rec, "engine", counting)
    scene = render_scene(plate, condition, seed)
    h, w = scene.image.shape[:2]
    x, y, bw, bh = scene.box
    rx, ry = min(max(0, x + bw // 2 - 240), w - 480), min(max(0, y + bh // 2 - 135), h - 270)
    got = rec.read(scene.image, roi=(rx, ry, 480, 270))
    assert (got.plate, detector) == (plate, [])


_REC: list[object] = []


def _recogniser():  # type: ignore[no-untyped-def]
    from app.anpr.recognise import Recogniser

    if not _REC:
        _REC.append(Recogniser())
    return _REC[0]
