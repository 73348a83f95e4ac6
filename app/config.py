"""The lane's configuration: one TOML file, validated before anything starts.

Validation is declarative: :data:`SCHEMA` (``app/config_schema.py``) lists every table and key
with its type, default and meaning. A bad file is refused with the file, the key, what was expected
and what was found (:class:`app.errors.ConfigError`), never a traceback. Relative paths are
relative to the file.
"""

from __future__ import annotations

import datetime as dt
import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.config_schema import (
    _NUM,
    CAMERA_ROLES,
    CAMERA_SCHEMA,
    CAMERA_URLS,
    DEVICE_SCHEMA,
    SCHEMA,
    Key,
)
from app.eis.endpoint import loopback, production_url
from app.errors import ConfigError


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
    dlp: dict[str, Any] = field(default_factory=dict)
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
    _check_dlp(file, tables["dlp"])
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


def _check_dlp(file: str, dlp: dict[str, Any]) -> None:
    from app.dlp import RULES, weekdays, work_hours

    if bad := [r for r in dlp["rules"] if r not in RULES]:
        raise ConfigError(file, "dlp.rules", f"some of {', '.join(RULES)}", repr(bad[0]))
    try:
        work_hours(dlp["work_hours"])
    except ValueError as exc:
        raise ConfigError(file, "dlp.work_hours", "HH:MM-HH:MM, the start before the end", f"{exc}") from None
    try:
        weekdays(dlp["work_days"])
    except ValueError as exc:
        raise ConfigError(
            file, "dlp.work_days", "ISO day numbers and ranges 1–7, e.g. '1-5'", f"{exc}"
        ) from None
    for key in ("issues_per_hour", "failed_logins", "failed_login_window_minutes", "screen_lock_minutes"):
        if dlp[key] < 1:
            raise ConfigError(file, f"dlp.{key}", "at least 1", repr(dlp[key]))


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
