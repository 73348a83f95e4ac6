"""Backups as the daemon sees them (R3.11, issue #24 (2)): the administrator's screen starts one —
run as a process of its own (``otolane backup now --json``) at a lower priority, so the lane's work
keeps its cores, its progress read line by line — and the lane watches that backups are made: the
last good one and the last failure, read from the journal (the timer's backups and the screen's
alike), and an alarm when the last failed, none was ever made, or the last good one is older than
``backup.alarm_after_hours``; an overdue backup is journalled (``backup_missed``) once."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from typing import Any

from app import child
from app.backup.restic import shown
from app.config import Config
from app.errors import OtolaneError
from app.journal import Journal
from app.storage.models import JournalEntry

log = logging.getLogger("otolane.backup")
#: backups the screen lists (from the journal: no trip to the medium)
LISTED = 8


def alarm(
    now: float, configured: bool, last_ok: float | None, last_failed: float | None, hours: int
) -> str | None:
    """The backup alarm's catalog code, or None: what an administrator must see at once."""
    if not configured:
        return "backup_not_configured"
    if last_failed is not None and (last_ok is None or last_failed > last_ok):
        return "backup_failed"
    if last_ok is None:
        return "backup_never"
    if now - last_ok > hours * 3600:
        return "backup_missed"
    return None


class BackupJob:
    def __init__(self, cfg: Config, journal: Journal) -> None:
        self.cfg = cfg
        self.journal = journal
        self.proc: asyncio.subprocess.Process | None = None
        self.task: asyncio.Task[None] | None = None
        self.progress: dict[str, Any] | None = None
        self.error: str | None = None  # the last run's own words when it ended without a result

    @property
    def configured(self) -> bool:
        return bool(self.cfg.backup["repository"])

    @property
    def running(self) -> bool:
        return self.task is not None and not self.task.done()

    async def start(self, by: str) -> dict[str, Any]:
        if self.running:
            raise OtolaneError("backup_running", "a backup is being made already", status=409)
        if not self.configured:
            raise OtolaneError("backup_not_configured", "no backup repository is configured", status=409)
        self.proc = await child.spawn(self.cfg.file, "backup", "now", "--json")
        self.progress, self.error = {"phase": "start", "percent": 0.0}, None
        self.task = asyncio.create_task(self._follow(self.proc))
        log.info("backup started by %s", by)
        return await self.status()

    async def _follow(self, proc: asyncio.subprocess.Process) -> None:
        assert proc.stdout is not None and proc.stderr is not None
        other: list[str] = []
        out_task = asyncio.create_task(proc.stdout.read())
        async for raw in proc.stderr:
            line = raw.decode(errors="replace").strip()
            with contextlib.suppress(ValueError):
                fig = json.loads(line)
                if isinstance(fig, dict) and "phase" in fig:
                    self.progress = fig
                    continue
            other = [*other[-4:], line.removeprefix("otolane: ")[:300]]
        await out_task
        code = await proc.wait()
        if code != 0:  # the failure itself is journalled by the backup (backup_failed)
            self.error = " / ".join(other)[-400:] or f"exit {code}"
        log.info("backup ended (exit %s)", code)

    async def status(self) -> dict[str, Any]:
        made = await JournalEntry.filter(action="backup_made").order_by("-seq").limit(LISTED)
        failed = await self.journal.last("backup_failed")
        last_ok = made[0].ts if made else None
        last_failed = failed.ts if failed else None
        hours = int(self.cfg.backup["alarm_after_hours"])
        return {
            "configured": self.configured,
            "repository": shown(self.cfg.backup["repository"]),
            "running": self.running,
            "progress": self.progress if self.running else None,
            "error": None if self.running else self.error,
            "alarm": alarm(time.time(), self.configured, last_ok, last_failed, hours),
            "alarm_after_hours": hours,
            "last_ok": last_ok,
            "last_failed": (
                {"ts": failed.ts, "reason": str(failed.details.get("reason", ""))[:300]} if failed else None
            ),
            "backups": [
                {
                    "ts": e.ts,
                    "snapshot": str(e.details.get("snapshot", ""))[:8],
                    "bytes": e.details.get("bytes"),
                    "last_number": e.details.get("last_number"),
                    "by": e.actor,
                }
                for e in made
            ],
        }

    async def watch(self) -> None:
        """Every minute: an overdue backup journalled once (until the next good one)."""
        while True:
            await asyncio.sleep(60)
            try:
                st = await self.status()
                if st["alarm"] != "backup_missed":
                    continue
                said = await self.journal.last("backup_missed", "backup_made")
                if said is None or said.action != "backup_missed":
                    await self.journal.write(
                        "laned", "backup_missed", last_ok=st["last_ok"], hours=st["alarm_after_hours"]
                    )
            except Exception:
                log.exception("the backup watch failed")

    async def close(self) -> None:
        await child.end(self.proc, self.task)  # restic ends cleanly; the repository keeps what it had
