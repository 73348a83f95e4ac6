"""Cameras (R3.16): IP cameras over RTSP and analog cameras through V4L2 with PyAV, web cameras over
HTTP (an MJPEG stream or JPEG snapshots) with aiohttp — one interface (:class:`base.Camera`), a
supervisor that keeps the stream open and reconnects, the identity a camera reports (ONVIF device
information, or the stream's own fingerprint), and the simulators that speak the same protocols."""
