"""A real RTSP server for the simulated IP camera: GStreamer's RTSP server (Debian's
``gir1.2-gst-rtsp-server-1.0``) streaming H.264 made by x264 from a folder of JPEG frames.

Run by Debian's own ``/usr/bin/python3`` (where ``python3-gi`` lives), not the lane's venv, so it
imports nothing of the project: ``/usr/bin/python3 rtsp_server.py --port P --frames DIR``; with
``--h264 FILE`` it streams a ready H.264 byte stream instead, as it is (a test's crafted stream). The
frames are read again on every loop, so rewriting them changes the picture (a new car on the lane).
It prints ``ready rtsp://127.0.0.1:P/MOUNT`` once it listens, and ends when killed or when its
standard input closes (the parent is gone, even by kill -9).
"""

from __future__ import annotations

import argparse
import signal
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--frames", help="folder of frame000.jpg, frame001.jpg …")
    ap.add_argument("--h264", help="an H.264 byte stream (Annex B) sent as it is, in a loop")
    ap.add_argument("--mount", default="/lane")
    ap.add_argument("--fps", type=int, default=10)
    ap.add_argument("--gop", type=int, default=0, help="frames from one key frame to the next (default: fps)")
    args = ap.parse_args()
    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(str(args.port))
    factory = GstRtspServer.RTSPMediaFactory()
    if args.h264:
        factory.set_launch(
            f'( multifilesrc location="{args.h264}" loop=true '
            f"caps=video/x-h264,stream-format=byte-stream,framerate={args.fps}/1 "
            "! h264parse ! rtph264pay name=pay0 pt=96 config-interval=1 )"
        )
    else:
        location = args.frames.rstrip("/") + "/frame%03d.jpg"
        gop = args.gop or args.fps
        factory.set_launch(
            f'( multifilesrc location="{location}" loop=true caps=image/jpeg,framerate={args.fps}/1 '
            "! jpegdec ! videoconvert ! video/x-raw,format=I420 "
            f"! x264enc tune=zerolatency speed-preset=ultrafast key-int-max={gop} bitrate=3000 "
            "! rtph264pay name=pay0 pt=96 config-interval=1 )"
        )
    factory.set_shared(True)  # one encoder for every client, as a camera has
    server.get_mount_points().add_factory(args.mount, factory)
    if server.attach(None) == 0:
        print(f"cannot listen on 127.0.0.1:{args.port}", file=sys.stderr, flush=True)
        return 1
    loop = GLib.MainLoop()
    # a GLib source, not a Python handler: the loop runs in C and would see a Python handler late
    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGTERM, lambda *_: loop.quit() or False)
    # stdin is the parent's pipe: its end (the parent died, even by kill -9) ends this server too
    GLib.io_add_watch(sys.stdin.fileno(), GLib.IO_HUP | GLib.IO_IN | GLib.IO_ERR, lambda *_: loop.quit())
    print(f"ready rtsp://127.0.0.1:{server.get_bound_port()}{args.mount}", flush=True)
    loop.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
