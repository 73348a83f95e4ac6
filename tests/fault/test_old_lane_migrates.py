"""A lane written by the code before issue #20's storage changes opens with today's code (issue
#20: "a migration test opens a database written by today's code"): ``tests/data/lane-v8`` is a
lane of two inspections made by ``./lane bench --history 2`` at commit 65ed563 (schema version 8,
SQLite): its cards, readings, checkpoints, photos and EIS deliveries. Migrations 9 (the journal's
index by inspection), 10 (each chain's seq its rowid) and 12 (the stored prev_hash dropped) run
once at open, keep every hash, and every card still opens with its photos; the integrity check,
full and of what is new, says OK. A migration cut short (a power cut) leaves the old tables whole
and runs again. A link forged before migration 12 is still found after it."""

from __future__ import annotations

import base64
import hashlib
import shutil
import sqlite3
import subprocess
from pathlib import Path

import pytest

from app import config as config_mod
from app.lane.photos import Photos, Place
from app.storage import chain, migrations
from app.storage.models import CHAINED_MODELS, Card, EisExchange, hash_text
from app.storage.store import close_store, open_store
from tests.rig import integrity_argv

FIXTURE = Path(__file__).parents[1] / "data" / "lane-v8"


@pytest.fixture
def old_lane(tmp_path: Path) -> Path:
    home = tmp_path / "lane"
    shutil.copytree(FIXTURE, home)
    for p in [*home.rglob("*")]:  # git keeps no modes: the keys and files are the owner's alone
        p.chmod(0o700 if p.is_dir() else 0o600)
    return home / "config.toml"


#: the chains a version-8 lane has (the exchanges became one in version 14)
FIRST_CHAINS = [m for m in CHAINED_MODELS if m is not EisExchange]


def _exchanges(db_file: Path, order: str) -> list[tuple[object, ...]]:
    con = sqlite3.connect(db_file)
    try:
        return con.execute(
            f"SELECT kind, card_id, idempotency_key, attempt, outcome, sealed_response FROM eis_exchanges ORDER BY {order}"  # noqa: S608, E501
        ).fetchall()
    finally:
        con.close()


def _hashes(db_file: Path) -> dict[str, list[tuple[int, str]]]:
    con = sqlite3.connect(db_file)
    try:
        return {
            m._meta.db_table: [
                (seq, hash_text(h))
                for seq, h in con.execute(f"SELECT seq, hash FROM {m._meta.db_table} ORDER BY seq")  # noqa: S608
            ]
            for m in FIRST_CHAINS
        }
    finally:
        con.close()


def _check(cfg: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        integrity_argv(cfg, *extra),
        capture_output=True,
        text=True,
        timeout=120,
    )


async def test_a_version_8_lane_migrates_and_keeps_every_card_and_hash(old_lane: Path) -> None:
    db_file = old_lane.parent / "otolane.db"
    before = _hashes(db_file)
    assert len(before["cards"]) == 2 and len(before["readings"]) > 300
    exchanged = _exchanges(db_file, "id")
    assert len(exchanged) >= 10
    done = _check(old_lane)
    assert done.returncode == 0 and done.stdout.splitlines()[-1] == "result: OK", done.stdout + done.stderr
    # every exchange kept, in its order (version 14); the check's own ask of the witness after them
    assert _exchanges(db_file, "seq")[: len(exchanged)] == exchanged
    after = _hashes(db_file)
    for table, rows in before.items():
        assert after[table][: len(rows)] == rows, f"{table}: a hash changed in the migration"
    con = sqlite3.connect(db_file)
    try:
        versions = [v for (v,) in con.execute("SELECT version FROM schema_version ORDER BY version")]
        assert versions == [v for v, _, _ in migrations.MIGRATIONS]
        for m in CHAINED_MODELS:
            cols = {r[1]: r[2] for r in con.execute(f"PRAGMA table_info({m._meta.db_table})")}
            assert cols["seq"] == "INTEGER", m._meta.db_table  # the rowid now
            assert "prev_hash" not in cols, m._meta.db_table  # the row before's hash: not stored
            assert cols["hash"] == "BLOB", m._meta.db_table  # its 32 bytes
            assert {len(h) for (h,) in con.execute(f"SELECT hash FROM {m._meta.db_table}")} <= {32}  # noqa: S608
        assert con.execute("PRAGMA freelist_count").fetchone()[0] == 0  # the copy's old pages given back
        assert (
            con.execute("PRAGMA page_size").fetchone()[0] == migrations.PAGE_SIZE
        )  # cards packed three a page
        assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        plan = " ".join(
            r[3]
            for r in con.execute("EXPLAIN QUERY PLAN SELECT * FROM journal WHERE action = 'x' ORDER BY seq")
        )
        assert "TEMP B-TREE" not in plan, plan
    finally:
        con.close()

    cfg = config_mod.load(old_lane)
    store = await open_store(cfg, create=False)
    try:
        photos = Photos(cfg.path(cfg.storage["photos_dir"]), store.keyring, store.journal, Place(0.0, 0.0))
        for c in await Card.all():
            card = await photos.with_images(store.keyring.open_json(c.sealed, f"cards:{c.card_id}"))
            assert len(card["photos"]) == 2
            for p in card["photos"]:
                assert hashlib.sha256(base64.b64decode(p["jpeg"])).hexdigest() == p["sha256"]
        for m in CHAINED_MODELS:
            assert (await chain.verify(m))[1] is None
    finally:
        await close_store()
    again = _check(old_lane, "--new")
    assert again.returncode == 0 and again.stdout.splitlines()[-1] == "result: OK", again.stdout


async def test_a_migration_cut_short_leaves_the_old_tables_whole(
    old_lane: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Migration 10 copies a table, drops the old one and renames the copy in one transaction: cut
    after the drop, nothing of it stays — the old table and its rows are there, and it runs again."""
    db_file = old_lane.parent / "otolane.db"
    before = _hashes(db_file)
    real = next(f for v, _, f in migrations.MIGRATIONS if v == 10)

    async def cut_short(conn: object) -> None:
        await real(conn)
        raise OSError("power cut")

    monkeypatch.setattr(
        migrations, "MIGRATIONS", [(v, d, cut_short if v == 10 else f) for v, d, f in migrations.MIGRATIONS]
    )
    cfg = config_mod.load(old_lane)
    with pytest.raises(Exception, match="power cut"):
        await open_store(cfg, create=False)
    await close_store()
    con = sqlite3.connect(db_file)
    try:
        assert {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE name LIKE '%__v10'")} == set()
        cols = {r[1]: r[2] for r in con.execute("PRAGMA table_info(readings)")}
        assert cols["seq"] == "BIGINT"
        assert 10 not in {v for (v,) in con.execute("SELECT version FROM schema_version")}
    finally:
        con.close()
    assert _hashes(db_file) == before
    monkeypatch.setattr(
        migrations, "MIGRATIONS", [(v, d, real if v == 10 else f) for v, d, f in migrations.MIGRATIONS]
    )
    done = _check(old_lane)
    assert done.returncode == 0, done.stdout


def test_a_link_forged_before_the_prev_hash_column_went_is_still_found(old_lane: Path) -> None:
    """R3.10: migration 12 drops the stored prev_hash, which loses no evidence — a reading whose
    stored link was forged (and its hash and every later one made over the forgery, as a careful
    insider would) breaks at that reading after the migration too."""
    db_file = old_lane.parent / "otolane.db"
    con = sqlite3.connect(db_file)
    try:
        cols = [r[1] for r in con.execute("PRAGMA table_info(readings)")]
        keys = [k for k in chain.CHAINED["readings"] if k != "prev_hash"]
        prev = "f" * 64  # reading 5 chained to a row that never was
        for raw in con.execute(
            f"SELECT {', '.join(keys)} FROM readings WHERE seq >= 5 ORDER BY seq"
        ).fetchall():  # noqa: S608
            row = dict(zip(keys, raw, strict=True)) | {"prev_hash": prev}
            digest = chain.row_hash("readings", row)
            con.execute(
                "UPDATE readings SET prev_hash = ?, hash = ? WHERE seq = ?", [prev, digest, row["seq"]]
            )
            prev = digest
        con.commit()
        assert "prev_hash" in cols
    finally:
        con.close()
    found = _check(old_lane)
    assert found.returncode == 1, found.stdout + found.stderr
    assert "readings: row 5: content changed after it was written" in found.stdout, found.stdout


@pytest.mark.parametrize("stored", ["upper", "short", "not-hex"])
def test_a_stored_hash_that_was_not_a_hash_stays_found_after_the_rewrite(old_lane: Path, stored: str) -> None:
    """R3.10: migration 12 keeps each hash as its 32 bytes; a stored value that was not a hash as the
    lane writes it (capitals, cut short, not hex — written by hand) is kept as it was, not made
    into one, and its row still fails the check."""
    db_file = old_lane.parent / "otolane.db"
    con = sqlite3.connect(db_file)
    try:
        (digest,) = con.execute("SELECT hash FROM journal WHERE seq = 3").fetchone()
        forged = {"upper": digest.upper(), "short": digest[:62], "not-hex": digest[:63] + "g"}[stored]
        con.execute("UPDATE journal SET hash = ? WHERE seq = 3", [forged])
        con.commit()
    finally:
        con.close()
    found = _check(old_lane)
    assert found.returncode == 1, found.stdout + found.stderr
    assert "journal: row 3: content changed after it was written" in found.stdout, found.stdout


@pytest.mark.postgres
async def test_a_postgresql_lane_of_version_11_is_rewritten_the_same_way(pg_dsn: str) -> None:
    """Migration 12 on PostgreSQL: prev_hash dropped, each hash made its 32 bytes in place; every
    chain still verifies, and a stored hash that was not one (capitals, by hand) still fails."""
    from tortoise import connections

    from app.storage.chain import ChainWriter
    from app.storage.db import close_db, open_db, write_tx
    from app.storage.models import JournalEntry

    await open_db(pg_dsn)
    try:
        rows = [{"ts": float(i), "actor": "a", "action": f"x{i}", "details": {"i": i}} for i in range(6)]
        async with write_tx() as tx:
            await ChainWriter(JournalEntry).append(rows, tx)
        sql = connections.get("default").execute_script
        for m in FIRST_CHAINS:  # back to how version 11 kept them
            t = m._meta.db_table
            await sql(
                f"ALTER TABLE {t} ADD COLUMN prev_hash VARCHAR(64) NOT NULL DEFAULT '';"
                f"ALTER TABLE {t} ALTER COLUMN hash TYPE VARCHAR(64) USING encode(hash, 'hex')"
            )
        await sql(
            "UPDATE journal j SET prev_hash = coalesce("
            "(SELECT p.hash FROM journal p WHERE p.seq = j.seq - 1),"
            f" '{chain.GENESIS}');"
            "UPDATE journal SET hash = upper(hash) WHERE seq = 4;"
            "DELETE FROM schema_version WHERE version >= 12"
        )
    finally:
        await close_db()
    await open_db(pg_dsn)
    try:
        conn = connections.get("default")
        _, cols = await conn.execute_query(
            "SELECT table_name, column_name, data_type FROM information_schema.columns"
            " WHERE column_name IN ('hash', 'prev_hash')"
        )
        kept = {(dict(c)["table_name"], dict(c)["column_name"]): dict(c)["data_type"] for c in cols}
        assert kept == {(m._meta.db_table, "hash"): "bytea" for m in CHAINED_MODELS}, kept
        assert await chain.verify(JournalEntry) == (
            6,
            chain.Break("journal", 4, "content changed after it was written"),
        )
        for m in CHAINED_MODELS:
            if m is not JournalEntry:
                assert (await chain.verify(m))[1] is None
    finally:
        await close_db()
