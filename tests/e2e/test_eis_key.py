"""The EIS identification key through the real daemon (R4, R5; issue #11): sealed at start, an
expired key holds the cards in the outbox with the state on screen and in the journal, and a key
installed with ``otolane eis key install`` while the daemon runs is used at once — nothing lost."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from pathlib import Path

from app.eis import idkey
from app.storage.crypto import Keyring
from tests.rig import Rig, run_to_card, start_rig, wait_for

VEHICLE = {"plate": "123ABC02", "category": "M1", "fuel": "petrol", "axles": 2}


def _cli(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app.cli", *args], input=stdin, capture_output=True, text=True, timeout=60
    )


async def test_an_expired_key_holds_cards_until_a_new_key_is_installed(tmp_path: Path) -> None:
    rig: Rig = await start_rig(tmp_path / "lane")
    try:
        path = rig.home / "keys" / "eis-id.key"
        assert b"TEST-SPO-KEY" not in path.read_bytes()  # the plain key of the set-up, sealed at start
        admin = await rig.client("admin")
        sealed = await admin.call("GET", "/v1/journal?action=eis_key_sealed")
        assert sealed and "TEST-SPO-KEY" not in str(sealed)
        # the key runs out (written as the lane would, valid until a moment ago)
        keyring = Keyring.load(rig.home / "keys" / "data.key")
        now = time.time()
        idkey.write(path, keyring, idkey.IdKey("TEST-SPO-KEY", now - 61 * idkey.DAY, now - 1))
        op = await rig.client("operator")
        card = await run_to_card(op, VEHICLE)

        async def held() -> dict:
            st = await op.call("GET", "/v1/state")
            return st if st["eis_key"].get("expired") and st["outbox"]["pending"] == 1 else {}

        st = await wait_for(held, "the card held by the expired key")
        assert st["outbox"]["accepted"] == 0
        assert await admin.call("GET", "/v1/journal?action=eis_key_expired")
        cfg = str(rig.home / "config.toml")
        r = await asyncio.to_thread(
            _cli, "eis", "key", "install", "--config", cfg, "--key-stdin", stdin="NEW-SPO-KEY-2\n"
        )
        assert r.returncode == 0, r.stderr
        assert "NEW-SPO-KEY-2" not in r.stdout + r.stderr  # only its fingerprint is printed

        async def delivered() -> bool:
            return (await op.call("GET", "/v1/state"))["outbox"]["accepted"] == 1

        await wait_for(delivered, "delivery with the new key", timeout=30)
        rows = rig.eis.db.execute("SELECT card_id, spo_key FROM cards").fetchall()
        assert rows == [(card["card_id"], "NEW-SPO-KEY-2")]
        state = (await op.call("GET", "/v1/state"))["eis_key"]
        assert state["days_left"] == 60 and not state["warn"] and "NEW-SPO" not in str(state)
        r = await asyncio.to_thread(_cli, "eis", "key", "status", "--config", cfg, "--json")
        assert r.returncode == 0 and '"days_left": 60' in r.stdout
    finally:
        await rig.close()


async def test_a_key_eis_no_longer_takes_holds_cards_and_says_so_until_a_new_one(tmp_path: Path) -> None:
    """R5 on EIS's side: the lane still believes its key valid, but EIS says it expired (401). The card
    waits (never marked rejected), the journal says so once, the header says so; a key EIS issued
    and the admin installs takes the card — once."""
    rig: Rig = await start_rig(tmp_path / "lane")
    try:
        rig.eis.issue_key("TEST-SPO-KEY", time.time() - 1)  # expired at EIS
        rig.eis.issue_key("NEW-SPO-KEY-3", time.time() + 60 * idkey.DAY)
        op = await rig.client("operator")
        card = await run_to_card(op, VEHICLE)

        async def refused() -> dict:
            st = await op.call("GET", "/v1/state")
            return st if st["eis_key"].get("refused") and st["last_card"] else {}

        st = await wait_for(refused, "EIS refusing the key", timeout=30)
        assert st["last_card"]["eis"] == "pending"  # waits; the events before it are refused too
        admin = await rig.client("admin")
        said = await admin.call("GET", "/v1/journal?action=eis_key_refused")
        assert len(said) == 1 and "identification key expired" in said[0]["details"]["detail"]
        assert "TEST-SPO-KEY" not in str(said)
        r = await asyncio.to_thread(
            _cli,
            "eis",
            "key",
            "install",
            "--config",
            str(rig.cfg.file),
            "--key-stdin",
            stdin="NEW-SPO-KEY-3\n",
        )
        assert r.returncode == 0, r.stderr

        async def delivered() -> dict:
            st = await op.call("GET", "/v1/state")
            return st if st["outbox"]["accepted"] == 1 else {}

        st = await wait_for(delivered, "delivery with the issued key", timeout=30)
        assert not st["eis_key"]["refused"]
        assert rig.eis.db.execute("SELECT card_id, spo_key FROM cards").fetchall() == [
            (card["card_id"], "NEW-SPO-KEY-3")
        ]
    finally:
        await rig.close()


async def test_the_header_warns_before_the_key_expires(tmp_path: Path) -> None:
    """R5: the lane screen warns 14, 7 and 1 day before the identification key expires."""
    from tests.e2e.test_tui_pilot import SIZE, login, until_shown
    from tui.app import make_app

    rig = await start_rig(tmp_path / "lane")
    try:
        keyring = Keyring.load(rig.home / "keys" / "data.key")
        now = time.time()
        path = rig.home / "keys" / "eis-id.key"
        idkey.write(path, keyring, idkey.IdKey("TEST-SPO-KEY", now, now + 7 * idkey.DAY - 60))
        app = make_app(rig.sock, "en")
        async with app.run_test(size=SIZE) as pilot:
            await login(pilot, app, "operator")

            await until_shown(pilot, app, "#hdr", "EIS key: 7 d left")
    finally:
        await rig.close()


async def test_every_exchange_with_eis_is_traced_without_the_key(tmp_path: Path) -> None:
    """G2: each request and answer — time, route, card, attempt, digest, status, duration, error — is
    kept so a failure can be traced; the identification key is in none of it; answers are sealed."""
    import hashlib
    import json

    from app.eis.contract import body

    # the card's own exchanges: with events on, a failing EIS would hold the card behind them
    rig = await start_rig(tmp_path / "lane", eis_options="events = false\n")
    try:
        rig.eis.knobs["fail_rate"] = 1.0  # EIS unavailable first
        op = await rig.client("operator")
        card = await run_to_card(op, VEHICLE)
        admin = await rig.client("admin")

        async def failed_twice() -> list:
            rows = await admin.call("GET", f"/v1/eis/exchanges?card={card['card_id']}")
            return rows if len(rows) >= 2 else []

        await wait_for(failed_twice, "two failed attempts traced", timeout=30)
        rig.eis.knobs["fail_rate"] = 0.0

        async def done() -> list:
            rows = await admin.call("GET", f"/v1/eis/exchanges?card={card['card_id']}")
            return rows if rows and rows[0]["outcome"] == "accepted" else []

        rows = await wait_for(done, "the accepted attempt traced", timeout=60)
        assert [r["attempt"] for r in rows] == list(range(len(rows), 0, -1))
        assert rows[0]["http_status"] == 201 and rows[-1]["http_status"] == 503
        assert all(r["route"] == "rest" and r["duration_ms"] >= 0 for r in rows)
        sent = rig.eis.db.execute("SELECT body FROM cards").fetchone()[0].encode()
        assert rows[0]["request_digest"] == hashlib.sha256(sent).hexdigest()
        assert json.loads(sent)["card_id"] == card["card_id"] and body(json.loads(sent)) == sent
        db = rig.cfg.dsn.removeprefix("sqlite://")
        import sqlite3

        with sqlite3.connect(db) as con:
            dump = "\n".join(con.iterdump())
            answers = [r[0] for r in con.execute("SELECT sealed_response FROM eis_exchanges")]
        assert "TEST-SPO-KEY" not in dump  # the identification key is nowhere in the database
        assert answers and all(a and b"receipt" not in a for a in answers)  # answers sealed (R7)
    finally:
        await rig.close()


async def test_the_admin_reads_the_exchanges_on_screen(tmp_path: Path) -> None:
    """G2 on screen: F9 (journal), then E shows every exchange with EIS: attempt, HTTP status, outcome."""
    from textual.widgets import DataTable

    from tests.e2e.test_tui_pilot import SIZE, open_journal, text
    from tui.app import make_app

    rig = await start_rig(tmp_path / "lane")
    try:
        op = await rig.client("operator")
        await run_to_card(op, VEHICLE)

        async def accepted() -> bool:
            return (await op.call("GET", "/v1/state"))["outbox"]["accepted"] == 1

        await wait_for(accepted, "EIS acceptance")
        app = make_app(rig.sock, "en")
        async with app.run_test(size=SIZE) as pilot:
            await open_journal(pilot, app)
            await pilot.press("e")

            async def shown() -> bool:
                await pilot.pause(0.1)
                table = app.screen.query_one(DataTable)
                cells = [str(c) for row in range(table.row_count) for c in table.get_row_at(row)]
                return "EIS exchanges" in text(app, "#j-title") and "201" in cells and "accepted" in cells

            await wait_for(shown, "the exchanges on the admin's screen")
    finally:
        await rig.close()
