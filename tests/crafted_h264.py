"""Crafted H.264 for the camera tests: a small real stream (x264 through PyAV) whose every SPS is
rewritten to declare another size — what a camera, or a man in the middle, may send (issue #21 (5)).
The SPS fields are read and written as ITU-T H.264 §7.3.2.1.1 lays them out."""

from __future__ import annotations

import av
import numpy as np


def _unescape(b: bytes) -> bytes:
    out, zeros = bytearray(), 0
    for x in b:
        if zeros >= 2 and x == 3:
            zeros = 0
            continue
        out.append(x)
        zeros = zeros + 1 if x == 0 else 0
    return bytes(out)


def _escape(b: bytes) -> bytes:
    out, zeros = bytearray(), 0
    for x in b:
        if zeros >= 2 and x <= 3:
            out.append(3)
            zeros = 0
        out.append(x)
        zeros = zeros + 1 if x == 0 else 0
    return bytes(out)


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.bits = "".join(f"{x:08b}" for x in data)
        self.pos = 0

    def u(self, n: int) -> int:
        v = int(self.bits[self.pos : self.pos + n], 2)
        self.pos += n
        return v

    def ue(self) -> int:
        zeros = 0
        while self.bits[self.pos] == "0":
            zeros += 1
            self.pos += 1
        return self.u(zeros + 1) - 1


class _Writer:
    def __init__(self) -> None:
        self.bits: list[str] = []

    def u(self, n: int, v: int) -> None:
        self.bits.append(format(v, f"0{n}b"))

    def ue(self, v: int) -> None:
        b = format(v + 1, "b")
        self.bits.append("0" * (len(b) - 1) + b)

    def data(self) -> bytes:
        s = "".join(self.bits)
        s += "0" * (-len(s) % 8)
        return bytes(int(s[i : i + 8], 2) for i in range(0, len(s), 8))


HIGH = {100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135}


def resized_sps(nal: bytes, width: int, height: int) -> bytes:
    """An SPS NAL (header byte first) declaring ``width``×``height`` (multiples of 16)."""
    rbsp = _unescape(nal[1:])
    r, w = _Reader(rbsp), _Writer()
    profile = r.u(8)
    w.u(8, profile)
    w.u(8, r.u(8))
    w.u(8, r.u(8))
    w.ue(r.ue())
    if profile in HIGH:
        chroma = r.ue()
        w.ue(chroma)
        if chroma == 3:
            w.u(1, r.u(1))
        w.ue(r.ue())
        w.ue(r.ue())
        w.u(1, r.u(1))
        scaling = r.u(1)
        assert not scaling
        w.u(1, scaling)
    w.ue(r.ue())
    poc = r.ue()
    w.ue(poc)
    assert poc in (0, 2)
    if poc == 0:
        w.ue(r.ue())
    w.ue(r.ue())
    w.u(1, r.u(1))
    r.ue()
    r.ue()
    w.ue(width // 16 - 1)
    w.ue(height // 16 - 1)
    frame_mbs_only = r.u(1)
    assert frame_mbs_only == 1
    w.u(1, 1)
    w.u(1, r.u(1))  # direct_8x8_inference
    crop = r.u(1)
    if crop:
        for _ in range(4):
            r.ue()
    w.u(1, 0)  # no cropping: the size is the macroblocks'
    last_one = r.bits.rstrip("0")
    w.bits.append(last_one[r.pos :])
    return nal[:1] + _escape(w.data())


def stream(path: str, width: int, height: int, frames: int = 30) -> None:
    """A 32×32 H.264 stream (Annex B) whose every SPS declares ``width``×``height``."""
    with av.open(path + ".small", "w", format="h264") as out:
        s = out.add_stream("libx264", rate=10)
        s.width, s.height, s.pix_fmt = 32, 32, "yuv420p"
        s.options = {
            "preset": "ultrafast",
            "tune": "zerolatency",
            "x264-params": "keyint=10:repeat-headers=1",
        }
        for i in range(frames):
            img = np.full((32, 32, 3), (i * 8) % 255, np.uint8)
            for p in s.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                out.mux(p)
        for p in s.encode():
            out.mux(p)
    data = open(path + ".small", "rb").read()
    parts = data.split(b"\x00\x00\x01")
    out_parts = []
    for p in parts:
        if p and (p[0] & 0x1F) == 7:
            trail = len(p) - len(p.rstrip(b"\x00"))
            p = resized_sps(p.rstrip(b"\x00"), width, height) + b"\x00" * trail
        out_parts.append(p)
    open(path, "wb").write(b"\x00\x00\x01".join(out_parts))
