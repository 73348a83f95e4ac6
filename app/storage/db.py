"""Opening the database (SQLite in WAL mode, or PostgreSQL by the same code) and its migrations.

Migrations are an ordered list; each runs once, in a transaction, and is recorded in
``schema_version``. Version 1 creates the tables from the models. The models' whole schema is made
only on a database without the version table: on an old PostgreSQL database its "safe" form would
index a column that a later migration has not added yet.

Every transaction that writes starts with :func:`write_tx`: it takes the lane's one write lock as
its first statement. Two processes write to the same chains (the daemon, and ``otolane user …`` run
beside it); a chain's next row is computed from its tail, so two writers must never interleave.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import sqlite3
import stat
import time
from collections.abc import AsyncIterator, Awaitable, Callable
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
from app.storage.models import SchemaVersion

log = logging.getLogger("otolane.storage")
MODELS = ["app.storage.models"]
#: SQLite's page: a sealed card (2–3 KB) left 1.5 KB of a 4 KB page unused; 8 KB pages hold three
PAGE_SIZE = 8192
#: The PostgreSQL advisory lock that serialises the lane's writers (any number: ours is 532).
PG_WRITE_LOCK = 532


async def _v1(conn: Any) -> None:
    await Tortoise.generate_schemas(safe=True)


async def _add_column(conn: Any, table: str, column: str, sqlite_type: str, pg_type: str) -> None:
    """A column a later model added. A database made by this version already has it (v1 creates the
    tables from the current models), so it is added only where it is missing."""
    if conn.capabilities.dialect == "sqlite":
        _, rows = await conn.execute_query(f"PRAGMA table_info({table})")
        if column not in {dict(r)["name"] for r in rows}:
            await conn.execute_script(f"ALTER TABLE {table} ADD COLUMN {column} {sqlite_type}")
    else:
        await conn.execute_script(f"ALTER TABLE {table} ADD COLUMN IF NOT EXISTS {column} {pg_type}")


async def _v2(conn: Any) -> None:
    await _add_column(conn, "users", "eds_iin", "BLOB", "BYTEA")  # an employee's NCA key, bound


async def _v3(conn: Any) -> None:
    await _add_column(conn, "outbox", "signature", "TEXT", "TEXT")  # G3


async def _new_tables(conn: Any) -> None:
    await Tortoise.generate_schemas(safe=True)  # creates the new tables only


async def _v5(conn: Any) -> None:
    kind = "VARCHAR(12) NOT NULL DEFAULT 'card'"
    await _add_column(conn, "eis_exchanges", "kind", kind, kind)  # not only cards travel


async def _journal_index(conn: Any, name: str, key: str, action_first: bool) -> None:
    """An index on the journal's action and the details' ``key`` (a card's or an inspection's id)."""
    if conn.capabilities.dialect == "sqlite":
        expr = f"json_extract(details, '$.{key}')"
    else:
        expr = f"(details->>'{key}')"
    cols = f"action, {expr}" if action_first else f"{expr}, action"
    await conn.execute_script(f"CREATE INDEX IF NOT EXISTS {name} ON journal ({cols})")


async def _v8(conn: Any) -> None:
    """The journal's entries of a card found by an index, not by reading them all (app/journal.py)."""
    await _journal_index(conn, "journal_card", "card_id", action_first=True)


async def _v9(conn: Any) -> None:
    """The journal's entries of an inspection found by an index (the integrity check, a page of
    inspections at a time). The inspection first: a look-up by action alone keeps to the action's
    own index."""
    await _journal_index(conn, "journal_inspection", "inspection_id", action_first=False)


async def _v10(conn: Any) -> None:
    """SQLite: each chain's ``seq`` becomes the table's rowid (``INTEGER PRIMARY KEY``). A
    ``BIGINT PRIMARY KEY`` is a second B-tree beside the table, and a look-up by an index on another
    column (the journal by action) sorted by seq in a temporary B-tree; as the rowid, a walk of the
    chain reads the table in order and every index carries the seq. The rows are copied as they
    are: no hash changes. PostgreSQL's primary key is already what we need."""
    if conn.capabilities.dialect != "sqlite":
        return
    from app.storage.models import CHAINED_MODELS

    for model in CHAINED_MODELS:
        table = model._meta.db_table
        _, cols = await conn.execute_query(f"PRAGMA table_info({table})")
        if any(dict(c)["name"] == "seq" and dict(c)["type"].upper() == "INTEGER" for c in cols):
            continue
        _, made = await conn.execute_query(
            "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", [table]
        )
        ddl = str(dict(made[0])["sql"])
        if '"seq" BIGINT NOT NULL PRIMARY KEY' not in ddl:
            raise OtolaneError(
                "migration_failed", f"the table {table} is not as version 9 made it", table=table
            )
        _, idx = await conn.execute_query(
            "SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL", [table]
        )
        new = ddl.replace('"seq" BIGINT NOT NULL PRIMARY KEY', '"seq" INTEGER NOT NULL PRIMARY KEY', 1)
        new = new.replace(f'CREATE TABLE "{table}"', f'CREATE TABLE "{table}__v10"', 1)
        # one statement at a time inside the migration's transaction (a script would commit first):
        # a power cut leaves the old table whole, and the migration runs again
        for sql in (
            new,
            f'INSERT INTO "{table}__v10" SELECT * FROM "{table}" ORDER BY seq',  # noqa: S608 - our table names
            f'DROP TABLE "{table}"',
            f'ALTER TABLE "{table}__v10" RENAME TO "{table}"',
            *(str(dict(r)["sql"]) for r in idx),
        ):
            await conn.execute_query(sql)


async def _v11(conn: Any) -> None:
    """The open inspection found by an index (at every start, and by the integrity check), not by
    reading every inspection of the lane's history."""
    await conn.execute_script("CREATE INDEX IF NOT EXISTS inspections_status ON inspections (status)")


def _hash_bytes(text: Any) -> Any:
    """A stored hash's 32 bytes. A value that is not a hash as the lane writes them (64 lower-case
    hex digits) is kept as its text's bytes: its row's check fails after the migration as before."""
    if isinstance(text, str) and len(text) == 64 and text == text.lower():
        try:
            return bytes.fromhex(text)
        except ValueError:
            pass
    return text.encode() if isinstance(text, str) else text


async def _v12(conn: Any) -> None:
    """Each chain rewritten once: its ``prev_hash`` column goes — a row's is the hash of the row
    before it, which a walk has in hand — and its ``hash`` is kept as its 32 bytes, not 64 hex
    digits. Nothing a check proves is lost: every row's hash was made over its prev_hash, so a link
    that was not the row before's hash still breaks that row's hash, and a stored hash that was not
    a hash stays what it was."""
    from app.storage.models import CHAINED_MODELS

    for model in CHAINED_MODELS:
        table = model._meta.db_table
        if conn.capabilities.dialect != "sqlite":
            await conn.execute_query(f'ALTER TABLE "{table}" DROP COLUMN IF EXISTS prev_hash')
            _, kind = await conn.execute_query(
                "SELECT data_type FROM information_schema.columns"
                " WHERE table_name = $1 AND column_name = 'hash'",
                [table],
            )
            if kind and dict(kind[0])["data_type"] != "bytea":
                # as on SQLite: only a hash as the lane writes them becomes its bytes
                await conn.execute_query(
                    f'ALTER TABLE "{table}" ALTER COLUMN hash TYPE BYTEA USING CASE'
                    " WHEN hash ~ '^[0-9a-f]{64}$' THEN decode(hash, 'hex') ELSE convert_to(hash, 'UTF8') END"
                )
            continue
        _, cols = await conn.execute_query(f"PRAGMA table_info({table})")
        types = {dict(c)["name"]: str(dict(c)["type"]).upper() for c in cols}
        if "prev_hash" not in types and types.get("hash") == "BLOB":
            continue  # made by this version
        _, made = await conn.execute_query(
            "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", [table]
        )
        ddl = str(dict(made[0])["sql"])
        lines = [ln for ln in ddl.split("\n") if not ln.strip().startswith('"prev_hash"')]
        new = "\n".join(lines).replace('"hash" VARCHAR(64) NOT NULL', '"hash" BLOB NOT NULL', 1)
        if '"hash" BLOB NOT NULL' not in new or "prev_hash" in new:
            raise OtolaneError(
                "migration_failed", f"the table {table} is not as version 11 made it", table=table
            )
        new = new.replace(f'CREATE TABLE "{table}"', f'CREATE TABLE "{table}__v12"', 1)
        keep = [c for c in types if c != "prev_hash"]
        names = ", ".join(f'"{c}"' for c in keep)
        picked = ", ".join("otolane_hash_bytes(hash)" if c == "hash" else f'"{c}"' for c in keep)
        _, idx = await conn.execute_query(
            "SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL", [table]
        )
        # SQLite before 3.41 has no unhex(): ours, on the migration's connection (Tortoise has no
        # public way to reach its aiosqlite connection)
        await conn._connection.create_function("otolane_hash_bytes", 1, _hash_bytes, deterministic=True)  # noqa: SLF001
        # one statement at a time inside the migration's transaction: a power cut leaves the old
        # table whole, and the migration runs again
        for sql in (
            new,
            f'INSERT INTO "{table}__v12" ({names}) '  # noqa: S608 - our columns
            f'SELECT {picked} FROM "{table}" ORDER BY seq',
            f'DROP TABLE "{table}"',
            f'ALTER TABLE "{table}__v12" RENAME TO "{table}"',
            *(str(dict(r)["sql"]) for r in idx),
        ):
            await conn.execute_query(sql)


async def _v13(conn: Any) -> None:
    """The readings' index by inspection keeps the first 8 characters of the id (a random UUID) and
    the rowid: a fifth of the whole id's size; :meth:`Reading.of` asks by the prefix, then the id."""
    from app.storage.models import READINGS_INDEX, READINGS_KEY

    sqlite = conn.capabilities.dialect == "sqlite"
    _, rows = await conn.execute_query(
        "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'readings' AND sql IS NOT NULL"
        if sqlite
        else "SELECT indexname AS name FROM pg_indexes WHERE tablename = 'readings'"
    )
    for name in (str(dict(r)["name"]) for r in rows):
        if name.startswith("idx_readings_inspect"):  # the whole id's, as the model once made it
            await conn.execute_query(f'DROP INDEX "{name}"')
    await conn.execute_query(f"CREATE INDEX IF NOT EXISTS {READINGS_INDEX} ON readings ({READINGS_KEY})")


#: migrations after which a SQLite file has many free pages, given back once (VACUUM)
_COMPACTS = {10, 12, 13}

MIGRATIONS: list[tuple[int, str, Callable[[Any], Awaitable[None]]]] = [
    (1, "initial schema: users, inspections, readings, journal, cards, outbox", _v1),
    (2, "users.eds_iin: the sealed IIN of the employee's NCA key", _v2),
    (3, "outbox.signature: the employee's signature of the card (G3)", _v3),
    (4, "eis_exchanges: every request to EIS and its answer (G2)", _new_tables),
    (5, "eis_exchanges.kind: which message of the contract (card, requests, history)", _v5),
    (6, "eis_feed: where the feed of inspection events to EIS stands (R3.5)", _new_tables),
    (7, "photos: the vehicle photos' chain (R3.9, R3.10, R3.18)", _new_tables),
    (8, "journal_card: the journal's entries of a card by an index", _v8),
    (9, "journal_inspection: the journal's entries of an inspection by an index", _v9),
    (10, "SQLite: each chain's seq is its table's rowid", _v10),
    (11, "inspections_status: the open inspection by an index", _v11),
    (12, "the chains rewritten: prev_hash dropped (the row before's hash), hash kept as 32 bytes", _v12),
    (13, "readings_inspection: the readings by a prefix of their inspection's id", _v13),
]


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


async def migrate() -> int:
    conn = connections.get("default")
    # The version table itself must exist before we can read it.
    if not await _has_version_table(conn):
        await Tortoise.generate_schemas(safe=True)
    done = {v.version for v in await SchemaVersion.all()}
    applied = 0
    compact = False
    for version, desc, fn in MIGRATIONS:
        if version in done:
            continue
        async with in_transaction() as tx:
            await fn(tx)
            await SchemaVersion.create(version=version, description=desc, applied_at=time.time(), using_db=tx)
        applied += 1
        compact = compact or version in _COMPACTS
    if compact and conn.capabilities.dialect == "sqlite":
        await _compact(conn)
    return applied


async def _compact(conn: Any) -> None:
    """The old tables' pages are free but still the file's: give them back, once, in pages of
    :data:`PAGE_SIZE` (a page size changes only by a VACUUM out of WAL mode; another process that
    has the database open prevents that, and the file is compacted as it is)."""
    log.info("compacting the database file (once, after the chains were rewritten)")
    _, rows = await conn.execute_query("PRAGMA page_size")
    if int(rows[0][0]) != PAGE_SIZE:
        try:
            await conn.execute_script(f"PRAGMA journal_mode = DELETE; PRAGMA page_size = {PAGE_SIZE}")
        except Exception as exc:  # compacting is an economy, never a reason not to open
            log.info("the page size stays as it is (%s)", exc)
    try:
        await conn.execute_script("VACUUM")
    finally:
        await conn.execute_script("PRAGMA journal_mode = WAL")


async def _has_version_table(conn: Any) -> bool:
    try:
        await conn.execute_query("SELECT 1 FROM schema_version LIMIT 1")
        return True
    except Exception:
        return False


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
