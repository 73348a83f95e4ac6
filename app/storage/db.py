"""Opening the database (SQLite in WAL mode, or PostgreSQL by the same code) and its migrations.

Migrations are an ordered list; each runs once, in a transaction, and is recorded in
``schema_version``. Version 1 creates the tables from the models.
"""

from __future__ import annotations

import os
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from tortoise import Tortoise, connections
from tortoise.backends.base.executor import EXECUTOR_CACHE
from tortoise.context import get_current_context
from tortoise.transactions import in_transaction

from app.storage.models import SchemaVersion

MODELS = ["app.storage.models"]


async def _v1(conn: Any) -> None:
    await Tortoise.generate_schemas(safe=True)


MIGRATIONS: list[tuple[int, str, Callable[[Any], Awaitable[None]]]] = [
    (1, "initial schema: users, inspections, readings, journal, cards, outbox", _v1),
]


def _secure_sqlite_files(dsn: str) -> None:
    if not dsn.startswith("sqlite://"):
        return
    path = Path(dsn.removeprefix("sqlite://"))
    if str(path) == ":memory:":
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        if not p.exists() and p == path:
            os.close(os.open(p, os.O_CREAT | os.O_WRONLY, 0o600))
        if p.exists():
            p.chmod(0o600)


async def open_db(dsn: str) -> None:
    _secure_sqlite_files(dsn)
    if dsn.startswith("sqlite://"):
        config = {
            "connections": {
                "default": {
                    "engine": "tortoise.backends.sqlite",
                    "credentials": {
                        "file_path": dsn.removeprefix("sqlite://"),
                        "journal_mode": "WAL",
                        "synchronous": "FULL",  # committed means on disk: nothing lost on power cut
                    },
                }
            },
            "apps": {"otolane": {"models": MODELS, "default_connection": "default"}},
        }
        await Tortoise.init(config=config)
    else:
        await Tortoise.init(db_url=dsn, modules={"otolane": MODELS})
    await migrate()
    _secure_sqlite_files(dsn)


async def migrate() -> int:
    conn = connections.get("default")
    # The version table itself must exist before we can read it.
    if not await _has_version_table(conn):
        await Tortoise.generate_schemas(safe=True)
    done = {v.version for v in await SchemaVersion.all()}
    applied = 0
    for version, desc, fn in MIGRATIONS:
        if version in done:
            continue
        async with in_transaction() as tx:
            await fn(tx)
            await SchemaVersion.create(version=version, description=desc, applied_at=time.time(), using_db=tx)
        applied += 1
    return applied


async def _has_version_table(conn: Any) -> bool:
    try:
        await conn.execute_query("SELECT 1 FROM schema_version LIMIT 1")
        return True
    except Exception:
        return False


async def engine_integrity() -> str:
    """The database engine's own check: 'ok' or what it reports."""
    conn = connections.get("default")
    if conn.capabilities.dialect == "sqlite":
        _, rows = await conn.execute_query("PRAGMA integrity_check")
        result = ", ".join(str(dict(r).get("integrity_check", r[0])) for r in rows)
        return result
    await conn.execute_query("SELECT 1")
    return "ok"


async def close_db() -> None:
    """Close connections and forget the models' binding, so the next open may use another engine."""
    ctx = get_current_context()
    if ctx is None:
        return
    await ctx.close_connections()
    ctx._apps = None  # Tortoise's own __aexit__ does the same; the context stays current
    ctx._inited = False
    # Tortoise caches prepared INSERTs by connection name, not by engine: forget them too.
    EXECUTOR_CACHE.clear()
