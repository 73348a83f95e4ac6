"""A simulated lane camera that speaks the real protocols: an MJPEG stream and JPEG snapshots over
HTTP (aiohttp), ONVIF's GetDeviceInformation, and — when Debian's GStreamer RTSP server is
installed — an RTSP stream of H.264 (``rtsp_server.py`` under ``/usr/bin/python3``).

What it shows comes from ``render(plate)`` (a few BGR frames of a car with that plate; the lane's
scenes are drawn by ``app/anpr/scenes.py``, which this package may not import). A control route
changes the plate, makes the picture grey or small (to test R6), or swaps the camera's identity
(R3.7)::

    POST /control/scene     {"plate": "123ABC02", "look": "clean" | "grey" | "small", "garbage": 3}
    POST /control/identity  {"make": …, "model": …, "serial": …}
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from aiohttp import web

from drivers.camera import onvif
from drivers.camera.base import CameraIdentity

log = logging.getLogger("otolane.camera.sim")
BOUNDARY = "otolaneframe"
LOOKS = ("clean", "grey", "small")
RTSP_SERVER = Path(__file__).with_name("rtsp_server.py")
DEBIAN_PYTHON = "/usr/bin/python3"


def rtsp_available() -> str:
    """Empty when the RTSP simulator can run here, else what is missing (in words)."""
    if not Path(DEBIAN_PYTHON).exists():
        return "Debian's /usr/bin/python3"
    probe = subprocess.run(
        [
            DEBIAN_PYTHON,
            "-c",
            "import gi; gi.require_version('GstRtspServer', '1.0'); "
            "from gi.repository import Gst, GstRtspServer; Gst.init(None); "
            "import sys; sys.exit(0 if Gst.ElementFactory.find('x264enc') else 3)",
        ],
        capture_output=True,
        timeout=30,
        check=False,
    )
    if probe.returncode == 0:
        return ""
    return "gir1.2-gst-rtsp-server-1.0 python3-gi gstreamer1.0-plugins-ugly gstreamer1.0-plugins-good"


def _look(img: np.ndarray, look: str) -> np.ndarray:
    if look == "grey":  # a grey picture stored as three equal channels: still greyscale (R6)
        g = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
        return cv2.cvtColor(g, cv2.COLOR_GRAY2BGR)
    if look == "small":
        return cv2.resize(img, (640, 360), interpolation=cv2.INTER_AREA)
    return img


#: how the simulated camera takes its account for ONVIF: WS-UsernameToken, or HTTP Digest only
ONVIF_AUTH = ("token", "http-digest")
DIGEST_REALM = "IP Camera"


class CameraSim:
    def __init__(
        self,
        render: Callable[[str], list[np.ndarray]],
        identity: CameraIdentity,
        plate: str = "",
        fps: float = 10.0,
        server_name: str = "otolane-camsim/1.0",
        account: onvif.Account | None = None,
        clock_offset_s: float = 0.0,
        onvif_auth: str = "token",
    ) -> None:
        self.render = render
        # ONVIF: with an account, GetDeviceInformation needs its UsernameToken ("token") or, on a
        # camera that takes the account at the HTTP layer only, HTTP Digest ("http-digest"); the
        # camera's clock runs this far from the lane's (cameras without NTP drift)
        if onvif_auth not in ONVIF_AUTH:
            raise ValueError(f"onvif_auth: one of {', '.join(ONVIF_AUTH)}")
        self.account = account
        self.clock_offset_s = clock_offset_s
        self.onvif_auth = onvif_auth
        self.nonces: set[str] = set()
        self.digest_issued: set[str] = set()
        self.digest_seen: set[str] = set()
        self.refused = 0
        self.identity = identity
        self.fps = fps
        self.gop = int(fps)  # frames from one key frame to the next on RTSP (a camera's is 1–10 s)
        self.server_name = server_name
        self.plate = plate
        self.look = "clean"
        self.jpegs: list[bytes] = []
        self.clients = 0
        self._closing = False
        self.garbage = 0  # the next parts of the MJPEG stream that are not JPEGs (a damaged stream)
        self.served = 0
        self._runner: web.AppRunner | None = None
        self._rtsp: subprocess.Popen[bytes] | None = None
        self._frames_dir: Path | None = None
        self.http_url = ""
        self.rtsp_url = ""
        self.set_scene(plate, "clean")

    # --- the picture -----------------------------------------------------------------
    def set_scene(self, plate: str, look: str) -> None:
        self.plate, self.look = plate, look
        frames = [_look(img, look) for img in self.render(plate)]
        self.jpegs = [cv2.imencode(".jpg", f, [cv2.IMWRITE_JPEG_QUALITY, 88])[1].tobytes() for f in frames]
        if self._frames_dir is not None:
            self._write_frames()

    def _write_frames(self) -> None:
        assert self._frames_dir is not None
        for i, data in enumerate(self.jpegs):
            tmp = self._frames_dir / f".frame{i:03d}.jpg"
            tmp.write_bytes(data)
            os.replace(tmp, self._frames_dir / f"frame{i:03d}.jpg")

    # --- HTTP ------------------------------------------------------------------------------
    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/mjpeg", self._mjpeg)
        app.router.add_get("/snapshot.jpg", self._snapshot)
        app.router.add_post("/onvif/device_service", self._onvif)
        app.router.add_post("/control/scene", self._control_scene)
        app.router.add_post("/control/identity", self._control_identity)

        async def server_header(request: web.Request, response: web.StreamResponse) -> None:
            response.headers["Server"] = self.server_name

        app.on_response_prepare.append(server_header)
        return app

    async def _mjpeg(self, request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(
            headers={
                "Content-Type": f"multipart/x-mixed-replace; boundary={BOUNDARY}",
                "Cache-Control": "no-cache",
            }
        )
        await resp.prepare(request)
        self.clients += 1
        i = 0
        try:
            while not self._closing:
                data = self.jpegs[i % len(self.jpegs)]
                if self.garbage > 0:
                    self.garbage -= 1
                    data = bytes(range(256)) * 8
                head = f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: {len(data)}\r\n\r\n"
                await resp.write(head.encode() + data + b"\r\n")
                self.served += 1
                i += 1
                await asyncio.sleep(1.0 / self.fps)
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        finally:
            self.clients -= 1
        return resp

    async def _snapshot(self, request: web.Request) -> web.Response:
        self.served += 1
        return web.Response(body=self.jpegs[0], content_type="image/jpeg")

    async def _onvif(self, request: web.Request) -> web.Response:
        body = await request.read()
        now = time.time() + self.clock_offset_s
        if b"GetSystemDateAndTime" in body:  # asked before any account (ONVIF Core § 5.12.1)
            return web.Response(
                body=onvif.system_date_and_time_response(now), content_type="application/soap+xml"
            )
        if b"GetDeviceInformation" not in body:
            raise web.HTTPBadRequest(text="only GetDeviceInformation and GetSystemDateAndTime here")
        if self.account is not None and self.onvif_auth == "http-digest":
            answer = request.headers.get("Authorization", "")
            problem = onvif.digest_problem(
                answer, request.method, request.path_qs, self.account, DIGEST_REALM,
                self.digest_issued, self.digest_seen,
            )  # fmt: skip
            if problem:
                if answer:  # the first request, without one, is the normal way to be challenged
                    self.refused += 1
                    log.info("ONVIF request refused: %s", problem)
                nonce = secrets.token_hex(16)
                self.digest_issued.add(nonce)
                if len(self.digest_issued) > 256:  # a camera keeps only its recent nonces
                    self.digest_issued.clear()
                    self.digest_seen.clear()
                    self.digest_issued.add(nonce)
                challenge = onvif.digest_challenge(DIGEST_REALM, nonce)
                return web.Response(status=401, headers={"WWW-Authenticate": challenge})
        elif self.account is not None and (
            problem := onvif.token_problem(body, self.account, now, self.nonces)
        ):
            self.refused += 1
            log.info("ONVIF request refused: %s", problem)
            return web.Response(
                body=onvif.not_authorized(problem), status=400, content_type="application/soap+xml"
            )
        return web.Response(
            body=onvif.device_information_response(self.identity), content_type="application/soap+xml"
        )

    async def _control_scene(self, request: web.Request) -> web.Response:
        data: dict[str, Any] = await request.json()
        self.garbage = max(0, min(100, int(data.get("garbage", 0))))
        look = str(data.get("look", self.look))
        if look not in LOOKS:
            raise web.HTTPBadRequest(text=f"look: one of {', '.join(LOOKS)}")
        await asyncio.to_thread(self.set_scene, str(data.get("plate", self.plate))[:12], look)
        return web.json_response({"plate": self.plate, "look": self.look})

    async def _control_identity(self, request: web.Request) -> web.Response:
        d: dict[str, Any] = await request.json()
        self.identity = CameraIdentity(
            str(d.get("make", self.identity.make)),
            str(d.get("model", self.identity.model)),
            str(d.get("serial", self.identity.serial)),
            str(d.get("firmware", self.identity.firmware)),
        )
        return web.json_response(self.identity.as_dict())

    # --- life -------------------------------------------------------------------------------
    async def start(self, port: int = 0, rtsp_port: int | None = None) -> None:
        self._closing = False
        self._runner = web.AppRunner(self.app(), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", port)
        await site.start()
        bound = self._runner.addresses[0][1]
        self.http_url = f"http://127.0.0.1:{bound}"
        if rtsp_port is not None:
            await self._start_rtsp(rtsp_port)

    async def _start_rtsp(self, port: int) -> None:
        self._frames_dir = Path(tempfile.mkdtemp(prefix="otolane-camsim-"))
        self._write_frames()
        self._rtsp = subprocess.Popen(  # noqa: ASYNC220 - started once; its line is awaited in a thread
            [
                DEBIAN_PYTHON,
                str(RTSP_SERVER),
                "--port",
                str(port),
                "--frames",
                str(self._frames_dir),
                "--fps",
                str(int(self.fps)),
                "--gop",
                str(self.gop),
            ],
            stdin=subprocess.PIPE,  # closed when this process ends: the server ends with it
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        assert self._rtsp.stdout is not None
        line = await asyncio.to_thread(self._rtsp.stdout.readline)
        if not line.startswith(b"ready "):
            await self.stop()
            raise RuntimeError(f"the RTSP simulator did not start ({line[:100]!r})")
        self.rtsp_url = line.split()[1].decode()

    async def stop(self) -> None:
        if self._rtsp is not None:
            self._rtsp.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                await asyncio.to_thread(self._rtsp.wait, 5)
            if self._rtsp.poll() is None:
                self._rtsp.kill()
            self._rtsp = None
        if self._frames_dir is not None:
            shutil.rmtree(self._frames_dir, ignore_errors=True)
            self._frames_dir = None
        if self._runner is not None:
            self._closing = True  # open streams end, so the server stops at once
            await self._runner.cleanup()
            self._runner = None
