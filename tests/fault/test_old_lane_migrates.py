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
import sys
from pathlib import Path

import pytest

from app import config as config_mod
from app.lane.photos import Photos, Place
from app.storage import chain, db
from app.storage.models import CHAINED_MODELS, Card
from app.storage.store import close_store, open_store

FIXTURE = Path(__file__).parents[1] / "data" / "lane-v8"


@pytest.fixture
def old_lane(tmp_path: Path) -> Path:
    home = tmp_path / "lane"
    shutil.copytree(FIXTURE, home)
    for p in [*home.rglob("*")]:  # git keeps no modes: the keys and files are the owner's alone
        p.chmod(0o700 if p.is_dir() else 0o600)
    return home / "config.toml"


def _hashes(db_file: Path) -> dict[str, list[tuple[int, str]]]:
    con = sqlite3.connect(db_file)
    try:
        return {
            m._meta.db_table: con.execute(f"SELECT seq, hash FROM {m._meta.db_table} ORDER BY seq").fetchall()  # noqa: S608
            for m in CHAINED_MODELS
        }
    finally:
        con.close()


def _check(cfg: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app.cli", "integrity", "check", "--config", str(cfg), *extra],
        capture_output=True,
        text=True,
        timeout=120,
    )


async def test_a_version_8_lane_migrates_and_keeps_every_card_and_hash(old_lane: Path) -> None:
    db_file = old_lane.parent / "otolane.db"
    before = _hashes(db_file)
    assert len(before["cards"]) == 2 and len(before["readings"]) > 300
    done = _check(old_lane)
    assert done.returncode == 0 and done.stdout.splitlines()[-1] == "result: OK", done.stdout + done.stderr
    after = _hashes(db_file)
    for table, rows in before.items():
        assert after[table][: len(rows)] == rows, f"{table}: a hash changed in the migration"
    con = sqlite3.connect(db_file)
    try:
        versions = [v for (v,) in con.execute("SELECT version FROM schema_version ORDER BY version")]
        assert versions == [v for v, _, _ in db.MIGRATIONS]
        for m in CHAINED_MODELS:
            cols = {r[1]: r[2] for r in con.execute(f"PRAGMA table_info({m._meta.db_table})")}
            assert cols["seq"] == "INTEGER", m._meta.db_table  # the rowid now
            assert "prev_hash" not in cols, m._meta.db_table  # the row before's hash: not stored
        assert con.execute("PRAGMA freelist_count").fetchone()[0] == 0  # the copy's old pages given back
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
    real = next(f for v, _, f in db.MIGRATIONS if v == 10)

    async def cut_short(conn: object) -> None:
        await real(conn)
        raise OSError("power cut")

    monkeypatch.setattr(db, "MIGRATIONS", [(v, d, cut_short if v == 10 else f) for v, d, f in db.MIGRATIONS])
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
    monkeypatch.setattr(db, "MIGRATIONS", [(v, d, real if v == 10 else f) for v, d, f in db.MIGRATIONS])
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
