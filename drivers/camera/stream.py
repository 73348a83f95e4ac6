"""IP cameras over RTSP and analog cameras behind a V4L2 capture card (R3.16), both through PyAV
(FFmpeg). Decoding runs in a thread of its own, so the lane's event loop never waits on it. A frame
is kept as FFmpeg decoded it; its conversion to RGB happens only when it is grabbed. While the
camera is not armed, only the key frames are decoded (the stream stays open and its status true,
at a fraction of the CPU); the packets between wait, so that armed, its first picture is whole.

A V4L2 device (``/dev/video0``) is opened with FFmpeg's ``v4l2`` input; its identity without ONVIF
is the card's name from sysfs (``/sys/class/video4linux/videoN/name``).
"""

from __future__ import annotations

import asyncio
import socket
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import av

from drivers.camera.base import MAX_PIXELS, Camera, CameraError, CameraIdentity, Frame, log, too_large

#: the packets after a key frame kept undecoded while the camera is not armed; past this (a GOP of
#: more than 25 s at 25 fps, or 32 MiB) they are dropped and the next key frame awaited
GOP_PACKETS, GOP_BYTES = 625, 32 * 1024 * 1024


class _Gop:
    """Which packets to decode now: from a key frame on, every packet in order, never one whose
    reference the decoder lacks. Unarmed, the packets after the key frame wait here undecoded."""

    def __init__(self) -> None:
        self.synced = False  # a key frame decoded, and every packet after it decoded or kept
        self.kept: list[Any] = []
        self.size = 0

    def take(self, packet: Any, armed: bool) -> list[tuple[Any, bool]]:
        """(packet, keep its picture) to decode now, in order."""
        if packet.is_keyframe:
            self.kept, self.size, self.synced = [], 0, True
            return [(packet, True)]
        if not self.synced:
            return []  # joined between key frames: nothing decodes whole before the next
        if not armed:
            self.kept.append(packet)
            self.size += packet.size
            if len(self.kept) > GOP_PACKETS or self.size > GOP_BYTES:
                self.lost()
            return []
        now = [(p, False) for p in self.kept] + [(packet, True)]
        self.kept, self.size = [], 0
        return now

    def lost(self) -> None:
        """A packet could not be decoded whole: nothing until the next key frame."""
        self.kept, self.size, self.synced = [], 0, False


def rtsp_server_name(url: str, timeout_s: float) -> str:
    """The ``Server`` header of the camera's answer to RTSP ``OPTIONS`` (RFC 2326 §10.1)."""
    u = urlsplit(url)
    host, port = u.hostname or "", u.port or 554
    request = f"OPTIONS {url} RTSP/1.0\r\nCSeq: 1\r\nUser-Agent: otolane\r\n\r\n".encode()
    try:
        with socket.create_connection((host, port), timeout=timeout_s) as s:
            s.sendall(request)
            answer = b""
            while b"\r\n\r\n" not in answer and len(answer) < 8192:
                chunk = s.recv(4096)
                if not chunk:
                    break
                answer += chunk
    except OSError as exc:
        raise CameraError("cam_unreachable", url=f"rtsp://{host}:{port}", error=type(exc).__name__) from None
    head = answer.split(b"\r\n\r\n", 1)[0].decode("latin-1")
    if not head.startswith("RTSP/1.0"):
        raise CameraError("cam_not_rtsp")
    for line in head.split("\r\n")[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "server":
            return value.strip()[:64]
    return ""


class StreamCamera(Camera):
    """``kind = "rtsp"`` (URL ``rtsp://…``) or ``kind = "v4l2"`` (a device path)."""

    def __init__(self, camera_id: str, url: str, *, kind: str = "rtsp", **kw: Any) -> None:
        super().__init__(camera_id, url, **kw)
        self.kind = kind

    async def _stream_identity(self) -> CameraIdentity:
        if self.kind == "v4l2":
            name_file = Path("/sys/class/video4linux") / Path(self.url).name / "name"
            try:
                name = name_file.read_text(encoding="utf-8", errors="replace").strip()[:64]
            except OSError:
                raise CameraError("cam_no_capture_device", url=self.shown_url) from None
            return CameraIdentity("", name, "v4l2:" + name, source="stream")
        server = await asyncio.to_thread(rtsp_server_name, self.url, self.timeout_s)
        if not server:
            raise CameraError("cam_no_fingerprint")
        return CameraIdentity("", server, "server:" + server, source="stream")

    def _open(self) -> Any:
        t = self.timeout_s
        # Opening decodes the first frames already (FFmpeg's find_stream_info): without the cap there,
        # a stream whose SPS declares 16000×16000 took 1.2 GB before any check of ours could run.
        capped = [{"max_pixels": str(MAX_PIXELS)}]
        if self.kind == "v4l2":
            return av.open(self.url, format="v4l2", timeout=(t, t), stream_options=capped)
        return av.open(self.url, options={"rtsp_transport": "tcp"}, timeout=(t, t), stream_options=capped)

    def _decode(self, container: Any) -> None:
        """Decode the stream into :attr:`latest`. Only whole, cleanly decoded pictures are kept: a
        frame predicted from pictures the decoder never had (the stream joined, or a packet damaged,
        between two key frames) is a smear of blocks, so nothing is decoded until a key frame, and a
        damaged packet waits for the next one. While the camera is not armed only the key frames are
        decoded and the packets after them kept: armed, those are decoded first, so its first frame
        is already whole (a photo need not wait for the next key frame, seconds away on a long GOP)."""
        generation = self.generation
        try:
            stream = container.streams.video[0]
            self.stream_fps = float(stream.average_rate or stream.guessed_rate or 0)
            # FFmpeg's decoder refuses a frame declaring more pixels than this before it allocates
            stream.codec_context.options = {"max_pixels": str(MAX_PIXELS)}
            if too_large(stream.codec_context.width, stream.codec_context.height):
                raise CameraError(
                    "cam_frame_too_large",
                    width=stream.codec_context.width,
                    height=stream.codec_context.height,
                )
            gop = _Gop()
            for packet in container.demux(stream):
                if self._stop or self.generation != generation:
                    return
                for p, keep in gop.take(packet, self.armed):
                    if not self._decode_packet(p, keep):
                        gop.lost()
        finally:
            container.close()  # here, by the thread that reads it, even when the lane stops

    def _decode_packet(self, packet: Any, keep: bool) -> bool:
        """Decode one packet; its pictures kept when ``keep`` (the newest); False when it was damaged
        or gave a picture the decoder knows is not whole."""
        try:
            frames = packet.decode()
        except av.error.InvalidDataError:
            self.counters.bad_frames += 1  # a damaged packet: counted, the stream goes on
            log.warning("camera %s: a damaged packet skipped, waiting for a key frame", self.id)
            return False
        whole = True
        for f in frames:
            if f.is_corrupt:  # FFmpeg concealed missing pieces: not a picture of the lane
                self.counters.bad_frames += 1
                whole = False
            elif keep:
                self._got(Frame(time.time(), f.width, f.height, lambda fr=f: fr.to_ndarray(format="rgb24")))
        return whole

    async def run_stream(self) -> None:
        try:
            container = await asyncio.to_thread(self._open)
        except (av.error.FFmpegError, OSError, ValueError) as exc:  # ValueError: no stream to cap
            raise CameraError("cam_cannot_open", url=self.shown_url, detail=self.said(exc)) from None
        try:
            await asyncio.to_thread(self._decode, container)
        except (av.error.FFmpegError, OSError) as exc:
            raise CameraError("cam_stream_broke", detail=self.said(exc)) from None
