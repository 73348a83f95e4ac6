"""The integrity check the administrator starts from the screen: run by the daemon as a process of
its own (``otolane integrity check --progress json --json``) at a lower priority, so the lane's work
keeps its cores and its memory; its progress read line by line, its report kept for the screen. The
command line has no input in it: the mode and ``--resume`` are chosen from fixed words."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Any

from app import child
from app.config import Config
from app.errors import OtolaneError
from app.integrity import position
from app.storage.anchor import LaneKey

log = logging.getLogger("otolane.integrity")
#: problems of the last check shown on the screen (the whole list: the CLI's --json, the journal)
SHOWN = 20


class IntegrityJob:
    def __init__(self, cfg: Config, key: LaneKey) -> None:
        self.cfg = cfg
        self.key = key
        self.proc: asyncio.subprocess.Process | None = None
        self.task: asyncio.Task[None] | None = None
        self.progress: dict[str, Any] | None = None
        self.last: dict[str, Any] | None = None
        self.path = position.state_file(cfg.path(cfg.storage["anchor_file"]))
        self._read: tuple[tuple[int, int] | None, tuple[position.State, str | None]] | None = None

    @property
    def running(self) -> bool:
        return self.task is not None and not self.task.done()

    async def start(self, mode: str, resume: bool, by: str) -> dict[str, Any]:
        if self.running:
            raise OtolaneError("integrity_running", "an integrity check is already running", status=409)
        if mode not in ("full", "new"):
            raise OtolaneError("integrity_mode", "'mode' is 'full' or 'new'", field="mode")
        args = ["integrity", "check", "--progress", "json", "--json", *(["--new"] if mode == "new" else [])]
        self.proc = await child.spawn(self.cfg.file, *args, *(["--resume"] if resume else []))
        self.progress = {"phase": "start", "done": 0, "total": 0, "percent": 0.0, "mode": mode}
        self.task = asyncio.create_task(self._follow(self.proc, mode, by))
        log.info("integrity check started by %s (%s%s)", by, mode, ", resumed" if resume else "")
        return self.status()

    async def _follow(self, proc: asyncio.subprocess.Process, mode: str, by: str) -> None:
        assert proc.stdout is not None and proc.stderr is not None
        other: list[str] = []
        out_task = asyncio.create_task(proc.stdout.read())
        async for raw in proc.stderr:
            line = raw.decode(errors="replace").strip()
            try:
                fig = json.loads(line)
                if isinstance(fig, dict) and "done" in fig:
                    self.progress = fig
                    continue
            except ValueError:
                pass
            other = [*other[-9:], line[:300]]
        out = await out_task
        code = await proc.wait()
        try:
            report = json.loads(out)
            self.last = {
                "ok": bool(report["ok"]),
                "interrupted": bool(report["interrupted"]),
                "mode": report["mode"],
                "rows": report["rows"],
                "problems": len(report["problems"]) + int(report.get("more", 0)),
                "shown": report["problems"][:SHOWN],
                "finished": time.time(),
                "by": by,
            }
        except (ValueError, KeyError, TypeError):
            self.last = {"ok": False, "interrupted": False, "mode": mode, "error": " / ".join(other)[-600:]}
            self.last |= {"problems": 0, "shown": [], "finished": time.time(), "by": by, "exit": code}
        log.info("integrity check ended (exit %s): %s", code, {k: self.last[k] for k in ("ok", "problems")})

    async def stop(self) -> dict[str, Any]:
        """Ask the check to stop after its page: it saves its position (``resume`` continues)."""
        await child.end(self.proc, self.task)
        return self.status()

    def _position(self) -> tuple[position.State, str | None]:
        """The position file, read and its signature verified again only when it changed (the
        admin's screen asks for the status every second)."""
        try:
            stat = self.path.stat()
            stamp: tuple[int, int] | None = (stat.st_mtime_ns, stat.st_size)
        except OSError:
            stamp = None
        if self._read is None or self._read[0] != stamp:
            self._read = (stamp, position.load(self.path, self.key))
        return self._read[1]

    def status(self) -> dict[str, Any]:
        st, unused = self._position()
        return {
            "running": self.running,
            "progress": self.progress if self.running else None,
            "last": self.last,
            "last_good": st.good_ts or None,
            "resumable": st.run is not None and not self.running,
            "position_unused": unused,
        }

    async def close(self) -> None:
        await self.stop()
