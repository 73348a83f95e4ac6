"""``otolane backup`` (R3.11, issue #24 (2)): a consistent copy of the lane while the daemon runs,
with a signed manifest, into the encrypted, deduplicated repository the administrator named.

What one backup holds: the database (SQLite's online backup API, one read transaction; PostgreSQL:
``pg_dump`` of a snapshot exported by the transaction that read the chains' heads), the checkpoint
file (copied *before* the database, so every checkpoint it holds names rows the copy has), the
configuration file, the photo files, and ``manifest.json`` — every file's SHA-256 and size, the
chains' heads of the copy, the last checkpoint and inspection number, signed by the lane's key.
The data key and the signing key are *not* in it: a backup medium found in the street opens nothing
(docs/operations.md, 'Keys and their backups'). Each backup, good or failed, is journalled.
"""

from __future__ import annotations

import asyncio
import fcntl
import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app import __version__
from app.backup.restic import Restic, shown
from app.errors import OtolaneError
from app.storage.anchor import AnchorLog, canonical, verify_signature
from app.storage.crypto import sha256_file, write_secret_file
from app.storage.models import CHAINED_MODELS

if TYPE_CHECKING:
    from app.config import Config
    from app.storage.anchor import LaneKey
    from app.storage.store import Store

MANIFEST = "manifest.json"
SQLITE_COPY = "database.sqlite"
PG_DUMP = "database.pgdump"
TABLES = [m._meta.db_table for m in CHAINED_MODELS]
Progress = Callable[[dict[str, Any]], None]


def repository(cfg: Config) -> Restic:
    """The configured repository: a folder (relative to the configuration's) or a restic URL."""
    repo = str(cfg.backup["repository"])
    head = repo.split("/", 1)[0]
    if repo and ":" not in head:  # a folder, not sftp:…, rest:…, s3:…
        repo = str(cfg.path(repo))
    return Restic(
        repo,
        cfg.path(cfg.backup["key_file"]),
        cfg.path(cfg.backup["staging_dir"]) / "cache",
    )


def init(cfg: Config) -> str:
    """The backup key (made once, 0600) and the repository (made once). What was made."""
    key = cfg.path(cfg.backup["key_file"])
    made = []
    if not key.exists():
        write_secret_file(key, hashlib.sha256(os.urandom(64)).hexdigest() + "\n")
        made.append(f"the backup key {key} (copy it apart from the backups)")
    repo = repository(cfg)
    if not repo.initialised():
        repo.init()
        made.append(f"the repository {shown(repo.repository)}")
    return "; ".join(made) or "nothing: the key and the repository are there"


def _hex(v: Any) -> str:
    return bytes(v).hex() if isinstance(v, bytes | bytearray | memoryview) else str(v)


def _copy_anchors(src: Path, dst: Path) -> None:
    """The checkpoint file as it is between two appends (they take the same lock)."""
    if not src.exists():
        return
    with src.open("rb") as f:
        fcntl.flock(f, fcntl.LOCK_SH)
        try:
            write_secret_file(dst, f.read().decode("utf-8", "surrogateescape"))
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _sqlite_copy(db: Path, dst: Path) -> dict[str, Any]:
    """SQLite's online backup: one consistent copy while the daemon writes; then its heads."""
    dst.unlink(missing_ok=True)
    src = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    out = sqlite3.connect(dst)
    try:
        src.backup(out)
    finally:
        src.close()
    try:
        dst.chmod(0o600)
        return _facts([out.execute(sql).fetchall() for sql in FACT_SQL])
    finally:
        out.close()


#: what the manifest says of a copy: each chain's head, and the last inspection number (the table
#: names are our models', never input)
FACT_SQL = [f"SELECT seq, hash FROM {t} ORDER BY seq DESC LIMIT 1" for t in TABLES]  # noqa: S608
FACT_SQL.append("SELECT MAX(number) FROM inspections")


def _facts(answers: list[list[Any]]) -> dict[str, Any]:
    """The facts from the answers to :data:`FACT_SQL`, in its order."""
    heads = {
        t: [int(a[0][0]), _hex(a[0][1])] if a else [0, "0" * 64]
        for t, a in zip(TABLES, answers, strict=False)
    }
    return {"heads": heads, "last_number": int(answers[-1][0][0] or 0)}


async def _pg_copy(dsn: str, dst: Path) -> dict[str, Any]:
    """pg_dump of the snapshot this transaction exported, so the heads read here are the dump's."""
    import asyncpg

    conn = await asyncpg.connect(dsn.replace("postgres://", "postgresql://", 1))
    try:
        async with conn.transaction(isolation="repeatable_read", readonly=True):
            snap = await conn.fetchval("SELECT pg_export_snapshot()")
            answers = [[tuple(r) for r in await conn.fetch(sql)] for sql in FACT_SQL]
            argv = ["pg_dump", "--format=custom", f"--snapshot={snap}", f"--file={dst}", f"--dbname={dsn}"]
            proc = await asyncio.create_subprocess_exec(
                *argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
            )
            _, err = await proc.communicate()
            if proc.returncode != 0:
                said = err.decode(errors="replace").strip()[-300:]
                raise OtolaneError("backup_failed", f"pg_dump: {said}", detail=f"pg_dump: {said}")
    finally:
        await conn.close()
    dst.chmod(0o600)

    return _facts(answers)


def _file_entries(root: Path, prefix: str = "") -> dict[str, dict[str, Any]]:
    out = {}
    for p in sorted(root.rglob("*")):
        if p.is_file():
            out[prefix + p.relative_to(root).as_posix()] = {
                "sha256": sha256_file(p),
                "size": p.stat().st_size,
            }
    return out


def sign_manifest(key: LaneKey, body: dict[str, Any]) -> dict[str, Any]:
    return body | {"key": key.fingerprint, "sig": key.sign(canonical(body))}


def manifest_problems(manifest: Any, public: Any) -> list[str]:
    """What is wrong with a manifest itself: its shape, its signature by the lane's key."""
    if not isinstance(manifest, dict) or not isinstance(manifest.get("files"), dict):
        return ["manifest.json: not a backup manifest"]
    body = {k: v for k, v in manifest.items() if k not in ("key", "sig")}
    if not verify_signature(public, str(manifest.get("sig", "")), canonical(body)):
        return [
            "manifest.json: its signature does not verify with this lane's key (another lane's, or changed)"
        ]
    return []


async def make(cfg: Config, store: Store, progress: Progress | None = None) -> dict[str, Any]:
    """One backup; its summary. A failure is journalled (``backup_failed``) and raised."""
    started = time.time()
    repo = repository(cfg)
    staging = cfg.path(cfg.backup["staging_dir"]) / "otolane"
    try:
        if not repo.initialised():
            raise OtolaneError(
                "backup_repository_missing",
                f"the backup repository {shown(repo.repository)} is not there: otolane backup init makes "
                "it (is the medium mounted?)",
            )
        if staging.exists():
            shutil.rmtree(staging)
        staging.mkdir(parents=True, mode=0o700)
        tell(progress, "copy", 0.0)
        _copy_anchors(cfg.path(cfg.storage["anchor_file"]), staging / "anchors.log")
        if cfg.dsn.startswith("sqlite://"):
            engine, name = "sqlite", SQLITE_COPY
            facts = await asyncio.to_thread(
                _sqlite_copy, Path(cfg.dsn.removeprefix("sqlite://")), staging / name
            )
        else:
            engine, name = "postgres", PG_DUMP
            facts = await _pg_copy(cfg.dsn, staging / name)
        write_secret_file(staging / "config.toml", cfg.file.read_text(encoding="utf-8"))
        photos = cfg.path(cfg.storage["photos_dir"])
        photos.mkdir(parents=True, exist_ok=True)
        tell(progress, "manifest", 0.0)
        files = await asyncio.to_thread(_file_entries, staging)
        files |= await asyncio.to_thread(_file_entries, photos, "photos/")
        last = AnchorLog(staging / "anchors.log", store.key).last()  # the copy's, not the live file's
        body = {
            "format": 1,
            "lane": cfg.lane["name"],
            "made": round(started, 3),
            "version": __version__,
            "engine": engine,
            "database": name,
            "paths": {"staging": str(staging), "photos": str(photos)},
            "checkpoint": last.n if last else 0,
            **facts,
            "files": files,
        }
        write_secret_file(staging / MANIFEST, json.dumps(sign_manifest(store.key, body), indent=1))

        def said(msg: dict[str, Any]) -> None:
            if msg.get("message_type") == "status":
                tell(progress, "send", float(msg.get("percent_done") or 0.0))

        snapshot = await asyncio.to_thread(
            repo.backup, [staging, photos], ["otolane", f"lane={cfg.lane['name']}"], said
        )
        tell(progress, "rotate", 1.0)
        await asyncio.to_thread(repo.forget, cfg.backup["keep_last"], cfg.backup["keep_days"])
    except OtolaneError as exc:
        await store.journal.write("backup", "backup_failed", reason=exc.message[:300], code=exc.code)
        raise
    except Exception as exc:
        await store.journal.write("backup", "backup_failed", reason=f"{type(exc).__name__}: {str(exc)[:240]}")
        detail = f"{type(exc).__name__}: {str(exc)[:240]}"
        raise OtolaneError("backup_failed", f"the backup failed: {detail}", detail=detail) from exc
    finally:
        shutil.rmtree(staging, ignore_errors=True)  # no copy of the database left lying about
    summary = {
        "snapshot": snapshot,
        "repository": shown(repo.repository),
        "engine": engine,
        "files": len(files),
        "bytes": sum(f["size"] for f in files.values()),
        "last_number": facts["last_number"],
        "checkpoint": body["checkpoint"],
        "seconds": round(time.time() - started, 1),
    }
    await store.journal.write("backup", "backup_made", **summary)
    return summary


def tell(progress: Progress | None, phase: str, fraction: float) -> None:
    if progress is not None:
        progress({"phase": phase, "percent": round(100 * fraction, 1)})
