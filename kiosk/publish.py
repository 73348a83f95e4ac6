"""The vendor's side of updates (issue #24 (4)): a TUF repository of otolane releases, and the
release bundles it serves. Not installed on a lane; run with the project's environment:

    python kiosk/publish.py init --repo DIR --keys KEYS     # the keys (once) and root v1
    python kiosk/publish.py release --repo DIR --keys KEYS --folder RELEASE --version V
                                                            # RELEASE's manifest signed, bundled, published
    python kiosk/publish.py refresh --repo DIR --keys KEYS  # a new timestamp (daily: it expires)

The repository is a folder to serve over HTTPS as it is: ``metadata/`` (``1.root.json`` …,
``timestamp.json``, ``snapshot.json``, ``targets.json``) and ``targets/otolane-<version>.tar.gz``.
One Ed25519 key per role (root, targets, snapshot, timestamp), each a 0600 PEM file in KEYS; keep
the root and targets keys offline (docs/operations.md, "Updates"). The lane pins ``1.root.json``
at install (``update.root``); the release manifests are signed with the targets key, so the lane
checks its installed files with the same trust (R10.7).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import sys
import tarfile
from pathlib import Path

from cryptography.hazmat.primitives.serialization import load_pem_private_key
from securesystemslib.signer import CryptoSigner
from tuf.api.metadata import Metadata, MetaFile, Root, Snapshot, TargetFile, Targets, Timestamp
from tuf.api.serialization.json import JSONSerializer

from app.release import baseline, manifest
from app.release.update import schema_here

ROLES = ("root", "targets", "snapshot", "timestamp")
#: how long each role's signature holds: the timestamp is refreshed daily, the root rarely
EXPIRES = {"root": 365, "targets": 90, "snapshot": 30, "timestamp": 7}


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


def signer(keys: Path, role: str) -> CryptoSigner:
    """The role's key: made once (0600), read after."""
    pem = keys / f"{role}.pem"
    if not pem.exists():
        keys.mkdir(parents=True, exist_ok=True, mode=0o700)
        made = CryptoSigner.generate_ed25519()
        fd = os.open(pem, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(made.private_bytes)
    private = load_pem_private_key(pem.read_bytes(), password=None)
    return CryptoSigner(private)  # type: ignore[arg-type]


class Repo:
    def __init__(self, repo: Path, keys: Path) -> None:
        self.repo, self.keys = repo, keys
        self.meta = repo / "metadata"
        self.targets_dir = repo / "targets"

    def _write(self, md: Metadata, name: str) -> None:
        self.meta.mkdir(parents=True, exist_ok=True)
        md.to_file(str(self.meta / name), JSONSerializer(compact=False))

    def load(self, role: str) -> Metadata:
        """A role's metadata as published now."""
        return Metadata.from_file(str(self.meta / f"{role}.json"))

    def _next(self, role: str, new: Metadata) -> Metadata:
        """The role's metadata one version up, or ``new`` for its first."""
        path = self.meta / f"{role}.json"
        if not path.exists():
            return new
        md = Metadata.from_file(str(path))
        md.signed.version += 1
        return md

    def _sign(self, md: Metadata, role: str, expires: dt.datetime | None) -> None:
        """Signed by the role's key alone, valid ``EXPIRES[role]`` days (or until ``expires``), written."""
        md.signed.expires = expires or _now() + dt.timedelta(days=EXPIRES[role])
        md.signatures.clear()
        md.sign(signer(self.keys, role))
        self._write(md, f"{role}.json")

    def init(self) -> None:
        now = _now()
        root = Root(expires=now + dt.timedelta(days=EXPIRES["root"]), consistent_snapshot=False)
        for role in ROLES:
            root.add_key(signer(self.keys, role).public_key, role)
        md = Metadata(root)
        md.sign(signer(self.keys, "root"))
        self._write(md, "1.root.json")
        self._write(md, "root.json")
        self.publish(Metadata(Targets(expires=now)))

    def publish(self, targets: Metadata, expires: dt.datetime | None = None) -> None:
        """Targets signed, then a snapshot naming them and a timestamp naming it (each one version
        up); ``expires`` forces every role's expiry (the tests' expired repository)."""
        self._sign(targets, "targets", expires)
        snap = self._next("snapshot", Metadata(Snapshot(expires=_now())))
        snap.signed.meta["targets.json"] = MetaFile(version=targets.signed.version)
        self._sign(snap, "snapshot", expires)
        self.refresh(snap.signed.version, expires)

    def refresh(self, snapshot_version: int | None = None, expires: dt.datetime | None = None) -> None:
        """A new timestamp (its expiry is what makes a frozen repository show)."""
        ts = self._next("timestamp", Metadata(Timestamp(expires=_now())))
        if snapshot_version is None:
            snapshot_version = self.load("snapshot").signed.version
        ts.signed.snapshot_meta = MetaFile(version=snapshot_version)
        self._sign(ts, "timestamp", expires)

    def release(
        self,
        folder: Path,
        version: str,
        expires: dt.datetime | None = None,
        base: dict | None = None,
        edition: str = "production",
        schema: int | None = None,
    ) -> Path:
        """Sign ``folder``'s manifest, bundle it and publish the bundle as a target (``schema``: the
        database schema it migrates to, this code's unless given)."""
        bundle = make_bundle(folder, version, self.keys, self.targets_dir, base, edition, schema)
        targets = self.load("targets")
        targets.signed.version += 1
        targets.signed.targets[bundle.name] = TargetFile.from_file(bundle.name, str(bundle))
        self.publish(targets, expires)
        return bundle


def sign_manifest(
    folder: Path,
    version: str,
    keys: Path,
    schema: int | None = None,
    base: dict | None = None,
    edition: str = "production",
) -> dict:
    """``release.json`` of ``folder``: its files, its baseline (this code's unless ``base``), its
    edition (a production one runs no simulator), signed with the targets key."""
    schema = schema if schema is not None else schema_here()
    base = base if base is not None else baseline.current()
    signed = manifest.make(folder, version, schema, base, edition)
    doc = manifest.sign(signed, [signer(keys, "targets")])
    manifest.write(folder, doc)
    return doc


def make_bundle(
    folder: Path,
    version: str,
    keys: Path,
    out: Path,
    base: dict | None = None,
    edition: str = "production",
    schema: int | None = None,
) -> Path:
    sign_manifest(folder, version, keys, schema, base, edition)
    out.mkdir(parents=True, exist_ok=True)
    bundle = out / f"otolane-{version}.tar.gz"
    with tarfile.open(bundle, "w:gz", compresslevel=6) as tar:
        for p in sorted(folder.iterdir()):
            tar.add(p, arcname=p.name)
    return bundle


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("action", choices=("init", "release", "refresh"))
    ap.add_argument("--repo", required=True, type=Path)
    ap.add_argument("--keys", required=True, type=Path)
    ap.add_argument("--folder", type=Path, help="release: the release folder (a virtual environment)")
    ap.add_argument("--version", help="release: its version")
    a = ap.parse_args()
    repo = Repo(a.repo, a.keys)
    if a.action == "init":
        repo.init()
    elif a.action == "refresh":
        repo.refresh()
    else:
        if not (a.folder and a.version):
            ap.error("release needs --folder and --version")
        print(repo.release(a.folder, a.version))
    shutil.copy(a.repo / "metadata" / "1.root.json", a.repo / "root-of-trust.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
