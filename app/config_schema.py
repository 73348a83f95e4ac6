"""The lane's configuration as data: every table and key of the TOML file with its type, default and
meaning (:data:`SCHEMA`), a stand's (:data:`DEVICE_SCHEMA`) and a camera's (:data:`CAMERA_SCHEMA`).
``app/config.py`` reads a file against these tables and checks what they cannot say alone."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

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
        "watch": Key(
            bool,
            True,
            doc="Read the plate when a car arrives in front of the plate camera (the new-car form starts"
            " from it); false: only when the form is opened or F6 is pressed",
        ),
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
    "dlp": {
        "rules": Key(
            list,
            ["off_hours", "issues_per_hour", "other_card", "export", "failed_logins", "idle_screen"],
            doc="R11: the leak-prevention rules that alert (app/dlp.py); an empty list turns them off",
        ),
        "work_hours": Key(str, "07:00-21:00", doc="The centre's working hours HH:MM-HH:MM (Kazakhstan time)"),
        "work_days": Key(
            str, "1-6", doc="Working days as ISO numbers and ranges, 1 = Monday: '1-5', '1-5,7'"
        ),
        "issues_per_hour": Key(
            int, 30, doc="More cards and certificates issued by one person in an hour alert"
        ),
        "failed_logins": Key(int, 5, doc="This many failed log-ins under one name within the window alert"),
        "failed_login_window_minutes": Key(int, 15, doc="The window of the failed log-ins rule"),
        "screen_lock_minutes": Key(
            int,
            10,
            doc="A screen showing personal data with no key pressed this long locks (the session ends)",
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
