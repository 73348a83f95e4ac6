"""``./lane bench --history N``: a lane of N inspections built through the lane's own parts, then the
figures that must not grow with history (issue #20), as one JSON line.

Each inspection runs as on a lane: opened by :class:`~app.lane.intake.Intake`, its two brake steps
started, fed the stand's readings and finished by :class:`~app.lane.steps.Steps` on a lane clock
that moves 20 minutes an inspection, the front axle's photos taken (two cameras, real JPEGs, stored
by :class:`~app.lane.photos.Photos`), the visual checklist marked, the card formed and stored by
:class:`~app.lane.forming.Forming` with its signed anchor and checkpoints, then delivered to a
loopback EIS simulator by the :class:`~app.eis.outbox.OutboxWorker`. Only the stands and the
cameras are stand-ins: what they say goes through the same code as a real stand's.

Then: the daemon started as a process (time to its first answer, peak and idle RSS), a
re-inspection look-up by card number through the API, ``otolane integrity check`` as a process
(time, rows per second, peak RSS), the floor of that check (sqlite3 + SHA-256 over the same rows, in
this process), and the database's size per inspection.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

import psutil
from aiohttp import web

from app import config as config_mod
from app.api.client import ApiError, LaneClient
from app.demo_config import BRAKE, ensure_accounts, free_port, write_config
from app.domain import photo as photo_rules
from app.domain.inspection import DeviceView
from app.eis.client import ROUTES
from app.eis.outbox import OutboxWorker
from app.eis.simulator import EisSimulator
from app.lane.bus import Bus
from app.lane.cameras import CAMERA_KIND
from app.lane.clock import ClockStart
from app.lane.forming import Forming
from app.lane.intake import Intake
from app.lane.photos import Photos, Place
from app.lane.recorder import Recorder
from app.lane.stands import Stands
from app.lane.steps import StandsToSteps, Steps
from app.storage.crypto import write_secret_file
from app.storage.models import CHAINED_MODELS, Outbox
from app.storage.store import Store, close_store, open_store
from drivers.base import DeviceStatus, Identity, StatusChange
from drivers.base import Reading as DeviceReading
from tests.lane_fakes import FakeStand, StoppedClock
from tests.rig import integrity_argv

OPERATOR = "operator"
VEHICLE = ("123ABC02", "M1", "petrol", 2)
#: live values a brake step's stand sends before its results (with the 4 finals: 183 a card, as the demo)
LIVE_PER_STEP = 86
INSPECTION_LANE_S = 20 * 60 + 30  # R12's minimum for M1, and the car driving in


class Cameras:
    """Two photo cameras, connected and admitted, whose frame at the brake's moment is a real JPEG;
    the photo is stored by the lane's own photo store (encrypted file, chained row, journal entry)."""

    def __init__(self, photos: Photos, jpeg: bytes) -> None:
        self.photos = photos
        self.jpeg = jpeg
        self.taken: set[tuple[str, int]] = set()

    def views(self) -> list[DeviceView]:
        return [DeviceView(cam, CAMERA_KIND, True, True) for cam in ("front", "rear")]

    def trigger_step(self, category: str, axles: int) -> str | None:
        return photo_rules.photo_step(category, axles)

    def on_brake(
        self, ids: dict[str, Any], step: str, run_photo: tuple[int, bool], reading: Any, done: Any
    ) -> Any:
        run, stored = run_photo
        channel, value, final = reading
        if stored or (step, run) in self.taken or not photo_rules.triggers(step, step, channel, value, final):
            return None
        self.taken.add((step, run))
        return self._take(ids, step, run, done)

    async def _take(self, ids: dict[str, Any], step: str, run: int, done: Any) -> None:
        taken = []
        for cam in ("front", "rear"):
            facts = {
                "width": 1280,
                "height": 720,
                "format": "jpeg",
                "sha256": hashlib.sha256(self.jpeg).hexdigest(),
                "latitude": 51.1801,
                "longitude": 71.446,
                "position": "config",
                "camera": {
                    "id": cam,
                    "make": "Hikvision",
                    "model": "DS-2CD",
                    "serial": f"DS-{cam}",
                    "firmware": "5",
                },
            }
            taken.append(
                await self.photos.store(self.jpeg, facts, time.time(), ids, step, "laned") | {"run": run}
            )
        self.taken.discard((step, run))
        done(taken[0], "")

    async def photos_for_card(self, inspection_id: str, trigger: str | None) -> list[dict[str, Any]]:
        return await self.photos.of_inspection(inspection_id, trigger) if trigger else []


class Lane:
    """The lane's parts, wired as ``app/lane/service.py`` wires them, around stand-in devices."""

    def __init__(
        self, cfg: config_mod.Config, store: Store, photos: Photos, outbox: OutboxWorker, jpeg: bytes
    ) -> None:
        self.store = store
        self.clock = StoppedClock(time.time() - 3600)
        self.later: list[Coroutine[Any, Any, Any]] = []
        bus = Bus()
        self.recorder = Recorder(store.keyring, store.journal)
        self.cameras: Any = Cameras(photos, jpeg)
        listener = StandsToSteps(lambda: self.steps, lambda: None)
        drivers: Any = {"brake": FakeStand()}
        self.stands = Stands(
            cfg.devices, drivers, store.journal, self.recorder.add_event, bus.publish, listener
        )
        self.steps = Steps(
            self.clock,
            store.journal,
            self.recorder,
            self.stands,
            self.cameras,
            self.later.append,
            store.checkpoint,
            lambda: None,
        )
        start = ClockStart(self.clock, "training", False, "")
        self.intake = Intake(cfg, start, store.keyring, store.journal, self.steps, self.cameras, bus.publish)

        async def no_counts() -> None:
            return None

        self.forming = Forming(
            cfg,
            self.clock,
            store,
            self.recorder,
            self.steps,
            self.cameras,
            outbox,
            bus.publish,
            self.later.append,
            store.checkpoint,
            no_counts,
        )

    async def settle(self) -> None:
        while self.later:
            await self.later.pop(0)

    async def inspection(self, k: int) -> None:
        self.clock.at += INSPECTION_LANE_S
        insp = await self.intake.start(OPERATOR, *VEHICLE)
        for step in ("brakes_axle_1", "brakes_axle_2"):
            await self.steps.start(OPERATOR, insp.id, step)
            t = self.clock.at
            for i in range(LIVE_PER_STEP):  # the rollers turn, the driver brakes
                force = 0.05 + 3.0 * min(1.0, i / 40)
                channel = "brake.force.left" if i % 2 == 0 else "brake.force.right"
                self.stands.on_device(
                    DeviceReading("brake", channel, force, "kN", t + i * 0.05, b"\x02jx\x03")
                )
            for channel, value in (
                ("brake.force.left.max", 3.05 + (k % 7) / 100),
                ("brake.force.right.max", 2.95),
                ("brake.wheel_load.left", 4.1),
                ("brake.wheel_load.right", 4.0),
            ):
                self.stands.on_device(
                    DeviceReading("brake", channel, value, "kN", t + 5, b"\x02jx\x03", final=True)
                )
            await self.settle()
            self.clock.at += 6.0
            await self.steps.tick()
            await self.settle()
        await self.steps.record_visual(OPERATOR, insp.id, [])
        self.clock.at = insp.started + INSPECTION_LANE_S
        await self.forming.form(OPERATOR, insp.id)
        await self.settle()


async def _deliver(outbox: OutboxWorker, cards: int) -> None:
    """Every card so far accepted by EIS; a refusal stops the build with what EIS said."""
    for _ in range(1000):
        counts = await outbox.counts()
        if counts["accepted"] == cards:
            return
        if counts["rejected"] or counts["refused"]:
            break
        await outbox.deliver_due()
    rows = [(r.card_id, r.status, r.last_error) for r in await Outbox.exclude(status="accepted")]
    raise RuntimeError(f"EIS did not take the history's cards: {rows[:3]}")


def _jpeg() -> bytes:
    import cv2

    from app.anpr.scenes import camera_frames

    ok, buf = cv2.imencode(".jpg", camera_frames("123ABC02", 1)[0], [cv2.IMWRITE_JPEG_QUALITY, 92])
    assert ok
    return bytes(buf.tobytes())


def prepare(home: Path) -> tuple[Path, int]:
    """The lane's configuration and accounts (the demo's), and the port of its EIS."""
    port = free_port()
    cfg_file = write_config(home, 1.0, port, devices=(BRAKE,))
    write_secret_file(home / "keys" / "eis-id.key", "SPO-KEY-1\n")  # the lane's EIS identification key
    ensure_accounts(home, cfg_file)
    return cfg_file, port


async def build(home: Path, cfg_file: Path, port: int, n: int) -> None:
    """A lane of ``n`` inspections in ``home``, delivered to an EIS simulator on ``port``."""
    eis = EisSimulator(home / "eis.db", seed=1)
    runner = web.AppRunner(eis.app(), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    cfg = config_mod.load(cfg_file)
    store = await open_store(cfg)
    client = ROUTES["rest"](f"http://127.0.0.1:{port}/api/v1", "SPO-KEY-1", 5.0)
    photos = Photos(cfg.path(cfg.storage["photos_dir"]), store.keyring, store.journal, Place(51.18, 71.44))
    photos.ensure_folder()
    outbox = OutboxWorker(
        client,
        store.keyring,
        store.journal,
        "test",
        lambda: None,
        lane=cfg.lane["name"],
        training=True,
        photo_image=photos.image,
    )
    lane = Lane(cfg, store, photos, outbox, _jpeg())
    try:
        await lane.stands.load_registrations()
        lane.stands.on_device(
            StatusChange("brake", DeviceStatus.CONNECTED, identity=Identity("BT-4000", BRAKE.serial, "3.2.1"))
        )
        t0 = time.monotonic()
        for k in range(n):
            await lane.inspection(k)
            if k % 20 == 19 or k == n - 1:
                await _deliver(outbox, k + 1)
            if k % 500 == 499:
                rate = (k + 1) / (time.monotonic() - t0)
                print(f"history: {k + 1} of {n} inspections ({rate:.1f}/s)", file=sys.stderr)
        await lane.recorder.flush()
        await store.checkpoint("history built")
    finally:
        await close_store()
        await client.close()
        await runner.cleanup()


class Peak:
    """A process's peak RSS, sampled every 20 ms in a thread."""

    def __init__(self, pid: int) -> None:
        self.proc = psutil.Process(pid)
        self.peak = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.stop.is_set():
            try:
                self.peak = max(self.peak, self.proc.memory_info().rss)
            except psutil.Error:
                return
            time.sleep(0.02)

    def done(self) -> float:
        self.stop.set()
        self.thread.join()
        return round(self.peak / 2**20, 1)


def _cli(*args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "app.cli", *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )


async def _daemon_figures(home: Path, cfg_file: Path) -> dict[str, float]:
    cfg = config_mod.load(cfg_file)
    accounts = dict(line.split() for line in (home / "accounts.txt").read_text().splitlines())
    t0 = time.perf_counter()
    proc = _cli("daemon", "--config", str(cfg_file))
    peak = Peak(proc.pid)
    client = LaneClient(str(cfg.socket_path), timeout_s=60)
    try:
        while True:
            try:
                await client.call("GET", "/v1/version")
                break
            except (ApiError, OSError):
                if proc.poll() is not None:
                    raise RuntimeError(f"the daemon ended: {proc.stdout.read().decode()[-2000:]}") from None  # type: ignore[union-attr]
                await asyncio.sleep(0.02)
        startup = time.perf_counter() - t0
        await client.login(OPERATOR, accounts[OPERATOR])
        await asyncio.sleep(3.0)
        startup_peak = peak.done()
        idle = round(psutil.Process(proc.pid).memory_info().rss / 2**20, 1)
        times = []
        for _ in range(7):  # the look-up of a returning vehicle's card by its printed number
            t = time.perf_counter()
            try:
                await client.call(
                    "POST", "/v1/inspections", {"plate": VEHICLE[0], "category": "M1", "reinspection_of": "1"}
                )
            except ApiError as exc:
                assert exc.code == "reinspection_not_failed", exc.code
            times.append((time.perf_counter() - t) * 1000)
        return {
            "startup_s": round(startup, 2),
            "startup_peak_rss_mib": startup_peak,
            "idle_rss_mib": idle,
            "lookup_by_number_ms": round(statistics.median(times), 1),
        }
    finally:
        await client.close()
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)


def _integrity(cfg_file: Path) -> dict[str, float]:
    """The whole check as a process (time, peak RSS), and from its progress lines the walk of the
    chains alone (rows per second while it walked, the part comparable with the floor)."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        integrity_argv(cfg_file, "--progress", "json"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    peak = Peak(proc.pid)
    marks: dict[str, tuple[float, int]] = {}
    assert proc.stderr is not None and proc.stdout is not None
    for line in proc.stderr:
        try:
            fig = json.loads(line)
        except ValueError:
            continue
        marks.setdefault(fig["phase"], (time.perf_counter(), int(fig["done"])))
    out = proc.stdout.read()
    proc.wait()
    elapsed = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"the integrity check failed:\n{out[-3000:]}")
    figures = {"integrity_s": round(elapsed, 2), "integrity_peak_rss_mib": peak.done()}
    if "chains" in marks and "checkpoints" in marks:
        (t_walk, _), (t_end, rows) = marks["chains"], marks["checkpoints"]
        figures["integrity_walk_rows_per_s"] = round(rows / max(t_end - t_walk, 1e-6))
    return figures


def _floor(db: Path) -> tuple[int, float]:
    """Every chained row read with sqlite3 and hashed with SHA-256: the rows and the rows per second."""
    con = sqlite3.connect(db)
    t0 = time.perf_counter()
    n = 0
    for model in CHAINED_MODELS:
        for row in con.execute(f"SELECT * FROM {model._meta.db_table} ORDER BY seq"):  # noqa: S608 - our table names
            hashlib.sha256(repr(row).encode()).hexdigest()
            n += 1
    con.close()
    return n, n / (time.perf_counter() - t0)


def run(n: int) -> dict[str, Any]:
    keep = os.environ.get("OTOLANE_HISTORY_DIR")
    with tempfile.TemporaryDirectory(prefix="otolane-history-") as tmp:
        home = Path(keep) if keep else Path(tmp)
        cfg_file = home / "config.toml"
        if not cfg_file.exists():
            home.mkdir(parents=True, exist_ok=True)
            cfg_file, port = prepare(home)
            asyncio.run(build(home, cfg_file, port, n))
        cfg = config_mod.load(cfg_file)
        db = Path(cfg.dsn.removeprefix("sqlite://"))
        out: dict[str, Any] = {"inspections": n}
        out |= asyncio.run(_daemon_figures(home, cfg_file))
        out |= _integrity(cfg_file)
        rows, floor = _floor(db)
        out["integrity_rows_per_s"] = round(rows / out["integrity_s"])
        out["floor_rows_per_s"] = round(floor)
        size = sum(p.stat().st_size for p in db.parent.glob(db.name + "*"))
        photos = sum(p.stat().st_size for p in cfg.path(cfg.storage["photos_dir"]).rglob("*") if p.is_file())
        out["db_mib_per_inspection"] = round(size / 2**20 / n, 4)
        out["photos_mib_per_inspection"] = round(photos / 2**20 / n, 4)
        return out


def main(argv: list[str]) -> int:
    n = int(argv[argv.index("--history") + 1])
    print(json.dumps(run(n)))
    return 0
