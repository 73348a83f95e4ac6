"""Every kind of camera the lane takes, and the one factory that makes a camera of a configured
kind: RTSP and V4L2 streams (PyAV, ``stream.py``), MJPEG and JPEG over HTTP (``web.py``). A camera
with an ONVIF service is identified through it (``onvif.py``), else by its stream's fingerprint.

The modules of a kind are imported when a camera of that kind is made, so a lane without IP
cameras never loads FFmpeg."""

from __future__ import annotations

import importlib
from typing import Any

from drivers.camera.base import TIMEOUT_S, Camera, CameraIdentity, Identifier

#: kind -> (module, class) of its driver
KINDS: dict[str, tuple[str, str]] = {
    "rtsp": ("drivers.camera.stream", "StreamCamera"),
    "v4l2": ("drivers.camera.stream", "StreamCamera"),
    "mjpeg": ("drivers.camera.web", "WebCamera"),
    "jpeg": ("drivers.camera.web", "WebCamera"),
}
#: kinds that come at the camera's own rate (a configured fps means nothing to them)
OWN_RATE = ("rtsp", "v4l2")


def onvif_identifier(onvif_url: str, stream_url: str, timeout_s: float) -> Identifier:
    """Asks the camera's ONVIF service who it is, with the account of its ONVIF or stream URL."""
    from drivers.camera.onvif import account_of, device_information

    account = account_of(onvif_url, stream_url)

    async def identify() -> CameraIdentity:
        return await device_information(onvif_url, timeout_s, account)

    return identify


def make_camera(kind: str, camera_id: str, url: str, *, onvif_url: str = "", **kw: Any) -> Camera:
    """The camera for a configured kind: rtsp, v4l2 (PyAV); mjpeg, jpeg (HTTP)."""
    module, name = KINDS[kind]
    if kind in OWN_RATE:
        kw.pop("fps", None)
    if onvif_url:
        kw["identify_by"] = onvif_identifier(onvif_url, url, float(kw.get("timeout_s", TIMEOUT_S)))
    cls: type[Camera] = getattr(importlib.import_module(module), name)
    return cls(camera_id, url, kind=kind, **kw)
