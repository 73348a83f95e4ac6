"""The vehicle photo's rules (R6, R3.9) and its EXIF (R3.18), as pure functions."""

from __future__ import annotations

import io
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from app.anpr.scenes import camera_frames
from app.domain import photo
from app.lane.photos import PhotoRefused, Place, chroma, judged, read_gps, with_exif
from drivers.camera.base import CameraIdentity, Frame
from drivers.camera.web import decode_image

IDENT = CameraIdentity("Hikvision", "DS-2CD2043G2-I", "DS-0001", "V5.7.3")
ASTANA = Place(51.1801, 71.4460)


def _frame(img_bgr: np.ndarray) -> Frame:
    data = cv2.imencode(".jpg", img_bgr)[1].tobytes()
    h, w = img_bgr.shape[:2]
    return Frame(time.time(), w, h, lambda: decode_image(data), encoded="jpeg", data=data)


@pytest.mark.parametrize(
    ("category", "axles", "step"),
    [
        ("M1", 2, "brakes_axle_1"),
        ("N3", 3, "brakes_axle_1"),
        ("O4", 3, "brakes_axle_3"),
        ("O1", 1, "brakes_axle_1"),
    ],
)
def test_the_photo_is_taken_at_the_front_axle_or_a_trailers_rear_axle(
    category: str, axles: int, step: str
) -> None:
    """R3.9 (Requirements p. 3.9): front axle; for a trailer (O1–O4) its rear axle."""
    assert photo.photo_step(category, axles) == step


def test_the_brake_test_itself_triggers_the_photo_not_idle_rollers() -> None:
    """R3.9: a braked wheel's force in the trigger step; drag of idle rollers does not; another
    axle's test does not."""
    t = photo.triggers
    assert t("brakes_axle_1", "brakes_axle_1", "brake.force.left", 0.8, False)
    assert not t("brakes_axle_1", "brakes_axle_1", "brake.force.left", 0.07, False)
    assert not t("brakes_axle_2", "brakes_axle_1", "brake.force.left", 3.0, False)
    assert t("brakes_axle_1", "brakes_axle_1", "brake.force.right.max", 3.4, True)
    assert not t("brakes_axle_1", "brakes_axle_1", "brake.wheel_load.left", 520, True)


@pytest.mark.parametrize(
    ("w", "h", "fmt", "channels", "chroma_", "code"),
    [
        (1280, 720, "jpeg", 3, 20.0, None),
        (1920, 1080, "png", 3, 20.0, None),
        (1279, 720, "jpeg", 3, 20.0, "photo_too_small"),
        (1280, 719, "jpeg", 3, 20.0, "photo_too_small"),
        (1280, 720, "bmp", 3, 20.0, "photo_format"),
        (1280, 720, "jpeg", 1, 0.0, "photo_not_rgb"),
        (1280, 720, "jpeg", 3, 0.2, "photo_greyscale"),
    ],
)
def test_photo_rules_of_r6(w: int, h: int, fmt: str, channels: int, chroma_: float, code: str | None) -> None:
    """R6: at least 1280×720, JPEG or PNG, RGB, no greyscale."""
    got = photo.problems(w, h, fmt, channels, 8, chroma_)
    assert [c for c, _ in got][:1] == ([code] if code else [])


def test_a_grey_picture_stored_as_rgb_is_greyscale_and_a_lane_scene_is_not() -> None:
    """R6: a grey picture in three equal channels is refused; a camera's colour scene passes."""
    scene = camera_frames("123ABC02", 1)[0]
    grey = cv2.cvtColor(cv2.cvtColor(scene, cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR)
    assert chroma(decode_image(cv2.imencode(".jpg", grey)[1].tobytes())) < photo.GREY_CHROMA
    assert chroma(decode_image(cv2.imencode(".jpg", scene)[1].tobytes())) > photo.GREY_CHROMA
    with pytest.raises(PhotoRefused) as err:
        judged(_frame(grey), IDENT, "front", ASTANA)
    assert err.value.code == "photo_greyscale"
    with pytest.raises(PhotoRefused) as err:
        judged(_frame(cv2.resize(scene, (640, 360))), IDENT, "front", ASTANA)
    assert err.value.code == "photo_too_small" and err.value.params["size"] == "640×360"


def test_the_photo_carries_the_lanes_position_time_and_camera_in_its_exif() -> None:
    """R3.18: the geolocation in the image's EXIF (read back by Pillow), with the camera and time;
    the camera's own JPEG data is kept as it came (nothing re-encoded)."""
    frame = _frame(camera_frames("123ABC02", 1)[0])
    jpeg, facts = judged(frame, IDENT, "front", Place(-33.8688, 151.2093))
    lat, lon = read_gps(jpeg)  # type: ignore[misc]
    assert lat == pytest.approx(-33.8688, abs=1e-6) and lon == pytest.approx(151.2093, abs=1e-6)
    exif = Image.open(io.BytesIO(jpeg)).getexif()
    assert exif[0x010F] == "Hikvision" and exif[0x0110] == "DS-2CD2043G2-I"
    assert exif.get_ifd(0x8769)[0xA431] == "DS-0001"
    assert exif[0x0132] == time.strftime("%Y:%m:%d %H:%M:%S", time.localtime(frame.ts))
    scan = frame.data[frame.data.index(b"\xff\xda") :]
    assert jpeg.endswith(scan)  # the image data itself untouched
    assert facts["latitude"] == -33.8688 and facts["camera"]["serial"] == "DS-0001"


def test_a_cameras_own_exif_is_replaced_not_doubled() -> None:
    jpeg = cv2.imencode(".jpg", camera_frames("123ABC02", 1)[0])[1].tobytes()
    once = with_exif(jpeg, b"Exif\x00\x00" + b"A" * 20)
    twice = with_exif(once, b"Exif\x00\x00" + b"B" * 20)
    assert twice.count(b"Exif\x00\x00") == 1 and b"BBBB" in twice
    with pytest.raises(ValueError):
        with_exif(b"PNG", b"Exif\x00\x00")


def test_a_cameras_password_is_never_shown() -> None:
    from drivers.camera.base import redact
    from drivers.camera.registry import make_camera

    assert (
        redact("rtsp://lane:s3cret@10.0.5.21:554/Streaming/101")
        == "rtsp://lane:***@10.0.5.21:554/Streaming/101"
    )
    assert redact("http://10.0.5.22/mjpeg") == "http://10.0.5.22/mjpeg"
    assert redact("http://lane:pw@[fe80::1]:8080/mjpeg") == "http://lane:***@[fe80::1]:8080/mjpeg"
    cam = make_camera("rtsp", "front", "rtsp://lane:s3cret@127.0.0.1:9/x")
    assert "s3cret" not in cam.shown_url and "s3cret" not in str(cam.as_dict())
    assert cam.said(OSError("cannot open 'rtsp://lane:s3cret@127.0.0.1:9/x'")) == (
        "cannot open 'rtsp://lane:***@127.0.0.1:9/x'"
    )
    # a reason whose words quote the URL: neither its English nor its parameters say the password
    from drivers.camera.base import CameraError, CameraStatus

    cam.set_status(
        CameraStatus.FAULTED, CameraError("cam_failed", error="rtsp://lane:s3cret@127.0.0.1:9/x: EOF")
    )
    assert cam.reason == "camera driver error: rtsp://lane:***@127.0.0.1:9/x: EOF"
    assert cam.why == {"code": "cam_failed", "params": {"error": "rtsp://lane:***@127.0.0.1:9/x: EOF"}}
    assert "s3cret" not in str(cam.as_dict())


def test_a_web_cameras_png_still_becomes_a_jpeg_photo_with_its_exif() -> None:
    """R6: JPEG or PNG; a PNG still is judged as PNG and stored as JPEG (with the EXIF)."""
    from drivers.camera.web import WebCamera, png_size

    scene = camera_frames("123ABC02", 1)[0]
    png = cv2.imencode(".png", scene)[1].tobytes()
    assert png_size(png) == (1280, 720) and png_size(b"\x89PNG\r\n\x1a\n") is None
    cam = WebCamera("web", "http://127.0.0.1:9/snapshot.png", kind="jpeg")
    cam.take_frame(png)
    frame = cam.latest
    assert frame is not None and frame.encoded == "png" and (frame.width, frame.height) == (1280, 720)
    jpeg, facts = judged(frame, IDENT, "web", ASTANA)
    assert jpeg.startswith(b"\xff\xd8") and read_gps(jpeg) is not None and facts["format"] == "jpeg"
    cam.take_frame(b"GIF89a....")
    assert cam.counters.bad_frames == 1


async def test_a_cut_capture_is_finished_or_removed_at_start_looking_only_at_its_folder(
    tmp_path: Path,
) -> None:
    """R3.10, issue #20 item 2: a photo's file waits in the incoming folder until its row is
    committed. At start a file whose row was committed goes into place (the capture was
    acknowledged), one without a row is removed (it never was); the photos already in place are not
    read, so the sweep does not grow with the lane's photos."""
    from app import config as config_mod
    from app.demo_config import write_config
    from app.lane.photos import INCOMING, SUFFIX, Photos, Place
    from app.storage.models import Photo
    from app.storage.store import close_store, open_store

    cfg = config_mod.load(write_config(tmp_path, 1.0, 9))
    store = await open_store(cfg)
    try:
        photos = Photos(tmp_path / "photos", store.keyring, store.journal, Place(1.0, 2.0))
        photos.ensure_folder()
        jpeg, facts = judged(_frame(camera_frames("123ABC02", 1)[0]), IDENT, "front", Place(1.0, 2.0))
        ids = {"inspection": 1, "inspection_id": "i1"}
        kept = await photos.store(jpeg, facts, 1.0, ids, "brakes_axle_1", "laned")
        assert photos.file(kept["photo_id"]).is_file() and not list((photos.folder / INCOMING).iterdir())
        # the daemon died after the commit, before the move: the row is there, the file waits
        acked = await photos.store(jpeg, facts, 2.0, ids, "brakes_axle_1", "laned")
        photos.file(acked["photo_id"]).rename(photos.folder / INCOMING / f"{acked['photo_id']}{SUFFIX}")
        # ... and before the commit: a file with no row, and a torn temporary file
        (photos.folder / INCOMING / f"never{SUFFIX}").write_bytes(b"x")
        (photos.folder / INCOMING / f".never{SUFFIX}.tmp").write_bytes(b"x")
        stray = photos.folder / f"older{SUFFIX}"  # not the sweep's: the integrity check reads rows
        stray.write_bytes(b"x")
        assert await photos.sweep() == 2
        assert not list((photos.folder / INCOMING).iterdir()) and stray.exists()
        record, image = photos.load(await Photo.get(photo_id=acked["photo_id"]))
        assert image == jpeg and record["photo_id"] == acked["photo_id"]
    finally:
        await close_store()


def _segment(marker: int, payload: bytes) -> bytes:
    return bytes([0xFF, marker]) + (len(payload) + 2).to_bytes(2, "big") + payload


def test_a_cameras_own_metadata_blocks_do_not_reach_the_stored_photo() -> None:
    """Issue #21 (7), R3.9: a camera's XMP (with its own GPS position and time), IPTC, ICC profile and
    comment are dropped; the lane's Exif is the photo's only metadata, and the pixels are the same."""
    jpeg = cv2.imencode(".jpg", camera_frames("123ABC02", 1)[0])[1].tobytes()
    xmp = b"http://ns.adobe.com/xap/1.0/\x00<x:xmpmeta><exif:GPSLatitude>55,45.0N</exif:GPSLatitude>"
    xmp += b"<xmp:CreateDate>2001-01-01T00:00:00</xmp:CreateDate></x:xmpmeta>"
    extra = (
        _segment(0xE1, xmp)
        + _segment(0xED, b"Photoshop 3.0\x008BIM IPTC city=Elsewhere")
        + _segment(0xE2, b"ICC_PROFILE\x00\x01\x01profile")
        + _segment(0xFE, b"camera comment 2001-01-01")
    )
    dirty = jpeg[:2] + extra + jpeg[2:]
    stored = with_exif(dirty, b"Exif\x00\x00" + b"L" * 20)
    for gone in (b"xmpmeta", b"55,45.0N", b"2001-01-01", b"8BIM", b"ICC_PROFILE", b"camera comment"):
        assert gone not in stored, gone
    assert stored.count(b"Exif\x00\x00") == 1 and b"JFIF\x00" in stored
    same = cv2.imdecode(np.frombuffer(stored, np.uint8), cv2.IMREAD_COLOR)
    assert np.array_equal(same, cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR))


def test_a_frame_outside_its_steps_run_is_not_its_photo_on_the_lane_clock() -> None:
    """Issue #22 item 2 (R3.9): one clock for all a card shows — a training lane's runs faster, and a
    camera frame's wall time is put on it; a frame before its step started (beyond half a second) or
    after now is refused."""
    from app.domain.clock import LaneClock
    from app.domain.photo import WINDOW_SLACK_S, outside_step

    fast = LaneClock(speed=60.0, origin_wall=1000.0, origin_lane=5000.0)
    assert fast.at(1010.0) == 5600.0
    assert LaneClock().at(1234.5) == 1234.5  # production: the wall clock itself
    assert outside_step(100.0, 100.0, 130.0) is None
    assert outside_step(100.0 - WINDOW_SLACK_S, 100.0, 130.0) is None
    assert outside_step(100.0 - WINDOW_SLACK_S - 0.01, 100.0, 130.0) == ("photo_outside_step", {})
    assert outside_step(130.0 + WINDOW_SLACK_S, 100.0, 130.0) is None
    assert outside_step(130.0 + WINDOW_SLACK_S + 0.01, 100.0, 130.0) == ("photo_outside_step", {})


def _raw(img: np.ndarray, encoded: str = "") -> Frame:
    """A frame as a stream camera gives it: pixels only (RGB, or grey as a capture card may)."""
    h, w = img.shape[:2]
    return Frame(1_764_000_000.0, w, h, lambda: img, encoded=encoded)


def test_a_decoded_stream_frame_becomes_a_jpeg_photo_and_odd_frames_are_refused_by_name() -> None:
    """R6 through ``judged`` itself: a stream's decoded frame (no encoding of its own) is encoded as
    JPEG with the lane's EXIF, its moment the lane clock's; a grey single-channel frame, a frame in
    a format no photo may have, and a small one are each refused with their own code."""
    rgb = cv2.cvtColor(camera_frames("123ABC02", 1)[0], cv2.COLOR_BGR2RGB)
    jpeg, facts = judged(_raw(rgb), IDENT, "front", ASTANA, taken=1_800_000_000.0)
    assert jpeg.startswith(b"\xff\xd8")
    assert (facts["width"], facts["height"], facts["format"]) == (1280, 720, "jpeg")
    back = cv2.cvtColor(cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    err = np.abs(back.astype(int) - rgb.astype(int)).mean()
    swapped = np.abs(back.astype(int) - rgb[..., ::-1].astype(int)).mean()
    assert err < 8 and err < swapped  # the picture, its colours the right way round
    exif = Image.open(io.BytesIO(jpeg)).getexif()
    assert exif[0x0132] == time.strftime("%Y:%m:%d %H:%M:%S", time.localtime(1_800_000_000.0))
    refusals = {
        "grey": _raw(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)),
        "bmp": _raw(rgb, encoded="bmp"),
        "small": _raw(cv2.resize(rgb, (640, 360))),
    }
    codes = {}
    for name, frame in refusals.items():
        with pytest.raises(PhotoRefused) as err:
            judged(frame, IDENT, "front", ASTANA)
        codes[name] = err.value.code
    assert codes == {"grey": "photo_not_rgb", "bmp": "photo_format", "small": "photo_too_small"}
