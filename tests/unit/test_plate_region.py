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
