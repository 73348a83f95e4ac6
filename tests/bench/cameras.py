"""``./lane bench``: what cameras cost the lane — one camera's stream by kind and state, the photo's
trigger → stored latency, the arrival watch's look — and the lane screen while the daemon reads
plates without pause (R3.2 on a kiosk)."""

from __future__ import annotations

import asyncio
import statistics
import subprocess
import sys
import time
from pathlib import Path

import psutil

from app import config as config_mod
from app.api.client import LaneClient
from app.demo_config import free_port, write_config
from app.storage.crypto import write_secret_file
from tests.bench.screen import bench_tui
from tests.rig import PASSWORDS, create_users


def _camera_sim(home: Path, rtsp: bool) -> tuple[subprocess.Popen[bytes], str, str]:
    """A camera simulator in its own process (its CPU is not the lane's): (process, http, rtsp)."""
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "app.cli",
            "camera-sim",
            *(["--rtsp-port", str(free_port())] if rtsp else []),
        ],
        cwd=home,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    assert proc.stdout is not None
    words = proc.stdout.readline().decode().split()
    return proc, words[1], words[2] if len(words) > 2 else ""


async def bench_cameras(tmp: Path, seconds: float = 10.0, photos: int = 30) -> dict[str, float]:
    """CPU of one camera's stream in this process, by kind and state; trigger → photo stored."""
    from app.lane.photos import Photos, Place, judged
    from app.storage.store import close_store, open_store
    from drivers.camera.base import Camera, CameraStatus
    from drivers.camera.registry import make_camera

    home = tmp / "cameras"
    home.mkdir()
    proc, http, rtsp = _camera_sim(home, rtsp=True)
    me = psutil.Process()
    out: dict[str, float] = {}

    async def cpu_of(cam: Camera, armed: bool) -> float:
        cam.armed = armed
        task = asyncio.create_task(cam.run(lambda c: None))
        while cam.status != CameraStatus.CONNECTED:
            await asyncio.sleep(0.05)
        await asyncio.sleep(1.0)
        c0, t0 = me.cpu_times(), time.perf_counter()
        await asyncio.sleep(seconds)
        c1, dt = me.cpu_times(), time.perf_counter() - t0
        cam.stop()
        task.cancel()
        return round((c1.user + c1.system - c0.user - c0.system) / dt * 100, 1)

    try:
        out["camera_rtsp_idle_cpu_percent"] = await cpu_of(make_camera("rtsp", "a", rtsp), False)
        out["camera_rtsp_armed_cpu_percent"] = await cpu_of(make_camera("rtsp", "b", rtsp), True)
        out["camera_mjpeg_cpu_percent"] = await cpu_of(make_camera("mjpeg", "c", http + "/mjpeg"), True)
        # trigger → stored: what the lane does when the brake reading triggers (app/lane/cameras.py)
        cfg_file = write_config(home, 1.0, 9)
        write_secret_file(home / "keys" / "eis-id.key", "BENCH\n")
        cfg = config_mod.load(cfg_file)
        store = await open_store(cfg)
        photos_ = Photos(home / "photos", store.keyring, store.journal, Place(51.18, 71.45))
        photos_.ensure_folder()
        for kind, url in (("rtsp", rtsp), ("mjpeg", http + "/mjpeg")):
            cam = make_camera(kind, kind, url, onvif_url=http + "/onvif/device_service")
            cam.armed = True
            task = asyncio.create_task(cam.run(lambda c: None))
            while cam.status != CameraStatus.CONNECTED:
                await asyncio.sleep(0.05)
            lat = []
            for _ in range(photos):
                await asyncio.sleep(0.2)
                t0 = time.perf_counter()
                frame = cam.grab()
                assert cam.identity is not None
                jpeg, facts = await asyncio.to_thread(judged, frame, cam.identity, kind, photos_.place)
                ids = {"inspection": 1, "inspection_id": "bench"}
                await photos_.store(jpeg, facts, frame.ts, ids, "brakes_axle_1", "bench")
                lat.append((time.perf_counter() - t0) * 1000)
            cam.stop()
            task.cancel()
            q = statistics.quantiles(lat, n=20)
            out[f"photo_{kind}_trigger_to_stored_p50_ms"] = round(statistics.median(lat), 1)
            out[f"photo_{kind}_trigger_to_stored_p95_ms"] = round(q[18], 1)
        await close_store()
    finally:
        proc.terminate()
        proc.wait()
    return out


async def bench_tui_anpr(tmp: Path) -> dict[str, float]:
    """The lane screen at 80×24 while the daemon reads plates off its camera without pause."""
    home = tmp / "tui-anpr"
    home.mkdir()
    proc, http, _ = _camera_sim(home, rtsp=False)
    cfg_file = write_config(home, 1.0, 9)
    cfg_file.write_text(
        cfg_file.read_text() + f'\n[[cameras]]\nid = "front"\nkind = "mjpeg"\nurl = "{http}/mjpeg"\n'
        f'onvif = "{http}/onvif/device_service"\nserial = "DS-DEMO-0001"\n'
    )
    write_secret_file(home / "keys" / "eis-id.key", "BENCH\n")
    cfg = config_mod.load(cfg_file)
    await create_users(cfg)
    daemon = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "daemon", "--config", str(cfg_file)],
        cwd=home,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    reads: list[float] = []
    stop = asyncio.Event()

    async def recognise() -> None:
        c = LaneClient(str(cfg.socket_path))
        await c.login("operator", PASSWORDS["operator"])
        while not stop.is_set():
            try:
                t0 = time.perf_counter()
                await c.call("POST", "/v1/anpr", {}, timeout_s=30)
                reads.append((time.perf_counter() - t0) * 1000)
            except Exception:  # the camera not admitted yet
                await asyncio.sleep(0.2)
        await c.close()

    try:
        while not cfg.socket_path.exists():
            await asyncio.sleep(0.1)
        task = asyncio.create_task(recognise())
        tui = await bench_tui(str(cfg.socket_path))
        stop.set()
        await task
    finally:
        daemon.terminate()
        daemon.wait()
        proc.terminate()
        proc.wait()
    return {
        "anpr_api_reads": float(len(reads)),
        "anpr_api_p50_ms": round(statistics.median(reads), 1) if reads else 0.0,
    } | {k.replace("tui_", "tui_anpr_"): v for k, v in tui.items()}


def bench_arrival_look(n: int = 300) -> dict[str, float]:
    """What one look of the arrival watch costs the daemon (R3.2, issue #26 item 4): a 1280×720 JPEG
    from the camera decoded at an eighth and shrunk to its signature, 2.5 times a second."""
    import cv2

    from app.anpr.evaluate import percentile
    from app.anpr.scenes import camera_frames
    from app.lane.arrival import frame_signature
    from drivers.camera.base import Frame

    data = cv2.imencode(".jpg", camera_frames("123ABC02", 1)[0], [cv2.IMWRITE_JPEG_QUALITY, 88])[1].tobytes()
    frame = Frame(time.time(), 1280, 720, lambda: cv2.imdecode(data, cv2.IMREAD_COLOR), "jpeg", data)
    ms = []
    for _ in range(n):
        t0 = time.perf_counter()
        frame_signature(frame, (0.3, 0.55, 0.4, 0.2))
        ms.append((time.perf_counter() - t0) * 1000)
    return {
        "arrival_look_ms_p50": round(statistics.median(ms), 2),
        "arrival_look_ms_p95": percentile(ms, 0.95),
    }
