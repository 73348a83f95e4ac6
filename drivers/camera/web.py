"""Web cameras over HTTP (R3.16): an MJPEG stream (``multipart/x-mixed-replace``, one JPEG per
part) or, for a camera that only serves stills, a JPEG snapshot polled at ``fps``. The newest JPEG
is kept as it came; it is decoded only when a frame is grabbed. A part that is not a JPEG is counted
and logged, and the stream goes on."""

from __future__ import annotations

import asyncio
import hashlib
import time

import aiohttp
import cv2
import numpy as np

from drivers.camera.base import Camera, CameraError, CameraIdentity, CameraStatus, Frame, log, too_large

#: a JPEG's start-of-frame markers (baseline, extended, progressive …): height and width follow
_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}
MAX_PART = 8 * 1024 * 1024


def jpeg_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) of a JPEG from its SOF header, without decoding it; None if not a JPEG."""
    if not data.startswith(b"\xff\xd8"):
        return None
    i = 2
    n = len(data)
    while i + 4 <= n:
        if data[i] != 0xFF:
            return None
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            i += 2
            continue
        length = int.from_bytes(data[i + 2 : i + 4], "big")
        if length < 2:
            return None
        if marker in _SOF:
            if i + 9 > n:
                return None
            h = int.from_bytes(data[i + 5 : i + 7], "big")
            w = int.from_bytes(data[i + 7 : i + 9], "big")
            return (w, h) if w and h else None
        i += 2 + length
    return None


PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) of a PNG from its IHDR chunk; None if not a PNG."""
    if not data.startswith(PNG_SIGNATURE) or data[12:16] != b"IHDR" or len(data) < 24:
        return None
    w, h = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    return (w, h) if w and h else None


def image_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) a JPEG or PNG declares in its header; None if it is neither."""
    return jpeg_size(data) or png_size(data)


def decode_bgr(data: bytes) -> np.ndarray:
    """BGR pixels (OpenCV's order) of a JPEG or PNG; a greyscale file gives three equal channels.
    Its header is read first: an image that declares more pixels than a camera sends is refused
    undecoded."""
    size = image_size(data)
    if size is None:
        raise CameraError("cam_undecodable")
    if too_large(*size):
        raise CameraError("cam_frame_too_large", width=size[0], height=size[1])
    bgr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if bgr is None:
        raise CameraError("cam_undecodable")
    return bgr


def decode_image(data: bytes) -> np.ndarray:
    """RGB pixels of a JPEG or PNG (see :func:`decode_bgr`)."""
    return cv2.cvtColor(decode_bgr(data), cv2.COLOR_BGR2RGB)


class WebCamera(Camera):
    """``kind = "mjpeg"``: a multipart stream; ``kind = "jpeg"``: snapshots polled ``fps`` times a
    second."""

    def __init__(
        self, camera_id: str, url: str, *, kind: str = "mjpeg", fps: float = 2.0, **kw: object
    ) -> None:
        super().__init__(camera_id, url, **kw)  # type: ignore[arg-type]
        self.kind = kind
        self.poll_fps = fps
        self._server = ""
        self._fingerprint = ""

    def take_frame(self, data: bytes) -> None:
        """A JPEG (or a web camera's PNG still) as it came; anything else is counted and skipped."""
        size, encoded = jpeg_size(data), "jpeg"
        if size is None:
            size, encoded = png_size(data), "png"
        if size is None:
            self.counters.bad_frames += 1
            log.warning("camera %s: a part that is not a JPEG or PNG (%d bytes) skipped", self.id, len(data))
            return
        self._got(  # a frame declaring too many pixels is refused there, before anything decodes it
            Frame(time.time(), size[0], size[1], lambda d=data: decode_image(d), encoded=encoded, data=data)
        )

    def _note_server(self, resp: aiohttp.ClientResponse) -> None:
        self._server = resp.headers.get("Server", "")[:64]
        ssl_obj = resp.connection.transport.get_extra_info("ssl_object") if resp.connection else None
        der = ssl_obj.getpeercert(binary_form=True) if ssl_obj is not None else None
        self._fingerprint = "sha256:" + hashlib.sha256(der).hexdigest() if der else ""

    async def _stream_identity(self) -> CameraIdentity:
        timeout = aiohttp.ClientTimeout(total=self.timeout_s)
        try:
            async with aiohttp.ClientSession(timeout=timeout) as http, http.get(self.url) as resp:
                self._note_server(resp)  # the headers only: the body is left unread
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise CameraError("cam_unreachable", url=self.shown_url, error=type(exc).__name__) from None
        stamp = self._fingerprint or ("server:" + self._server if self._server else "")
        if not stamp:
            raise CameraError("cam_no_fingerprint")
        return CameraIdentity("", self._server, stamp, source="stream")

    async def run_stream(self) -> None:
        timeout = aiohttp.ClientTimeout(total=None, connect=self.timeout_s, sock_read=self.timeout_s)
        async with aiohttp.ClientSession(timeout=timeout) as http:
            if self.kind == "jpeg":
                await self._poll(http)
            else:
                await self._multipart(http)

    async def _multipart(self, http: aiohttp.ClientSession) -> None:
        try:
            async with http.get(self.url) as resp:
                if resp.status != 200:
                    raise CameraError("cam_http_status", status=resp.status, url=self.shown_url)
                ctype = resp.headers.get("Content-Type", "")
                if not ctype.startswith("multipart/"):
                    raise CameraError("cam_not_mjpeg", content_type=repr(ctype[:60]))
                reader = aiohttp.MultipartReader(resp.headers, resp.content)
                while not self._stop:
                    part = await reader.next()
                    if part is None:
                        raise CameraError("cam_stream_ended")
                    data = await part.read()  # type: ignore[union-attr]
                    if len(data) > MAX_PART:
                        self.counters.bad_frames += 1
                        continue
                    self.take_frame(bytes(data))
        except (aiohttp.ClientError, TimeoutError, ValueError, OSError) as exc:
            raise CameraError(
                "cam_stream_broke", detail=f"{type(exc).__name__}: {self.said(exc, 80)}"
            ) from None

    async def _poll(self, http: aiohttp.ClientSession) -> None:
        period = 1.0 / max(self.poll_fps, 0.1)
        while not self._stop:
            t0 = time.monotonic()
            try:
                async with http.get(self.url) as resp:
                    if resp.status != 200:
                        raise CameraError("cam_http_status", status=resp.status, url=self.shown_url)
                    if (resp.content_length or 0) > MAX_PART:
                        raise CameraError("cam_snapshot_too_large", size=resp.content_length)
                    data = await resp.read()
            except (aiohttp.ClientError, TimeoutError, OSError) as exc:
                raise CameraError("cam_snapshot_failed", error=type(exc).__name__) from None
            self.take_frame(data)
            if self.status == CameraStatus.FAULTED:
                break
            await asyncio.sleep(max(0.0, period - (time.monotonic() - t0)))
