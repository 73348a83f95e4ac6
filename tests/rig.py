"""A whole lane in one event loop, from real parts: the brake simulator on a pseudo-terminal, the
EIS simulator on loopback HTTP, the daemon on its Unix socket, a real database."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import re
import ssl
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

from app import config as config_mod
from app.anpr.scenes import camera_frames
from app.api.client import LaneClient
from app.auth import Accounts, Policy
from app.daemon import Daemon
from app.demo_config import BRAKE, DEMO_DEVICES, DemoDevice, free_port, write_config
from app.eis.simulator import EisSimulator
from app.storage.crypto import write_secret_file
from app.storage.store import close_store, open_store
from drivers.brake.profiles import JX_BRAKE
from drivers.camera.base import CameraIdentity
from drivers.camera.sim import CameraSim
from drivers.registry import PROFILES, SCENARIOS
from drivers.sim.device import ProfileSimulator
from drivers.sim.pty import PtyPort


def brake_sim(port: PtyPort, scenario: str = "good", **kwargs: Any) -> ProfileSimulator:
    """The demo lane's roller brake tester (JX profile) on ``port``."""
    kwargs = {"serial": "2231-0457", "model": "BT-4000", "firmware": "3.2.1", "rate": 10.0} | kwargs
    return ProfileSimulator(port, JX_BRAKE, SCENARIOS["jx-brake"][scenario], **kwargs)


def sample_card(card_id: str = "c", **overrides: Any) -> dict[str, Any]:
    """A minimal card that the EIS contract accepts (app/eis/contract.py); overrides change fields.
    Its times are relative to now: no fixed date in a fixture."""
    import datetime as dt

    from app.eis.contract import CONTRACT_VERSION

    end = dt.datetime.now(dt.UTC).replace(microsecond=0)
    return {
        "contract": CONTRACT_VERSION,
        "card_id": card_id,
        "inspection_id": card_id,
        "training": True,
        "lane": {"name": "test"},
        "vehicle": {"plate": "123ABC02"},
        "inspector": {"username": "operator"},
        "started": (end - dt.timedelta(minutes=20)).isoformat(),
        "finished": end.isoformat(),
        "duration_s": 1200,
        "verdict": "admitted",
        "items": [],
        "readings": 10,
    } | overrides


PASSWORDS = {"operator": "Sunny-Lane-41", "technician": "Blue-Roller-52", "admin": "Green-Plate-63"}


@dataclass
class Rig:
    home: Path
    cfg: config_mod.Config
    eis: EisSimulator
    sim: ProfileSimulator
    port: PtyPort
    daemon: Daemon
    tasks: list[asyncio.Task[Any]] = field(default_factory=list)
    runner: web.AppRunner | None = None
    sim_stop: asyncio.Event = field(default_factory=asyncio.Event)
    clients: list[LaneClient] = field(default_factory=list)
    ports: list[PtyPort] = field(default_factory=list)
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)
    cameras: list[CameraSim] = field(default_factory=list)

    @property
    def sock(self) -> str:
        return str(self.cfg.socket_path)

    async def client(self, role: str | None = None) -> LaneClient:
        c = LaneClient(self.sock)
        self.clients.append(c)
        if role:
            await c.login(role, PASSWORDS[role])
        return c

    async def stop_sim(self) -> None:
        self.sim_stop.set()
        await self.tasks[0]
        self.port.close()

    async def close(self) -> None:
        for c in self.clients:
            with contextlib.suppress(Exception):
                await c.close()
        self.daemon.stopping.set()
        self.sim_stop.set()
        for t in self.tasks:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(t, 15)
        self.port.close()
        for p in self.ports:
            p.close()
        for proc in self.procs:
            proc.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(10)
        if self.runner:
            await self.runner.cleanup()
        for cam in self.cameras:
            await cam.stop()


async def append_readings(n: int, seal: Callable[[int], bytes]) -> None:
    """``n`` readings of one brake step appended to the readings chain; ``seal(k)`` is row k's value."""
    from tortoise.transactions import in_transaction

    from app.storage.chain import ChainWriter
    from app.storage.models import Reading

    rows = [
        {
            "inspection_id": "i1",
            "step": "brakes_axle_1",
            "device_id": "brake",
            "device_serial": "2231-0457",
            "channel": "brake.force.left",
            "ts": 1000.0 + k,
            "sealed": seal(k),
        }
        for k in range(n)
    ]
    async with in_transaction() as tx:
        await ChainWriter(Reading).append(rows, tx)


async def store_card(keyring: Any, card: dict[str, Any], writer: Any = None) -> str:
    """A formed card as the lane stores it: sealed in the cards chain, with its outbox row (its
    idempotency key is its id); ``writer``: a ChainWriter to reuse for many cards."""
    from tortoise.transactions import in_transaction

    from app.storage.chain import ChainWriter
    from app.storage.models import Card, Outbox

    cid = str(card["card_id"])
    row = {
        "card_id": cid,
        "inspection_id": card.get("inspection_id", cid),
        "verdict": "admitted",
        "created": time.time(),
        "sealed": keyring.seal_json(card, f"cards:{cid}"),
    }
    async with in_transaction() as tx:
        await (writer or ChainWriter(Card)).append([row], tx)
        await Outbox.create(card_id=cid, idempotency_key=cid, training=bool(card["training"]), using_db=tx)
    return cid


def integrity_argv(cfg: Path | str, *extra: str) -> list[str]:
    """``otolane integrity check`` of the lane ``cfg`` as a process's argv (``extra``: its options)."""
    return [sys.executable, "-m", "app.cli", "integrity", "check", "--config", str(cfg), *extra]


def pg_database(server: str, template: str | None = None) -> str:
    """A new database on the test PostgreSQL server ``server`` (a DSN without a database), empty or
    a copy of ``template``; its DSN."""
    name = f"t{time.monotonic_ns()}"
    port = server.rsplit(":", 1)[1]
    sql = f"CREATE DATABASE {name}" + (f" TEMPLATE {template}" if template else "")
    subprocess.run(
        ["psql", "-h", "127.0.0.1", "-p", port, "-U", "otolane", "-d", "postgres", "-c", sql],
        check=True,
        capture_output=True,
    )
    return f"{server}/{name}"


async def serve_loopback(app: web.Application, tls: Any = None) -> tuple[web.AppRunner, int]:
    """An aiohttp app on a free loopback port (a simulator, a fake server): its runner, to clean up,
    and the port."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0, ssl_context=tls).start()
    return runner, runner.addresses[0][1]


async def wait_for(pred: Callable[[], Awaitable[Any]], what: str, timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = await pred()
        if value:
            return value
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


async def create_users(cfg: config_mod.Config) -> None:
    store = await open_store(cfg)
    try:
        accounts = Accounts(Policy.from_config(cfg.security), store.journal)
        for role, pw in PASSWORDS.items():
            await accounts.add(role, role, pw, f"Test {role}")
        await store.checkpoint("test users")
    finally:
        await close_store()


CAMERA_MAKE, CAMERA_MODEL = "Hikvision", "DS-2CD2043G2-I"
CAMERA_ACCOUNT = ("lane", "Cam-pass-2026")


async def start_rig(
    home: Path,
    *,
    speed: float = 600.0,
    scenario: str = "good",
    dsn: str | None = None,
    garble: float = 0.0,
    sim_serial: str = "2231-0457",
    full_lane: bool = False,
    scenarios: dict[str, str] | None = None,
    until: dt.date | None = None,
    centre: str | None = None,
    printer: tuple[str, str] | None = None,
    extra_config: str = "",
    eis_options: str = "",
    eis_tls: ssl.SSLContext | None = None,
    cameras: tuple[str, ...] = (),
    camera_serials: tuple[str, ...] = (),
    camera_account: tuple[str, str] = CAMERA_ACCOUNT,
) -> Rig:
    """``centre``: the inspection centre's name on the card (default: the demo's). ``printer``: the
    CUPS queue and server the lane prints on.
    ``full_lane``: every kind of stand of the demo lane, each on its own pty, not only the brake
    tester. ``scenarios``: device id -> scenario name of its simulator (default "good").
    ``eis_options``: more keys of the ``[eis]`` table; ``eis_tls``: the simulator serves HTTPS.
    ``cameras``: the kinds of simulated cameras on the lane (rtsp, mjpeg, jpeg), each registered with
    its simulator's identity, or with ``camera_serials[i]`` where given; ``camera_account``: the
    account the cameras hold (the lane's config always carries ``CAMERA_ACCOUNT``)."""
    home.mkdir(parents=True, exist_ok=True)
    eis = EisSimulator(home / "eis.db")
    runner, port_no = await serve_loopback(eis.app(), eis_tls)
    devices: tuple[DemoDevice, ...] = DEMO_DEVICES if full_lane else (BRAKE,)
    cfg_file = write_config(home, speed, port_no, devices, until)
    text = cfg_file.read_text()
    if dsn:
        text = text.replace('dsn = "sqlite://otolane.db"', f'dsn = "{dsn}"')
    if centre is not None:
        text = re.sub(
            r"(?m)^centre = .*$", lambda _: f"centre = {json.dumps(centre, ensure_ascii=False)}", text
        )
    if eis_tls is not None:
        text = text.replace('url = "http://127.0.0.1', 'url = "https://127.0.0.1')
    for key in re.findall(r"(?m)^(\w+) =", eis_options):  # the test's value replaces the demo's
        text = re.sub(rf"(?m)^{key} = .*\n", "", text)
    text = text.replace("[eis]\n", "[eis]\n" + eis_options)
    if printer is not None:  # (queue, CUPS server)
        text += f'\n[printer]\nqueue = "{printer[0]}"\nserver = "{printer[1]}"\n'
    if "[eds]" in extra_config:  # the test's own trust store instead of the demo's training PKI
        text = re.sub(r"(?ms)^\[eds\]\n.*?(?=^\[)", "", text)
    if "[dlp]" not in extra_config:  # a centre that works round the clock: no test depends on its hour
        extra_config += '\n[dlp]\nwork_hours = "00:00-24:00"\nwork_days = "1-7"\n'
    sims, tables = await camera_sims(cameras, camera_serials, camera_account)
    cfg_file.write_text(text + extra_config + tables)
    write_secret_file(home / "keys" / "eis-id.key", "TEST-SPO-KEY\n")
    cfg = config_mod.load(cfg_file)
    await create_users(cfg)
    pty = PtyPort(home / "dev" / "brake")
    sim = brake_sim(pty, scenario, speed=speed, garble=garble, serial=sim_serial, seed=1)
    daemon = Daemon(cfg)
    rig = Rig(home, cfg, eis, sim, pty, daemon, runner=runner, cameras=sims)
    rig.tasks.append(asyncio.create_task(sim.run(rig.sim_stop)))
    daemon_task = asyncio.create_task(asyncio.sleep(0))  # placeholder keeps tasks[1] the daemon
    rig.tasks.append(daemon_task)
    for d in devices:
        if d.kind == "brake":
            continue
        profile = PROFILES[d.profile]
        scenario = SCENARIOS[d.profile][(scenarios or {}).get(d.id, "good")]
        if profile.family == "modbus":
            # pymodbus keeps one device identity per process: each Modbus stand in its own process.
            rig.procs.append(
                subprocess.Popen(
                    [sys.executable, "-m", "app.cli", "sim", "device", "--profile", d.profile,
                     "--link", str(home / "dev" / d.id), "--serial", d.serial,
                     "--scenario", (scenarios or {}).get(d.id, "good")],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )  # fmt: skip
            continue
        port = PtyPort(home / "dev" / d.id)
        rate = 20.0 if profile.family == "jx" else 50.0
        extra = ProfileSimulator(port, profile, scenario, serial=d.serial, rate=rate, speed=speed, seed=2)
        rig.ports.append(port)
        rig.tasks.append(asyncio.create_task(extra.run(rig.sim_stop)))

    deadline = time.monotonic() + 15
    for d in devices:  # the stands are on their lines before the daemon looks for them
        while rig.procs and not (home / "dev" / d.id).exists() and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
    rig.tasks[1] = asyncio.create_task(daemon.run())

    async def up() -> bool:
        if rig.tasks[1].done():
            rig.tasks[1].result()  # raise the daemon's error in the test
        return Path(rig.sock).exists()

    await wait_for(up, "the daemon socket")
    return rig


async def camera_sims(
    kinds: tuple[str, ...], serials: tuple[str, ...] = (), held: tuple[str, str] = CAMERA_ACCOUNT
) -> tuple[list[CameraSim], str]:
    """Simulated cameras of these kinds, holding the account ``held``, started, and their
    ``[[cameras]]`` tables (with ``CAMERA_ACCOUNT``)."""
    sims: list[CameraSim] = []
    tables = ""
    for i, kind in enumerate(kinds):
        ident = CameraIdentity(CAMERA_MAKE, CAMERA_MODEL, f"DS-{kind.upper()}-{i:04d}", "V5.7.3")
        # cameras have an account, as out of the box: ONVIF asks it (the URL's user:password) —
        # the IP cameras by WS-UsernameToken, the MJPEG one by HTTP Digest only (some firmware)
        auth = "http-digest" if kind == "mjpeg" else "token"
        cam = CameraSim(camera_frames, ident, plate="123ABC02", account=held, onvif_auth=auth)
        await cam.start(rtsp_port=free_port() if kind == "rtsp" else None)
        sims.append(cam)
        url = {"rtsp": cam.rtsp_url, "mjpeg": cam.http_url + "/mjpeg", "jpeg": cam.http_url + "/snapshot.jpg"}
        serial = serials[i] if i < len(serials) else ident.serial
        onvif = (
            cam.http_url.replace("//", f"//{CAMERA_ACCOUNT[0]}:{CAMERA_ACCOUNT[1]}@")
            + "/onvif/device_service"
        )
        tables += (
            f'\n[[cameras]]\nid = "{kind}{i}"\nkind = "{kind}"\nurl = "{url[kind]}"\n'
            f'onvif = "{onvif}"\nmake = "{CAMERA_MAKE}"\n'
            f'model = "{CAMERA_MODEL}"\nserial = "{serial}"\nfps = 5\n'
        )
    return sims, tables


async def admitted(c: LaneClient) -> bool:
    st = await c.call("GET", "/v1/state")
    return all(d["admitted"] for d in st["devices"])


async def run_brake_steps(c: LaneClient, insp: dict[str, Any]) -> None:
    for step in insp["steps"]:
        if step["status"] != "pending" or step["mode"] == "checklist":
            continue
        await c.call("POST", f"/v1/inspections/{insp['id']}/steps/{step['id']}")

        async def done(sid: str = step["id"]) -> bool:
            st = await c.call("GET", "/v1/state")
            return any(s["id"] == sid and s["status"] == "done" for s in st["inspection"]["steps"])

        await wait_for(done, f"step {step['id']}")


async def run_to_card(
    c: LaneClient, vehicle: dict[str, Any], defects: tuple[str, ...] = (), gates_s: float = 20.0
) -> dict[str, Any]:
    """Start an inspection, run its brake steps, mark the visual checklist (``defects`` found), wait
    for the card gates (at most ``gates_s``), form the card."""
    await wait_for(lambda: admitted(c), "the brake tester")
    insp = await c.call("POST", "/v1/inspections", vehicle)
    await run_brake_steps(c, insp)
    await c.call("POST", f"/v1/inspections/{insp['id']}/visual", {"defects": list(defects)})

    async def ready() -> bool:
        return not (await c.call("GET", "/v1/state"))["inspection"]["card_holds"]

    await wait_for(ready, "the card gates (R12 minimum time)", gates_s)
    return dict(await c.call("POST", f"/v1/inspections/{insp['id']}/card"))


KEY_PASSWORD = "Key-Pass-2026"
IIN_OP = "900101300123"
CENTRE_BIN = "123456789021"


def signer_at_eis(rig: Rig, card_id: str) -> tuple[str, ...] | None:
    """Who EIS (the simulator) says signed a card it took: ``("IIN…",)``, or None."""
    row = rig.eis.db.execute(
        "SELECT s.signer FROM cards c JOIN signatures s ON s.key = c.key WHERE c.card_id = ?", (card_id,)
    ).fetchone()
    return tuple(row) if row else None


async def start_key_rig(
    home: Path, more_keys: Callable[[Any], dict[str, Any]] | None = None, login: str = "both", **kw: Any
) -> Rig:
    """A lane whose operator signs in with an NCA-shaped GOST key (``usb/operator.p12``, bound to the
    operator's account) from a training PKI of its own. ``more_keys(pki)``: more key files by name;
    those named ``revoked*`` are on the CRL. ``login``: the centre's ``[eds] login`` ("eds": keys
    only — the binding is made by the command line, as a password admin may then only view)."""
    from app.eds.training import container, employee, issue, make_pki, revocation_list

    pki = make_pki()
    keys = {"operator.p12": issue(employee(IIN_OP), pki.ca)} | (more_keys(pki) if more_keys else {})
    pki.crl = revocation_list(pki.ca, [who for name, who in keys.items() if name.startswith("revoked")])
    root, ca, crl = pki.write(home / "pki")
    usb = home / "usb"
    usb.mkdir(parents=True, exist_ok=True)
    for name, who in keys.items():
        (usb / name).write_bytes(container(who, KEY_PASSWORD, [pki.ca]))
    extra = (
        f'\n[eds]\nca = ["{root}", "{ca}"]\ncrl = ["{crl}"]\nkey_dirs = ["usb"]\n'
        f'centre_bin = "{CENTRE_BIN}"\nlogin = "{login}"\n'
    )
    rig = await start_rig(home, extra_config=extra, **kw)
    if login == "eds":
        argv = ["user", "bind-eds", "operator", "--iin", IIN_OP, "--config", str(rig.cfg.file)]
        proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "app.cli", *argv)
        assert await proc.wait() == 0
        return rig
    admin = await rig.client("admin")
    await admin.call("POST", "/v1/users/operator/eds", {"iin": IIN_OP})
    return rig
