"""One camera, whatever its kind: a stream kept open, the newest frame kept (and decoded to pixels
only when someone grabs it), the identity it reports, and its status.

The supervisor (:meth:`Camera.run`) connects, asks the camera who it is, streams, and after any
failure waits with exponential back-off and starts again — forever, as the stands' supervisor does.
A kiosk has two slow cores: an H.264 stream is decoded (P-frames need it) but converted to RGB only
on a grab; an MJPEG stream keeps the newest JPEG bytes and decodes nothing until a grab; while no
one is about to grab (not *armed*), an H.264 stream decodes its key frames only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np  # loaded when a frame is decoded, not at import

import asyncio
import contextlib
import enum
import logging
import time
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit, urlunsplit

log = logging.getLogger("otolane.camera")

BACKOFF_FIRST_S = 0.5
BACKOFF_MAX_S = 10.0


def host_of(url: str) -> str:
    """A URL's ``host[:port]`` as written (an IPv6 address keeps its brackets), without its user
    and password."""
    return urlsplit(url).netloc.rpartition("@")[2]


def redact(url: str) -> str:
    """A camera URL without its password (URLs may carry ``user:password@``): logs and screens."""
    u = urlsplit(url)
    if u.password is None:
        return url
    return urlunsplit(u._replace(netloc=f"{u.username}:***@{host_of(url)}"))


class CameraStatus(enum.Enum):
    CONNECTING = "connecting"
    CONNECTED = "connected"
    STALE = "stale"  # connected, but no frame for a while
    FAULTED = "faulted"


#: Why a camera is down or its frame not usable, as catalog codes (the screens say them in kk/ru/en:
#: ``[reason]``); the English form goes to the log and the journal. Parameters are technical words
#: (a URL without its password, an error's name, a number).
CAMERA_REASONS = {
    "cam_stream_ended": "the stream ended",
    "cam_identity_changed": "the camera's identity changed (serial {serial})",
    "cam_not_connected": "the camera is not connected",
    "cam_no_frame_yet": "no frame from the camera yet",
    "cam_frame_old": "the newest frame is {seconds} s old",
    "cam_no_frame_for": "no frame for {seconds} s",
    "cam_undecodable": "the frame cannot be decoded",
    "cam_frame_too_large": "the frame declares {width}×{height} pixels, more than a camera sends",
    "cam_unreachable": "{url} does not answer ({error})",
    "cam_no_fingerprint": (
        "the camera names itself not (no server name, no certificate): register it with ONVIF"
    ),
    "cam_http_status": "HTTP {status} from {url}",
    "cam_not_mjpeg": "not an MJPEG stream (Content-Type {content_type})",
    "cam_stream_broke": "the stream broke ({detail})",
    "cam_snapshot_too_large": "a snapshot of {size} bytes is too large",
    "cam_snapshot_failed": "snapshot failed ({error})",
    "cam_not_rtsp": "the camera does not speak RTSP",
    "cam_no_capture_device": "no capture device {url}",
    "cam_cannot_open": "cannot open {url} ({detail})",
    "cam_failed": "camera driver error: {error}",
    "onvif_unreachable": "ONVIF service {url} does not answer ({error})",
    "onvif_not_xml": "ONVIF answer is not XML ({detail})",
    "onvif_no_serial": "ONVIF answer names no serial number",
    "onvif_bad_clock": "ONVIF UTCDateTime is not a date",
    "onvif_refused": "ONVIF refused: {fault}",
    "onvif_account_refused": (
        "ONVIF refused the camera account: set the camera's user and password in its onvif or url"
        " (user:password@host) as configured on the camera"
    ),
    "onvif_basic_refused": (
        "ONVIF asks for HTTP Basic, which would send the camera's password in the clear: switch the"
        " camera's ONVIF authentication to digest (WS-UsernameToken or HTTP Digest)"
    ),
    "onvif_challenge": (
        "ONVIF's HTTP Digest challenge cannot be answered: set the camera's ONVIF authentication to"
        " digest with MD5 or SHA-256 (or to WS-UsernameToken) ({detail})"
    ),
}


class CameraError(Exception):
    """The camera cannot be reached or said something we cannot use: a code of
    :data:`CAMERA_REASONS` and its parameters; the text is the English form."""

    def __init__(self, code: str, **params: object) -> None:
        self.code = code
        self.params = {k: str(v) for k, v in params.items()}
        super().__init__(CAMERA_REASONS[code].format(**self.params))

    @property
    def why(self) -> dict[str, object]:
        return {"code": self.code, "params": self.params}


@dataclass(frozen=True)
class CameraIdentity:
    """What the camera says it is: ONVIF's GetDeviceInformation, or for a camera without ONVIF the
    stream's fingerprint (an RTSP/HTTP server's name, a V4L2 card's name) in ``serial``."""

    make: str
    model: str
    serial: str
    firmware: str = ""
    source: str = "onvif"  # onvif | stream

    def as_dict(self) -> dict[str, str]:
        return {
            "make": self.make,
            "model": self.model,
            "serial": self.serial,
            "firmware": self.firmware,
            "source": self.source,
        }


#: the largest frame a camera may send (8K UHD; a lane camera is 2–12 MP): a frame that declares
#: more is refused before it is decoded — a camera, or a man in the middle, could otherwise make
#: the daemon allocate gigabytes with a header of a few bytes
MAX_SIDE = 8192
MAX_PIXELS = 7680 * 4320


def too_large(width: int, height: int) -> bool:
    """A frame's declared size is more than any lane camera sends."""
    return width > MAX_SIDE or height > MAX_SIDE or width * height > MAX_PIXELS


@dataclass
class Frame:
    """One received frame: when it came, its size, and how to get its pixels (RGB, H×W×3 uint8)."""

    ts: float  # wall time it was received
    width: int
    height: int
    decode: Callable[[], np.ndarray]
    encoded: str = ""  # "jpeg" when the camera sent it as a JPEG (kept as it came)
    data: bytes = b""

    def rgb(self) -> np.ndarray:
        return self.decode()


@dataclass
class Counters:
    frames: int = 0
    reconnects: int = 0
    bad_frames: int = 0
    times: deque[float] = field(default_factory=lambda: deque(maxlen=30))

    def fps(self, now: float) -> float:
        t = [x for x in self.times if now - x < 5.0]
        if len(t) < 2:
            return 0.0
        return (len(t) - 1) / (t[-1] - t[0]) if t[-1] > t[0] else 0.0


#: how long a camera may take to answer (stream open, ONVIF request), unless configured
TIMEOUT_S = 5.0
#: asks a camera who it is (its management protocol); raises CameraError
Identifier = Callable[[], Awaitable["CameraIdentity"]]


class Camera(ABC):
    """A camera of any kind. Subclasses implement :meth:`run_stream` (connect and keep
    :attr:`latest` fresh until the stream fails) and :meth:`_stream_identity`."""

    kind = ""

    def __init__(
        self,
        camera_id: str,
        url: str,
        *,
        identify_by: Identifier | None = None,
        stale_after_s: float = 3.0,
        timeout_s: float = TIMEOUT_S,
        identify_every_s: float = 30.0,
    ) -> None:
        """``identify_by``: asks the camera who it is by its management protocol (ONVIF, made by
        ``drivers/camera/registry.py``); without it, the stream's own fingerprint identifies it."""
        self.id = camera_id
        self.url = url
        self.shown_url = redact(url)  # for messages and logs: never the password
        self.identify_by = identify_by
        self.stale_after_s = stale_after_s
        self.timeout_s = timeout_s
        self.identify_every_s = identify_every_s
        self.generation = 0  # one per connection: a decoder of an older one ends
        self.status = CameraStatus.CONNECTING
        self.down: CameraError | None = None  # why it is not streaming, without the URL's password
        self.identity: CameraIdentity | None = None
        self.latest: Frame | None = None
        self.counters = Counters()
        self.armed = False  # someone is about to grab: decode every frame
        self.stream_fps = 0.0  # the rate the camera sends at, where the stream says it (H.264)
        self._stop = False
        self._on_change: Callable[[Camera], None] = lambda _c: None

    # --- what subclasses provide ----------------------------------------------------
    @abstractmethod
    async def run_stream(self) -> None:
        """Open the stream and keep :attr:`latest` fresh (through :meth:`_got`) until it fails
        (raise :class:`CameraError`) or :attr:`_stop` is set."""

    @abstractmethod
    async def _stream_identity(self) -> CameraIdentity:
        """The fingerprint of a camera that has no ONVIF service."""

    def said(self, exc: BaseException | str, limit: int = 100) -> str:
        """An error's (or a text's) words without the URL's password (FFmpeg and aiohttp quote it)."""
        text = str(exc).replace(self.url, self.shown_url)
        password = urlsplit(self.url).password
        if password:
            text = text.replace(password, "***")
        return text[:limit]

    # --- the supervisor ----------------------------------------------------------------
    async def identify(self) -> CameraIdentity:
        if self.identify_by is not None:
            return await self.identify_by()
        return await self._stream_identity()

    async def run(self, on_change: Callable[[Camera], None]) -> None:
        self._on_change = on_change
        delay = BACKOFF_FIRST_S
        watch = asyncio.create_task(self._watch_stale())
        try:
            while not self._stop:
                self.set_status(CameraStatus.CONNECTING)
                started = time.monotonic()
                try:
                    self.identity = await self.identify()
                    self._on_change(self)  # the identity is judged before any frame is used
                    await self._checked_stream()
                    if self._stop:
                        break
                    raise CameraError("cam_stream_ended")
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # any failure of a camera is a status, never a crash
                    if not isinstance(exc, CameraError):
                        exc = CameraError("cam_failed", error=self.said(exc, 120) or type(exc).__name__)
                    self.latest = None
                    self.counters.reconnects += 1
                    self.set_status(CameraStatus.FAULTED, exc)
                    log.warning("camera %s: %s", self.id, self.reason)
                if time.monotonic() - started > 30:
                    delay = BACKOFF_FIRST_S  # it worked for a while: start the back-off again
                await asyncio.sleep(delay)
                delay = min(delay * 2, BACKOFF_MAX_S)
        finally:
            watch.cancel()

    def stop(self) -> None:
        self._stop = True

    async def _checked_stream(self) -> None:
        """Stream, and ask the camera who it is every ``identify_every_s``: a camera swapped behind
        the same address (R3.7) ends the connection, and the next one is judged again."""
        self.generation += 1
        stream = asyncio.create_task(self.run_stream())
        try:
            while True:
                done, _ = await asyncio.wait({stream}, timeout=self.identify_every_s)
                if done:
                    return stream.result()
                ident = await self.identify()
                if ident != self.identity:
                    raise CameraError("cam_identity_changed", serial=ident.serial)
        finally:
            self.generation += 1
            stream.cancel()
            with contextlib.suppress(BaseException):
                await stream

    @property
    def reason(self) -> str:
        """Why, in English: for the log and the journal."""
        return str(self.down)[:200] if self.down is not None else ""

    @property
    def why(self) -> dict[str, object]:
        """Why, as a catalog code and its parameters: for the screens."""
        return self.down.why if self.down is not None else {}

    def set_status(self, status: CameraStatus, why: CameraError | None = None) -> None:
        down = (
            None
            if why is None
            else CameraError(why.code, **{k: self.said(v, 200) for k, v in why.params.items()})
        )
        if status != self.status or str(down) != str(self.down):
            self.status, self.down = status, down
            self._on_change(self)

    def _got(self, frame: Frame) -> None:
        """A new frame (called from the stream's loop or its decoding thread); one larger than a
        camera sends is counted and logged, not kept."""
        if too_large(frame.width, frame.height):
            self.counters.bad_frames += 1
            log.warning("camera %s: a frame of %d×%d pixels refused", self.id, frame.width, frame.height)
            return
        self.latest = frame
        self.counters.frames += 1
        self.counters.times.append(frame.ts)

    async def _watch_stale(self) -> None:
        while True:
            await asyncio.sleep(0.25)
            age = self.age()
            if self.status == CameraStatus.CONNECTED and (age is None or age > self.stale_after_s):
                self.set_status(
                    CameraStatus.STALE, CameraError("cam_no_frame_for", seconds=f"{self.stale_after_s:g}")
                )
            elif self.status in (CameraStatus.STALE, CameraStatus.CONNECTING) and age is not None:
                if age <= self.stale_after_s:
                    self.set_status(CameraStatus.CONNECTED)

    # --- what the lane asks ------------------------------------------------------------
    def age(self) -> float | None:
        f = self.latest
        return None if f is None else max(0.0, time.time() - f.ts)

    def grab(self, max_age_s: float = 1.0) -> Frame:
        """The newest frame, if it is fresh; the pixels are decoded by the caller (``frame.rgb()``)."""
        f = self.latest
        if self.status == CameraStatus.FAULTED:  # said with why it is down
            down = self.down or CameraError("cam_not_connected")
            raise CameraError(down.code, **down.params)
        if f is None:
            raise CameraError("cam_no_frame_yet")
        if time.time() - f.ts > max_age_s:
            raise CameraError("cam_frame_old", seconds=f"{time.time() - f.ts:.1f}")
        return f

    def as_dict(self) -> dict[str, object]:
        f = self.latest
        age = self.age()
        return {
            "id": self.id,
            "kind": self.kind,
            "status": self.status.value,
            "reason": self.reason,
            "reason_why": self.why,
            "fps": round(self.counters.fps(time.time()), 1),  # frames decoded per second
            "stream_fps": round(self.stream_fps, 1),
            "width": f.width if f else 0,
            "height": f.height if f else 0,
            "age_s": None if age is None else round(age, 2),
            "frames": self.counters.frames,
            "reconnects": self.counters.reconnects,
            "identity": self.identity.as_dict() if self.identity else None,
        }
