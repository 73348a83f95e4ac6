"""Storage by one code path on SQLite (WAL) and on a real PostgreSQL server: migrations, hash
chains (R3.10), accounts (R3.17). Each test runs on both."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from tortoise import connections
from tortoise.transactions import in_transaction

from app.auth import DAY, Accounts, Policy
from app.errors import OtolaneError
from app.journal import Journal
from app.storage import chain
from app.storage.db import close_db, engine_integrity, migrate, open_db
from app.storage.models import JournalEntry, Reading, SchemaVersion, User


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def db(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    dsn = f"sqlite://{tmp_path / 't.db'}" if request.param == "sqlite" else request.getfixturevalue("pg_dsn")
    await open_db(dsn)
    try:
        yield request.param
    finally:
        await close_db()


async def _readings(n: int) -> None:
    writer = chain.ChainWriter(Reading)
    rows = [
        {
            "inspection_id": "i1",
            "step": "brakes_axle_1",
            "device_id": "brake",
            "device_serial": "2231-0457",
            "channel": "brake.force.left",
            "ts": 1000.0 + k,
            "sealed": bytes([k % 256]) * 8,
        }
        for k in range(n)
    ]
    async with in_transaction() as tx:
        await writer.append(rows, tx)


async def test_migrations_run_once(db: str) -> None:
    assert await migrate() == 0
    assert [v.version for v in await SchemaVersion.all()] == [1]
    assert await engine_integrity() == "ok"


async def test_an_intact_chain_verifies(db: str) -> None:
    await _readings(30)
    await Journal().write("t", "login")
    n, brk = await chain.verify(Reading)
    assert n == 30 and brk is None
    assert (await chain.verify(JournalEntry))[1] is None


@pytest.mark.parametrize(
    ("sql", "seq", "problem"),
    [
        ("UPDATE readings SET ts = 5.0 WHERE seq = 7", 7, "content changed"),
        ("DELETE FROM readings WHERE seq = 12", 12, "row missing"),
        ("UPDATE readings SET prev_hash = hash WHERE seq = 3", 3, "link"),
    ],
)
async def test_a_change_made_behind_the_software_is_found_and_named(
    db: str, sql: str, seq: int, problem: str
) -> None:
    """R3.10: readings cannot be corrected unnoticed; the first break is named."""
    await _readings(20)
    await connections.get("default").execute_script(sql)
    _, brk = await chain.verify(Reading)
    assert brk is not None and brk.seq == seq and problem in brk.problem


async def test_passwords_expire_after_30_days_and_cannot_be_reused(db: str) -> None:
    """R3.17: monthly change, history refused."""
    acc = Accounts(Policy(), Journal())
    await acc.add("aigerim", "operator", "First-pass-2026")
    s = await acc.login("aigerim", "First-pass-2026")
    assert not s.must_change
    await User.filter(username="aigerim").update(pw_changed_at=time.time() - 31 * DAY)
    assert (await acc.login("aigerim", "First-pass-2026")).must_change
    with pytest.raises(OtolaneError) as err:
        await acc.change_password("aigerim", "First-pass-2026", "First-pass-2026", "aigerim")
    assert err.value.code == "password_reused"
    with pytest.raises(OtolaneError) as err:
        await acc.change_password("aigerim", "First-pass-2026", "short1", "aigerim")
    assert err.value.code == "password_too_short"
    await acc.change_password("aigerim", "First-pass-2026", "Second-pass-2026", "aigerim")
    assert not (await acc.login("aigerim", "Second-pass-2026")).must_change


async def test_repeated_failures_lock_the_account(db: str) -> None:
    acc = Accounts(Policy(lockout_after=3), Journal())
    await acc.add("bolat", "technician", "Good-pass-2026")
    for _ in range(3):
        with pytest.raises(OtolaneError) as err:
            await acc.login("bolat", "wrong-pass-0000")
        assert err.value.code == "login_failed"
    with pytest.raises(OtolaneError) as err:
        await acc.login("bolat", "Good-pass-2026")
    assert err.value.code == "account_locked"
    actions = [e.action for e in await JournalEntry.all().order_by("seq")]
    assert actions.count("login_failed") == 4 and "account_locked_out" in actions
    # no secret reaches the journal
    assert all("Good-pass" not in str(e.details) for e in await JournalEntry.all())
