"""The releases on disk (R10.8, R10.11): ``<prefix>/releases/<version>`` side by side, the one in use
named by the ``current`` link, switched in one step (a new link renamed over the old), the updater's
history beside its verified metadata in ``update.state_dir``.

A bundle (``otolane-<version>.tar.gz``) holds one release folder's contents; it is unpacked into a
hidden folder first, only regular files, folders and links within it (tarfile's ``tar`` filter: no
device, no absolute path, no ``..``; sizes bounded), and takes its name only once its manifest holds.
"""

from __future__ import annotations

import json
import os
import shutil
import tarfile
import time
from pathlib import Path
from typing import Any

from app.config import Config
from app.errors import OtolaneError

#: a release: a few thousand files and a few hundred MB; a bundle past these is refused unread
MAX_MEMBERS = 60_000
MAX_UNPACKED = 2 * 1024 * 1024 * 1024
#: the history kept in state.json
HISTORY = 200


class Layout:
    def __init__(self, cfg: Config) -> None:
        upd = cfg.update
        self.prefix = cfg.path(upd["prefix"])
        self.releases = self.prefix / "releases"
        self.current_link = self.prefix / "current"
        self.state_dir = cfg.path(upd["state_dir"])
        self.keep = int(upd["keep_releases"])

    # --- which release ---------------------------------------------------------------------
    def current(self) -> Path | None:
        """The release in use (the ``current`` link's folder), None before the first."""
        if not self.current_link.is_symlink():
            return None
        target = self.current_link.resolve()
        return target if target.is_dir() else None

    def folder(self, version: str) -> Path:
        return self.releases / version

    def switch(self, folder: Path) -> None:
        """``current`` → ``folder`` in one rename: a power cut leaves the old link or the new."""
        tmp = self.prefix / f".current-{os.getpid()}"
        tmp.unlink(missing_ok=True)
        tmp.symlink_to(Path("releases") / folder.name)
        os.replace(tmp, self.current_link)
        fd = os.open(self.prefix, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    # --- bundles -----------------------------------------------------------------------------
    def unpack(self, bundle: Path, version: str) -> Path:
        """The bundle in a hidden folder beside the releases (the caller checks it, then names it)."""
        self.releases.mkdir(parents=True, exist_ok=True)
        tmp = self.releases / f".{version}.partial"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(mode=0o755)
        try:
            with tarfile.open(bundle, "r:gz") as tar:
                members, size = [], 0
                for m in tar:
                    if m.name.startswith("/") or ".." in Path(m.name).parts:
                        raise OtolaneError(
                            "update_bundle",
                            f"{bundle.name}: {m.name} is outside its folder",
                            detail=m.name[:200],
                        )
                    if not (m.isfile() or m.isdir() or m.issym()):
                        raise OtolaneError(
                            "update_bundle", f"{bundle.name}: {m.name} is not a file, folder or link"
                        )
                    size += m.size
                    members.append(m)
                    if len(members) > MAX_MEMBERS or size > MAX_UNPACKED:
                        raise OtolaneError(
                            "update_bundle",
                            f"{bundle.name}: larger than a release can be",
                            detail=bundle.name,
                        )
                tar.extractall(tmp, members=members, filter="tar")
        except (tarfile.TarError, OSError, EOFError) as exc:
            shutil.rmtree(tmp, ignore_errors=True)
            raise OtolaneError(
                "update_bundle", f"{bundle.name} cannot be unpacked: {exc}", detail=str(exc)[:200]
            ) from exc
        except OtolaneError:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return tmp

    def name(self, tmp: Path, version: str) -> tuple[Path, Path | None]:
        """The checked folder takes its release's name; a folder of that name before (the same
        release installed again) is set aside, and returned to be put back if the new one fails."""
        final = self.folder(version)
        aside = None
        if final.exists():
            aside = self.releases / f".{version}.replaced-{int(time.time())}"
            os.replace(final, aside)
        os.replace(tmp, final)
        return final, aside

    def put_back(self, final: Path, aside: Path | None) -> None:
        """A release that failed its health check leaves; the folder it replaced comes back."""
        failed = final.with_name(f".{final.name}.failed-{int(time.time())}")
        os.replace(final, failed)
        if aside is not None:
            os.replace(aside, final)

    def prune(self, keep: list[Path]) -> list[str]:
        """Releases beyond ``keep_releases`` (never one in ``keep``), oldest first; hidden leftovers."""
        gone: list[str] = []
        for p in self.releases.glob(".*"):
            shutil.rmtree(p, ignore_errors=True)
        folders = sorted((p for p in self.releases.iterdir() if p.is_dir()), key=lambda p: p.stat().st_mtime)
        spare = [p for p in folders if p.resolve() not in {k.resolve() for k in keep}]
        for p in spare[: max(0, len(folders) - self.keep - 1)]:
            shutil.rmtree(p, ignore_errors=True)
            gone.append(p.name)
        return gone

    def keep_config(self, file: Path, version: str) -> Path:
        """The configuration a release ran with, kept beside the updater's history (R10.8)."""
        dest = self.state_dir / "configs" / f"{version}.toml"
        dest.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        shutil.copyfile(file, dest)
        dest.chmod(0o600)
        return dest

    # --- the updater's own record ------------------------------------------------------------
    @property
    def state_file(self) -> Path:
        return self.state_dir / "state.json"

    def state(self) -> dict[str, Any]:
        try:
            data = json.loads(self.state_file.read_text(encoding="utf-8")[:1_000_000])
        except (OSError, ValueError):
            data = {}
        data.setdefault("history", [])
        data.setdefault("failed", {})
        return data

    def record(self, state: dict[str, Any], **entry: Any) -> None:
        state["history"] = [*state["history"], {"at": time.time(), **entry}][-HISTORY:]
        self.state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(state, indent=1), encoding="utf-8")
        os.replace(tmp, self.state_file)


def status(cfg: Config) -> dict[str, Any]:
    """What the administrator's screen says of the program: the release running, the one in use,
    the ones kept, the last update's outcome — ``applied``, ``failed`` (its health check: the lane
    stayed on ``old``), ``refused``, ``rolled_back`` (from ``old`` back to ``new``) — read only."""
    from app.release.manifest import Installed

    layout = Layout(cfg)
    folder = Installed.running().folder
    cur = layout.current()
    kept = sorted(p.name for p in layout.releases.iterdir() if p.is_dir()) if layout.releases.is_dir() else []
    history = layout.state()["history"]
    last = history[-1] if history else None
    return {
        "release": folder.name if folder else "development",
        "current": cur.name if cur else None,
        "kept": kept,
        "last": {k: last.get(k) for k in ("action", "old", "new", "at", "reason")} if last else None,
        "configured": bool(cfg.update["root"]),
    }
