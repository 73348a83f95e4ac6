"""Opening the database (SQLite in WAL mode, or PostgreSQL by the same code); its migrations run at
open (``app/storage/migrations.py``).

Every transaction that writes starts with :func:`write_tx`: it takes the lane's one write lock as
its first statement. Two processes write to the same chains (the daemon, and ``otolane user …`` run
beside it); a chain's next row is computed from its tail, so two writers must never interleave.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import sqlite3
import stat
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from tortoise import Tortoise, connections
from tortoise.backends.base.executor import EXECUTOR_CACHE
from tortoise.context import get_current_context
from tortoise.exceptions import DBConnectionError, OperationalError, TransactionManagementError
from tortoise.transactions import in_transaction

from app.errors import OtolaneError
from app.storage.migrations import MIGRATIONS, PAGE_SIZE, migrate

__all__ = ["MIGRATIONS", "PAGE_SIZE", "migrate"]  # where the rest of the lane has always found them

MODELS = ["app.storage.models"]
#: The PostgreSQL advisory lock that serialises the lane's writers (any number: ours is 532).
PG_WRITE_LOCK = 532


class StorageFailed(OtolaneError):
    """The database did not take a write (locked past its busy timeout, disk full, server gone).
    Whoever raises it has kept what it was writing; the user is told to try again (503)."""

    status = 503

    def __init__(self, detail: str) -> None:
        super().__init__(
            "storage_failed",
            f"the database does not store now ({detail}); nothing was lost, the lane tries again",
            detail=detail,
        )

    @classmethod
    def wrap(cls, exc: BaseException) -> StorageFailed:
        return exc if isinstance(exc, StorageFailed) else cls(str(exc) or type(exc).__name__)


def is_storage_error(exc: BaseException) -> bool:
    """A database's refusal to store (as opposed to a bug): locked, full, read-only, gone."""
    if isinstance(exc, OperationalError | DBConnectionError | TransactionManagementError | sqlite3.Error):
        return True
    if isinstance(exc, OSError):
        return exc.errno in (errno.ENOSPC, errno.EROFS, errno.EIO, errno.EDQUOT)
    return type(exc).__module__.startswith("asyncpg")


def redact(dsn: str) -> str:
    """A DSN fit for a message or a log: the password replaced by ***."""
    parts = urlsplit(dsn)
    if parts.password is None:
        return dsn
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
    return parts._replace(netloc=netloc).geturl()


def sqlite_path(dsn: str) -> Path | None:
    if not dsn.startswith("sqlite://") or dsn == "sqlite://:memory:":
        return None
    return Path(dsn.removeprefix("sqlite://"))


def _writable(p: Path, need: int) -> bool:
    """Writable by this process and meant to be: a file whose owner-write bit is off was made
    read-only on purpose, and is treated so even by root (who could write anyway)."""
    return os.access(p, need) and bool(p.stat().st_mode & stat.S_IWUSR)


def prepare_sqlite(path: Path) -> None:
    """The database file and its WAL companions are the owner's alone (0600). A path that is not a
    writable file is refused before anything on disk changes."""
    if path.is_dir():
        raise OtolaneError("db_path_is_dir", f"the database path {path} is a directory", path=str(path))
    folder = path.parent
    if folder.exists() and not _writable(folder, os.W_OK | os.X_OK):
        raise OtolaneError(
            "db_read_only",
            f"the database folder {folder} is read-only: the lane writes its database and journal there "
            "(SQLite also needs its -wal and -shm files beside it); check the folder's owner and mode",
            path=str(folder),
        )
    for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        if p.exists() and not _writable(p, os.R_OK | os.W_OK):
            raise OtolaneError(
                "db_read_only",
                f"the database file {p} is read-only (mode {oct(p.stat().st_mode & 0o777)}): the lane "
                "must write to it; check its owner and mode",
                path=str(p),
            )
    folder.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
    if path.stat().st_size == 0:  # a new database: its page size is set before its first table
        con = sqlite3.connect(path)
        try:
            con.execute(f"PRAGMA page_size = {PAGE_SIZE}")
            con.execute("PRAGMA journal_mode = WAL")
        finally:
            con.close()
    for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        if p.is_file():
            p.chmod(0o600)
    _readable(path)


def _readable(path: Path) -> None:
    """A file that is not a SQLite database is said so here: handed to the ORM's driver, its first
    query never returns (aiosqlite 0.22 loses the error), and the lane would hang at start."""
    con = sqlite3.connect(path)
    try:
        con.execute("PRAGMA schema_version").fetchone()
    except sqlite3.DatabaseError as exc:
        raise OtolaneError(
            "db_corrupt",
            f"the database file {path} cannot be read ({exc}): it is damaged; restore the lane from its "
            "last backup (otolane restore latest, docs/operations.md 'Backups and restore')",
            path=str(path),
        ) from None
    finally:
        con.close()


async def open_db(dsn: str) -> None:
    path = sqlite_path(dsn)
    if path is not None:
        prepare_sqlite(path)
    if dsn.startswith("sqlite://"):
        config = {
            "connections": {
                "default": {
                    "engine": "tortoise.backends.sqlite",
                    "credentials": {
                        "file_path": dsn.removeprefix("sqlite://"),
                        "journal_mode": "WAL",
                        "synchronous": "FULL",  # committed means on disk: nothing lost on power cut
                        # Another writer (the CLI) holds the lock briefly. Short: while a write waits,
                        # every query of the one connection waits behind it (the screens too); the
                        # recorder keeps its rows and tries again.
                        "busy_timeout": 1000,
                    },
                }
            },
            "apps": {"otolane": {"models": MODELS, "default_connection": "default"}},
        }
    else:
        config = {
            "connections": {"default": dsn},
            "apps": {"otolane": {"models": MODELS, "default_connection": "default"}},
        }
    try:
        await Tortoise.init(config=config)
        await migrate()
    except OtolaneError:
        await close_db()
        raise
    except (OSError, DBConnectionError, OperationalError, sqlite3.Error, ConnectionError) as exc:
        await close_db()
        raise _open_error(dsn, exc) from None
    except Exception as exc:  # asyncpg's own errors (authentication, no such database …)
        if type(exc).__module__.startswith("asyncpg"):
            await close_db()
            raise _open_error(dsn, exc) from None
        raise
    if path is not None:
        prepare_sqlite(path)


def _open_error(dsn: str, exc: BaseException) -> OtolaneError:
    text = str(exc) or type(exc).__name__
    if "readonly" in text or "read-only" in text:
        return OtolaneError(
            "db_read_only",
            f"the database {redact(dsn)} is read-only ({text}): the lane must write to it",
            path=redact(dsn),
        )
    return OtolaneError(
        "db_unreachable",
        f"cannot open the database {redact(dsn)}: {text}; check storage.dsn and that the server runs",
        dsn=redact(dsn),
        detail=text,
    )


def dialect() -> str:
    return str(connections.get("default").capabilities.dialect)


async def lock_for_write(conn: Any) -> None:
    """Take the lane's write lock inside the transaction ``conn``, as its first statement.

    SQLite: a write statement takes the database's write lock at once (and waits up to the busy
    timeout for it); a transaction that read first could not upgrade after another process wrote.
    PostgreSQL: a transaction-scoped advisory lock, released at commit or rollback."""
    if conn.capabilities.dialect == "sqlite":
        await conn.execute_query("UPDATE schema_version SET version = version WHERE version = 0")
    else:
        await conn.execute_query(f"SELECT pg_advisory_xact_lock({PG_WRITE_LOCK})")


@asynccontextmanager
async def write_tx() -> AsyncIterator[Any]:
    """A transaction that writes: the lane's write lock first, then the caller's statements.

    Entered so that a cancelled task never leaves the connection's transaction lock behind: Tortoise
    takes its lock, then awaits BEGIN; a task cancelled at that await got no transaction to leave,
    and the lock stayed taken — every later write of the daemon waited forever (seen as a daemon that
    hung in its stop, after cancelling its workers)."""
    ctx = in_transaction()
    try:
        tx = await ctx.__aenter__()
    except asyncio.CancelledError:
        if getattr(ctx, "token", None) is not None:  # past the lock: leave what was entered
            with contextlib.suppress(Exception):
                await ctx.__aexit__(asyncio.CancelledError, None, None)
        raise
    try:
        await lock_for_write(tx)
        yield tx
    except BaseException as exc:
        await ctx.__aexit__(type(exc), exc, exc.__traceback__)
        raise
    else:
        await ctx.__aexit__(None, None, None)


async def engine_integrity() -> str:
    """The database engine's own check: 'ok' or what it reports. SQLite's runs on a read-only
    connection of its own, in a thread: it reads the whole file, and the lane's connection (and the
    integrity check's walk beside it) need not wait for it."""
    conn = connections.get("default")
    if conn.capabilities.dialect == "sqlite":
        return await asyncio.to_thread(_sqlite_check, str(conn.filename))
    await conn.execute_query("SELECT 1")
    return "ok"


def _sqlite_check(filename: str) -> str:
    con = sqlite3.connect(f"file:{filename}?mode=ro", uri=True, timeout=30)
    try:
        return ", ".join(str(r[0]) for r in con.execute("PRAGMA integrity_check"))
    finally:
        con.close()


async def close_db() -> None:
    """Close connections and forget the models' binding, so the next open may use another engine."""
    ctx = get_current_context()
    if ctx is None:
        return
    try:
        await ctx.close_connections()
    except Exception:  # noqa: S110 - a connection that never opened has nothing to close
        pass
    ctx._apps = None  # Tortoise's own __aexit__ does the same; the context stays current
    ctx._inited = False
    # Tortoise caches prepared INSERTs by connection name, not by engine: forget them too.
    EXECUTOR_CACHE.clear()
