"""The EIS identification key (R4, R5; Order 532 p. 2(2)): issued by the EIS operator, carried by
every message, kept encrypted in the software itself, valid for two months.

The key file (``[eis] identification_key_file``, 0600) holds one sealed record — the key, when it was
installed and until when it is valid — under the lane's data key (AES-256-GCM); the key is never
printed, logged or journalled (the journal keeps a fingerprint). ``otolane eis key install`` replaces
it while the daemon runs; the daemon reads the file again when it changes. A plain key file left by
an older installation is sealed in place at start (valid two months from its date). An expired key
stops delivery with a clear state: cards wait in the outbox, nothing is lost.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.errors import OtolaneError
from app.storage.crypto import Keyring, check_private, write_secret_file

HEADER = "otolane-eis-key/1"
AAD = "eis-identification-key"
VALID_DAYS = 60  # R5: renewed every two months
WARN_DAYS = (14, 7, 1)  # R5: warnings 14, 7 and 1 day before expiry
DAY = 86400.0
MAX_KEY = 4096


@dataclass(frozen=True)
class IdKey:
    value: str = field(repr=False)
    installed: float
    valid_until: float

    @property
    def fingerprint(self) -> str:
        return hashlib.sha256(self.value.encode()).hexdigest()[:12]

    def days_left(self, now: float) -> int:
        return max(0, math.ceil((self.valid_until - now) / DAY))

    def expired(self, now: float) -> bool:
        return now >= self.valid_until

    def state(self, now: float) -> dict[str, Any]:
        """What screens may show: never the key."""
        left = self.days_left(now)
        return {
            "fingerprint": self.fingerprint,
            "valid_until": self.valid_until,
            "days_left": left,
            "expired": self.expired(now),
            "warn": left <= WARN_DAYS[0],
        }


def key_problem(value: str) -> str | None:
    if not value or len(value) > MAX_KEY:
        return f"1 to {MAX_KEY} characters"
    if not value.isprintable() or value != value.strip():
        return "printable characters without surrounding blanks"
    return None


def write(path: Path, keyring: Keyring, key: IdKey) -> None:
    record = json.dumps({"value": key.value, "installed": key.installed, "valid_until": key.valid_until})
    blob = base64.b64encode(keyring.seal(record.encode(), AAD)).decode()
    write_secret_file(path, f"{HEADER}\n{blob}\n")


#: how long a newly issued key is valid unless told (R5: two months)
DEFAULT_VALID_DAYS = 60


def install(path: Path, keyring: Keyring, value: str, valid_days: int, now: float) -> IdKey:
    """A new key, checked and sealed in place of the old (the CLI's and the admin screen's way);
    the caller journals ``eis_key_installed``. A running daemon takes it at its next message."""
    problem = key_problem(value)
    if problem:
        raise OtolaneError("eis_key_bad", f"an identification key is {problem}", problem=problem)
    if not 1 <= valid_days <= 366:
        raise OtolaneError("eis_key_days_bad", "a key is valid for 1 to 366 days", low=1, high=366)
    key = IdKey(value, now, now + valid_days * DAY)
    write(path, keyring, key)
    return key


def check_file(path: Path) -> None:
    """The key file is there and private (read before anything else opens, and at every read)."""
    try:
        check_private(path)
    except FileNotFoundError:
        raise OtolaneError(
            "eis_key_missing",
            f"EIS identification key {path} not found: install it with otolane eis key install",
            path=str(path),
        ) from None


def read(path: Path, keyring: Keyring) -> tuple[IdKey, bool]:
    """The key and whether the file was a plain one (to be sealed by the caller)."""
    check_file(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise OtolaneError(
            "eis_key_bad", f"EIS identification key {path}: {e.strerror}", path=str(path)
        ) from e
    lines = text.split("\n")
    if lines[0] == HEADER:
        try:
            record = json.loads(keyring.open(base64.b64decode(lines[1]), AAD))
            return IdKey(
                str(record["value"]), float(record["installed"]), float(record["valid_until"])
            ), False
        except (OtolaneError, ValueError, KeyError, IndexError, TypeError) as e:
            raise OtolaneError(
                "eis_key_bad",
                f"EIS identification key {path} cannot be opened with this lane's data key; install it again",
                path=str(path),
            ) from e
    value = text.strip()
    if key_problem(value):
        raise OtolaneError(
            "eis_key_bad", f"EIS identification key {path} is not a key; install it again", path=str(path)
        )
    made = path.stat().st_mtime
    return IdKey(value, made, made + VALID_DAYS * DAY), True


class IdKeySource:
    """The current key for every delivery: read again when the file changes (a replacement needs no
    restart); a file that cannot be read keeps the last good key and says so."""

    def __init__(self, path: Path, keyring: Keyring) -> None:
        self.path = path
        self.keyring = keyring
        self._mtime = 0.0
        self._key: IdKey | None = None
        self.problem = ""

    def current(self) -> IdKey:
        try:
            mtime = self.path.stat().st_mtime
        except OSError:
            mtime = self._mtime
        if self._key is None or mtime != self._mtime:
            try:
                key, plain = read(self.path, self.keyring)
                if plain and self._key is not None:
                    # a running lane takes only a key installed by `otolane eis key install`
                    raise OtolaneError("eis_key_bad", f"{self.path} is not a sealed key; install it again")
                self._key, self._mtime, self.problem = key, mtime, ""
            except OtolaneError as e:
                if self._key is None:
                    raise
                self.problem = e.code
        return self._key

    def state(self, now: float | None = None) -> dict[str, Any]:
        try:
            return self.current().state(time.time() if now is None else now) | {"problem": self.problem}
        except OtolaneError as e:
            return {"expired": True, "days_left": 0, "warn": True, "problem": e.code, "fingerprint": ""}
