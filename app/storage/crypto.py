"""Encryption at rest (R7): AES-256-GCM under keys kept outside the database.

The key file holds one key per line, ``<kid> <64 hex digits>``; the last line is the active key, the
others stay to open what they sealed (rotation appends a line). The file must be 0600: a key that
others can read is refused. A sealed blob names its key and is bound to its row (associated data),
so a ciphertext moved to another row does not open.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import stat
import zlib
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from app.errors import OtolaneError

VERSION = 1
#: a sealed blob whose plaintext was compressed (zlib) before it was sealed: a card is JSON that
#: shrinks five-fold; nothing on the lane lets anyone watch its length change with a chosen input
ZIPPED = 2
#: the largest plaintext a compressed blob may open to (a decompression bomb is refused)
MAX_UNZIPPED = 16 * 2**20


def sha256_file(path: Path) -> str:
    """A file's SHA-256 (hex), read a MiB at a time: backups' and releases' manifests."""
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def write_secret_file(path: Path, data: str) -> None:
    """Create a file readable by its owner only (0600), atomically."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_suffix(path.suffix + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def check_private(path: Path) -> None:
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise OtolaneError(
            "key_file_open",
            f"{path} can be read by others (mode {oct(mode & 0o777)}); run: chmod 600 {path}",
            path=str(path),
        )


def _aad(aad: str, version: int) -> bytes:
    # version 1 blobs were bound to the row alone; compressed ones to the row and their kind
    return aad.encode() if version == VERSION else f"{aad}|zlib".encode()


#: the data key's size (a release never makes it smaller, R8)
KEY_BITS = 256


class Keyring:
    def __init__(self, keys: dict[str, bytes], active: str) -> None:
        self._keys = keys
        self.active = active

    @classmethod
    def create(cls, path: Path) -> Keyring:
        kid = secrets.token_hex(4)
        key = AESGCM.generate_key(KEY_BITS)
        write_secret_file(path, f"{kid} {key.hex()}\n")
        return cls({kid: key}, kid)

    @classmethod
    def load(cls, path: Path) -> Keyring:
        try:
            check_private(path)
            lines = path.read_text(encoding="ascii").split()
        except FileNotFoundError:
            raise OtolaneError("key_file_missing", f"data key {path} not found", path=str(path)) from None
        keys: dict[str, bytes] = {}
        if len(lines) % 2 or not lines:
            raise OtolaneError("key_file_bad", f"{path} is not a key file", path=str(path))
        active = ""
        for kid, hexkey in zip(lines[::2], lines[1::2], strict=True):
            try:
                key = bytes.fromhex(hexkey)
            except ValueError:
                raise OtolaneError("key_file_bad", f"{path} is not a key file", path=str(path)) from None
            if len(key) != 32:
                raise OtolaneError("key_file_bad", f"{path}: keys are 256-bit", path=str(path))
            keys[kid] = key
            active = kid
        return cls(keys, active)

    def rotate(self, path: Path) -> str:
        kid = secrets.token_hex(4)
        key = AESGCM.generate_key(KEY_BITS)
        self._keys[kid] = key
        self.active = kid
        body = "".join(f"{k} {v.hex()}\n" for k, v in self._keys.items() if k != kid)
        write_secret_file(path, body + f"{kid} {key.hex()}\n")
        return kid

    def seal(self, plaintext: bytes, aad: str, compress: bool = False) -> bytes:
        kid = self.active.encode("ascii")
        nonce = secrets.token_bytes(12)
        version = ZIPPED if compress else VERSION
        if compress:
            plaintext = zlib.compress(plaintext, 6)
        # the version is bound too: a blob's first byte changed does not open as the other kind
        ct = AESGCM(self._keys[self.active]).encrypt(nonce, plaintext, _aad(aad, version))
        return bytes([version, len(kid)]) + kid + nonce + ct

    def open(self, blob: bytes, aad: str) -> bytes:
        try:
            version = blob[0]
            if version not in (VERSION, ZIPPED):
                raise ValueError
            n = blob[1]
            kid = blob[2 : 2 + n].decode("ascii")
            nonce = blob[2 + n : 14 + n]
            plain = AESGCM(self._keys[kid]).decrypt(nonce, blob[14 + n :], _aad(aad, version))
            if version == ZIPPED:
                unzip = zlib.decompressobj()
                plain = unzip.decompress(plain, MAX_UNZIPPED)
                if unzip.unconsumed_tail or not unzip.eof:
                    raise ValueError("larger than allowed, or cut")
            return plain
        except (IndexError, ValueError, KeyError, InvalidTag, UnicodeDecodeError, zlib.error):
            raise OtolaneError(
                "sealed_data_damaged", f"sealed data of {aad} does not open", where=aad
            ) from None

    def seal_json(self, obj: Any, aad: str, compress: bool = False) -> bytes:
        # compact: a reading is stored by the hundred per inspection
        text = json.dumps(obj, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
        return self.seal(text.encode(), aad, compress)

    def open_json(self, blob: bytes, aad: str) -> Any:
        return json.loads(self.open(blob, aad))
