"""The storage layer's small answers, exactly (issue #7 items 1, 6, 8): what counts as the database
refusing to store, what the user is told then, how a DSN is shown, where a SQLite file is, how a
database file is prepared, the migrations' record, a chain's breaks by name."""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import sqlite3
from pathlib import Path

import pytest
from tortoise import connections
from tortoise.exceptions import (
    DBConnectionError,
    OperationalError,
    TransactionManagementError,
)

from app.config import load
from app.demo_config import write_config
from app.errors import OtolaneError
from app.storage import chain
from app.storage.chain import GENESIS, Break, ChainWriter, row_hash
from app.storage.db import (
    MIGRATIONS,
    PAGE_SIZE,
    StorageFailed,
    close_db,
    dialect,
    engine_integrity,
    is_storage_error,
    migrate,
    open_db,
    redact,
    sqlite_path,
    write_tx,
)
from app.storage.models import JournalEntry, SchemaVersion
from app.storage.store import public_key_path


@pytest.mark.parametrize(
    "exc",
    [
        OperationalError("database is locked"),
        DBConnectionError("gone"),
        TransactionManagementError("x"),
        sqlite3.OperationalError("disk I/O error"),
        OSError(errno.ENOSPC, "No space left on device"),
        OSError(errno.EROFS, "Read-only file system"),
        OSError(errno.EIO, "I/O error"),
        OSError(errno.EDQUOT, "Disk quota exceeded"),
        type("ConnectionDoesNotExistError", (Exception,), {"__module__": "asyncpg.exceptions"})(),
    ],
)
def test_a_database_that_does_not_store_is_told_from_a_bug(exc: BaseException) -> None:
    """Issue #7 item 1: locked, full, read-only or gone — the user may try again (503)."""
    assert is_storage_error(exc)


@pytest.mark.parametrize(
    "exc", [ValueError("x"), KeyError("k"), OSError(errno.ENOENT, "no file"), RuntimeError("bug")]
)
def test_a_bug_is_not_a_storage_refusal(exc: BaseException) -> None:
    assert not is_storage_error(exc)


def test_a_storage_refusal_says_nothing_was_lost_and_to_try_again() -> None:
    failed = StorageFailed("database is locked")
    assert (failed.code, failed.status, failed.params) == (
        "storage_failed",
        503,
        {"detail": "database is locked"},
    )
    assert failed.message == (
        "the database does not store now (database is locked); nothing was lost, the lane tries again"
    )
    assert StorageFailed.wrap(failed) is failed
    wrapped = StorageFailed.wrap(OperationalError("disk full"))
    assert isinstance(wrapped, StorageFailed) and wrapped.params == {"detail": "disk full"}
    assert StorageFailed.wrap(OperationalError()).params == {"detail": "OperationalError"}


def test_a_dsn_is_shown_without_its_password() -> None:
    assert redact("postgres://lane:pw@db:5432/x") == "postgres://lane:***@db:5432/x"
    assert redact("postgres://lane@db/x") == "postgres://lane@db/x"
    assert redact("sqlite:///var/lib/otolane/lane.db") == "sqlite:///var/lib/otolane/lane.db"


def test_where_a_sqlite_database_lives() -> None:
    assert sqlite_path("sqlite:///var/x.db") == Path("/var/x.db")
    assert sqlite_path("sqlite://rel/x.db") == Path("rel/x.db")
    assert sqlite_path("sqlite://:memory:") is None
    assert sqlite_path("postgres://h/x") is None


async def test_a_new_database_is_0600_migrated_once_and_checked(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "lane.db"
    await open_db(f"sqlite://{path}")
    try:
        assert path.stat().st_mode & 0o777 == 0o600
        assert Path(f"{path}-wal").stat().st_mode & 0o777 == 0o600
        assert Path(f"{path}-shm").stat().st_mode & 0o777 == 0o600
        assert dialect() == "sqlite"
        assert await engine_integrity() == "ok"
        with sqlite3.connect(path) as con:  # set before its first table: cards packed three a page
            assert con.execute("PRAGMA page_size").fetchone()[0] == PAGE_SIZE
        rows = await SchemaVersion.all().order_by("version")
        assert [(r.version, r.description) for r in rows] == [(v, d) for v, d, _ in MIGRATIONS]
        assert [v for v, _, _ in MIGRATIONS] == list(range(1, len(MIGRATIONS) + 1))
        assert await migrate() == 0
        await SchemaVersion.filter(version=len(MIGRATIONS)).delete()
        assert await migrate() == 1
    finally:
        await close_db()
    for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        p.touch()
        p.chmod(0o644)
    await open_db(f"sqlite://{path}")  # a reopened file is made the owner's again, before use
    try:
        for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
            assert p.stat().st_mode & 0o777 == 0o600, p
    finally:
        await close_db()


def test_a_new_database_file_is_the_owners_from_its_first_moment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """R7: the file is created 0600 (no moment in which another account may open it before the
    chmod), in folders made as deep as needed."""
    from app.storage import db

    monkeypatch.setattr(Path, "chmod", lambda self, mode: None)  # only the creation's own mode counts
    path = tmp_path / "var" / "lane" / "otolane.db"
    db.prepare_sqlite(path)
    assert path.is_file() and path.stat().st_mode & 0o777 == 0o600


async def test_a_closed_database_is_let_go_and_the_next_open_binds_the_models_to_the_new_one(
    tmp_path: Path,
) -> None:
    """close_db ends the connection (SQLite checkpoints and removes its -wal; nothing holds the
    file) and forgets the models' binding: the next open, of another database, writes there only."""
    first, second = tmp_path / "first.db", tmp_path / "second.db"
    await open_db(f"sqlite://{first}")
    await SchemaVersion.create(version=100, description="first", applied_at=1.0)
    await close_db()
    assert not Path(f"{first}-wal").exists()
    await close_db()  # closing twice is harmless
    await open_db(f"sqlite://{second}")
    try:
        await SchemaVersion.create(version=200, description="second", applied_at=2.0)
    finally:
        await close_db()
    for path, mine, other in ((first, 100, 200), (second, 200, 100)):
        con = sqlite3.connect(path)
        try:
            versions = {v for (v,) in con.execute("SELECT version FROM schema_version")}
        finally:
            con.close()
        assert mine in versions and other not in versions, path


async def test_a_sqlite_connection_commits_to_disk_and_waits_a_second_for_the_lock(tmp_path: Path) -> None:
    """Nothing lost (D4): WAL with synchronous FULL — a commit is on disk before it is acknowledged;
    another writer's lock is waited for a second, then the recorder keeps its rows and tries again."""
    await open_db(f"sqlite://{tmp_path / 'lane.db'}")
    try:
        conn = connections.get("default")
        settings = {}
        for pragma in ("journal_mode", "synchronous", "busy_timeout"):
            _, rows = await conn.execute_query(f"PRAGMA {pragma}")
            settings[pragma] = rows[0][0]
        assert settings == {"journal_mode": "wal", "synchronous": 2, "busy_timeout": 1000}
    finally:
        await close_db()


async def test_a_database_path_that_is_a_folder_or_in_a_read_only_folder_is_refused(tmp_path: Path) -> None:
    with pytest.raises(OtolaneError) as err:
        await open_db(f"sqlite://{tmp_path}")
    assert (err.value.code, err.value.params) == ("db_path_is_dir", {"path": str(tmp_path)})
    assert err.value.message == f"the database path {tmp_path} is a directory"
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        with pytest.raises(OtolaneError) as err:
            await open_db(f"sqlite://{folder / 'lane.db'}")
        assert (err.value.code, err.value.params) == ("db_read_only", {"path": str(folder)})
        assert err.value.message == (
            f"the database folder {folder} is read-only: the lane writes its database and journal there "
            "(SQLite also needs its -wal and -shm files beside it); check the folder's owner and mode"
        )
        assert not (folder / "lane.db").exists()
    finally:
        folder.chmod(0o700)
    db = tmp_path / "lane.db"
    await open_db(f"sqlite://{db}")
    await close_db()
    # each of the three files, read-only, is refused by name; nothing on disk changes
    for suffix in ("", "-wal", "-shm"):
        path = Path(f"{db}{suffix}")
        path.touch()
        path.chmod(0o400)
        with pytest.raises(OtolaneError) as err:
            await open_db(f"sqlite://{db}")
        assert (err.value.code, err.value.params) == ("db_read_only", {"path": str(path)})
        assert err.value.message == (
            f"the database file {path} is read-only (mode 0o400): the lane must write to it; "
            "check its owner and mode"
        )
        assert path.stat().st_mode & 0o777 == 0o400
        path.chmod(0o600)


async def test_a_chain_names_its_first_break_by_kind(tmp_path: Path) -> None:
    """R3.10: a missing row, a broken link and changed content are each named, with the row."""
    await open_db(f"sqlite://{tmp_path / 'c.db'}")
    try:
        writer = ChainWriter(JournalEntry)
        rows = [{"ts": float(i), "actor": "a", "action": f"x{i}", "details": {"i": i}} for i in range(5)]
        async with write_tx() as tx:
            written = await writer.append(rows, tx)
            assert await writer.append([], tx) == []
        assert [r.seq for r in written] == [1, 2, 3, 4, 5]
        assert written[0].hash == row_hash("journal", {**rows[0], "seq": 1, "prev_hash": GENESIS})
        assert written[1].hash == row_hash("journal", {**rows[1], "seq": 2, "prev_hash": written[0].hash})
        assert await chain.prev_hashes(JournalEntry, [1, 3]) == {1: GENESIS, 3: written[1].hash}
        assert await chain.head(JournalEntry) == (5, written[4].hash)
        last, brk, kept = await chain.walk(JournalEntry, keep={2, 4})
        assert (last, brk, kept) == (5, None, {2: written[1].hash, 4: written[3].hash})
        assert await chain.verify(JournalEntry) == (5, None)
        await JournalEntry.filter(seq=4).update(action="edited")
        assert (await chain.verify(JournalEntry))[1] == Break(
            "journal", 4, "content changed after it was written"
        )
        await JournalEntry.filter(seq=2).update(hash="f" * 64)  # row 3 was chained to the true one
        assert (await chain.verify(JournalEntry))[1] == Break(
            "journal", 2, "content changed after it was written"
        )
        await JournalEntry.filter(seq=1).delete()
        found = (await chain.verify(JournalEntry))[1]
        assert found == Break("journal", 1, "row missing (next row is 2)")
        assert str(found) == "journal: row 1: row missing (next row is 2)"
        await JournalEntry.all().delete()
        assert await chain.head(JournalEntry) == (0, GENESIS)
        assert await chain.walk(JournalEntry) == (0, None, {})
    finally:
        await close_db()


def test_a_row_hash_is_the_documented_canonical_form_byte_for_byte() -> None:
    """R3.10, issue #7: an auditor recomputes a row's hash outside the lane — SHA-256 of the previous
    hash and the row's chained columns as JSON with sorted keys, no spaces, text as UTF-8 (not
    escaped), a float as the string of its shortest repr, bytes as base64. A change of that form
    would leave every stored chain unverifiable: pinned here."""
    row = {
        "seq": 7,
        "ts": 1764460800.25,
        "actor": "Айгерім",
        "action": "login",
        "details": {"method": "password", "note": "Қазақ «тест»"},
        "prev_hash": GENESIS,
    }
    canon = (
        '{"action":"login","actor":"Айгерім","details":{"method":"password","note":"Қазақ «тест»"},'
        f'"prev_hash":"{GENESIS}","seq":7,"ts":"1764460800.25"}}'
    )
    assert hashlib.sha256((GENESIS + canon).encode("utf-8")).hexdigest() == (
        "1cb14b4f6f69c8776d2900453324fb9d62890aedc32280b2a9fa99f39897140e"
    )
    assert row_hash("journal", row) == "1cb14b4f6f69c8776d2900453324fb9d62890aedc32280b2a9fa99f39897140e"


def test_a_row_hash_covers_floats_exactly_and_bytes_as_base64() -> None:
    base = {"seq": 1, "ts": 0.1, "actor": "a", "action": "x", "details": {}, "prev_hash": GENESIS}
    assert row_hash("journal", base) != row_hash("journal", base | {"ts": 0.1000000001})
    card = {
        "seq": 1,
        "card_id": "c",
        "inspection_id": "i",
        "verdict": "v",
        "created": 1.0,
        "prev_hash": GENESIS,
    }
    assert row_hash("cards", card | {"sealed": b"\x00\x01"}) == row_hash(
        "cards", card | {"sealed": memoryview(b"\x00\x01")}
    )
    assert row_hash("cards", card | {"sealed": b"\x00\x01"}) != row_hash(
        "cards", card | {"sealed": b"\x00\x02"}
    )


def test_the_public_key_lies_beside_the_signing_key(tmp_path: Path) -> None:
    cfg = load(write_config(tmp_path, 1.0, 8765))
    signing = cfg.path(cfg.storage["signing_key_file"])
    assert public_key_path(cfg) == signing.with_name(signing.name + ".pub")


def test_a_database_that_cannot_be_opened_is_named_without_its_password() -> None:
    from app.storage.db import _open_error

    dsn = "postgres://lane:pw@db:5432/x"
    ro = _open_error(dsn, OperationalError("attempt to write a readonly database"))
    assert (ro.code, ro.params) == ("db_read_only", {"path": "postgres://lane:***@db:5432/x"})
    assert ro.message == (
        "the database postgres://lane:***@db:5432/x is read-only (attempt to write a readonly database): "
        "the lane must write to it"
    )
    assert _open_error(dsn, OSError("read-only file system")).code == "db_read_only"
    gone = _open_error(dsn, ConnectionRefusedError())
    assert (gone.code, gone.params) == (
        "db_unreachable",
        {"dsn": "postgres://lane:***@db:5432/x", "detail": "ConnectionRefusedError"},
    )
    assert gone.message == (
        "cannot open the database postgres://lane:***@db:5432/x: ConnectionRefusedError; check storage.dsn "
        "and that the server runs"
    )


async def test_a_dropped_chain_table_is_named(tmp_path: Path) -> None:
    from tortoise import connections

    await open_db(f"sqlite://{tmp_path / 'c.db'}")
    try:
        await connections.get("default").execute_script("DROP TABLE journal")
        with pytest.raises(OtolaneError) as err:
            await chain.walk(JournalEntry)
        assert (err.value.code, err.value.params) == ("table_missing", {"table": "journal"})
        assert err.value.message == "the table journal cannot be read (OperationalError): dropped?"
    finally:
        await close_db()


async def test_a_chain_longer_than_a_page_is_walked_to_its_end(tmp_path: Path) -> None:
    await open_db(f"sqlite://{tmp_path / 'c.db'}")
    try:
        rows = [{"ts": float(i), "actor": "a", "action": "x", "details": {}} for i in range(1001)]
        async with write_tx() as tx:
            await ChainWriter(JournalEntry).append(rows, tx)
        assert await chain.verify(JournalEntry) == (1001, None)
        await JournalEntry.filter(seq=1001).update(actor="b")
        assert await chain.verify(JournalEntry) == (
            1001,
            Break("journal", 1001, "content changed after it was written"),
        )
    finally:
        await close_db()


async def test_the_engine_check_names_every_damage_sqlite_reports(tmp_path: Path) -> None:
    """The engine's check says each thing SQLite found, in its words, one after another — an index
    that no longer matches its table is named row by row."""
    path = tmp_path / "i.db"
    await open_db(f"sqlite://{path}")
    await close_db()
    with sqlite3.connect(path) as raw:
        raw.execute("CREATE TABLE probe (a INTEGER, b INTEGER)")
        raw.execute("CREATE INDEX probe_a ON probe (a)")
        raw.executemany("INSERT INTO probe VALUES (?, ?)", [(i, -i) for i in range(1, 4)])
        raw.execute("PRAGMA writable_schema = ON")  # the index now claims another column
        raw.execute(
            "UPDATE sqlite_master SET sql = 'CREATE INDEX probe_a ON probe (b)' WHERE name = 'probe_a'"
        )
    await open_db(f"sqlite://{path}")
    try:
        result = await engine_integrity()
    finally:
        await close_db()
    assert result == ", ".join(f"row {i} missing from index probe_a" for i in (1, 2, 3))


async def test_a_damaged_sqlite_file_is_reported_by_the_engine_check(tmp_path: Path) -> None:
    """``otolane integrity check`` also asks SQLite itself: a damaged page is not 'ok'."""
    path = tmp_path / "c.db"
    await open_db(f"sqlite://{path}")
    rows = [
        {"ts": float(i), "actor": "a" * 60, "action": "x", "details": {"pad": "p" * 400}} for i in range(400)
    ]
    async with write_tx() as tx:
        await ChainWriter(JournalEntry).append(rows, tx)
    await close_db()
    with sqlite3.connect(path) as raw:
        raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        page = raw.execute("PRAGMA page_size").fetchone()[0]
        root = raw.execute("SELECT rootpage FROM sqlite_master WHERE name = 'journal'").fetchone()[0]
    data = bytearray(path.read_bytes())
    start = (root - 1) * page  # the table's root page: its cell pointers garbled
    data[start + 8 : start + 64] = b"\xff" * 56
    path.write_bytes(bytes(data))
    await open_db(f"sqlite://{path}")
    try:
        result = await engine_integrity()
    except Exception as exc:  # a page so damaged that the check itself stops: reported all the same
        result = str(exc)
    finally:
        await close_db()
    assert result != "ok" and result


def test_the_walks_content_form_is_row_hashs_for_every_type_a_column_may_hold() -> None:
    """The integrity check's fast canonical form (app/storage/chain.py: _Content) must give the
    text row_hash gives for any value a hand-edited row may hold in any column — floats, blobs and
    JSON where they belong, and odd types where they do not — or a tampered row would verify."""
    from app.storage.chain import _CANON, STORED, _Content, _plain

    def written(k: str) -> object:  # each column as the lane writes it
        if k == "seq":
            return 12
        if k in ("ts", "created", "taken"):
            return 1764460800.25
        return {"sealed": b"\x00\x01\xfe", "details": '{"b":[1,2.5,null],"a":"ü «x»\\n"}'}.get(
            k, f"v-{k} «ü»\t"
        )

    odd: list[object] = [
        *(1.5, 7, "text", None, b"\x00\xff", bytearray(b"ab"), memoryview(b"cd"), '{"a": 1}', "2.5"),
        *(b'{"a": 1}', True, 2**70, 'ü\n"\\', {"a": [1.5]}, "[1, 2]", "null"),
    ]
    for table, keys in STORED.items():
        content = _Content(table)
        cases = [(None, None), *((column, value) for column in keys for value in odd)]
        for column, value in cases:  # the row as written, then each column holding each odd value
            row = {k: (value if k == column else written(k)) for k in keys}
            raw = [row[k] for k in keys] + ["stored-hash"]
            if isinstance(row.get("details"), str):  # as the walk read it before: parsed, then plain
                with contextlib.suppress(ValueError):  # not JSON: kept as text, it cannot verify
                    row["details"] = json.loads(row["details"])
            want = {k: _plain(v) for k, v in row.items()} | {"prev_hash": GENESIS}
            assert content.text(raw, GENESIS) == _CANON.encode(want), (table, column, value)
