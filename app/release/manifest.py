"""A release's signed manifest and the installed files held to it (R10.7).

Every release folder (``/opt/otolane/releases/<version>``) carries ``release.json``: the version,
the database schema it migrates to, its security baseline (``baseline.py``) and every file's SHA-256
(a link by its target), signed by the keys the update repository's trusted root names for its
``targets`` role — the same keys that sign the releases the updater installs, so the lane needs no
second trust anchor. At the daemon's start and in ``otolane integrity check`` the running release's
files are held to it: a changed, missing or added file is named.

The envelope is TUF's: ``{"signed": …, "signatures": [{"keyid", "sig"}]}`` over canonical JSON.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from securesystemslib.formats import encode_canonical
from securesystemslib.signer import Signature, Signer
from tuf.api.metadata import Metadata, Root

from app.config import Config
from app.errors import OtolaneError
from app.storage.crypto import sha256_file

MANIFEST = "release.json"
#: a manifest lists some 10 000 files in about 1.5 MB; nothing a lane reads from disk is unbounded
MAX_MANIFEST = 16 * 1024 * 1024
MAX_ROOT = 512 * 1024
#: the role whose keys sign the releases
TARGETS_ROLE = "targets"
#: problems named one by one; past these, how many more
MAX_PROBLEMS = 50


def canonical(obj: Any) -> bytes:
    """TUF's canonical JSON (not the checkpoints' ``anchor.canonical``): a release manifest is
    signed and checked as the repository's own metadata is, by TUF's tools too."""
    return str(encode_canonical(obj)).encode("utf-8")


def files_of(release: Path) -> dict[str, str]:
    """Every file of a release folder by its relative path: ``sha256:<hex>`` or ``link:<target>``
    (the environment's ``bin/python`` names the system's interpreter). The manifest itself is left
    out; nothing else is (a compiled module is code too)."""
    out: dict[str, str] = {}
    for dirpath, dirnames, filenames in os.walk(release):
        here = Path(dirpath)
        for name in [*filenames, *(d for d in dirnames if (here / d).is_symlink())]:
            p = here / name
            rel = p.relative_to(release).as_posix()
            if rel == MANIFEST:
                continue
            if p.is_symlink():
                out[rel] = "link:" + os.readlink(p)
            elif p.is_file():
                out[rel] = "sha256:" + sha256_file(p)
    return dict(sorted(out.items()))


#: a production release carries no simulator a user can run; a training one (training centres, the
#: vendor's tests) does (T1: no capability an auditor would call hidden)
EDITIONS = ("production", "training")


def make(
    release: Path, version: str, schema: int, baseline: dict[str, Any], edition: str = "production"
) -> dict[str, Any]:
    """The manifest's signed part for a release folder as it is now."""
    return {
        "type": "otolane-release",
        "version": version,
        "edition": edition,
        "schema": schema,
        "baseline": baseline,
        "files": files_of(release),
    }


def sign(signed: dict[str, Any], signers: list[Signer]) -> dict[str, Any]:
    data = canonical(signed)
    return {"signed": signed, "signatures": [s.sign(data).to_dict() for s in signers]}


def write(release: Path, doc: dict[str, Any]) -> Path:
    path = release / MANIFEST
    path.write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    path.chmod(0o644)
    return path


def _read_json(path: Path, limit: int, what: str) -> Any:
    try:
        with path.open("rb") as f:
            data = f.read(limit + 1)
    except OSError as exc:
        raise OtolaneError("release_manifest", f"{what} {path} cannot be read: {exc.strerror}") from exc
    if len(data) > limit:
        raise OtolaneError("release_manifest", f"{what} {path} is larger than {limit} bytes")
    try:
        return json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise OtolaneError("release_manifest", f"{what} {path} is not JSON: {exc}") from exc


def read_root(path: Path) -> Root:
    """A TUF root (the one pinned at install, or the newest the updater has verified since)."""
    try:
        data = path.read_bytes()[: MAX_ROOT + 1]
        if len(data) > MAX_ROOT:
            raise ValueError(f"larger than {MAX_ROOT} bytes")
        md = Metadata[Root].from_bytes(data)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise OtolaneError(
            "release_root", f"the update repository's root {path} cannot be read: {exc}"
        ) from exc
    if not isinstance(md.signed, Root):
        raise OtolaneError("release_root", f"{path} is not a TUF root")
    return md.signed


def verify(doc: Any, root: Root) -> dict[str, Any]:
    """The manifest's signed part when enough of the root's ``targets`` keys signed it."""
    if not isinstance(doc, dict) or not isinstance(doc.get("signed"), dict):
        raise OtolaneError("release_manifest", "the release manifest has no signed part")
    signed = doc["signed"]
    if signed.get("type") != "otolane-release" or not isinstance(signed.get("files"), dict):
        raise OtolaneError("release_manifest", "the release manifest is not an otolane release's")
    role = root.get_delegated_role(TARGETS_ROLE)
    data = canonical(signed)
    good: set[str] = set()
    sigs = doc.get("signatures")
    for raw in sigs[:32] if isinstance(sigs, list) else []:
        try:
            sig = Signature.from_dict(dict(raw))
            if sig.keyid in role.keyids and sig.keyid not in good:
                root.get_key(sig.keyid).verify_signature(sig, data)
                good.add(sig.keyid)
        except Exception:  # noqa: S112 - a bad signature counts for nothing; too few fail below
            continue
    if len(good) < role.threshold:
        raise OtolaneError(
            "release_signature",
            f"the release manifest is signed by {len(good)} of the {role.threshold} release key(s) "
            "the update repository's root names",
            detail=f"{len(good)}/{role.threshold}",
        )
    return signed


def compare(release: Path, files: dict[str, Any]) -> list[str]:
    """What differs between a release folder and its manifest's files: each changed, missing or
    added file named (at most :data:`MAX_PROBLEMS`, then how many more)."""
    now = files_of(release)
    problems = [f"changed: {rel}" for rel, want in files.items() if rel in now and now[rel] != want]
    problems += [f"missing: {rel}" for rel in files if rel not in now]
    problems += [f"added: {rel}" for rel in now if rel not in files]
    if len(problems) > MAX_PROBLEMS:
        problems = [*problems[:MAX_PROBLEMS], f"… and {len(problems) - MAX_PROBLEMS} more"]
    return problems


@dataclass(frozen=True)
class Installed:
    """The release this program runs from: ``folder`` None for a development checkout."""

    folder: Path | None

    @classmethod
    def running(cls) -> Installed:
        """A release is a virtual environment in a ``releases`` folder, or any with a manifest."""
        prefix = Path(sys.prefix)
        if (prefix / MANIFEST).exists() or prefix.parent.name == "releases":
            return cls(prefix)
        return cls(None)

    def problems(self, root_file: Path | None) -> list[str]:
        """What the integrity check says of the installed files; empty when they are as shipped.
        A development checkout has nothing to hold (said by :meth:`status`)."""
        if self.folder is None:
            return []
        if root_file is None:
            return [f"{self.folder}: no trusted root of the update repository to verify it (update.root)"]
        try:
            signed = verify(
                _read_json(self.folder / MANIFEST, MAX_MANIFEST, "the manifest"), read_root(root_file)
            )
        except OtolaneError as exc:
            return [f"{self.folder}: {exc.message}"]
        return [f"{self.folder}: {p}" for p in compare(self.folder, signed["files"])]

    def status(self) -> str:
        if self.folder is None:
            return "a development checkout: no release manifest to hold it to"
        return f"release {self.folder.name} in {self.folder.parent}"


def edition() -> str:
    """``development`` for a checkout; else the running release's edition as its manifest says it —
    ``production`` when it names none or cannot be read (a manifest changed to say otherwise fails
    its signature: the daemon's start check names it, and the lane does no production work)."""
    folder = Installed.running().folder
    if folder is None:
        return "development"
    try:
        said = _read_json(folder / MANIFEST, MAX_MANIFEST, "the manifest")["signed"].get("edition")
    except (OtolaneError, KeyError, TypeError, AttributeError):
        return "production"
    return said if said in EDITIONS else "production"


def require_training(what: str) -> None:
    """The simulators and the demo run from a checkout or a training release only (T1, issue #25 (5))."""
    if edition() == "production":
        raise OtolaneError(
            "sim_production",
            f"{what} is for training lanes and tests: this is a production release, which runs no "
            "simulator (a training centre installs the training edition)",
            what=what,
        )


def root_file(cfg: Config) -> Path | None:
    """The root the lane trusts now: the newest the updater verified, else the one pinned at install;
    None when no update repository is configured."""
    if not cfg.update["root"]:
        return None
    cached = cfg.path(cfg.update["state_dir"]) / "metadata" / "root.json"
    return cached if cached.exists() else cfg.path(cfg.update["root"])


def read_signed(release: Path, root: Root) -> dict[str, Any]:
    """A release folder's manifest, verified: its signed part."""
    return verify(_read_json(release / MANIFEST, MAX_MANIFEST, "the manifest"), root)
