"""Storage by one code path on SQLite (WAL) and on a real PostgreSQL server: migrations, hash
chains (R3.10), accounts (R3.17). Each test runs on both."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import time
from pathlib import Path

import pytest
from tortoise import connections
from tortoise.transactions import in_transaction

from app.auth import DAY, Accounts, Policy
from app.demo_config import free_port, write_config
from app.errors import OtolaneError
from app.journal import Journal
from app.storage import chain
from app.storage.crypto import write_secret_file
from app.storage.db import MIGRATIONS, close_db, engine_integrity, migrate, open_db
from app.storage.models import (
    CHAINED_MODELS,
    Card,
    EisExchange,
    JournalEntry,
    Photo,
    Reading,
    SchemaVersion,
    User,
)
from tests.rig import append_readings


async def _readings(n: int) -> None:
    await append_readings(n, lambda k: bytes([k % 256]) * 8)


async def test_migrations_run_once(db: str) -> None:
    assert await migrate() == 0
    assert [v.version for v in await SchemaVersion.all()] == list(range(1, len(MIGRATIONS) + 1))
    assert await engine_integrity() == "ok"


async def _column(table: str, column: str) -> tuple[str, str | None]:
    """A column's type and default as the engine keeps them (('', None) when it is missing)."""
    from tortoise import connections

    conn = connections.get("default")
    if conn.capabilities.dialect == "sqlite":
        _, rows = await conn.execute_query(f"PRAGMA table_info({table})")
        found = [(str(dict(r)["type"]), dict(r)["dflt_value"]) for r in rows if dict(r)["name"] == column]
    else:
        _, rows = await conn.execute_query(
            "SELECT data_type, column_default FROM information_schema.columns"
            " WHERE table_name = $1 AND column_name = $2",
            [table, column],
        )
        found = [(str(dict(r)["data_type"]), dict(r)["column_default"]) for r in rows]
    return found[0] if found else ("", None)


async def test_a_database_made_before_key_login_gains_the_binding_column(db: str) -> None:
    """Migration 2 (issue #10): users.eds_iin is added to a database that lacks it, and only once."""
    from tortoise import connections

    conn = connections.get("default")
    await conn.execute_script("ALTER TABLE users DROP COLUMN eds_iin")
    await conn.execute_script("DELETE FROM schema_version WHERE version = 2")
    assert (await _column("users", "eds_iin"))[0] == ""
    assert await migrate() == 1
    await conn.execute_query("SELECT eds_iin FROM users")
    assert (await _column("users", "eds_iin"))[0].lower() == ("blob" if db == "sqlite" else "bytea")
    assert await migrate() == 0


async def test_a_database_made_before_signed_cards_gains_the_signature_column(db: str) -> None:
    """Migration 3 (G3): outbox.signature is added where it is missing, as text, and only once."""
    from tortoise import connections

    conn = connections.get("default")
    await conn.execute_script("ALTER TABLE outbox DROP COLUMN signature")
    await conn.execute_script("DELETE FROM schema_version WHERE version = 3")
    assert await migrate() == 1
    assert (await _column("outbox", "signature"))[0].lower() == "text"
    assert [v.version for v in await SchemaVersion.all().order_by("version")] == list(
        range(1, len(MIGRATIONS) + 1)
    )
    assert await migrate() == 0


#: the exchanges' table as versions 4 and 5 made it (its own id, no chain)
_OLD_EXCHANGES = """CREATE TABLE eis_exchanges (
    id {serial} PRIMARY KEY, ts REAL NOT NULL, route VARCHAR(8) NOT NULL,
    card_id VARCHAR(36) NOT NULL, idempotency_key VARCHAR(64) NOT NULL, attempt INT NOT NULL,
    request_digest VARCHAR(64) NOT NULL, http_status INT NOT NULL, outcome VARCHAR(12) NOT NULL,
    duration_ms REAL NOT NULL, error VARCHAR(300) NOT NULL, sealed_response {blob})"""


_EXCHANGE = {
    "ts": 4000.0,
    "route": "rest",
    "kind": "card",
    "card_id": "",
    "idempotency_key": "k",
    "attempt": 1,
    "request_digest": "cd" * 32,
    "http_status": 202,
    "outcome": "accepted",
    "duration_ms": 12.5,
    "error": "",
    "sealed_response": None,
}


async def test_a_database_made_before_the_event_feed_gains_it(db: str) -> None:
    """Migrations 5, 6, 7 and 14 (issues #11, #9, #21): eis_exchanges.kind, the eis_feed and photos
    tables are added to a database that lacks them, existing exchanges counted as cards — and the
    exchanges become a chain, every row kept in its order, its answer as it was (G2, R3.10)."""
    from tortoise import connections

    conn = connections.get("default")
    pg = conn.capabilities.dialect == "postgres"
    await conn.execute_script("DROP TABLE eis_exchanges")
    await conn.execute_script(
        _OLD_EXCHANGES.format(serial="SERIAL" if pg else "INTEGER", blob="BYTEA" if pg else "BLOB")
    )
    await conn.execute_script("CREATE INDEX idx_eis_exchang_ts_fc2ccc ON eis_exchanges (ts)")
    for n, answer in enumerate(("X'6f6b'" if not pg else "'\\x6f6b'::bytea", "NULL", "NULL")):
        await conn.execute_script(
            "INSERT INTO eis_exchanges (ts, route, card_id, idempotency_key, attempt, request_digest,"
            f" http_status, outcome, duration_ms, error, sealed_response) VALUES ({n + 1}.0, 'rest', 'c{n}',"
            f" 'c{n}', 1, 'd', 201, 'accepted', 5.0, '', {answer})"
        )
    await conn.execute_script("DELETE FROM eis_exchanges WHERE card_id = 'c1'")  # ids 1 and 3 remain
    await conn.execute_script("DROP TABLE eis_feed")
    await conn.execute_script("DROP TABLE photos")
    await conn.execute_script("DELETE FROM schema_version WHERE version >= 5")
    assert await migrate() == len(MIGRATIONS) - 4
    rows = await EisExchange.all().order_by("seq").values("seq", "kind", "card_id", "sealed_response")
    assert rows == [
        {"seq": 1, "kind": "card", "card_id": "c0", "sealed_response": b"ok"},
        {"seq": 2, "kind": "card", "card_id": "c2", "sealed_response": None},
    ]
    assert (await chain.verify(EisExchange))[1] is None
    kind, _ = await _column("eis_exchanges", "kind")
    assert kind.lower() in ("varchar(12)", "character varying")
    await conn.execute_query("SELECT name, last_seq FROM eis_feed")
    await conn.execute_query("SELECT photo_id, file_sha256 FROM photos")
    assert await migrate() == 0
    # the chain goes on from the rows copied, as the outbox writes them
    async with in_transaction() as tx:
        await chain.ChainWriter(EisExchange).append([dict(_EXCHANGE, card_id="c3")], tx)
    assert (await chain.verify(EisExchange))[1] is None
    assert await EisExchange.filter(card_id="c3").values_list("seq", flat=True) == [3]


async def test_an_intact_chain_verifies(db: str) -> None:
    await _readings(30)
    await Journal().write("t", "login")
    n, brk = await chain.verify(Reading)
    assert n == 30 and brk is None
    assert (await chain.verify(JournalEntry))[1] is None


async def test_a_chain_longer_than_a_page_is_walked_to_its_end_and_a_break_past_it_found(db: str) -> None:
    """The integrity check reads a chain a page at a time (issue #20): every page is read, so a row
    changed past the first page is found."""
    from tortoise import connections

    await _readings(2 * 2000 + 7)
    assert await chain.verify(Reading) == (4007, None)
    await connections.get("default").execute_query("UPDATE readings SET channel = 'x' WHERE seq = 4005")
    n, brk = await chain.verify(Reading)
    assert n == 4007 and brk is not None and brk.seq == 4005


@pytest.mark.parametrize(
    ("sql", "seq", "problem"),
    [
        ("UPDATE readings SET ts = 5.0 WHERE seq = 7", 7, "content changed"),
        ("DELETE FROM readings WHERE seq = 12", 12, "row missing"),
        ("UPDATE readings SET hash = (SELECT hash FROM readings WHERE seq = 2) WHERE seq = 3", 3, "changed"),
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
    for code in ("login_failed", "login_failed", "account_locked"):
        with pytest.raises(OtolaneError) as err:
            await acc.login("bolat", "wrong-pass-0000")
        assert err.value.code == code
    with pytest.raises(OtolaneError) as err:
        await acc.login("bolat", "Good-pass-2026")
    assert err.value.code == "account_locked"
    actions = [e.action for e in await JournalEntry.all().order_by("seq")]
    assert actions.count("login_failed") == 4 and "account_locked_out" in actions
    # no secret reaches the journal
    assert all("Good-pass" not in str(e.details) for e in await JournalEntry.all())


async def test_a_read_only_database_is_refused_and_left_as_it_was(tmp_path: Path) -> None:
    """Issue #7 item 8: a clear error naming the file; its mode is not changed behind the user."""
    path = tmp_path / "lane.db"
    await open_db(f"sqlite://{path}")
    await close_db()
    path.chmod(0o400)
    with pytest.raises(OtolaneError) as err:
        await open_db(f"sqlite://{path}")
    assert err.value.code == "db_read_only" and str(path) in err.value.message
    assert path.stat().st_mode & 0o777 == 0o400


async def test_an_unreachable_postgresql_is_a_clear_error_without_its_password() -> None:
    dsn = f"postgres://otolane:s3cret-pw@127.0.0.1:{free_port()}/lane"
    with pytest.raises(OtolaneError) as err:
        await open_db(dsn)
    assert err.value.code == "db_unreachable"
    assert "s3cret-pw" not in err.value.message and "otolane:***@127.0.0.1" in err.value.message


async def test_a_postgresql_database_that_does_not_exist_is_a_clear_error(postgres: str) -> None:
    """The server answers but refuses: said with the DSN (no password) and what to check."""
    dsn = f"{postgres.replace('otolane@', 'otolane:s3cret-pw@')}/no_such_lane"
    with pytest.raises(OtolaneError) as err:
        await open_db(dsn)
    shown = dsn.replace("s3cret-pw", "***")
    assert (err.value.code, err.value.params["dsn"]) == ("db_unreachable", shown)
    assert "no_such_lane" in err.value.params["detail"]
    assert err.value.message.startswith(f"cannot open the database {shown}: ")
    assert "s3cret-pw" not in err.value.message
    # the server refuses the account (asyncpg's own error, not Tortoise's): said the same way
    nobody = f"{postgres.replace('otolane@', 'nosuchrole:s3cret-pw@')}/postgres"
    with pytest.raises(OtolaneError) as err:
        await open_db(nobody)
    assert (err.value.code, err.value.params["dsn"]) == ("db_unreachable", nobody.replace("s3cret-pw", "***"))
    assert 'role "nosuchrole" does not exist' in err.value.params["detail"]
    assert "s3cret-pw" not in err.value.message
    # nothing is left open: the next open uses another engine cleanly
    await open_db("sqlite://:memory:")
    await close_db()


def test_the_daemon_says_the_database_is_unreachable_without_a_traceback(tmp_path: Path) -> None:
    cfg = write_config(tmp_path, 1.0, 8765)
    write_secret_file(tmp_path / "keys" / "eis-id.key", "TEST-SPO-KEY\n")
    dsn = f"postgres://otolane:s3cret-pw@127.0.0.1:{free_port()}/lane"
    cfg.write_text(cfg.read_text().replace('dsn = "sqlite://otolane.db"', f'dsn = "{dsn}"'))
    r = subprocess.run(
        [sys.executable, "-m", "app.cli", "daemon", "--config", str(cfg)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode != 0
    assert "cannot open the database" in r.stderr and "Traceback" not in r.stderr
    assert "s3cret-pw" not in r.stderr + r.stdout
    assert (
        "s3cret-pw" not in (tmp_path / "laned.log").read_text() if (tmp_path / "laned.log").exists() else True
    )


def _other(value: object) -> object:
    """A different value of the same type: what an insider writes."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + 1000
    if isinstance(value, float):
        return value + 0.5
    if isinstance(value, bytes):
        return value + b"!"
    if isinstance(value, dict):
        return {**value, "tampered": True}
    return f"{value}0"[-64:] if len(str(value)) == 64 else f"{value}x"  # a hash: still hex, shifted


async def _chains(n: int) -> None:
    await _readings(n)
    journal = Journal()
    for k in range(n):
        await journal.write("t", "login", k=k, who="Жақсыбеков")
    async with in_transaction() as tx:
        await chain.ChainWriter(Card).append(
            [
                {
                    "card_id": f"card-{k}",
                    "inspection_id": f"insp-{k}",
                    "verdict": "admitted",
                    "created": 2000.0 + k,
                    "sealed": b"sealed" * 4,
                }
                for k in range(n)
            ],
            tx,
        )
        await chain.ChainWriter(Photo).append(
            [
                {
                    "photo_id": f"photo-{k}",
                    "inspection_id": f"insp-{k}",
                    "step": "brakes_axle_1",
                    "camera_id": "front",
                    "taken": 3000.0 + k,
                    "file_sha256": "ab" * 32,
                    "sealed": b"sealed-record",
                }
                for k in range(n)
            ],
            tx,
        )
        await chain.ChainWriter(EisExchange).append(
            [
                dict(
                    _EXCHANGE,
                    ts=4000.0 + k,
                    kind="events",
                    idempotency_key=f"events-{k}-{k}-{k:016x}",
                    sealed_response=b"answer" if k in (0, n - 1) else None,
                )
                for k in range(n)
            ],
            tx,
        )


@pytest.mark.parametrize("model", CHAINED_MODELS, ids=lambda m: m._meta.db_table)
async def test_every_stored_column_of_the_first_and_last_row_is_in_the_chain(db: str, model: type) -> None:
    """Issue #7 (tests that must get stronger), R3.10: a change to any column of any row is found,
    the first and the last row included; put back, the chain is intact again."""
    await _chains(5)
    table = model._meta.db_table
    for seq in (1, 5):
        # Every column the table has, not the list the chain code keeps: a column left out is found.
        columns = sorted(model._meta.fields_db_projection)
        assert len(columns) >= 6
        for col in columns:
            if col == "seq":  # the key: moved by SQL, as an insider would
                sql = connections.get("default").execute_script
                await sql(f"UPDATE {table} SET seq = seq + 1000 WHERE seq = {seq}")
                assert (await chain.verify(model))[1] is not None, f"{table}: row {seq} moved unnoticed"
                await sql(f"UPDATE {table} SET seq = seq - 1000 WHERE seq = {seq + 1000}")
                continue
            (orig,) = await model.filter(seq=seq).values_list(col, flat=True)
            await model.filter(seq=seq).update(**{col: _other(orig)})
            _, brk = await chain.verify(model)
            assert brk is not None, f"{table}.{col} of row {seq} changed unnoticed"
            assert brk.seq in (seq, min(seq + 1, 5)), (col, brk)
            await model.filter(seq=seq).update(**{col: orig})
            assert (await chain.verify(model))[1] is None, (col, seq)


async def test_a_writer_cancelled_while_it_enters_leaves_no_lock_behind(db: str) -> None:
    """A task cancelled at any moment of entering a write transaction (the daemon cancels its
    workers when it stops) must not leave the connection locked: every later write would wait for
    ever (a daemon that hung in its stop). Cancelled after 0, 1, 2 … steps of the event loop."""
    import asyncio

    from app.storage.db import write_tx

    async def writer() -> None:
        async with write_tx() as tx:
            await Journal().write("t", "login", tx)

    for steps in range(12):
        task = asyncio.create_task(writer())
        for _ in range(steps):
            await asyncio.sleep(0)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        async with asyncio.timeout(5):  # the next writer gets in
            await writer()
    assert (await chain.verify(JournalEntry))[1] is None
