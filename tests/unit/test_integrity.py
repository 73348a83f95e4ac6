"""The integrity check in-process (R3.10, R3.13, issue #7): the store's checkpoints and the daemon's
start check against a cut tail, an emptied table, a re-hashed row, an edited account and a
tampered checkpoint file — on SQLite and PostgreSQL. (tests/fault/test_tamper.py does the same
through the command line on a lane that really ran.)"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from tortoise import connections

from app import config as config_mod
from app.auth import Accounts, Policy
from app.demo_config import write_config
from app.integrity import check
from app.storage.anchor import read_checkpoints, sign_heads, verify_signed_heads
from app.storage.chain import GENESIS, STORED, row_hash
from app.storage.models import Reading
from app.storage.store import Store, close_store, open_store
from tests.rig import append_readings


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def lane(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    cfg_file = write_config(tmp_path, 1.0, 9)
    if request.param == "postgres":
        dsn = request.getfixturevalue("pg_dsn")
        cfg_file.write_text(cfg_file.read_text().replace('dsn = "sqlite://otolane.db"', f'dsn = "{dsn}"'))
    store = await open_store(config_mod.load(cfg_file))
    try:
        await Accounts(Policy(), store.journal).add("aigerim", "operator", "Steppe-Wind-77")
        await append_readings(12, lambda k: store.keyring.seal_json({"value": k}, f"r{k}"))
        assert await store.checkpoint("test") is not None
        assert await store.checkpoint("again, nothing moved") is None  # no line when nothing moved
        yield store
    finally:
        await close_store()


async def _sql(text: str) -> None:
    await connections.get("default").execute_script(text)


async def _problems(store: Store) -> list[str]:
    report = await check(store.cfg, store)
    assert report["ok"] == (not report["problems"])
    return [f"{p['where']}: {p['problem']}" for p in report["problems"]]


async def test_an_untouched_lane_is_ok(lane: Store) -> None:
    report = await check(lane.cfg, lane)
    assert report["ok"], report["problems"]
    assert "chain readings: 12 rows, intact" in report["lines"]
    assert report["lines"][-1] == "result: OK"
    assert await lane.tail_problems() == []


async def test_a_cut_tail_is_named(lane: Store) -> None:
    await _sql("DELETE FROM readings WHERE seq > 9")
    problems = await _problems(lane)
    assert any("saw 12 rows; the table ends at row 9 (rows cut off its end)" in p for p in problems), problems
    assert any("readings" in p for p in await lane.tail_problems())


async def test_an_emptied_table_is_named(lane: Store) -> None:
    await _sql("DELETE FROM readings")
    problems = await _problems(lane)
    assert any("the table ends at row 0 (the table was emptied)" in p for p in problems), problems
    assert await lane.tail_problems()


async def test_a_row_changed_and_the_rest_rehashed_is_named(lane: Store) -> None:
    await _sql("UPDATE readings SET ts = ts + 1 WHERE seq = 4")
    prev = str((await Reading.filter(seq=3).values_list("hash", flat=True))[0])
    for r in await Reading.filter(seq__gte=4).order_by("seq").values(*STORED["readings"]):
        r["prev_hash"] = prev
        prev = row_hash("readings", r)
        await Reading.filter(seq=r["seq"]).update(hash=prev)
    problems = await _problems(lane)
    assert problems == [
        p for p in problems if "row 12 is not the row the signed checkpoint" in p and "re-hashed" in p
    ], problems
    assert problems
    assert await lane.tail_problems()


async def test_an_edited_role_is_named(lane: Store) -> None:
    await _sql("UPDATE users SET role = 'admin' WHERE username = 'aigerim'")
    assert await _problems(lane) == ["users: user aigerim: role is 'admin', the journal says 'operator'"]


async def test_a_forged_or_missing_checkpoint_file_is_named(lane: Store) -> None:
    path = lane.cfg.path(lane.cfg.storage["anchor_file"])
    lines = path.read_text().splitlines()
    first = json.loads(lines[0])
    assert first["n"] == 1 and first["prev"] == GENESIS and first["reason"]
    checkpoints, problems = read_checkpoints(path, lane.key.public)
    assert not problems and [c.n for c in checkpoints] == list(range(1, len(lines) + 1))
    first["heads"]["readings"][0] += 1
    path.write_text("\n".join([json.dumps(first, sort_keys=True, separators=(",", ":")), *lines[1:]]) + "\n")
    assert any("signature does not verify" in p for p in await _problems(lane))
    path.write_text("\n".join(lines[1:]) + "\n")  # the first line removed
    found = await _problems(lane)
    assert any("checkpoint file" in p for p in found), found
    path.unlink()
    assert any("is missing or empty, but the chains hold" in p for p in await _problems(lane))


async def test_signed_heads_verify_only_unchanged_and_with_the_lanes_key(lane: Store) -> None:
    anchor = sign_heads(lane.key, await lane.heads(), "card-1")
    assert verify_signed_heads(lane.key.public, anchor)
    for field, value in (("subject", "card-2"), ("heads", {}), ("key", "x" * 32)):
        assert not verify_signed_heads(lane.key.public, anchor | {field: value}), field
    assert not verify_signed_heads(lane.key.public, anchor | {"sig": "AAAA"})
    assert not verify_signed_heads(lane.key.public, {k: v for k, v in anchor.items() if k != "sig"})
