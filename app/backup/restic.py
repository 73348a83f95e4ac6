"""The backups' repository: restic (Debian's ``restic``), driven as a program with argument lists
(never a shell) and its JSON output.

Why restic (issue #24 (2)): it encrypts every repository (AES-256 in counter mode with Poly1305,
the key derived from the repository password by scrypt), deduplicates by content-defined chunks (a
day's backup of a lane whose database grew by a few megabytes stores a few megabytes), writes to a
plain folder (a USB stick, a mounted share) as well as over SFTP or to a REST server off site, checks
its own repository (``restic check``), and is one static program with a stable, documented format.
borgbackup does the same in Python but wants ``borg serve`` on the far side for remote copies and
its own locking on network shares. The password is the backup key (``backup.key_file``), handed over
in a file (``RESTIC_PASSWORD_FILE``), never on a command line or in a log.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.errors import OtolaneError

#: what restic says to one command, at most (a listing of thousands of snapshots is far less)
MAX_OUTPUT = 64 * 1024 * 1024


@dataclass(frozen=True)
class Snapshot:
    id: str
    time: str
    paths: tuple[str, ...]
    tags: tuple[str, ...]


def shown(repository: str) -> str:
    """The repository as it may be logged and shown: a URL's account and password cut out."""
    head, sep, rest = repository.partition("://")
    if sep and "@" in rest.split("/", 1)[0]:
        return f"{head}://…@{rest.split('@', 1)[1]}"
    return repository


class Restic:
    def __init__(self, repository: str, key_file: Path, cache_dir: Path | None = None) -> None:
        if not repository:
            raise OtolaneError(
                "backup_not_configured",
                "no backup repository is configured: set backup.repository (a folder or a restic URL)",
            )
        self.repository = repository
        self.key_file = key_file
        self.cache_dir = cache_dir
        self.program = shutil.which("restic") or ""
        if not self.program:
            raise OtolaneError("backup_tool_missing", "restic is not installed: sudo apt-get install restic")

    def _env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("RESTIC_")}
        env |= {"RESTIC_REPOSITORY": self.repository, "RESTIC_PASSWORD_FILE": str(self.key_file)}
        if self.cache_dir is not None:
            env["RESTIC_CACHE_DIR"] = str(self.cache_dir)
        return env

    def run(
        self,
        *args: str,
        line: Callable[[dict[str, Any]], None] | None = None,
        cwd: Path | None = None,
    ) -> list[dict[str, Any]]:
        """restic ARGS --json: its JSON messages (each handed to ``line`` as it comes, for progress);
        a failure is an error naming restic's own last words."""
        if not self.key_file.is_file():
            raise OtolaneError(
                "backup_key_missing",
                f"the backup key {self.key_file} is missing: otolane backup init makes one (and the "
                "repository); to read an existing repository, copy its key back from where it is kept",
                path=str(self.key_file),
            )
        argv = [self.program, *args, "--json", "--no-lock" if args[0] in ("snapshots",) else "--quiet"]
        if args[0] == "backup":
            argv.remove("--quiet")  # its progress is what ``line`` is for
        proc = subprocess.Popen(  # noqa: S603 - an argument list, no shell; args come from our code
            argv,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=self._env(),
            cwd=cwd,
        )
        out: list[dict[str, Any]] = []
        size = 0
        assert proc.stdout is not None and proc.stderr is not None
        for raw in proc.stdout:
            size += len(raw)
            if size > MAX_OUTPUT:
                proc.kill()
                break
            try:
                msg = json.loads(raw)
            except ValueError:
                continue
            items = msg if isinstance(msg, list) else [msg]
            for item in items:
                if isinstance(item, dict):
                    out.append(item)
                    if line is not None:
                        line(item)
        err = proc.stderr.read(64 * 1024).decode("utf-8", "replace")
        rc = proc.wait()
        if rc != 0:
            last = [x for x in err.strip().splitlines() if x.strip()][-1:] or [f"exit status {rc}"]
            code = (
                "backup_repository_missing"
                if "does not exist" in err or "unable to open config" in err
                else ("backup_key_wrong" if "wrong password" in err else "backup_failed")
            )
            raise OtolaneError(
                code, f"restic {args[0]} on {shown(self.repository)}: {last[0][:300]}", detail=last[0][:300]
            )
        return out

    def initialised(self) -> bool:
        try:
            self.run("cat", "config")
        except OtolaneError as exc:
            if exc.code == "backup_repository_missing":
                return False
            raise
        return True

    def init(self) -> None:
        self.run("init")

    def backup(
        self, paths: list[Path], tags: list[str], progress: Callable[[dict[str, Any]], None] | None
    ) -> str:
        """One snapshot of ``paths``; its id."""
        argv = ["backup", *(str(p) for p in paths)]
        for t in tags:
            argv += ["--tag", t]
        msgs = self.run(*argv, line=progress)
        summary = [m for m in msgs if m.get("message_type") == "summary"]
        if not summary or not summary[-1].get("snapshot_id"):
            said = f"restic backup on {shown(self.repository)} named no snapshot"
            raise OtolaneError("backup_failed", said, detail=said)
        return str(summary[-1]["snapshot_id"])

    def snapshots(self) -> list[Snapshot]:
        got = self.run("snapshots")
        return [
            Snapshot(
                str(s.get("id", "")),
                str(s.get("time", "")),
                tuple(str(p) for p in s.get("paths") or ()),
                tuple(str(t) for t in s.get("tags") or ()),
            )
            for s in got
            if s.get("id")
        ]

    def find(self, wanted: str) -> Snapshot:
        """A snapshot by its id or the first characters of it (at least 8), or ``latest``."""
        snaps = self.snapshots()
        if wanted == "latest" and snaps:
            return max(snaps, key=lambda s: s.time)
        hits = [s for s in snaps if len(wanted) >= 8 and s.id.startswith(wanted)]
        if len(hits) == 1:
            return hits[0]
        raise OtolaneError(
            "backup_not_found",
            f"no backup {wanted!r} in {shown(self.repository)}"
            + (
                " (more than one begins so: give more of its id)"
                if hits
                else ": otolane backup list names them"
            ),
        )

    def forget(self, keep_last: int, keep_days: int) -> None:
        self.run("forget", "--keep-last", str(keep_last), "--keep-within", f"{keep_days}d", "--prune")

    def restore(self, snapshot: str, target: Path) -> None:
        self.run("restore", snapshot, "--target", str(target))

    def check(self) -> None:
        self.run("check")
