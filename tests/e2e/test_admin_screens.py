"""Issue #23 (7), D5: the administrator does day to day in the TUI, at 80×24, what docs/operations.md
says — accounts (add, a temporary password, lock and unlock, role, the NCA key's IIN) and the EIS
identification key — through the daemon, which checks the role and journals each change; an
administrator cannot lock or demote themselves; a password the administrator set is changed at the
next log-in."""

from __future__ import annotations

import pytest
from textual.widgets import DataTable, Input

from app.api.client import ApiError
from app.storage.models import JournalEntry
from tests.e2e.test_tui_pilot import SIZE, login, text, until_shown
from tests.rig import Rig, wait_for
from tui.app import make_app
from tui.screens.admin import AdminScreen
from tui.screens.eis_key import EisKeyScreen
from tui.screens.users import UserFormScreen, UsersScreen

TEMP = "Temp-Pass-4711"


async def test_a_password_the_administrator_set_is_changed_at_the_next_log_in(rig: Rig) -> None:
    admin = await rig.client("admin")
    await admin.call("POST", "/v1/users", {"username": "dana", "role": "operator", "password": TEMP})
    c = await rig.client()
    answer = await c.login("dana", TEMP)
    assert answer["must_change"] is True  # added by the administrator: a temporary password
    await c.call("POST", "/v1/password", {"old": TEMP, "new": "Her-Own-Pass-31"})
    assert (await c.login("dana", "Her-Own-Pass-31"))["must_change"] is False
    assert await admin.call("POST", "/v1/users/dana/password", {"password": "Temp-Pass-4712"}) == {"ok": True}
    with pytest.raises(ApiError) as err:  # the password set elsewhere ended the session
        await c.call("GET", "/v1/state")
    assert err.value.status == 401
    assert (await c.login("dana", "Temp-Pass-4712"))["must_change"] is True
    entry = await JournalEntry.filter(action="password_changed").order_by("-seq").first()
    assert entry is not None and entry.details["temporary"] is True and entry.actor == "admin"


async def test_an_administrator_cannot_lock_or_demote_themselves(rig: Rig) -> None:
    admin = await rig.client("admin")
    for path, body in (("/v1/users/admin/lock", {}), ("/v1/users/ADMIN/role", {"role": "operator"})):
        with pytest.raises(ApiError) as err:
            await admin.call("POST", path, body)
        assert (err.value.status, err.value.code) == (409, "user_self")
    assert (await admin.call("GET", "/v1/state"))["lane"]  # still an administrator


async def test_the_eis_key_installed_from_the_api_is_sealed_journalled_by_fingerprint_and_used(
    rig: Rig,
) -> None:
    admin = await rig.client("admin")
    for bad, code in (({"key": ""}, "eis_key_bad"), ({"key": "K", "valid_days": 0}, "eis_key_days_bad")):
        with pytest.raises(ApiError) as err:
            await admin.call("POST", "/v1/eis/key", bad)
        assert err.value.code == code
    state = await admin.call("POST", "/v1/eis/key", {"key": "NEW-SPO-KEY-9", "valid_days": 30})
    assert state["days_left"] == 30 and "NEW-SPO" not in str(state)
    assert b"NEW-SPO-KEY-9" not in (rig.home / "keys" / "eis-id.key").read_bytes()
    entry = await JournalEntry.filter(action="eis_key_installed").order_by("-seq").first()
    assert entry is not None and entry.details["fingerprint"] == state["fingerprint"]
    assert "NEW-SPO" not in str(entry.details)

    async def taken() -> bool:
        return (await admin.call("GET", "/v1/state"))["eis_key"]["fingerprint"] == state["fingerprint"]

    await wait_for(taken, "the daemon using the new key")


async def _open_users(pilot, app) -> None:  # type: ignore[no-untyped-def]
    await login(pilot, app, "admin")
    await until_shown(pilot, app, "#keys", "F2")
    assert len(text(app, "#keys")) <= SIZE[0]
    await pilot.press("f2")
    await pilot.pause(0.2)
    assert isinstance(app.screen, AdminScreen)
    await pilot.press("1")
    await pilot.pause(0.3)
    assert isinstance(app.screen, UsersScreen)


async def _fill(pilot, app, *values: str) -> None:  # type: ignore[no-untyped-def]
    """Type each value into the form's next field, Enter after each (the last Enter saves)."""
    for value in values:
        field = app.screen.focused
        assert isinstance(field, Input), field
        await pilot.press(*value, "enter")
        await pilot.pause(0.1)


@pytest.mark.parametrize(
    ("lang", "said"),
    [
        (
            "kk",
            ("Пайдаланушылар", "dana пайдаланушысы оператор ретінде қосылды", "бұғатталды", "енді техник"),
        ),
        ("ru", ("Пользователи", "Пользователь dana добавлен как оператор", "заблокирован", "теперь техник")),
        ("en", ("Users", "User dana added as operator", "is locked", "is now technician")),
    ],
)
async def test_the_administrator_manages_accounts_on_the_users_screen(
    rig: Rig, lang: str, said: tuple[str, str, str, str]
) -> None:
    title, added, locked, role = said
    app = make_app(rig.sock, lang)
    async with app.run_test(size=SIZE) as pilot:
        await _open_users(pilot, app)
        assert title in text(app, "#u-title") and len(text(app, "#keys")) <= SIZE[0]
        await pilot.press("a")
        await pilot.pause(0.2)
        assert isinstance(app.screen, UserFormScreen)
        await _fill(pilot, app, "dana", "Dana Kairat", TEMP, "Temp-Pass-0000")  # the repeat differs
        assert isinstance(app.screen, UserFormScreen) and text(app, "#f-msg").startswith("✗")
        app.screen.query_one("#f-pw2", Input).value = ""
        app.screen.query_one("#f-pw2", Input).focus()
        await pilot.press(*TEMP, "enter")
        await until_shown(pilot, app, "#u-msg", added)
        table = app.screen.query_one(DataTable)
        names = [str(table.get_row_at(i)[0]) for i in range(table.row_count)]
        assert "dana" in names
        table.move_cursor(row=names.index("dana"))
        await pilot.press("l")
        await until_shown(pilot, app, "#u-msg", locked)
        await pilot.press("l")  # unlocked again
        await pilot.pause(0.3)
        table = app.screen.query_one(DataTable)
        table.move_cursor(row=[str(table.get_row_at(i)[0]) for i in range(table.row_count)].index("dana"))
        await pilot.press("r")
        await pilot.pause(0.2)
        app.screen.query_one("#f-role").value = "technician"
        await app.screen.send()
        await until_shown(pilot, app, "#u-msg", role)
    users = {u["username"]: u for u in await (await rig.client("admin")).call("GET", "/v1/users")}
    assert users["dana"]["role"] == "technician" and users["dana"]["full_name"] == "Dana Kairat"
    assert not users["dana"]["disabled"]
    actions = [e.action for e in await JournalEntry.filter(actor="admin").order_by("seq")]
    for action in ("user_added", "user_locked", "user_unlocked", "user_role_changed"):
        assert action in actions, action


async def test_a_refusal_on_the_users_screen_is_said_in_the_admins_language(rig: Rig) -> None:
    app = make_app(rig.sock, "ru")
    async with app.run_test(size=SIZE) as pilot:
        await _open_users(pilot, app)
        table = app.screen.query_one(DataTable)
        table.move_cursor(row=[str(table.get_row_at(i)[0]) for i in range(table.row_count)].index("admin"))
        await pilot.press("l")
        await until_shown(pilot, app, "#u-msg", "Нельзя заблокировать себя")
        await pilot.press("a")
        await pilot.pause(0.2)
        await _fill(pilot, app, "kairat", "", "short", "short")
        assert "✗" in text(app, "#f-msg") and "Traceback" not in text(app, "#f-msg")


async def test_the_administrator_installs_the_eis_key_from_the_screen(rig: Rig) -> None:
    app = make_app(rig.sock, "kk")
    async with app.run_test(size=SIZE) as pilot:
        await login(pilot, app, "admin")
        await until_shown(pilot, app, "#keys", "F2")
        await pilot.press("f2")
        await pilot.pause(0.2)
        await pilot.press("2")
        await pilot.pause(0.3)
        assert isinstance(app.screen, EisKeyScreen)
        assert "күн қалды" in text(app, "#k-state")
        await pilot.press("i")
        await pilot.pause(0.2)
        await pilot.press(*"NEW-SPO-KEY-7", "enter")
        field = app.screen.query_one("#k-days", Input)
        field.value = ""
        await pilot.press(*"45", "enter")
        await until_shown(pilot, app, "#k-msg", "орнатылды")
        assert "NEW-SPO-KEY-7" not in text(app, "#k-msg")
        await until_shown(pilot, app, "#k-state", "45 күн қалды")
