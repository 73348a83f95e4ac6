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
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.api.client import ApiError, LaneClient
from app.eds.training import CENTRE_KEY, CENTRE_KEY_PASSWORD, ensure_demo_keys
from app.errors import OtolaneError
from app.storage.crypto import write_secret_file
from drivers.camera.onvif import read_account
from drivers.camera.sim import rtsp_available
from drivers.registry import SCENARIOS

ROLES = ("operator", "technician", "admin")
PLATE = "123ABC02"


#: where the kernel takes the local ports of outgoing connections (Linux's default if unreadable)
EPHEMERAL_RANGE_FILE = Path("/proc/sys/net/ipv4/ip_local_port_range")
#: the lowest port the demo's simulators are given
LOWEST_PORT = 20000


def _ephemeral_low() -> int:
    try:
        return int(EPHEMERAL_RANGE_FILE.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def free_port() -> int:
    """A TCP port free on loopback now, for a server about to start (the demo's simulators, the
    tests'). Chosen at random *below* the kernel's ephemeral range: a port the kernel hands out
    (bind to 0) can be taken by any outgoing connection's local end before the server binds it —
    the demo once failed so, a camera simulator's port 'already in use'."""
    low = _ephemeral_low()
    for _ in range(50 if low - LOWEST_PORT > 1000 else 0):
        port = LOWEST_PORT + secrets.randbelow(low - LOWEST_PORT)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    with socket.socket() as s:  # no room below the ephemeral range: the kernel's choice
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class DemoDevice:
    id: str
    kind: str
    profile: str
    serial: str
    model: str


BRAKE = DemoDevice("brake", "brake", "jx-brake", "2231-0457", "BT-4000")
DEMO_DEVICES = (
    DemoDevice("sideslip", "sideslip", "tlch10-sideslip", "TL-5521", "TLCH-10 side-slip tester"),
    DemoDevice("suspension", "suspension", "jxxj-suspension", "XJ-0098", "JXXJ suspension tester"),
    BRAKE,
    DemoDevice("gas", "gas", "nanhua-nha503", "NHA-1187", "Nanhua NHA-503"),
    DemoDevice("smoke", "smoke", "nanhua-nht6", "NHT-0342", "Nanhua NHT-6"),
    DemoDevice("sound", "sound", "hy-sound", "HY-7730", "HY sound level meter"),
    DemoDevice("steering", "steering", "modbus-steering-play", "SP-2210", "Steering play meter"),
    DemoDevice("tread", "tread", "modbus-tread-gauge", "TD-0815", "Tread depth gauge"),
    DemoDevice("glass", "glass", "modbus-tint-meter", "TN-4417", "Light transmission meter"),
    DemoDevice("headlight", "headlight", "mqd6a-headlight", "MQ-6016", "Mingquan MQD-6A"),
)
#: a stand that speaks only when asked is not "stale" when quiet
QUIET = {"headlight": 86400.0}


def verified_until(days: int = 365) -> dt.date:
    """A verification date relative to today (a fixed date in the demo would expire one day)."""
    return dt.date.today() + dt.timedelta(days=days)


def device_tables(devices: tuple[DemoDevice, ...], until: dt.date | None = None) -> str:
    return "".join(
        f"""
[[devices]]
id = "{d.id}"
kind = "{d.kind}"
profile = "{d.profile}"
port = "dev/{d.id}"
serial = "{d.serial}"
model = "{d.model}"
verified_until = {(until or verified_until()).isoformat()}
certificate = "KZ-DEMO-{d.serial}"
stale_after_s = {QUIET.get(d.kind, 3.0)}
"""
        for d in devices
    )


def write_config(
    home: Path,
    speed: float,
    eis_port: int,
    devices: tuple[DemoDevice, ...] = (BRAKE,),
    until: dt.date | None = None,
    centre_key: bool = False,
    cameras: dict[str, tuple[int, int]] | None = None,
    rtsp: bool = True,
    camera_account: tuple[str, str] | None = None,
) -> Path:
    """The demo lane's config; ``until``: the stands' verification expiry (a year from today)."""
    cfg = home / "config.toml"
    # 0600: the cameras' URLs carry their account (user:password), as on a real lane
    write_secret_file(
        cfg,
        f"""# Written by 'otolane demo' at every start: a training lane on simulators.
[lane]
name = "Demo lane 1"
centre = "ЦТО «Астана-Солтүстік» (training)"
training = true
clock_speed = {speed}
latitude = 51.1801
longitude = 71.4460

[daemon]
socket = "laned.sock"
log_file = "logs/laned.log"

[storage]
dsn = "sqlite://otolane.db"
key_file = "keys/data.key"

[eds]
# a training PKI made by the demo (pki/, keys/usb/operator.p12): F2 on the login screen
ca = ["pki/root.cer", "pki/ca.cer"]
crl = ["pki/ca.crl"]
key_dirs = ["keys/usb"]
centre_bin = "123456789021"

[eis]
url = "http://127.0.0.1:{eis_port}/api/v1"
environment = "test"
identification_key_file = "keys/eis-id.key"
timeout_s = 5
poll_s = 2
"""
        + (
            f'system_key = "{CENTRE_KEY}"  # the centre\'s key: signs what no employee signs\n'
            f'system_key_password_file = "{CENTRE_KEY_PASSWORD}"\n'
            if centre_key
            else ""
        )
        + device_tables(devices, until)
        + (camera_tables(cameras, rtsp, camera_account) if cameras else ""),
    )
    return cfg


@dataclass(frozen=True)
class DemoCamera:
    id: str
    kind: str
    model: str
    serial: str
    roles: tuple[str, ...]
    onvif_auth: str = "token"  # how its ONVIF takes the account (drivers.camera.sim.ONVIF_AUTH)


CAMERA_MAKE = "Hikvision"
#: the demo lane's cameras (SCREENS.md): an IP camera in front (the photo and the plate), a web
#: camera behind (a second photo). The front one takes its ONVIF account as a WS-UsernameToken, the
#: rear one by HTTP Digest only, as some firmware does: the lane admits both.
DEMO_CAMERAS = (
    DemoCamera("front", "rtsp", "DS-2CD2043G2-I", "DS-2CD2043G2-20230914AAWRJ41", ("photo", "plate")),
    DemoCamera(
        "rear", "mjpeg", "DS-2CD1023G0E-I", "DS-2CD1023G0E-20220301AAWRF77", ("photo",), "http-digest"
    ),
)


def camera_tables(
    ports: dict[str, tuple[int, int]], rtsp: bool = True, account: tuple[str, str] | None = None
) -> str:
    """``[[cameras]]`` of the demo lane: each camera simulator's HTTP and RTSP port; with an
    account, ONVIF is asked with it (the onvif URL's user:password, as on a real lane)."""
    login = f"{account[0]}:{account[1]}@" if account else ""
    out = ""
    for c in DEMO_CAMERAS:
        http, rtsp_port = ports[c.id]
        kind = c.kind if c.kind != "rtsp" or rtsp else "mjpeg"
        url = f"rtsp://127.0.0.1:{rtsp_port}/lane" if kind == "rtsp" else f"http://127.0.0.1:{http}/mjpeg"
        roles = ", ".join(f'"{r}"' for r in c.roles)
        out += (
            f'\n[[cameras]]\nid = "{c.id}"\nkind = "{kind}"\nurl = "{url}"\n'
            f'onvif = "http://{login}127.0.0.1:{http}/onvif/device_service"\n'
            f'make = "{CAMERA_MAKE}"\nmodel = "{c.model}"\nserial = "{c.serial}"\nroles = [{roles}]\n'
        )
    return out


#: the demo cameras' account (user:password in a 0600 file): the simulators ask it of ONVIF requests
CAMERA_ACCOUNT_FILE = "keys/camera-account"


def ensure_camera_account(home: Path) -> tuple[str, str]:
    """The demo cameras' account, made once per demo folder (a random password)."""
    path = home / CAMERA_ACCOUNT_FILE
    if not path.exists():
        write_secret_file(path, f"lane:{secrets.token_urlsafe(12)}\n")
    return read_account(path)


def ensure_accounts(home: Path, cfg: Path) -> dict[str, str]:
    acc = home / "accounts.txt"
    if acc.exists():
        pairs = [line.split() for line in acc.read_text().splitlines() if line.strip()]
        return {name: pw for name, pw in pairs}
    passwords = {role: f"Demo-{secrets.token_hex(4)}" for role in ROLES}
    # the operator's NCA key (training PKI): F2 on the login screen, keys/usb/operator.p12
    passwords["operator-key"] = f"Key-{secrets.token_hex(4)}"

    async def create() -> None:
        from app import config as config_mod
        from app.auth import Accounts, Policy
        from app.eds.login import EdsLogin
        from app.eds.training import DEMO_IIN
        from app.storage.store import close_store, open_store

        c = config_mod.load(cfg)
        store = await open_store(c)
        try:
            accounts = Accounts(Policy.from_config(c.security), store.journal)
            for role in ROLES:
                await accounts.add(role, role, passwords[role], f"Demo {role}", by="demo")
            ensure_demo_keys(home, passwords["operator-key"])
            await EdsLogin(c, accounts, store.keyring).bind("operator", DEMO_IIN, "demo")
            await store.checkpoint("demo accounts")
        finally:
            await close_store()

    asyncio.run(create())
    write_secret_file(acc, "".join(f"{k} {v}\n" for k, v in passwords.items()))
    return passwords


class Processes:
    """The demo's background processes; stopped on exit, and stale ones from a killed run first."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.pidfile = home / "demo.pids"
        self.procs: list[subprocess.Popen[bytes]] = []
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
    client = LaneClient(str(sock), timeout_s=2)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            for p in procs.procs:
                if p.poll() is not None:
                    raise OtolaneError(
                        "demo_failed",
                        f"a demo process ended early ({' '.join(map(str, p.args[3:5]))}); "
                        f"see {procs.home / 'logs'}",
                    )
            with contextlib.suppress(ApiError):
                await client.call("GET", "/v1/version")
                return
            await asyncio.sleep(0.2)
    finally:
        await client.close()
    raise OtolaneError("demo_failed", f"the daemon did not start; see {procs.home / 'logs'}")


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
    eis_port = free_port()
    cam_ports = {c.id: (free_port(), free_port()) for c in DEMO_CAMERAS}
    missing = rtsp_available()  # a probe of Debian's Python: once
    rtsp_ok = not missing
    if missing:
        print(f"otolane demo: no RTSP camera simulator here (missing: {missing}); MJPEG instead")
    cam_account = ensure_camera_account(home)
    cfg = write_config(
        home, speed, eis_port, DEMO_DEVICES, centre_key=True, cameras=cam_ports, rtsp=rtsp_ok,
        camera_account=cam_account,
    )  # fmt: skip
    id_key = home / "keys" / "eis-id.key"
    if not id_key.exists():
        write_secret_file(id_key, f"DEMO-{secrets.token_hex(16)}\n")
    accounts = ensure_accounts(home, cfg)
    if "operator-key" in accounts:  # a demo folder of an older version gets the centre's key
        ensure_demo_keys(home, accounts["operator-key"])
    procs = Processes(home)
    faults = ("--fault-rate", str(eis_faults)) if eis_faults else ()
    procs.start("eis-sim", "eis-sim", "--port", str(eis_port), "--db", "eis-sim.db", *faults)
    unknown = set(away) - {d.id for d in DEMO_DEVICES}
    if unknown:
        ids = ", ".join(d.id for d in DEMO_DEVICES)
        raise OtolaneError("device_unknown", f"no stand '{sorted(unknown)[0]}' on the demo lane: {ids}")
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
    for cam in DEMO_CAMERAS:
        kind = cam.kind if cam.kind != "rtsp" or rtsp_ok else "mjpeg"
        rtsp = ("--rtsp-port", str(cam_ports[cam.id][1])) if kind == "rtsp" else ()
        procs.start(
            f"camera-{cam.id}", "camera-sim", "--port", str(cam_ports[cam.id][0]), "--serial", cam.serial,
            "--make", CAMERA_MAKE, "--model", cam.model, "--plate", PLATE, *rtsp,
            "--account-file", CAMERA_ACCOUNT_FILE, "--onvif-auth", cam.onvif_auth,
        )  # fmt: skip
    procs.start("laned", "daemon", "--config", str(cfg))
    return procs, cfg, accounts


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

    def record(self, plate: str, this_year: int) -> dict[str, Any]:
        return {
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
    "smoky-diesel": DemoVehicle("smoky", "diesel", "Hyundai Starex", "KMJWA37KBDU567890", 15),
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


def _hang_up(signum: int, frame: object) -> None:
    """A closed terminal (an SSH link that dropped) or a stop request: leave through the ``finally``
    that stops the demo's stands, cameras, EIS and daemon (they run in sessions of their own, so the
    terminal's hang-up does not reach them)."""
    raise SystemExit(128 + signum)


def run_demo(args: argparse.Namespace) -> int:
    for sig in (signal.SIGHUP, signal.SIGTERM):
        signal.signal(sig, _hang_up)
    root = Path.cwd()
    speed = args.speed if args.speed is not None else 1.0
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
        from app.cli import tui_command

        subprocess.run(tui_command(str(sock), args.lang), check=False)  # the screen owns the terminal
        return 0
    finally:
        procs.stop()
        if args.headless and not args.dir:
            shutil.rmtree(home, ignore_errors=True)
