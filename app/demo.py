"""``otolane demo``: a training lane on this machine — simulated brake tester on a pseudo-terminal,
local EIS simulator, the daemon — then the TUI, or (``--headless``) one scripted inspection.

Everything lives in one folder (``var/demo`` by default): config, keys, database, logs, and the
demo accounts (``accounts.txt``, 0600), created on the first run and reused after.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.api.client import ApiError, LaneClient, version_when_ready
from app.demo_config import (
    CAMERA_ACCOUNT_FILE,
    CAMERA_MAKE,
    DEMO_CAMERAS,
    DEMO_DEVICES,
    PLATE,
    PRINTER_QUEUE,
    ensure_accounts,
    ensure_backups,
    ensure_camera_account,
    write_config,
)
from app.eds.training import ensure_demo_keys
from app.errors import OtolaneError
from app.screen import tui_command
from app.storage.crypto import write_secret_file
from drivers.camera.sim import rtsp_available
from drivers.printer.sim import cups_missing
from drivers.registry import SCENARIOS


class Processes:
    """The demo's background processes; stopped on exit, and stale ones from a killed run first."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.pidfile = home / "demo.pids"
        self.procs: list[subprocess.Popen[bytes]] = []
        self._log_start: dict[str, int] = {}
        self.kill_leftovers()

    def kill_leftovers(self) -> None:
        if not self.pidfile.exists():
            return
        for line in self.pidfile.read_text().split():
            with contextlib.suppress(ValueError, ProcessLookupError, PermissionError):
                os.kill(int(line), signal.SIGTERM)
        self.pidfile.unlink()
        time.sleep(0.5)

    def start(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        logs = self.home / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        out = open(logs / f"{name}.out", "ab")  # noqa: SIM115 - kept open for the child
        self._log_start[name] = out.tell()  # where this run's lines begin (the log is appended to)
        proc = subprocess.Popen(
            [sys.executable, "-m", "app.cli", *args],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=self.home,
            start_new_session=True,
        )
        self.procs.append(proc)
        with self.pidfile.open("a") as f:
            f.write(f"{proc.pid}\n")
        return proc

    def ready(self, name: str, proc: subprocess.Popen[bytes], timeout: float = 60.0) -> list[str]:
        """The addresses a simulator started on port 0 says in its ``ready …`` line: the kernel
        chose them while the simulator bound them, so no other process can take them in between
        (a port picked free and bound later once was: "address already in use")."""
        log = self.home / "logs" / f"{name}.out"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with log.open("rb") as f:
                f.seek(self._log_start.get(name, 0))
                for line in f.read().decode(errors="replace").splitlines():
                    if line.startswith("ready "):
                        return line.split()[1:]
            if proc.poll() is not None:
                break
            time.sleep(0.05)  # poll the simulator's log
        raise OtolaneError("demo_failed", f"the {name} simulator did not start; see {log}")

    def stop(self) -> None:
        for p in reversed(self.procs):
            if p.poll() is None:
                p.terminate()
        for p in self.procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
        self.pidfile.unlink(missing_ok=True)


async def wait_ready(sock: Path, procs: Processes, timeout: float = 30.0) -> None:
    if await version_when_ready(str(sock), lambda: all(p.poll() is None for p in procs.procs), timeout):
        return
    for p in procs.procs:
        if p.poll() is not None:
            raise OtolaneError(
                "demo_failed",
                f"a demo process ended early ({' '.join(map(str, p.args[3:5]))}); see {procs.home / 'logs'}",
            )
    raise OtolaneError("demo_failed", f"the daemon did not start; see {procs.home / 'logs'}")


#: a screen that fails this often within a minute is not opened again (it fails as it opens)
SCREEN_RETRIES = 5


def run_screen(argv: list[str]) -> None:
    """The lane screen until the user leaves it (exit 0). A screen that ends otherwise is opened
    again — the daemon, stands, cameras and EIS run on (issue #23: a screen's crash took the whole
    demo lane down) — unless it fails again and again as it opens."""
    failures: list[float] = []
    while True:
        code = subprocess.run(argv, check=False).returncode  # the screen owns the terminal
        if code == 0:
            return
        now = time.monotonic()
        failures = [t for t in failures if now - t < 60.0] + [now]
        if len(failures) >= SCREEN_RETRIES:
            print(f"the lane screen keeps failing (exit {code}); the lane is stopped", file=sys.stderr)
            return
        print(f"the lane screen ended (exit {code}); the lane runs on: opening it again …", file=sys.stderr)
        time.sleep(1.0)


def start_lane(
    home: Path,
    speed: float,
    scenario: str,
    garble: float = 0.0,
    away: tuple[str, ...] = (),
    eis_faults: float = 0.0,
) -> tuple[Processes, Path, dict[str, str]]:
    """The demo lane's processes; the stands in ``away`` get no simulator (a cable that is out);
    ``eis_faults``: the share of EIS calls that fail in a random way."""
    known = sorted({name for d in DEMO_DEVICES for name in SCENARIOS[d.profile]})
    if scenario not in known:
        raise OtolaneError(
            "scenario_unknown", f"no stand has scenario '{scenario}' (known: {', '.join(known)})"
        )
    home.mkdir(parents=True, exist_ok=True)
    home.chmod(0o700)
    missing = rtsp_available()  # a probe of Debian's Python: once
    rtsp_ok = not missing
    if missing:
        print(f"otolane demo: no RTSP camera simulator here (missing: {missing}); MJPEG instead")
    cam_account = ensure_camera_account(home)
    unknown = set(away) - {d.id for d in DEMO_DEVICES}
    if unknown:
        ids = ", ".join(d.id for d in DEMO_DEVICES)
        raise OtolaneError("device_unknown", f"no stand '{sorted(unknown)[0]}' on the demo lane: {ids}")
    procs = Processes(home)
    # what listens starts first, each on the port the kernel gives it as it binds (port 0): the
    # lane's configuration is written with the ports they say, so no other process can take one
    faults = ("--fault-rate", str(eis_faults)) if eis_faults else ()
    eis = procs.start("eis-sim", "eis-sim", "--port", "0", "--db", "eis-sim.db", *faults)
    cams = {}
    for cam in DEMO_CAMERAS:
        kind = cam.kind if cam.kind != "rtsp" or rtsp_ok else "mjpeg"
        rtsp = ("--rtsp-port", "0") if kind == "rtsp" else ()
        cams[cam.id] = procs.start(
            f"camera-{cam.id}", "camera-sim", "--port", "0", "--serial", cam.serial,
            "--make", CAMERA_MAKE, "--model", cam.model, "--plate", PLATE, *rtsp,
            "--account-file", CAMERA_ACCOUNT_FILE, "--onvif-auth", cam.onvif_auth,
        )  # fmt: skip
    try:
        eis_port = port_of(procs.ready("eis-sim", eis)[0])
        cam_ports = {}
        for cam_id, proc in cams.items():
            urls = procs.ready(f"camera-{cam_id}", proc)
            cam_ports[cam_id] = (port_of(urls[0]), port_of(urls[1]) if len(urls) > 1 else 0)
    except OtolaneError:
        procs.stop()  # what did start stops with the demo that cannot
        raise
    try:  # a set-up that fails (a bad config, a key) stops the simulators it started: none is left
        printer = "" if cups_missing() else str(home / "printer.sock")  # the bootstrap installs CUPS
        cfg = write_config(
            home, speed, eis_port, DEMO_DEVICES, centre_key=True, cameras=cam_ports, rtsp=rtsp_ok,
            camera_account=cam_account, printer=printer,
        )  # fmt: skip
        id_key = home / "keys" / "eis-id.key"
        if not id_key.exists():
            write_secret_file(id_key, f"DEMO-{secrets.token_hex(16)}\n")
        accounts = ensure_accounts(home, cfg)
        ensure_backups(cfg)
        if "operator-key" in accounts:  # a demo folder of an older version gets the centre's key
            ensure_demo_keys(home, accounts["operator-key"])
    except BaseException:
        procs.stop()
        raise
    for d in DEMO_DEVICES:
        if d.id in away:
            continue
        common = [
            "--link",
            f"dev/{d.id}",
            "--serial",
            d.serial,
            "--model",
            d.model,
            "--speed",
            str(speed),
            "--garble",
            str(garble),
            "--control",  # faults on command: otolane sim fault var/dev/ID.ctl stuck on
            f"dev/{d.id}.ctl",
        ]
        scenarios = SCENARIOS[d.profile]
        own = scenario if scenario in scenarios else "good"  # --scenario names a scenario of some stand
        procs.start(f"sim-{d.id}", "sim", "device", "--profile", d.profile, "--scenario", own, *common)
    if printer:  # a real CUPS queue whose printer writes each page as a PDF into printed/
        procs.start("printer", "printer-sim", "--out", "printed", "--link", printer, "--queue", PRINTER_QUEUE)
    procs.start("laned", "daemon", "--config", str(cfg))
    return procs, cfg, accounts


def port_of(url: str) -> int:
    """The port of a simulator's address as it said it (``http://127.0.0.1:41234``)."""
    from urllib.parse import urlsplit

    port = urlsplit(url).port
    if port is None:
        raise OtolaneError("demo_failed", f"a simulator said no port: {url}")
    return port


def stands_away(devices: list[dict[str, Any]]) -> list[dict[str, str]]:
    """Every stand that cannot take part now, with the exact reason the daemon gives."""
    return [
        {
            "id": d["id"],
            "status": d["status"],
            "reason": d["reason"] or ("not admitted" if not d["admitted"] else d["status"]),
        }
        for d in devices
        if not d["admitted"] or d["status"] != "connected"
    ]


@dataclass(frozen=True)
class DemoVehicle:
    """A car the headless demo brings to the lane: the stands' scenario and its vehicle record."""

    scenario: str
    fuel: str
    make_model: str
    vin: str
    age_years: int  # the year of manufacture follows the lane's clock, never a fixed date
    catalyst: bool = False
    turbo: bool = False
    headlight_tilt: float | None = 1.2  # as marked on its headlamps; None: the marking is unreadable

    def record(self, plate: str, this_year: int) -> dict[str, Any]:
        tilt = {"headlight_tilt": self.headlight_tilt} if self.headlight_tilt is not None else {}
        return tilt | {
            "plate": plate,
            "category": "M1",
            "fuel": self.fuel,
            "axles": 2,
            "year": this_year - self.age_years,
            "vin": self.vin,
            "make_model": self.make_model,
            "catalyst": self.catalyst,
            "turbo": self.turbo,
        }


DEMO_VEHICLES: dict[str, DemoVehicle] = {
    "good": DemoVehicle("good", "petrol", "Toyota Camry", "JTNB11HK103456789", 9, catalyst=True),
    "weak-brakes": DemoVehicle("weak-rear", "petrol", "LADA Granta", "XTA219010K0123456", 12),
    # its headlamps' marking unreadable: the aim is measured, and not judged
    "smoky-diesel": DemoVehicle(
        "smoky", "diesel", "Hyundai Starex", "KMJWA37KBDU567890", 15, headlight_tilt=None
    ),
    "high-co": DemoVehicle("high-co", "petrol", "Volkswagen Passat", "WVWZZZ3BZWE123456", 27),
}


async def read_plate(c: LaneClient, until: Any) -> dict[str, Any] | None:
    """The plate camera's reading, once the cameras are admitted; None on a lane without one."""
    st = await c.call("GET", "/v1/state")
    if not any("plate" in cam["roles"] for cam in st.get("cameras", [])):
        return None
    await until(
        lambda s: all(cam["admitted"] and cam["status"] == "connected" for cam in s["cameras"]), "the cameras"
    )
    return dict(await c.call("POST", "/v1/anpr", {}, timeout_s=60))


async def scripted_inspection(
    sock: Path,
    password: str,
    timeout: float = 600,
    fuel: str = "petrol",
    stand_wait: float = 60.0,
    vehicle: DemoVehicle | None = None,
    pdf_dir: Path | None = None,
) -> dict[str, Any]:
    """One inspection through the API as an operator would run it: start, every step, the card,
    its PDF (written to ``pdf_dir``), EIS."""
    c = LaneClient(str(sock))
    deadline = time.monotonic() + timeout

    async def until(pred: Any, what: str) -> dict[str, Any]:
        while time.monotonic() < deadline:
            st = await c.call("GET", "/v1/state")
            if pred(st):
                return st
            await asyncio.sleep(0.1)
        raise OtolaneError("demo_timeout", f"timed out waiting for {what}")

    try:
        await c.login("operator", password)
        stand_deadline = time.monotonic() + stand_wait
        while True:
            away = stands_away((await c.call("GET", "/v1/state"))["devices"])
            if not away:
                break
            if time.monotonic() > stand_deadline:
                said = "; ".join(f"{a['id']}: {a['status']} ({a['reason']})" for a in away)
                raise OtolaneError(
                    "stand_away", f"refused: stands not ready after {stand_wait:g} s — {said}", stands=away
                )
            await asyncio.sleep(0.2)
        record = {"plate": PLATE, "category": "M1", "fuel": fuel, "axles": 2}
        if vehicle is not None:
            record = vehicle.record(PLATE, dt.datetime.now(dt.UTC).year)
        read = await read_plate(c, until)
        if read is not None:  # the operator confirms the camera's reading (R3.2)
            record["recognition"] = read["recognition"]
        insp = await c.call("POST", "/v1/inspections", record)
        for step in insp["steps"]:
            if step["status"] != "pending":
                continue
            if step["mode"] == "checklist":  # the operator looked: nothing found
                await c.call("POST", f"/v1/inspections/{insp['id']}/visual", {"defects": []})
                continue
            for _attempt in range(5):  # a stand that lost its result: the operator runs the step again
                await c.call("POST", f"/v1/inspections/{insp['id']}/steps/{step['id']}")

                def over(s: dict[str, Any], sid: str = step["id"]) -> bool:
                    x = next(x for x in s["inspection"]["steps"] if x["id"] == sid)
                    return x["status"] == "done" or (x["status"] == "pending" and bool(x.get("notice")))

                st = await until(over, f"step {step['id']}")
                if next(x for x in st["inspection"]["steps"] if x["id"] == step["id"])["status"] == "done":
                    break
        await until(lambda s: not s["inspection"]["card_holds"], "the minimum time")
        card = await c.call("POST", f"/v1/inspections/{insp['id']}/card")
        st = await until(
            lambda s: s["last_card"] and s["last_card"]["eis"] in ("accepted", "rejected"),
            "EIS",
        )
        pdf = None
        if pdf_dir is not None:
            pdf_dir.mkdir(parents=True, exist_ok=True)
            pdf = pdf_dir / f"card-{insp['number']}-{card['card_id'][:8]}.pdf"
            pdf.write_bytes(await c.download(f"/v1/cards/{card['card_id']}/pdf"))
        return {
            "inspection_id": insp["id"],
            "card_id": card["card_id"],
            "verdict": card["verdict"],
            "failed_items": [i["id"] for i in card["items"] if not i["passed"]],
            "pdf": str(pdf) if pdf else None,
            "eis_status": st["last_card"]["eis"],
            "eis_attempts": st["last_card"]["eis_attempts"],
            "readings": card["readings"],
            "duration_s": card["duration_s"],
            "steps": [s["id"] for s in insp["steps"]],
            "plate_read": {k: read[k] for k in ("plate", "confidence", "camera")} if read else None,
            "photos": [
                {k: p[k] for k in ("camera", "width", "height", "sha256")} for p in card.get("photos", [])
            ],
            "devices": {
                d["id"]: {
                    "status": d["status"],
                    "frames_ok": d["frames_ok"],
                    "frames_rejected": d["frames_rejected"],
                    "reconnects": d["reconnects"],
                }
                for d in st["devices"]
            },
        }
    finally:
        with contextlib.suppress(ApiError):
            await c.logout()
        await c.close()


#: the demo lane's clock speed unless --speed says otherwise
DEMO_SPEED = 10.0


def _hang_up(signum: int, frame: object) -> None:
    """A closed terminal (an SSH link that dropped) or a stop request: leave through the ``finally``
    that stops the demo's stands, cameras, EIS and daemon (they run in sessions of their own, so the
    terminal's hang-up does not reach them)."""
    raise SystemExit(128 + signum)


def run_demo(args: argparse.Namespace) -> int:
    for sig in (signal.SIGHUP, signal.SIGTERM):
        signal.signal(sig, _hang_up)
    root = Path.cwd()
    # ×10 by default: an M1's 20-minute minimum passes in 2 minutes, slow enough to follow each step
    # (issue #23 (9)); --speed 1 is real time
    speed = args.speed if args.speed is not None else DEMO_SPEED
    if args.headless:
        home = Path(args.dir) if args.dir else root / "var" / f"demo-headless-{os.getpid()}"
    else:
        home = Path(args.dir) if args.dir else root / "var" / "demo"
    home = home.resolve()
    if args.vehicle and args.vehicle not in DEMO_VEHICLES:
        raise OtolaneError(
            "vehicle_unknown", f"no demo vehicle '{args.vehicle}' (known: {', '.join(DEMO_VEHICLES)})"
        )
    vehicle = DEMO_VEHICLES[args.vehicle] if args.vehicle else None
    scenario = vehicle.scenario if vehicle else args.scenario
    if not 0.0 <= args.eis_faults <= 1.0:
        raise OtolaneError("eis_faults_bad", f"--eis-faults is a share from 0 to 1, not {args.eis_faults:g}")
    procs, cfg, accounts = start_lane(
        home, speed, scenario, 0.05 if args.faults else 0.0, away=tuple(args.away), eis_faults=args.eis_faults
    )
    sock = home / "laned.sock"
    try:
        asyncio.run(wait_ready(sock, procs))
        if args.headless:
            try:
                result = asyncio.run(
                    scripted_inspection(
                        sock,
                        accounts["operator"],
                        fuel=args.fuel,
                        stand_wait=args.stand_wait,
                        vehicle=vehicle,
                        # The PDF outlives a headless lane that is removed at the end.
                        pdf_dir=(Path(args.dir) / "cards") if args.dir else root / "var" / "demo-cards",
                    )
                )
            except OtolaneError as exc:
                if not args.json:
                    raise
                # The one JSON object, saying why there is no card.
                print(
                    json.dumps({"error": exc.code, "message": exc.message, **exc.params}, ensure_ascii=False)
                )
                return 2
            if args.json:
                print(json.dumps(result, ensure_ascii=False))
            else:
                for k, v in result.items():
                    print(f"{k:14} {v}")
            return 0 if result["eis_status"] == "accepted" else 1
        print("otolane demo — a training lane on simulators")
        print(f"  config:   {cfg}")
        print("  accounts (user / password):")
        for name, pw in accounts.items():
            print(f"    {name:11} {pw}")
        print(f"  a second screen (technician over SSH): otolane tui --config {cfg}")
        print("Opening the lane screen …")
        time.sleep(1.5)
        run_screen(tui_command(str(sock), args.lang))
        return 0
    finally:
        procs.stop()
        if args.headless and not args.dir:
            shutil.rmtree(home, ignore_errors=True)
