"""``otolane health``: is this release fit to run the lane — run by a release on the lane's own data
and configuration before the updater makes it current (issue #24 (4)).

In order: its installed files against its signed manifest (R10.7); the store opened with the lane's
keys, migrated forward by this release; the integrity of what is new since the last good check; its
drivers' self-test on the configured stands' profiles; its daemon started, ready on its socket, and
stopped, with no alarm journalled at its start. The report is one JSON object.
"""

from __future__ import annotations

import asyncio
import signal
import sys
import time
from typing import Any

from app.api.client import version_when_ready
from app.config import Config
from app.release.manifest import Installed, root_file

#: a daemon starts in a few seconds; one that has not answered in this long is not healthy
READY_S = 60.0
#: journal entries of the daemon's start that mean it is not fit
ALARMS = ("integrity_alarm", "install_modified")


class Report:
    def __init__(self) -> None:
        self.checks: list[dict[str, Any]] = []

    def add(self, name: str, problems: list[str], fine: str = "ok") -> None:
        self.checks.append({"name": name, "ok": not problems, "detail": problems or [fine]})

    def as_dict(self, release: str) -> dict[str, Any]:
        problems = [f"{c['name']}: {d}" for c in self.checks if not c["ok"] for d in c["detail"]]
        return {"ok": not problems, "release": release, "checks": self.checks, "problems": problems}


async def _store_part(cfg: Config, rep: Report) -> int | None:
    """The store opened (keys, migrations), what is new checked; the journal's head seq."""
    from app.integrity import check
    from app.storage.chain import head
    from app.storage.models import JournalEntry
    from app.storage.store import close_store, open_store

    try:
        store = await open_store(cfg, create=False)
    except Exception as exc:  # a refusal of the keys or the schema is the answer itself
        rep.add("store", [getattr(exc, "message", f"{type(exc).__name__}: {exc}")])
        return None
    try:
        rep.add("store", [], "opened with the lane's keys, migrated")
        report = await check(cfg, store, "new")
        rep.add("integrity", [] if report["ok"] else report["lines"][-5:], report["lines"][-1])
        return (await head(JournalEntry))[0]
    finally:
        await close_store()


def _drivers(cfg: Config, rep: Report) -> None:
    from drivers.registry import PROFILES
    from drivers.selftest import check

    problems: list[str] = []
    for name in sorted({d.profile for d in cfg.devices}):
        profile = PROFILES.get(name)
        problems += [f"{name}: unknown to this release"] if profile is None else check(profile)
    rep.add("drivers", problems, f"{len({d.profile for d in cfg.devices})} profile(s) read back")


async def _daemon(cfg: Config, rep: Report, release: str) -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "app.cli",
        "daemon",
        "--config",
        str(cfg.file),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
        start_new_session=True,
    )
    deadline = time.monotonic() + READY_S
    try:
        answer = await version_when_ready(str(cfg.socket_path), lambda: proc.returncode is None, READY_S, 0.3)
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(proc.wait(), 30)
        except TimeoutError:
            proc.kill()
            await proc.wait()
    err = (await proc.stderr.read()).decode(errors="replace")[-400:] if proc.stderr else ""
    if answer is None:
        why = "it ended" if time.monotonic() < deadline else f"not ready in {READY_S:.0f} s"
        rep.add("daemon", [f"{why} (exit {proc.returncode}): {err.strip()}"])
    elif answer.get("release") != release:
        rep.add("daemon", [f"answered as release {answer.get('release')}, not {release}"])
    else:
        rep.add("daemon", [], f"ready as release {release}, stopped")


async def _alarms(cfg: Config, rep: Report, after: int) -> None:
    from app.storage.models import JournalEntry
    from app.storage.store import close_store, open_store

    await open_store(cfg, create=False)
    try:
        found = await JournalEntry.filter(seq__gt=after, action__in=list(ALARMS)).order_by("seq")
        rep.add("alarms", [f"{e.action}: {str(e.details)[:300]}" for e in found], "none at its start")
    finally:
        await close_store()


async def health(cfg: Config) -> dict[str, Any]:
    rep = Report()
    inst = Installed.running()
    release = inst.folder.name if inst.folder else "development"
    rep.add("installation", inst.problems(root_file(cfg)), inst.status())
    after = await _store_part(cfg, rep)
    _drivers(cfg, rep)
    if after is not None:
        await _daemon(cfg, rep, release)
        await _alarms(cfg, rep, after)
    return rep.as_dict(release)
