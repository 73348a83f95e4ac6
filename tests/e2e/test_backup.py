"""R3.11, R3.12 (issue #24 (2), (3)): a backup made while the daemon runs, more inspections, the
database damaged, ``otolane restore``: checked in a scratch place, the loss said exactly (the card
formed after the backup, by its number, and that EIS has it), swapped in only on yes with the daemon
stopped; afterwards the integrity check is OK — the witness included — and the next card takes a
number never given before. The whole lane: daemon, brake stand, EIS simulator, restic on a folder."""

from __future__ import annotations

import asyncio
import json
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest
from tortoise import connections

from app.api.client import ApiError
from app.daemon import Daemon
from app.lane.intake import next_number
from app.storage.db import close_db, open_db
from app.storage.models import Inspection, JournalEntry
from tests.e2e.test_tui_pilot import SIZE, login, text, until_shown
from tests.rig import integrity_argv, run_to_card, start_rig, wait_for
from tui.app import make_app
from tui.screens.admin import AdminScreen
from tui.screens.backups import BackupsScreen

pytestmark = pytest.mark.skipif(not shutil.which("restic"), reason="restic is installed by ./lane")

VEHICLE = {"plate": "123ABC02", "category": "M1", "fuel": "petrol"}
OTHER = {"plate": "777KZA02", "category": "M1", "fuel": "petrol"}


async def _cli(*args: str, stdin: bytes = b"") -> tuple[int, str]:
    """The command line as its own process, while this loop serves the daemon and EIS."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "app.cli",
        *args,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(proc.communicate(stdin), 180)
    assert proc.returncode is not None
    return proc.returncode, out.decode()


async def _numbers() -> list[int]:
    """The inspections' numbers, through the daemon's own connection (it runs in this process)."""
    return list(await Inspection.all().order_by("number").values_list("number", flat=True))


async def _damage(dsn: str) -> None:
    """The readings' tail gone, as a disk error or an insider would leave it (daemon stopped)."""
    await open_db(dsn)
    try:
        await connections.get("default").execute_script(
            "DELETE FROM readings WHERE seq > (SELECT MAX(seq) - 40 FROM readings)"
        )
    finally:
        await close_db()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest) -> str | None:
    return None if request.param == "sqlite" else str(request.getfixturevalue("pg_dsn"))


async def _accepted(rig: object, n: int) -> None:
    admin = await rig.client("admin")  # type: ignore[attr-defined]

    async def delivered() -> bool:
        return (await admin.call("GET", "/v1/state"))["outbox"]["accepted"] >= n

    await wait_for(delivered, f"{n} card(s) accepted by EIS", 30)


async def test_backup_then_damage_then_restore_reports_the_loss_and_reuses_no_number(
    tmp_path: Path, engine: str | None
) -> None:
    rig = await start_rig(tmp_path / "lane", cameras=("mjpeg",), dsn=engine)
    cfg = str(rig.cfg.file)
    try:
        code, out = await _cli("backup", "init", "--config", cfg)
        assert code == 0 and "backup key" in out and "repository" in out, out
        assert (rig.home / "keys" / "backup.key").stat().st_mode & 0o777 == 0o600
        op = await rig.client("operator")
        await run_to_card(op, VEHICLE)
        await _accepted(rig, 1)

        code, out = await _cli("backup", "now", "--config", cfg, "--json")  # the daemon runs meanwhile
        assert code == 0, out
        made = json.loads(out.strip().splitlines()[-1])
        assert made["last_number"] == 1 and made["engine"] == ("postgres" if engine else "sqlite"), made
        assert not list((rig.home / "backup-staging").glob("otolane/*")), "a copy of the database left behind"
        code, out = await _cli("backup", "list", "--config", cfg)
        assert code == 0 and made["snapshot"][:8] in out, out

        await run_to_card(op, OTHER)
        await _accepted(rig, 2)
        assert await _numbers() == [1, 2]
        for c in rig.clients:
            await c.close()
        rig.clients.clear()
        code, out = await _cli("restore", "latest", "--config", cfg, "--yes")
        assert code == 2 and "another laned" in out, out  # never swapped under a running daemon

        rig.daemon.stopping.set()
        await rig.tasks[1]
        await _damage(rig.cfg.dsn)
        code, out = await _cli(*integrity_argv(cfg)[3:])
        assert code == 1 and "INTEGRITY FAILURE" in out, out

        code, out = await _cli("restore", "latest", "--config", cfg)  # no terminal, no --yes: only told
        assert code == 4 and "not swapped in" in out, out
        assert "manifest: signed by this lane's key" in out and "result: OK" in out, out
        assert "photos: 1 held against their files" in out, out  # the first card's photo came back
        assert "lost: 1 card(s) formed after the backup, No. 2" in out, out
        assert "EIS has No. 2: their numbers are not given again" in out, out
        assert "the next inspection will be No. 3" in out, out
        assert "readings ends at row" in out and "(damaged)" in out, out
        assert "INTEGRITY" not in out

        code, out = await _cli("restore", made["snapshot"][:8], "--config", cfg, "--yes")
        assert code == 0 and "restored: backup" in out, out
        aside = sorted(rig.home.glob("restore-aside-*"))
        assert len(aside) == 1 and (aside[0] / "anchors.log").exists(), "the live data is kept aside"
        if engine is None:
            assert (aside[0] / "otolane.db").exists()
        else:
            assert "database otolane" not in out and "_before_restore_" in out, out

        rig.daemon = Daemon(rig.cfg)
        rig.tasks[1] = asyncio.create_task(rig.daemon.run())

        async def up() -> bool:
            if rig.tasks[1].done():
                rig.tasks[1].result()  # the daemon's refusal, if it refused the restored data
            return Path(rig.sock).exists()

        await wait_for(up, "the daemon on the restored data")
        op = await rig.client("operator")

        async def camera_back() -> bool:
            st = await op.call("GET", "/v1/state")
            return all(c["admitted"] and c["status"] == "connected" for c in st["cameras"])

        await wait_for(camera_back, "the photo camera admitted again")
        await run_to_card(op, OTHER)
        assert await _numbers() == [1, 3]  # No. 2 is at EIS: never given again
        await _accepted(rig, 2)  # the restored outbox: card 1 accepted, card 3 after it

        code, out = await _cli(*integrity_argv(cfg)[3:])
        assert code == 0 and "result: OK" in out, out
        assert "went back to backup" in out and "EIS acknowledged checkpoint" in out, out
    finally:
        await rig.close()


async def test_a_live_database_that_cannot_be_read_needs_the_last_number_to_be_given(tmp_path: Path) -> None:
    """R3.12: the loss cannot be read off a database that does not open; the restore says so and
    swaps only with the last number issued given, so that no number is issued twice."""
    rig = await start_rig(tmp_path / "lane")
    cfg = str(rig.cfg.file)
    try:
        assert (await _cli("backup", "init", "--config", cfg))[0] == 0
        op = await rig.client("operator")
        await run_to_card(op, VEHICLE)
        code, out = await _cli("backup", "now", "--config", cfg)
        assert code == 0 and "inspections up to No. 1" in out, out
        await run_to_card(op, OTHER)
        for c in rig.clients:
            await c.close()
        rig.clients.clear()
        rig.daemon.stopping.set()
        await rig.tasks[1]
        db = rig.home / "otolane.db"
        db.write_bytes(b"\0" * 4096 + db.read_bytes()[4096:])  # its header gone: SQLite opens nothing
        for wal in rig.home.glob("otolane.db-*"):
            wal.unlink()

        code, out = await _cli("restore", "latest", "--config", cfg, "--yes")
        assert code == 4 and "the live database cannot be read" in out and "--last-number" in out, out
        code, out = await _cli("restore", "latest", "--config", cfg, "--yes", "--last-number", "2")
        assert code == 0 and "restored: backup" in out, out
        code, out = await _cli(*integrity_argv(cfg)[3:])
        assert code == 0 and "result: OK" in out, out
        await open_db(rig.cfg.dsn)
        try:
            assert await next_number(None) == 3
        finally:
            await close_db()
    finally:
        await rig.close()


async def test_a_backup_without_its_medium_or_with_a_wrong_key_is_refused_and_journalled(
    tmp_path: Path,
) -> None:
    """R3.11: a failed backup is said in words and journalled (backup_failed): the alarm's source."""
    rig = await start_rig(tmp_path / "lane")
    cfg = str(rig.cfg.file)
    try:
        code, out = await _cli("backup", "now", "--config", cfg)
        assert code == 2 and "backup.key is missing: otolane backup init makes one" in out, out
        assert (await _cli("backup", "init", "--config", cfg))[0] == 0
        shutil.move(rig.home / "backups", tmp_path / "unplugged")  # the medium is not there
        code, out = await _cli("backup", "now", "--config", cfg)
        assert code == 2 and "is not there: otolane backup init makes it (is the medium mounted?)" in out, out
        assert "Traceback" not in out
        shutil.move(tmp_path / "unplugged", rig.home / "backups")
        (rig.home / "keys" / "backup.key").write_text("another key\n")
        code, out = await _cli("backup", "now", "--config", cfg)
        assert code == 2 and "wrong password" in out, out
        failed = await JournalEntry.filter(action="backup_failed").values_list("details", flat=True)
        codes = [d["code"] for d in failed]
        assert codes == ["backup_key_missing", "backup_repository_missing", "backup_key_wrong"], failed
        assert not await JournalEntry.filter(action="backup_made").exists()
    finally:
        await rig.close()


async def _no_alarm(app: Any) -> bool:
    return "⚠" not in text(app, "#admin-msg")


async def _rows(app: Any, n: int) -> bool:
    return text(app, "#b-list").count("осмотров ещё не было") >= n


async def test_the_admin_sees_the_alarm_and_backs_up_from_the_screen_in_russian(tmp_path: Path) -> None:
    """R3.11, D5: the alarm on the administrator's screen (none made yet), B makes a backup with the
    daemon running — its progress, then the row — and the alarm is gone; only an administrator may."""
    rig = await start_rig(tmp_path / "lane")
    try:
        assert (await _cli("backup", "init", "--config", str(rig.cfg.file)))[0] == 0
        for role in ("operator", "technician"):
            client = await rig.client(role)
            for method in ("GET", "POST"):
                with pytest.raises(ApiError) as refused:
                    await client.call(method, "/v1/backup", {} if method == "POST" else None)
                assert refused.value.status == 403
        app = make_app(rig.sock, "ru")
        async with app.run_test(size=SIZE) as pilot:
            await login(pilot, app, "admin")
            await pilot.press("f2")
            await until_shown(pilot, app, "#admin-msg", "Резервных копий ещё не было")
            await pilot.press("8")
            await pilot.pause(0.3)
            assert isinstance(app.screen, BackupsScreen)
            assert "Резервных копий ещё не было: нажмите B." in text(app, "#b-alarm")
            assert "Копия сейчас" in text(app, "#keys")
            await pilot.press("b")
            await until_shown(pilot, app, "#b-list", "осмотров ещё не было", timeout=180)
            assert text(app, "#b-alarm") == "" and "Последняя удачная копия" in text(app, "#b-last")

            async def finished() -> bool:  # the row is listed before the backup's process has ended
                await pilot.pause(0.1)
                return not app.screen.status.get("running")

            await wait_for(finished, "the first backup's process ended", timeout=60)
            await pilot.press("b", "b")  # a second while the first is made: said, not a crash
            await until_shown(pilot, app, "#b-message", "Резервная копия уже создаётся")
            await wait_for(lambda: _rows(app, 2), "the second backup's row", 180)
            await pilot.press("escape")
            await pilot.pause(0.3)
            assert isinstance(app.screen, AdminScreen), app.screen
            await wait_for(lambda: _no_alarm(app), "the menu's alarm gone with the backup made")
        admin = await rig.client("admin")
        st = await admin.call("GET", "/v1/backup")
        assert st["alarm"] is None and st["backups"] and st["backups"][0]["by"] == "backup", st
    finally:
        await rig.close()
