"""Signed checkpoints of the chain heads, kept outside the database (R3.10, R3.13).

A hash chain proves that its rows fit together, not that they are all there: whoever can write the
database can cut a chain's tail, empty a table, or change a row and re-hash every row after it, and
the chain still verifies. So the lane signs the *head* of every chain (its last ``seq`` and ``hash``)
with its own Ed25519 key — a file (0600) outside the database — and appends the signed checkpoint to
an append-only file, also outside the database. A checkpoint names rows that must still be there
with exactly those hashes; the integrity check holds the chains against every checkpoint. Each card
carries the heads it was formed on, signed, so EIS keeps an anchor no one on the lane can rewrite.
This is the idea of Certificate Transparency's signed tree heads (RFC 6962 §3.5), on hash chains.

The checkpoint file is one JSON object per line: ``n`` (1, 2, …), ``ts``, ``reason``, ``heads``
(table → ``[seq, hash]``), ``prev`` (SHA-256 of the previous line; 64 zeros for the first), ``key``
(fingerprint of the signing key) and ``sig`` (Ed25519 over the line without ``sig``, canonical
JSON, base64). Writers append under an exclusive ``flock``, so the daemon and the command line never
fork it.
"""

from __future__ import annotations

import base64
import fcntl
import hashlib
import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from app.errors import OtolaneError
from app.storage.chain import GENESIS
from app.storage.crypto import check_private, write_secret_file

#: table -> (seq, hash) of its last row; (0, GENESIS) for an empty chain
Heads = dict[str, tuple[int, str]]
#: chains whose move alone makes no new checkpoint: the exchanges with EIS grow by a poll a minute on
#: an idle lane (and by each checkpoint sent to the witness); they are signed with the next move of
#: the others
QUIET = frozenset({"eis_exchanges"})


def moved(before: Heads, now: Heads) -> bool:
    """Whether a chain that is not quiet moved (a chain new to the heads counts as moved)."""
    return any(before.get(t) != h for t, h in now.items() if t not in QUIET or t not in before)


def canonical(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def key_fingerprint(public: Ed25519PublicKey) -> str:
    """The lane key's name in checkpoints and on cards: SHA-256 of its raw bytes, 32 hex digits."""
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:32]


class LaneKey:
    """The lane's signing key: Ed25519, PKCS#8 PEM in a 0600 file outside the database."""

    def __init__(self, private: Ed25519PrivateKey) -> None:
        self._private = private
        self.public = private.public_key()
        self.fingerprint = key_fingerprint(self.public)

    @classmethod
    def create(cls, path: Path) -> LaneKey:
        private = Ed25519PrivateKey.generate()
        pem = private.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        write_secret_file(path, pem.decode("ascii"))
        key = cls(private)
        write_public(path, key)
        return key

    @classmethod
    def load(cls, path: Path) -> LaneKey:
        try:
            check_private(path)
            data = path.read_bytes()
        except FileNotFoundError:
            raise OtolaneError(
                "signing_key_missing", f"signing key {path} not found", path=str(path)
            ) from None
        try:
            private = serialization.load_pem_private_key(data, password=None)
        except (ValueError, TypeError):
            raise OtolaneError(
                "signing_key_bad", f"{path} is not a PEM private key", path=str(path)
            ) from None
        if not isinstance(private, Ed25519PrivateKey):
            raise OtolaneError("signing_key_bad", f"{path} is not an Ed25519 key", path=str(path))
        return cls(private)

    def public_pem(self) -> str:
        return self.public.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ).decode("ascii")

    def sign(self, data: bytes) -> str:
        return base64.b64encode(self._private.sign(data)).decode("ascii")


def write_public(path: Path, key: LaneKey) -> None:
    """The public half beside the key (``…key.pub``), for auditors and EIS; it is no secret."""
    pub = path.with_suffix(path.suffix + ".pub")
    pub.write_text(key.public_pem(), encoding="ascii")
    pub.chmod(0o644)


def verify_signature(public: Ed25519PublicKey, sig: str, data: bytes) -> bool:
    try:
        public.verify(base64.b64decode(sig, validate=True), data)
        return True
    except (InvalidSignature, ValueError):
        return False


def sign_heads(key: LaneKey, heads: Heads, subject: str) -> dict[str, Any]:
    """A signed statement of the chain heads at the moment ``subject`` (a card id) was formed."""
    body = {
        "heads": {t: list(h) for t, h in sorted(heads.items())},
        "subject": subject,
        "key": key.fingerprint,
    }
    return body | {"sig": key.sign(canonical(body))}


def verify_signed_heads(public: Ed25519PublicKey, anchor: dict[str, Any]) -> bool:
    body = {k: v for k, v in anchor.items() if k != "sig"}
    return verify_signature(public, str(anchor.get("sig", "")), canonical(body))


@dataclass(frozen=True)
class Checkpoint:
    n: int
    ts: float
    reason: str
    heads: Heads
    key: str


def _last_line(f: Any) -> bytes:
    """The file's last non-empty line, read backwards from its end."""
    f.seek(0, os.SEEK_END)
    pos = f.tell()
    buf = b""
    while pos > 0:
        step = min(4096, pos)
        pos -= step
        f.seek(pos)
        buf = f.read(step) + buf
        body = buf.rstrip(b"\n")
        cut = body.rfind(b"\n")
        if cut >= 0:
            return body[cut + 1 :]
    return buf.rstrip(b"\n")


def _heads_of(line: dict[str, Any]) -> Heads:
    return {str(t): (int(h[0]), str(h[1])) for t, h in line["heads"].items()}


class AnchorLog:
    """The append-only file of signed checkpoints (see the module's docstring)."""

    def __init__(self, path: Path, key: LaneKey) -> None:
        self.path = path
        self.key = key

    def append(self, heads: Heads, reason: str, extra: dict[str, Any] | None = None) -> Checkpoint | None:
        """Sign and append the heads, unless the last checkpoint already says the same (a line
        with ``extra`` — a restore's — is always written)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
        with os.fdopen(fd, "r+b") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            try:
                last_raw = _last_line(f)
                n, prev = 0, GENESIS
                if last_raw:
                    prev = hashlib.sha256(last_raw).hexdigest()
                    try:
                        last = json.loads(last_raw)
                        n = int(last["n"])
                        if extra is None and not moved(_heads_of(last), heads):
                            return None
                    except (ValueError, KeyError, TypeError):  # a torn line: count the lines instead
                        f.seek(0)
                        n = sum(1 for line in f if line.strip())
                body = {
                    "n": n + 1,
                    "ts": round(time.time(), 3),
                    "reason": reason,
                    "heads": {t: list(h) for t, h in sorted(heads.items())},
                    "prev": prev,
                    "key": self.key.fingerprint,
                } | (extra or {})
                line = canonical(body | {"sig": self.key.sign(canonical(body))})
                end = f.seek(0, os.SEEK_END)
                if end:
                    f.seek(end - 1)
                    if f.read(1) != b"\n":  # a line torn by a power cut: ours starts on its own line
                        line = b"\n" + line
                f.write(line + b"\n")
                f.flush()
                os.fsync(f.fileno())
            finally:
                fcntl.flock(f, fcntl.LOCK_UN)
        return Checkpoint(n + 1, body["ts"], reason, heads, self.key.fingerprint)  # type: ignore[arg-type]

    def last(self) -> Checkpoint | None:
        try:
            with self.path.open("rb") as f:
                raw = _last_line(f)
        except FileNotFoundError:
            return None
        if not raw:
            return None
        try:
            line = json.loads(raw)
            return Checkpoint(
                int(line["n"]), float(line["ts"]), str(line["reason"]), _heads_of(line), line["key"]
            )
        except (ValueError, KeyError, TypeError):
            return None


@dataclass
class FileAt:
    """How far a reading of the checkpoint file has come: the byte offset after the last line read,
    its number, the SHA-256 of that line (the next line's ``prev``) and the next checkpoint's ``n``.
    A reading resumes from it."""

    offset: int = 0
    line: int = 0
    prev: str = GENESIS
    expected: int = 1


def iter_checkpoints(
    path: Path, public: Ed25519PublicKey | None, at: FileAt | None = None
) -> Iterator[tuple[Checkpoint | None, list[str]]]:
    """The file's checkpoints from ``at`` on (updated in place), one line at a time: each checkpoint
    (None for a damaged line) and what is wrong with its line: a bad signature, a broken link to the
    previous line, a line out of order. ``public`` None skips signatures."""
    at = at if at is not None else FileAt()
    with path.open("rb") as f:
        f.seek(at.offset)
        for raw in f:
            at.offset += len(raw)
            at.line += 1
            raw = raw.rstrip(b"\n")
            if not raw:
                continue
            where = f"{path.name} line {at.line}"
            try:
                line = json.loads(raw)
                body = {k: v for k, v in line.items() if k != "sig"}
                cp = Checkpoint(
                    int(line["n"]), float(line["ts"]), str(line["reason"]), _heads_of(line), str(line["key"])
                )
            except (ValueError, KeyError, TypeError, AttributeError):
                at.prev = hashlib.sha256(raw).hexdigest()
                at.expected += 1
                yield None, [f"{where}: not a checkpoint (damaged)"]
                continue
            problems = []
            if line.get("prev") != at.prev:
                problems.append(
                    f"{where}: link to the previous checkpoint broken (a line removed or changed)"
                )
            if cp.n != at.expected:
                problems.append(f"{where}: checkpoint {cp.n} where {at.expected} was due")
            if public is not None and not verify_signature(public, str(line.get("sig", "")), canonical(body)):
                problems.append(f"{where}: signature does not verify with the lane's key")
            at.prev = hashlib.sha256(raw).hexdigest()
            at.expected = cp.n + 1
            yield cp, problems


def read_checkpoints(path: Path, public: Ed25519PublicKey | None) -> tuple[list[Checkpoint], list[str]]:
    """Every checkpoint of the file, and what is wrong with the file itself (:func:`iter_checkpoints`)."""
    out: list[Checkpoint] = []
    problems: list[str] = []
    for cp, found in iter_checkpoints(path, public):
        problems += found
        if cp is not None:
            out.append(cp)
    return out, problems


@dataclass(frozen=True)
class Restore:
    """A restore's line in the checkpoint file: from it on the chains continue the backup's heads
    (``restored``); the rows earlier checkpoints name past them were given up by the restore."""

    n: int
    ts: float
    snapshot: str
    restored: dict[str, int]


def restores(path: Path) -> list[Restore]:
    """Every restore's line of the file, in order (their signatures are checked with every line's)."""
    out = []
    try:
        with path.open("rb") as f:
            for raw in f:
                if b'"restored"' not in raw:
                    continue
                try:
                    line = json.loads(raw)
                    got = {str(t): int(h[0]) for t, h in line["restored"].items()}
                    out.append(Restore(int(line["n"]), float(line["ts"]), str(line.get("snapshot", "")), got))
                except (ValueError, KeyError, TypeError, AttributeError, IndexError):
                    continue
    except FileNotFoundError:
        return []
    return out


def given_up(restore_lines: list[Restore], n: int) -> dict[str, int]:
    """For the checkpoint numbered ``n``: the last row of each chain a later restore kept (a row
    past it was given up by that restore and is not held); empty when no restore came after it."""
    caps: dict[str, int] = {}
    for r in restore_lines:
        if r.n > n:
            for t, seq in r.restored.items():
                caps[t] = min(caps.get(t, seq), seq)
    return caps
