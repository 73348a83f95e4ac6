"""No decompression bomb from a camera or a file (issue #21 (5)): an image whose header declares more
pixels than a lane camera sends is refused before anything decodes it — a 1 KB JPEG or PNG may
declare 30 000 × 30 000 pixels, which decoded is 2.7 GB."""

from __future__ import annotations

import json
import struct
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest

from drivers.camera.base import MAX_PIXELS, MAX_SIDE, CameraError, too_large
from drivers.camera.web import WebCamera, decode_image, image_size
from tests.peak import run_measured


def bomb_jpeg(width: int, height: int) -> bytes:
    """A real small JPEG whose start-of-frame header is rewritten to declare ``width``×``height``."""
    ok, enc = cv2.imencode(".jpg", np.zeros((16, 16, 3), np.uint8))
    assert ok
    data = bytearray(enc.tobytes())
    i = data.index(b"\xff\xc0")
    data[i + 5 : i + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def bomb_png(width: int, height: int) -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\0" * 64))
        + chunk(b"IEND", b"")
    )


@pytest.mark.parametrize("make", [bomb_jpeg, bomb_png], ids=["jpeg", "png"])
def test_an_image_declaring_too_many_pixels_is_refused_undecoded(make: object) -> None:
    data = make(30_000, 30_000)  # type: ignore[operator]
    assert len(data) < 2048 and image_size(data) == (30_000, 30_000)
    with pytest.raises(CameraError) as err:
        decode_image(data)
    assert err.value.code == "cam_frame_too_large" and err.value.params == {
        "width": "30000",
        "height": "30000",
    }


def test_the_limit_takes_every_lane_camera_and_nothing_past_8k() -> None:
    for w, h in ((640, 480), (1920, 1080), (3840, 2160), (4000, 3000), (7680, 4320)):
        assert not too_large(w, h), (w, h)
    for w, h in ((MAX_SIDE + 1, 16), (16, MAX_SIDE + 1), (8192, 8192), (30_000, 30_000)):
        assert too_large(w, h), (w, h)
    assert MAX_PIXELS == 7680 * 4320


def test_a_web_cameras_frame_declaring_too_many_pixels_is_counted_and_not_kept() -> None:
    """A camera (or a man in the middle) sends the bomb as an MJPEG part: counted, logged, the stream
    goes on with the next honest frame."""
    cam = WebCamera("front", "http://127.0.0.1:9/mjpeg")
    cam.take_frame(bomb_jpeg(30_000, 30_000))
    assert cam.latest is None and cam.counters.bad_frames == 1
    cam.take_frame(bomb_jpeg(16, 16))
    assert cam.latest is not None and cam.latest.width == 16 and cam.latest.rgb().shape == (16, 16, 3)


def test_otolane_anpr_says_an_image_is_too_large_and_stays_small(tmp_path: Path) -> None:
    """The CLI reads the header first: the bomb is named, in bounded memory, no internal error."""
    (tmp_path / "bomb.jpg").write_bytes(bomb_jpeg(30_000, 30_000))
    (tmp_path / "bomb.png").write_bytes(bomb_png(30_000, 30_000))
    out = tmp_path / "out.txt"
    with out.open("w") as f:
        code, stderr, peak_mib = run_measured(
            "-m", "app.cli", "anpr", "--json", "bomb.jpg", "bomb.png",
            peak_file=tmp_path / "peak", cwd=tmp_path, stdout=f,
        )  # fmt: skip
    said = [json.loads(line) for line in out.read_text().splitlines()]
    assert code == 1 and "Traceback" not in stderr, stderr
    assert [s["error"] for s in said] == ["30000×30000 pixels: more than a camera sends"] * 2
    assert 0 < peak_mib < 1024, peak_mib  # the decoded bomb alone would be 2 600 MiB
    assert peak_mib < 1024, peak_mib  # the decoded bomb alone would be 2 600 MiB
