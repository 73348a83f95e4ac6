"""No decompression bomb from an RTSP camera (issue #21 (5), R3.16): a real RTSP server (GStreamer)
streams H.264 whose SPS declares far more pixels than a lane camera sends. FFmpeg decodes the first
frames while it opens the stream; without a cap there, 16000×16000 took 1.2 GB before any check of
ours. The camera must refuse it by its declared size, in bounded memory."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from drivers.camera.sim import DEBIAN_PYTHON, RTSP_SERVER, rtsp_available
from tests.crafted_h264 import stream
from tests.peak import run_measured

#: the camera opened and run in a process of its own, so its peak memory is its own (tests/peak.py)
_CAMERA = """
import asyncio, json, sys
from drivers.camera.base import CameraError
from drivers.camera.stream import StreamCamera

async def main() -> None:
    cam = StreamCamera("front", sys.argv[1], kind="rtsp", timeout_s=10.0)
    try:
        await cam.run_stream()
        said = "no error"
    except CameraError as exc:
        said = exc.code
    print(json.dumps({"said": said}))

asyncio.run(main())
"""


@pytest.mark.parametrize("size", [(16000, 16000), (8208, 32)], ids=["16000x16000", "8208x32"])
def test_an_rtsp_stream_declaring_too_many_pixels_is_refused_in_bounded_memory(
    tmp_path: Path, size: tuple[int, int]
) -> None:
    assert rtsp_available() == "", rtsp_available()
    crafted = tmp_path / "crafted.h264"
    stream(str(crafted), *size)
    server = subprocess.Popen(
        [DEBIAN_PYTHON, str(RTSP_SERVER), "--port", "0", "--h264", str(crafted), "--fps", "10"],
        stdin=subprocess.PIPE,  # its end ends the server
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert server.stdout is not None
        line = server.stdout.readline().decode()
        assert line.startswith("ready "), line
        with (tmp_path / "out.json").open("w") as out:
            code, stderr, peak_mib = run_measured(
                "-c", _CAMERA, line.split()[1], peak_file=tmp_path / "peak", stdout=out
            )
        assert code == 0 and "Traceback" not in stderr, stderr
        said = json.loads((tmp_path / "out.json").read_text())
        assert said["said"] == "cam_frame_too_large", said
        assert 0 < peak_mib < 400, peak_mib  # one such frame alone: 366 MiB
    finally:
        server.terminate()
        server.wait(10)
