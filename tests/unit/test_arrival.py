"""When the lane reads a plate by itself (R3.2, issue #26 item 4): the arrival watch reads a scene
once it has settled and differs from the scene last read — not while a car is moving, not again
while it stands, and not on a camera's noise."""

from __future__ import annotations

import numpy as np

from app.anpr.arrival import CHANGE, MOTION, ArrivalWatch, difference, signature
from app.anpr.scenes import camera_frames, empty_lane, render_scene


def _sig(image: np.ndarray) -> np.ndarray:
    return signature(image)


def test_a_cameras_noise_is_not_movement_and_a_car_is_a_new_scene() -> None:
    """R3.2: frames of one still picture differ by less than MOTION; a car against the empty lane by
    more than CHANGE (the thresholds are measured on the lane's own pictures, not guessed)."""
    a, b = (_sig(f) for f in camera_frames("123ABC02", 2))
    assert difference(a, b) < MOTION / 4
    empty = _sig(empty_lane())
    assert difference(a, empty) > 3 * CHANGE
    other = _sig(camera_frames("555XYZ05", 1)[0])  # another car (another colour) is another scene
    assert difference(a, other) > CHANGE


def test_the_scene_is_read_once_when_it_has_settled() -> None:
    """R3.2: the first still scene is read; the same scene again is not; a car that drives in is read
    only once it stands still, and once."""
    watch = ArrivalWatch()
    still = [_sig(f) for f in camera_frames("", 3)]
    said = [watch.look(s) for s in still]
    assert said == [False, False, True]  # the empty lane, seen still three looks: read once
    assert not any(watch.look(s) for s in still * 3)
    car = render_scene("123ABC02", "clean", seed=0).image
    rolling = [np.roll(car, shift, axis=1) for shift in (-600, -400, -200)]  # it drives in
    assert not any(watch.look(_sig(f)) for f in rolling)
    # the first look still differs from the last move
    parked = [_sig(f) for f in camera_frames("123ABC02", 4)]
    assert [watch.look(s) for s in parked] == [False, False, False, True]
    assert not any(watch.look(s) for s in parked * 3)
    # it drives out: the empty lane is a new scene again (the arrival is cleared by reading it)
    assert [watch.look(s) for s in [still[0], *still]] == [False, False, False, True]


def test_a_region_looks_only_at_its_part_of_the_picture() -> None:
    """R3.2: with the plate region marked, someone walking past elsewhere in the picture is not a
    new scene."""
    frame = camera_frames("123ABC02", 1)[0]
    walker = frame.copy()
    walker[50:400, 1000:1200] = 255  # a person by the wall, far from the plate
    box = (400, 400, 500, 150)
    assert difference(signature(frame, box), signature(walker, box)) < MOTION
    assert difference(signature(frame), signature(walker)) > MOTION
