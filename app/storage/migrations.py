"""The database's migrations: an ordered list; each runs once, in a transaction, and is recorded in
``schema_version``. Version 1 creates the tables from the models. The models' whole schema is made
only on a database without the version table: on an old PostgreSQL database its "safe" form would
index a column that a later migration has not added yet. Migrations that rewrite a table on SQLite
copy it into a new one inside the transaction (:func:`_rebuild`): a power cut leaves the old table
whole, and the migration runs again.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from tortoise import Tortoise, connections
from tortoise.transactions import in_transaction

from app.errors import OtolaneError
from app.storage.models import SchemaVersion

log = logging.getLogger("otolane.storage")
#: the chains as versions 10 and 12 found them (a chain added later is made in its own migration)
_FIRST_CHAINS = ("readings", "journal", "cards", "photos")
#: SQLite's page: a sealed card (2–3 KB) left 1.5 KB of a 4 KB page unused; 8 KB pages hold three
PAGE_SIZE = 8192


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


async def _v15(conn: Any) -> None:
    rights = "JSON NOT NULL DEFAULT '{}'"
    await _add_column(conn, "users", "rights", rights, "JSONB NOT NULL DEFAULT '{}'::jsonb")  # R10.4
    await conn.execute_script(
        "CREATE INDEX IF NOT EXISTS journal_ts ON journal (ts)"
    )  # R11: a day's activity


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
    for table in _FIRST_CHAINS:
        types = await _column_types(conn, table)
        if types.get("seq") == "INTEGER":
            continue
        ddl = await _table_ddl(conn, table)
        if '"seq" BIGINT NOT NULL PRIMARY KEY' not in ddl:
            raise OtolaneError(
                "migration_failed", f"the table {table} is not as version 9 made it", table=table
            )
        new = ddl.replace('"seq" BIGINT NOT NULL PRIMARY KEY', '"seq" INTEGER NOT NULL PRIMARY KEY', 1)
        await _rebuild(conn, table, 10, new, {c: f'"{c}"' for c in types})


async def _column_types(conn: Any, table: str) -> dict[str, str]:
    """SQLite: a table's columns in their order, with their declared types (upper case)."""
    _, cols = await conn.execute_query(f"PRAGMA table_info({table})")
    return {str(dict(c)["name"]): str(dict(c)["type"]).upper() for c in cols}


async def _table_ddl(conn: Any, table: str) -> str:
    _, made = await conn.execute_query(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", [table]
    )
    return str(dict(made[0])["sql"])


async def _rebuild(conn: Any, table: str, version: int, ddl: str, columns: dict[str, str]) -> None:
    """SQLite: ``table`` rewritten as ``ddl`` (its new CREATE statement) says — each of ``columns``
    filled from its SQL expression over the old row, in seq order — its indexes made again. One
    statement at a time inside the migration's transaction (a script would commit first): a power
    cut leaves the old table whole, and the migration runs again."""
    _, idx = await conn.execute_query(
        "SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL", [table]
    )
    copy = f"{table}__v{version}"
    names = ", ".join(f'"{c}"' for c in columns)
    for sql in (
        ddl.replace(f'CREATE TABLE "{table}"', f'CREATE TABLE "{copy}"', 1),
        f'INSERT INTO "{copy}" ({names}) SELECT {", ".join(columns.values())} FROM "{table}" ORDER BY seq',  # noqa: S608 - our tables and columns
        f'DROP TABLE "{table}"',
        f'ALTER TABLE "{copy}" RENAME TO "{table}"',
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
    for table in _FIRST_CHAINS:
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
        types = await _column_types(conn, table)
        if "prev_hash" not in types and types.get("hash") == "BLOB":
            continue  # made by this version
        ddl = await _table_ddl(conn, table)
        lines = [ln for ln in ddl.split("\n") if not ln.strip().startswith('"prev_hash"')]
        new = "\n".join(lines).replace('"hash" VARCHAR(64) NOT NULL', '"hash" BLOB NOT NULL', 1)
        if '"hash" BLOB NOT NULL' not in new or "prev_hash" in new:
            raise OtolaneError(
                "migration_failed", f"the table {table} is not as version 11 made it", table=table
            )
        # SQLite before 3.41 has no unhex(): ours, on the migration's connection (Tortoise has no
        # public way to reach its aiosqlite connection)
        await conn._connection.create_function("otolane_hash_bytes", 1, _hash_bytes, deterministic=True)  # noqa: SLF001
        kept = {c: "otolane_hash_bytes(hash)" if c == "hash" else f'"{c}"' for c in types if c != "prev_hash"}
        await _rebuild(conn, table, 12, new, kept)


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


#: the exchanges copied into their chain a page at a time
_COPY_PAGE = 2000


def _plain_value(v: Any) -> Any:
    return bytes(v) if isinstance(v, memoryview) else v


async def _v14(conn: Any) -> None:
    """The exchanges with EIS (G2) become a chain of their own: a row taken out, or the event feed
    moved past events EIS never took, is found by the integrity check. The rows are copied in their
    order into a new table and chained as they go; the old table goes in the same transaction."""
    from app.storage.chain import STORED, ChainWriter
    from app.storage.models import EisExchange

    copied = tuple(c for c in STORED["eis_exchanges"] if c != "seq")  # seq and hash: made anew

    sqlite = conn.capabilities.dialect == "sqlite"
    table, old = "eis_exchanges", "eis_exchanges__v13"
    if sqlite:
        columns = await _column_types(conn, table)
    else:
        _, cols = await conn.execute_query(
            "SELECT column_name FROM information_schema.columns WHERE table_name = $1", [table]
        )
        columns = {str(dict(c)["column_name"]): "" for c in cols}
    if "seq" in columns:  # made from this version's models (version 1 of a new database)
        if sqlite and columns["seq"] != "INTEGER":  # the rowid, as every chain's (version 10)
            ddl = (await _table_ddl(conn, table)).replace('"seq" BIGINT', '"seq" INTEGER', 1)
            await _rebuild(conn, table, 14, ddl, {c: f'"{c}"' for c in columns})
        return
    await conn.execute_query(f'ALTER TABLE "{table}" RENAME TO "{old}"')
    # the old table's indexes carry the names the new one's take
    _, idx = await conn.execute_query(
        "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL"
        if sqlite
        else "SELECT indexname AS name FROM pg_indexes WHERE tablename = $1",
        [old],
    )
    for name in (str(dict(r)["name"]) for r in idx):
        if name.endswith("_pkey"):
            await conn.execute_query(f'ALTER INDEX "{name}" RENAME TO "{old}_pkey"')
        else:
            await conn.execute_query(f'DROP INDEX "{name}"')
    made = conn.schema_generator(conn)._get_table_sql(EisExchange, safe=False)["table_creation_string"]  # noqa: SLF001 - one model's DDL, as a new database gets it
    if sqlite:
        made = made.replace('"seq" BIGINT', '"seq" INTEGER', 1)
    for sql in (part.strip() for part in made.split(";\n")):
        if sql.strip(";"):
            await conn.execute_query(sql.rstrip(";"))
    writer, after = ChainWriter(EisExchange), -1
    select = ", ".join(("id", *copied))
    page_sql = (
        f'SELECT {select} FROM "{old}" WHERE id > ? ORDER BY id LIMIT {_COPY_PAGE}'  # noqa: S608 - our columns
        if sqlite
        else f'SELECT {select} FROM "{old}" WHERE id > $1 ORDER BY id LIMIT {_COPY_PAGE}'  # noqa: S608
    )
    while True:
        _, rows = await conn.execute_query(page_sql, [after])
        if not rows:
            break
        page = [dict(r) for r in rows]
        after = int(page[-1]["id"])
        kept = [{c: _plain_value(r[c]) for c in copied} for r in page]
        await writer.append(kept, conn)
    await conn.execute_query(f'DROP TABLE "{old}"')


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
    (14, "eis_exchanges: the exchanges with EIS chained (G2, R3.10)", _v14),
    (15, "users.rights: a person's own permissions (R10.4); journal_ts: a day's activity (R11)", _v15),
]


async def migrate() -> int:
    conn = connections.get("default")
    # The version table itself must exist before we can read it.
    if not await _has_version_table(conn):
        await Tortoise.generate_schemas(safe=True)
    done = {v.version for v in await SchemaVersion.all()}
    known = max(v for v, _, _ in MIGRATIONS)
    if done and max(done) > known:
        # a rollback of the program without its database (R10.11): the older code must not touch it
        raise OtolaneError(
            "schema_newer",
            f"the database was migrated by a newer release (schema {max(done)}; this release knows "
            f"{known}): run the newer release, or restore the backup made before it (otolane update "
            "rollback says which)",
            found=max(done),
            known=known,
        )
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
