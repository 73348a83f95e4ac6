"""The lane's configuration: one TOML file, validated before anything starts.

Validation is declarative: :data:`SCHEMA` lists every table and key with its type, default and
meaning. A bad file is refused with the file, the key, what was expected and what was found
(:class:`app.errors.ConfigError`), never a traceback. Relative paths are relative to the file.
"""

from __future__ import annotations

import datetime as dt
import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.eis.endpoint import loopback, production_url
from app.errors import ConfigError
from drivers.registry import KINDS

DEVICE_KINDS = tuple(KINDS)


@dataclass(frozen=True)
class Key:
    type: type | tuple[type, ...]
    default: Any = None
    required: bool = False
    choices: tuple[Any, ...] | None = None
    doc: str = ""


_NUM = (int, float)

SCHEMA: dict[str, dict[str, Key]] = {
    "lane": {
        "name": Key(str, required=True, doc="Lane name shown in the header"),
        "centre": Key(str, "", doc="Inspection centre name"),
        "training": Key(bool, False, doc="A training lane: faster clock allowed, cards TRAINING"),
        "clock_speed": Key(_NUM, 1.0, doc="Lane clock speed; other than 1 only on a training lane"),
        "latitude": Key(_NUM, 0.0, doc="Lane coordinates, stored with photos (R3.18)"),
        "longitude": Key(_NUM, 0.0, doc="Lane coordinates"),
        "gnss_port": Key(
            str, "", doc="Serial port of a GNSS receiver (NMEA 0183): its fix is the photos' position"
        ),
        "gnss_baudrate": Key(int, 9600, doc="The GNSS receiver's speed"),
    },
    "daemon": {
        "socket": Key(str, "laned.sock", doc="Unix socket of the local API (mode 0660)"),
        "log_file": Key(str, "laned.log", doc="Daemon log"),
        "lock_file": Key(str, "laned.lock", doc="Held by the one daemon of this lane; a second is refused"),
    },
    "printer": {
        "queue": Key(str, "", doc="CUPS queue the cards are printed on (lpstat -p lists them); empty: none"),
        "server": Key(str, "", doc="CUPS server (host[:port] or socket path); empty: the system's"),
    },
    "storage": {
        "dsn": Key(str, "sqlite://otolane.db", doc="sqlite://FILE or postgres://user@host/db"),
        "key_file": Key(str, "keys/data.key", doc="AES-256-GCM data key (0600), outside the DB"),
        "signing_key_file": Key(
            str, "keys/lane-sign.key", doc="Ed25519 key (0600) that signs checkpoints of the chain heads"
        ),
        "anchor_file": Key(
            str, "anchors.log", doc="Append-only file of signed chain-head checkpoints, outside the DB"
        ),
        "photos_dir": Key(str, "photos", doc="Vehicle photos, each encrypted (R7) in a file of its own"),
    },
    "eis": {
        "url": Key(str, required=True, doc="Base URL of the EIS endpoint (or ВШЭП route)"),
        "environment": Key(str, "test", choices=("test", "production"), doc="Endpoint kind"),
        "transport": Key(
            str, "rest", choices=("rest", "soap"), doc="rest (JSON + CMS) or soap (XML + WS-Security, ВШЭП)"
        ),
        "identification_key_file": Key(str, "keys/eis-id.key", doc="EIS identification key (R4)"),
        "timeout_s": Key(_NUM, 10.0, doc="Timeout of one delivery attempt"),
        "ca_file": Key(str, "", doc="CA certificates (PEM) the EIS server's certificate is checked against"),
        "production_hosts": Key(
            list, [], doc="More domains of production endpoints (state domains are known already)"
        ),
        "events": Key(bool, True, doc="Send each inspection's events to EIS as they happen (R3.5, R9)"),
        "poll_s": Key(_NUM, 60.0, doc="How often the lane asks EIS for the operator's requests (R3.19)"),
        "exports_dir": Key(str, "exports", doc="Where journal exports are written (0600 files)"),
        "system_key": Key(
            str, "", doc="The centre's NCA key file: the transport signature of messages no employee signs"
        ),
        "system_key_password_file": Key(str, "", doc="File (0600) whose first line is that key's password"),
    },
    "eds": {
        "ca": Key(list, [], doc="NCA root and intermediate certificates (DER or PEM files) the lane trusts"),
        "crl": Key(list, [], doc="NCA revocation lists (files, refreshed by the site); one per issuing CA"),
        "require_crl": Key(bool, True, doc="Refuse a key when no current CRL of its CA is installed"),
        "key_dirs": Key(
            list, [], doc="Folders whose key files (*.p12) may be chosen at login (USB stick, lane keys)"
        ),
        "centre_bin": Key(
            str, "", doc="BIN of the centre: a key of another organisation is refused; empty: any"
        ),
        "login": Key(
            str, "both", choices=("password", "eds", "both"), doc="How employees may sign in (R3.1)"
        ),
        "ncalayer_url": Key(
            str, "", doc="NCALayer for keys on tokens, e.g. wss://127.0.0.1:13579; empty: none"
        ),
        "ncalayer_ca": Key(str, "", doc="Certificate NCALayer's TLS is trusted by (empty: the system's)"),
        "ocsp_url": Key(
            str,
            "",
            doc="OCSP responder asked at each key login (NCA: http://ocsp.pki.gov.kz/); empty: CRL only",
        ),
    },
    "anpr": {
        "engine": Key(
            str,
            "rapidocr",
            choices=("rapidocr", "paddleocr"),
            doc="Plate recognition engine (rapidocr: built in)",
        ),
        "model_dir": Key(str, "", doc="paddleocr only: the folder holding its det/ and rec/ models"),
    },
    "backup": {
        "repository": Key(
            str,
            "",
            doc="Where backups go (R3.11): a folder (USB stick, mounted share) or a restic repository "
            "URL (sftp:…, rest:…); empty: none made",
        ),
        "key_file": Key(
            str,
            "keys/backup.key",
            doc="The backups' key (0600; not the data key): keep a copy apart from the backups",
        ),
        "staging_dir": Key(str, "backup-staging", doc="Where the database's copy is made before it goes"),
        "keep_last": Key(int, 14, doc="Backups kept by count (the newest)"),
        "keep_days": Key(int, 90, doc="…and every backup younger than this many days"),
        "alarm_after_hours": Key(int, 26, doc="No good backup for this long: an alarm on the admin's screen"),
    },
    "update": {
        "root": Key(
            str,
            "",
            doc="The update repository's root of trust, pinned at install (TUF root.json); empty: no updates",
        ),
        "metadata_url": Key(str, "", doc="The update repository's signed metadata (https://…/metadata/)"),
        "targets_url": Key(str, "", doc="Where its release bundles are (https://…/targets/)"),
        "prefix": Key(str, "/opt/otolane", doc="Where the releases live (releases/<version>, current)"),
        "state_dir": Key(str, "update", doc="The updater's own: verified metadata, downloads, its history"),
        "stop": Key(list, ["systemctl", "stop", "laned.service"], doc="How the daemon is stopped (argv)"),
        "start": Key(list, ["systemctl", "start", "laned.service"], doc="How the daemon is started (argv)"),
        "keep_releases": Key(int, 3, doc="Releases kept beside the one in use (R10.8, R10.11)"),
        "health_timeout_s": Key(_NUM, 300.0, doc="A new release's health check must pass within this"),
    },
    "kiosk": {
        "usb_storage_allowed": Key(
            list,
            [],
            doc="USB serial numbers of the only storage the kiosk mounts: the NCA keys' sticks, the backup "
            "medium (otolane lockdown)",
        ),
    },
    "security": {
        "password_max_age_days": Key(int, 30, doc="R3.17: passwords expire after this"),
        "password_history": Key(int, 5, doc="How many previous passwords cannot be reused"),
        "password_min_length": Key(int, 10, doc="Minimum password length"),
        "lockout_after": Key(int, 5, doc="Failed logins before the account locks"),
        "lockout_minutes": Key(int, 15, doc="How long a lock-out lasts"),
        "session_idle_minutes": Key(int, 60, doc="Idle sessions end after this"),
    },
}

DEVICE_SCHEMA: dict[str, Key] = {
    "id": Key(str, required=True, doc="Device id on this lane, e.g. 'brake'"),
    "kind": Key(str, required=True, choices=DEVICE_KINDS, doc="Device kind"),
    "profile": Key(str, required=True, doc="Profile name, e.g. 'jx-brake'"),
    "port": Key(str, required=True, doc="Serial port path (a udev name), or socket://host:port (TCP)"),
    "serial": Key(str, required=True, doc="Registered serial number: another is refused"),
    "model": Key(str, "", doc="Registered model"),
    "verified_until": Key(dt.date, required=True, doc="Metrological verification expiry"),
    "certificate": Key(str, "", doc="Verification certificate number"),
    "stale_after_s": Key(_NUM, 2.0, doc="No frame for this long: stale"),
}


CAMERA_KINDS = ("rtsp", "mjpeg", "jpeg", "v4l2")
CAMERA_ROLES = ("photo", "plate")
#: what each kind's address must look like
CAMERA_URLS = {
    "rtsp": ("rtsp://", "rtsps://"),
    "mjpeg": ("http://", "https://"),
    "jpeg": ("http://", "https://"),
    "v4l2": ("/dev/",),
}

CAMERA_SCHEMA: dict[str, Key] = {
    "id": Key(str, required=True, doc="Camera id on this lane, e.g. 'front'"),
    "kind": Key(
        str, required=True, choices=CAMERA_KINDS, doc="rtsp (IP), mjpeg or jpeg (web), v4l2 (analog)"
    ),
    "url": Key(str, required=True, doc="rtsp://…, http(s)://… of the stream or snapshot, or /dev/videoN"),
    "onvif": Key(str, "", doc="ONVIF device service URL: the identity is read from it (else the stream's)"),
    "make": Key(str, "", doc="Registered make (as the camera reports it)"),
    "model": Key(str, "", doc="Registered model"),
    "serial": Key(
        str, required=True, doc="Registered serial (ONVIF) or stream fingerprint: another is refused"
    ),
    "roles": Key(
        list, ["photo", "plate"], doc="photo: the card's photo at the brake test; plate: recognition"
    ),
    "fps": Key(_NUM, 2.0, doc="Snapshots per second (kind jpeg)"),
    "stale_after_s": Key(_NUM, 3.0, doc="No frame for this long: stale"),
}


def _typename(t: type | tuple[type, ...]) -> str:
    names = {
        str: "a string",
        bool: "true or false",
        int: "a whole number",
        dt.date: "a date",
        list: "a list of strings",
    }
    if isinstance(t, tuple):
        return "a number"
    return names.get(t, t.__name__)


def _found(v: Any) -> str:
    return f"{type(v).__name__} {v!r}"


def _check_table(file: str, path: str, table: Any, keys: dict[str, Key]) -> dict[str, Any]:
    if not isinstance(table, dict):
        raise ConfigError(file, path, "a table", _found(table))
    out: dict[str, Any] = {}
    for name in table:
        if name not in keys:
            raise ConfigError(file, f"{path}.{name}", f"one of {', '.join(keys)}", "unknown key")
    for name, key in keys.items():
        where = f"{path}.{name}"
        if name not in table:
            if key.required:
                raise ConfigError(file, where, _typename(key.type), "nothing (the key is missing)")
            out[name] = key.default
            continue
        value = table[name]
        ok = isinstance(value, key.type) and not (isinstance(value, bool) and key.type is not bool)
        if key.type is dt.date and isinstance(value, dt.datetime):
            ok = False
        if not ok:
            raise ConfigError(file, where, _typename(key.type), _found(value))
        if key.type is list and not all(isinstance(v, str) for v in value):
            raise ConfigError(file, where, "a list of strings", _found(value))
        if key.choices and value not in key.choices:
            raise ConfigError(file, where, f"one of {key.choices}", repr(value))
        out[name] = float(value) if key.type is _NUM else value
    return out


@dataclass(frozen=True)
class DeviceConfig:
    id: str
    kind: str
    profile: str
    port: str
    serial: str
    model: str
    verified_until: dt.date
    certificate: str
    stale_after_s: float


@dataclass(frozen=True)
class CameraConfig:
    id: str
    kind: str
    url: str
    onvif: str
    make: str
    model: str
    serial: str
    roles: list[str]
    fps: float
    stale_after_s: float


@dataclass(frozen=True)
class Config:
    file: Path
    base: Path
    lane: dict[str, Any]
    daemon: dict[str, Any]
    printer: dict[str, Any]
    storage: dict[str, Any]
    eis: dict[str, Any]
    eds: dict[str, Any]
    security: dict[str, Any]
    anpr: dict[str, Any]
    devices: tuple[DeviceConfig, ...]
    cameras: tuple[CameraConfig, ...] = ()
    backup: dict[str, Any] = field(default_factory=dict)
    update: dict[str, Any] = field(default_factory=dict)
    kiosk: dict[str, Any] = field(default_factory=dict)
    #: what the file said of each setting an administrator changed since (``app/settings.py``)
    file_values: dict[str, Any] = field(default_factory=dict)

    def port(self, p: str) -> str:
        """A device's line: a serial port path (relative to this file) or a ``socket://host:port``
        URL for a networked stand (pyserial's URL handlers)."""
        return p if "://" in p else str(self.path(p))

    def path(self, p: str) -> Path:
        q = Path(p)
        return q if q.is_absolute() else self.base / q

    @property
    def socket_path(self) -> Path:
        return self.path(self.daemon["socket"])

    @property
    def dsn(self) -> str:
        dsn: str = self.storage["dsn"]
        if dsn.startswith("sqlite://") and dsn != "sqlite://:memory:":
            return "sqlite://" + str(self.path(dsn.removeprefix("sqlite://")))
        return dsn


def parse(text: str, file: str, base: Path) -> Config:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(file, "(syntax)", "valid TOML", str(exc)) from None
    tables: dict[str, dict[str, Any]] = {}
    for name in data:
        if name not in SCHEMA and name not in ("devices", "cameras"):
            raise ConfigError(file, name, f"one of {', '.join([*SCHEMA, 'devices', 'cameras'])}", "unknown")
    for name, keys in SCHEMA.items():
        tables[name] = _check_table(file, name, data.get(name, {}), keys)
    raw_devices = data.get("devices", [])
    if not isinstance(raw_devices, list):
        raise ConfigError(file, "devices", "an array of tables [[devices]]", _found(raw_devices))
    devices = []
    seen: set[str] = set()
    for i, d in enumerate(raw_devices):
        checked = _check_table(file, f"devices[{i}]", d, DEVICE_SCHEMA)
        if checked["id"] in seen:
            raise ConfigError(file, f"devices[{i}].id", "a unique id", repr(checked["id"]))
        seen.add(checked["id"])
        devices.append(DeviceConfig(**checked))
    lane = tables["lane"]
    problem = clock_speed_problem(lane["clock_speed"], lane["training"])
    if problem:
        raise ConfigError(file, "lane.clock_speed", problem, repr(lane["clock_speed"]))
    if lane["training"] and tables["eis"]["environment"] == "production":
        raise ConfigError(
            file,
            "eis.environment",
            "'test' on a training lane (training cards never reach production)",
            "'production'",
        )
    eis = tables["eis"]
    problem = eis_url_problem(eis["url"], bool(lane["training"]), eis["production_hosts"])
    if problem:
        raise ConfigError(file, "eis.url", EIS_URL_EXPECTED[problem], repr(eis["url"]))
    for key, least in (("keep_last", 1), ("keep_days", 0), ("alarm_after_hours", 1)):
        if tables["backup"][key] < least:
            raise ConfigError(file, f"backup.{key}", f"at least {least}", repr(tables["backup"][key]))
    _check_update(file, tables["update"])
    cameras = _cameras(file, data.get("cameras", []))
    cfg = Config(Path(file), base, devices=tuple(devices), cameras=cameras, **tables)
    _check_paths(cfg)
    return cfg


def _check_update(file: str, upd: dict[str, Any]) -> None:
    for key in ("metadata_url", "targets_url"):
        url = upd[key]
        if url and not (url.startswith("https://") or (url.startswith("http://") and loopback(url))):
            raise ConfigError(file, f"update.{key}", "an https:// URL (http:// only on loopback)", repr(url))
    if upd["root"] and not (upd["metadata_url"] and upd["targets_url"]):
        raise ConfigError(file, "update.metadata_url", "both URLs of the repository update.root trusts", "''")
    for key in ("stop", "start"):
        if not all(isinstance(a, str) and a for a in upd[key]):
            raise ConfigError(file, f"update.{key}", "a list of words (a command, no shell)", repr(upd[key]))
    if upd["keep_releases"] < 1:
        raise ConfigError(file, "update.keep_releases", "at least 1", repr(upd["keep_releases"]))


def _cameras(file: str, raw: Any) -> tuple[CameraConfig, ...]:
    if not isinstance(raw, list):
        raise ConfigError(file, "cameras", "an array of tables [[cameras]]", _found(raw))
    out: list[CameraConfig] = []
    for i, c in enumerate(raw):
        checked = _check_table(file, f"cameras[{i}]", c, CAMERA_SCHEMA)
        if checked["id"] in {x.id for x in out}:
            raise ConfigError(file, f"cameras[{i}].id", "a unique id", repr(checked["id"]))
        if not str(checked["url"]).startswith(CAMERA_URLS[checked["kind"]]):
            want = " or ".join(CAMERA_URLS[checked["kind"]])
            raise ConfigError(
                file, f"cameras[{i}].url", f"{want}… for a {checked['kind']} camera", repr(checked["url"])
            )
        if checked["onvif"] and not str(checked["onvif"]).startswith(("http://", "https://")):
            raise ConfigError(file, f"cameras[{i}].onvif", "an http(s):// URL", repr(checked["onvif"]))
        bad = [r for r in checked["roles"] if r not in CAMERA_ROLES]
        if bad:
            raise ConfigError(file, f"cameras[{i}].roles", f"some of {CAMERA_ROLES}", repr(bad[0]))
        if not 0 < checked["fps"] <= 30 or not 0 < checked["stale_after_s"] <= 600:
            raise ConfigError(
                file, f"cameras[{i}].fps", "0 < fps ≤ 30 and 0 < stale_after_s ≤ 600", "out of range"
            )
        out.append(CameraConfig(**checked))
    return tuple(out)


#: what an EIS address must be, by the problem :func:`eis_url_problem` names
EIS_URL_EXPECTED = {
    "eis_url_production": "a test endpoint on a training lane (this host is a production EIS)",
    "eis_url_scheme": "an http:// or https:// URL",
    "eis_url_plain": "https:// (plain http:// only to this machine)",
}


def eis_url_problem(url: str, training: bool, production_hosts: list[str]) -> str | None:
    """What is wrong with an EIS address for this lane, as a code of :data:`EIS_URL_EXPECTED`, or
    None. The config file and the administrator's settings screen hold it to the same rules."""
    if training and production_url(url, production_hosts):
        return "eis_url_production"
    if not url.startswith(("http://", "https://")):
        return "eis_url_scheme"
    if url.startswith("http://") and not loopback(url):
        # cards carry personal data and the identification key: plain HTTP only to this machine
        return "eis_url_plain"
    return None


#: A training clock may run this much faster than real time, no more (a 20-minute M1 in 0.12 s).
MAX_CLOCK_SPEED = 10000.0
#: AF_UNIX socket paths are limited by the kernel (sun_path is 108 bytes with its NUL).
MAX_SOCKET_PATH = 107
DSN_SCHEMES = ("sqlite://", "postgres://", "postgresql://")


def clock_speed_problem(speed: float, training: bool) -> str | None:
    """What is wrong with a lane clock speed, or None. A non-finite or non-positive speed would
    break the lane for good; a speed other than 1 is for training lanes only."""
    if not math.isfinite(speed) or speed <= 0:
        return f"a finite number above 0 (at most {MAX_CLOCK_SPEED:g})"
    if speed > MAX_CLOCK_SPEED:
        return f"at most {MAX_CLOCK_SPEED:g}"
    if speed != 1.0 and not training:
        return "1 (a faster clock is allowed only when lane.training = true)"
    return None


def _check_paths(cfg: Config) -> None:
    """Paths the lane will write: refused here, naming the key, before anything touches the disk."""
    file = str(cfg.file)
    dsn: str = cfg.storage["dsn"]
    if not dsn.startswith(DSN_SCHEMES):
        raise ConfigError(file, "storage.dsn", "sqlite://FILE or postgres://USER@HOST/DB", repr(dsn))
    files = {
        "daemon.log_file": cfg.path(cfg.daemon["log_file"]),
        "daemon.lock_file": cfg.path(cfg.daemon["lock_file"]),
        "storage.key_file": cfg.path(cfg.storage["key_file"]),
        "storage.signing_key_file": cfg.path(cfg.storage["signing_key_file"]),
        "storage.anchor_file": cfg.path(cfg.storage["anchor_file"]),
        "eis.identification_key_file": cfg.path(cfg.eis["identification_key_file"]),
        "backup.key_file": cfg.path(cfg.backup["key_file"]),
    }
    if bool(cfg.eis["system_key"]) != bool(cfg.eis["system_key_password_file"]):
        raise ConfigError(
            file, "eis.system_key_password_file", "set with eis.system_key (both or neither)", "one"
        )
    if cfg.eis["ca_file"] and not cfg.path(cfg.eis["ca_file"]).is_file():
        raise ConfigError(
            file, "eis.ca_file", "a PEM file of CA certificates", str(cfg.path(cfg.eis["ca_file"]))
        )
    if dsn.startswith("sqlite://") and dsn != "sqlite://:memory:":
        files["storage.dsn"] = Path(cfg.dsn.removeprefix("sqlite://"))
    for key, path in files.items():
        if path.is_dir():
            raise ConfigError(file, key, "a file", f"the directory {path}")
    photos = cfg.path(cfg.storage["photos_dir"])
    if photos.exists() and not photos.is_dir():
        raise ConfigError(file, "storage.photos_dir", "a directory", f"the file {photos}")
    centre_bin = cfg.eds["centre_bin"]
    if centre_bin and not (centre_bin.isdigit() and len(centre_bin) == 12):
        raise ConfigError(file, "eds.centre_bin", "12 digits (the centre's BIN)", repr(centre_bin))
    sock = cfg.socket_path
    if sock.is_dir():
        raise ConfigError(file, "daemon.socket", "a socket path", f"the directory {sock}")
    if len(str(sock).encode()) > MAX_SOCKET_PATH:
        raise ConfigError(
            file,
            "daemon.socket",
            f"a path of at most {MAX_SOCKET_PATH} bytes (a Unix socket's limit)",
            f"{len(str(sock).encode())} bytes: {sock}",
        )


def load(file: str | Path) -> Config:
    p = Path(file)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(str(p), "(file)", "an existing file", "no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(str(p), "(file)", "a readable UTF-8 file", str(exc)) from None
    return parse(text, str(p), p.resolve().parent)
