"""The restore's last step (R3.12): the checked copy swapped in for the live data, with the daemon
stopped (its lock held meanwhile, so none starts), the live data kept aside until the administrator
removes it.

The checkpoint file is not swapped: the live one goes on, and a signed line of the restore is
appended to it — the chains' heads the backup holds (``restored``), the backup's id, the number of
the last inspection the lane ever gave. The integrity check no longer holds earlier checkpoints'
rows past those heads (they were given up, and said so), EIS's witness receives the line as the next
checkpoint of the same chain, and no number is given twice (``data_restored`` in the journal,
``app/lane/intake.py: next_number``). Only when the live file is gone or does not verify is the
backup's copy put in its place — and the witness will then say, rightly, that lines are missing.
"""

from __future__ import annotations

import asyncio
import shutil
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app.backup.restore import Prepared
from app.errors import OtolaneError
from app.storage.anchor import Heads, read_checkpoints
from app.storage.db import sqlite_path

if TYPE_CHECKING:
    from app.config import Config


def _move(src: Path, dst: Path) -> bool:
    if not src.exists():
        return False
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(str(src), str(dst))
    return True


async def _pg_swap(cfg: Config, p: Prepared, stamp: str) -> str:
    """The live database renamed aside, the restored one renamed into its place."""
    import asyncpg

    live = cfg.dsn.replace("postgres://", "postgresql://", 1)
    server, _, name = live.rpartition("/")
    scratch = p.dsn.rpartition("/")[2]
    aside = f"{name}_before_restore_{stamp}"[:63]
    conn = await asyncpg.connect(f"{server}/postgres")
    try:
        for db in (name, scratch):  # a connection left open (a screen's query) would hold the rename
            await conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", db
            )
        await conn.execute(f'ALTER DATABASE "{name}" RENAME TO "{aside}"')
        await conn.execute(f'ALTER DATABASE "{scratch}" RENAME TO "{name}"')
    finally:
        await conn.close()
    return f"database {aside}"


async def swap(cfg: Config, p: Prepared, last_number: int, by: str) -> dict[str, Any]:
    """Swap the checked copy in; what was kept aside and where. Refused while the daemon runs."""
    from app.daemon import lane_lock
    from app.storage.store import close_store, open_store

    if not p.ok:
        raise OtolaneError("restore_refused", "the backup did not pass its check: it is not swapped in")
    stamp = time.strftime("%Y%m%d-%H%M%S")
    aside = cfg.path(f"restore-aside-{stamp}")
    anchors = cfg.path(cfg.storage["anchor_file"])
    with lane_lock(cfg):  # refused (lane_busy) while the daemon runs; none starts meanwhile
        aside.mkdir(parents=True, mode=0o700)
        kept = [str(aside)]
        db = sqlite_path(cfg.dsn)
        if db is not None:
            for suffix in ("", "-wal", "-shm"):
                _move(Path(f"{db}{suffix}"), aside / f"{db.name}{suffix}")
            _move(p.root / "database.sqlite", db)
        else:
            kept.append(await _pg_swap(cfg, p, stamp.replace("-", "_")))
        photos = cfg.path(cfg.storage["photos_dir"])
        _move(photos, aside / "photos")
        _move(p.photos, photos)
        _move(anchors.with_name("integrity-check.json"), aside / "integrity-check.json")
        store = await open_store(cfg, create=False)
        try:
            usable = anchors.exists() and not read_checkpoints(anchors, store.key.public)[1]
            if anchors.exists():
                shutil.copy2(anchors, aside / anchors.name)
            if not usable:
                shutil.copy2(p.root / "anchors.log", anchors)
            await store.journal.write(
                by,
                "data_restored",
                snapshot=p.snapshot,
                made=p.manifest["made"],
                last_number=last_number,
                lost_cards=[c["number"] for c in p.lost.get("cards", [])],
                lost_rows=p.lost.get("rows", {}),
                aside=str(aside),
                anchors="live" if usable else "backup",
            )
            restored: Heads = {t: (int(h[0]), str(h[1])) for t, h in p.manifest["heads"].items()}
            heads = await store.heads()
            extra = {"restored": {t: list(h) for t, h in sorted(restored.items())}, "snapshot": p.snapshot}
            await asyncio.to_thread(store.anchors.append, heads, "restore", extra)
        finally:
            await close_store()
    shutil.rmtree(p.scratch, ignore_errors=True)
    return {"aside": kept, "anchors": "live" if usable else "backup"}
