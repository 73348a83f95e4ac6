"""The demo lane's set-up: its stands, cameras and accounts, the ports its simulators listen on, and
its configuration file — written once into the demo's folder and reused after. The tests build
their lanes with the same functions (``tests/rig.py``).

It starts nothing (``app/demo.py`` starts the processes) and holds no rule of the lane.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import secrets
import shutil
import socket
from dataclasses import dataclass
from pathlib import Path

from app.eds.training import CENTRE_KEY, CENTRE_KEY_PASSWORD, ensure_demo_keys
from app.storage.crypto import write_secret_file
from drivers.camera.onvif import read_account

ROLES = ("operator", "technician", "admin")
#: the demo employees (the demo key's owner is the operator, app/eds/training.py)
DEMO_NAMES = {
    "operator": "Жақсыбекова Әйгерім Серікқызы",
    "technician": "Сейітов Ерлан Маратұлы",
    "admin": "Омарова Дина Асқарқызы",
}
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
    printer: str = "",
) -> Path:
    """The demo lane's config; ``until``: the stands' verification expiry (a year from today);
    ``printer``: the socket of the demo's private CUPS (``otolane printer-sim``), "" for none."""
    cfg = home / "config.toml"
    # 0600: the cameras' URLs carry their account (user:password), as on a real lane
    write_secret_file(
        cfg,
        f"""# Written by 'otolane demo' at every start: a training lane on simulators.
[lane]
name = "Demo lane 1"
centre = "ЦТО «Астана-Солтүстік»"  # a training card says so itself (ОҚУ ҮЛГІСІ / УЧЕБНЫЙ ОБРАЗЕЦ)
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
        + """
[backup]
# backups of the demo lane (restic, its key in keys/): F2 → 8, or otolane backup now
repository = "backups"
"""
        + (f'\n[printer]\nqueue = "{PRINTER_QUEUE}"\nserver = "{printer}"\n' if printer else "")
        + device_tables(devices, until)
        + (camera_tables(cameras, rtsp, camera_account) if cameras else ""),
    )
    return cfg


#: the CUPS queue of the demo's virtual printer; what it prints lands in the demo's ``printed/``
PRINTER_QUEUE = "demo-printer"


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
            for role in ROLES:  # the employee's name is on every card they sign (R3.1)
                await accounts.add(role, role, passwords[role], DEMO_NAMES.get(role, role), by="demo")
            ensure_demo_keys(home, passwords["operator-key"])
            await EdsLogin(c, accounts, store.keyring).bind("operator", DEMO_IIN, "demo")
            await store.checkpoint("demo accounts")
        finally:
            await close_store()

    asyncio.run(create())
    write_secret_file(acc, "".join(f"{k} {v}\n" for k, v in passwords.items()))
    return passwords


def ensure_backups(cfg_file: Path) -> None:
    """The demo's backup key and repository (once), so that F2 → 8 can make one at once."""
    from app import config as config_mod
    from app.backup import make

    if shutil.which("restic") and not (cfg_file.parent / "backups" / "config").exists():
        make.init(config_mod.load(cfg_file))
