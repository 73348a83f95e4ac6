"""Issue #23 (7), D5, R3.15: the administrator changes the lane's settings in the TUI — through the
daemon, which checks the role and the value, journals the change with the old and the new value and
applies it: the printer and the password rules at once, the EIS address at the next start; the
change lives in the chained journal and is folded over the configuration file by everyone who
opens the lane (the daemon at its next start, the command line, the integrity check)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys

import pytest
from textual.widgets import DataTable, Input

from app import config as config_mod
from app.api.client import ApiError
from app.auth import Accounts, Policy
from app.storage.models import JournalEntry
from app.storage.store import close_store, open_store
from tests.e2e.test_tui_pilot import SIZE, login, text, until_shown
from tests.rig import Rig, start_rig, wait_for
from tui.app import make_app
from tui.screens.settings import EditSettingScreen, SettingsScreen


def _row(rows: list[dict], key: str) -> dict:  # type: ignore[type-arg]
    return next(r for r in rows if r["key"] == key)


async def test_only_an_administrator_sees_or_changes_the_settings(rig: Rig) -> None:
    for role in ("operator", "technician"):
        c = await rig.client(role)
        for method, body in (("GET", None), ("POST", {"key": "printer.queue", "value": "x"})):
            with pytest.raises(ApiError) as err:
                await c.call(method, "/v1/settings", body)
            assert err.value.status == 403
    assert not await JournalEntry.filter(action="setting_changed").exists()


async def test_a_setting_changed_is_journalled_with_old_and_new_and_applies_at_once(rig: Rig) -> None:
    admin = await rig.client("admin")
    before = _row((await admin.call("GET", "/v1/settings"))["settings"], "security.password_min_length")
    assert before["value"] == 10 and not before["changed"]
    row = await admin.call("POST", "/v1/settings", {"key": "security.password_min_length", "value": "14"})
    assert row["value"] == 14 and row["changed"] and row["file"] == 10
    entry = await JournalEntry.filter(action="setting_changed").order_by("-seq").first()
    assert entry is not None and entry.actor == "admin"
    assert entry.details.pop("where")["via"] == "local"  # R11: who, when and from where
    assert entry.details == {
        "setting": "security.password_min_length", "old": 10, "new": 14, "applies": "now"
    }  # fmt: skip
    # in effect at once: a 12-character password is now too short for a new user
    with pytest.raises(ApiError) as err:
        await admin.call(
            "POST", "/v1/users", {"username": "dana", "role": "operator", "password": "Twelve-Chars"}
        )
    assert err.value.code == "password_too_short" and err.value.params["min_length"] == 14
    await admin.call("POST", "/v1/settings", {"key": "eis.poll_s", "value": "30"})
    assert rig.daemon.lane is not None and rig.daemon.lane.outbox.poll_s == 30.0
    await admin.call("POST", "/v1/settings", {"key": "lane.latitude", "value": "43.2389"})
    assert rig.daemon.lane.cameras.photos.place.latitude == pytest.approx(43.2389)
    with pytest.raises(ApiError) as err:  # the same value again changes nothing, journals nothing
        await admin.call("POST", "/v1/settings", {"key": "eis.poll_s", "value": "30.0"})
    assert err.value.code == "setting_same"
    with pytest.raises(ApiError) as err:
        await admin.call("POST", "/v1/settings", {"key": "storage.key_file", "value": "/tmp/k"})
    assert (err.value.status, err.value.code) == (404, "setting_unknown")
    assert await JournalEntry.filter(action="setting_changed").count() == 3


async def test_a_new_eis_address_waits_for_the_next_start_and_everyone_who_opens_the_lane_sees_it(
    tmp_path,  # type: ignore[no-untyped-def]
) -> None:
    rig = await start_rig(tmp_path / "lane")
    try:
        admin = await rig.client("admin")
        running = rig.cfg.eis["url"]
        new = "http://127.0.0.1:1/api/v1"
        row = await admin.call("POST", "/v1/settings", {"key": "eis.url", "value": new})
        assert row["value"] == running and row["has_pending"] and row["pending"] == new
        assert rig.cfg.eis["url"] == running  # the running lane keeps its endpoint
        await admin.call("POST", "/v1/settings", {"key": "security.lockout_after", "value": "4"})
        await admin.call("POST", "/v1/settings", {"key": "printer.queue", "value": "lane1-printer"})
    finally:
        await rig.close()
    cfg = config_mod.load(rig.cfg.file)  # what the next start, the command line or a check reads
    assert cfg.eis["url"] == running and cfg.security["lockout_after"] == 5
    store = await open_store(cfg, create=False)
    try:
        assert cfg.eis["url"] == new and cfg.security["lockout_after"] == 4
        assert cfg.printer["queue"] == "lane1-printer" and cfg.file_values["eis.url"] == running
        assert Accounts(Policy.from_config(cfg.security), store.journal).policy.lockout_after == 4
    finally:
        await close_store()


async def test_the_administrator_changes_a_setting_on_the_screen_and_a_bad_value_is_said_there(
    rig: Rig,
) -> None:
    app = make_app(rig.sock, "ru")
    async with app.run_test(size=SIZE) as pilot:
        await login(pilot, app, "admin")
        await until_shown(pilot, app, "#keys", "F2")
        await pilot.press("f2")
        await pilot.pause(0.2)
        await pilot.press("7")
        await pilot.pause(0.3)
        assert isinstance(app.screen, SettingsScreen)
        assert "Настройки линии" in text(app, "#s-title") and len(text(app, "#keys")) <= SIZE[0]
        table = app.screen.query_one(DataTable)
        names = [str(table.get_row_at(i)[0]) for i in range(table.row_count)]
        assert "Длина пароля не менее" in names and "Адрес ЕИС" in names
        table.move_cursor(row=names.index("Длина пароля не менее"))
        await pilot.press("enter")
        await pilot.pause(0.2)
        assert isinstance(app.screen, EditSettingScreen)
        assert "от 8 до 64" in text(app, "#s-takes")  # what it takes, before anything is typed
        field = app.screen.query_one("#s-value", Input)
        field.value = ""
        await pilot.press(*"6", "enter")
        await until_shown(pilot, app, "#s-err", "Значение должно быть от 8 до 64.")
        err = app.screen.query_one("#s-err")
        assert err.region.y + err.region.height <= SIZE[1]  # where the eye is, on an 80×24 screen
        field.value = ""
        await pilot.press(*"12", "enter")
        await until_shown(pilot, app, "#s-msg", "Длина пароля не менее: 12 — действует сейчас")
        table = app.screen.query_one(DataTable)
        row = table.get_row_at(names.index("Длина пароля не менее"))
        assert str(row[1]) == "12" and str(row[2]) == "✎"
        assert "Изменено здесь; при установке: 10" in text(app, "#s-detail")
    assert (await rig.client("admin")) and (
        await JournalEntry.filter(action="setting_changed").order_by("-seq").first()
    ).details["new"] == 12  # type: ignore[union-attr]


async def _cli(rig: Rig, *args: str) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "app.cli", "setting", *args[:1], "--config", str(rig.cfg.file), *args[1:]]
    return await asyncio.to_thread(subprocess.run, argv, capture_output=True, text=True, timeout=60)


async def test_a_setting_changed_on_the_command_line_reaches_the_running_lane_within_seconds(
    rig: Rig,
) -> None:
    """The command line stays for scripts: the same checks and journal entry; the running daemon
    takes the change (a password rule at once) without a restart."""
    bad = await _cli(rig, "set", "security.lockout_after", "99")
    assert (
        bad.returncode != 0
        and "security.lockout_after must be from 3 to 20" in bad.stderr
        and "Traceback" not in bad.stderr
    )
    done = await _cli(rig, "set", "security.lockout_after", "4")
    assert done.returncode == 0 and "security.lockout_after = 4 (now)" in done.stdout, done
    admin = await rig.client("admin")

    async def taken() -> bool:
        rows = (await admin.call("GET", "/v1/settings"))["settings"]
        return _row(rows, "security.lockout_after")["value"] == 4

    await wait_for(taken, "the daemon taking the command line's change", timeout=10)
    assert rig.daemon.lane is not None
    entry = await JournalEntry.filter(action="setting_changed").order_by("-seq").first()
    assert entry is not None and entry.actor.startswith("cli:") and entry.details["new"] == 4
    later = await _cli(rig, "set", "eis.transport", "soap")
    assert later.returncode == 0 and "at the lane's next start" in later.stdout

    async def waiting() -> bool:
        rows = (await admin.call("GET", "/v1/settings"))["settings"]
        return _row(rows, "eis.transport")["has_pending"]

    await wait_for(waiting, "the daemon holding the new route for its next start", timeout=10)
    listed = json.loads((await _cli(rig, "list", "--json")).stdout)
    assert _row(listed, "security.lockout_after")["value"] == 4
    # five failed log-ins no longer needed: the fourth locks
    c = await rig.client()
    for _ in range(3):
        with pytest.raises(ApiError):
            await c.login("operator", "Wrong-Pass-000")
    with pytest.raises(ApiError) as err:
        await c.login("operator", "Wrong-Pass-000")
    assert err.value.code == "account_locked"
