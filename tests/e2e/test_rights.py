"""Rights per person (issue #25 item 1; R10.3, R10.4, R10.5, R10.6): every route needs one
permission of one table, a role is its default set, an administrator grants or withdraws a single
permission per person — through the API, the command line and the screen — and every change is
journalled and held against the journal. A real lane: daemon, pty brake tester, loopback EIS."""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import sys

import pytest

from app import rights
from app.api.client import ApiError, LaneClient
from app.api.server import OPEN, ROUTES, SESSION_ONLY
from tests.rig import PASSWORDS, Rig, run_to_card

OP, TECH, ADMIN = "operator", "technician", "admin"

#: Which permission each route needs, written down here and not read from ROUTES, so a route that
#: changes its permission by mistake fails this test (R10.3).
EXPECTED: dict[tuple[str, str], str] = {
    ("GET", "/v1/version"): OPEN,
    ("POST", "/v1/login"): OPEN,
    ("GET", "/v1/eds/keys"): OPEN,
    ("POST", "/v1/login/eds"): OPEN,
    ("POST", "/v1/login/ncalayer"): OPEN,
    ("POST", "/v1/logout"): SESSION_ONLY,
    ("POST", "/v1/password"): SESSION_ONLY,
    ("GET", "/v1/state"): "lane_view",
    ("GET", "/v1/stream"): "lane_view",
    ("GET", "/v1/cameras"): "lane_view",
    ("GET", "/v1/cameras/{cam}/preview"): "lane_view",
    ("POST", "/v1/inspections"): "inspect",
    ("POST", "/v1/inspections/{iid}/steps/{step}"): "inspect",
    ("POST", "/v1/inspections/{iid}/visual"): "inspect",
    ("POST", "/v1/anpr"): "inspect",
    ("GET", "/v1/inspections/{iid}/preview"): "card_form",
    ("POST", "/v1/inspections/{iid}/card"): "card_form",
    ("POST", "/v1/inspections/{iid}/abort"): "inspection_abort",
    ("GET", "/v1/cards/{cid}"): "card_view",
    ("GET", "/v1/cards/{cid}/pdf"): "card_view",
    ("GET", "/v1/cards/{cid}/signature"): "card_view",
    ("POST", "/v1/cards/{cid}/print"): "card_view",
    ("GET", "/v1/print-jobs/{job}"): "card_view",
    ("POST", "/v1/cards/{cid}/certificate"): "certificate_issue",
    ("GET", "/v1/devices/{dev}/frames"): "device_frames",
    ("POST", "/v1/devices/{dev}/command"): "device_command",
    ("POST", "/v1/devices/{dev}/replace"): "device_replace",
    ("POST", "/v1/cameras/{cam}/register"): "camera_register",
    ("POST", "/v1/cameras/{cam}/roi"): "camera_register",
    ("GET", "/v1/journal"): "journal_read",
    ("GET", "/v1/eis/exchanges"): "journal_read",
    ("POST", "/v1/journal/export"): "journal_export",
    ("GET", "/v1/activity"): "activity_view",
    ("POST", "/v1/activity/export"): "activity_export",
    ("GET", "/v1/integrity"): "integrity_check",
    ("POST", "/v1/integrity/check"): "integrity_check",
    ("POST", "/v1/integrity/stop"): "integrity_check",
    ("GET", "/v1/backup"): "backup",
    ("POST", "/v1/backup"): "backup",
    ("GET", "/v1/release"): "release_view",
    ("GET", "/v1/eis/outbox"): "eis_queue_view",
    ("GET", "/v1/users"): "users_manage",
    ("POST", "/v1/users"): "users_manage",
    ("POST", "/v1/users/{name}/lock"): "users_manage",
    ("POST", "/v1/users/{name}/unlock"): "users_manage",
    ("POST", "/v1/users/{name}/role"): "users_manage",
    ("POST", "/v1/users/{name}/eds"): "users_manage",
    ("POST", "/v1/users/{name}/password"): "users_manage",
    ("POST", "/v1/users/{name}/rights"): "users_manage",
    ("GET", "/v1/permissions"): "users_manage",
    ("POST", "/v1/eis/key"): "eis_key",
    ("GET", "/v1/settings"): "settings",
    ("POST", "/v1/settings"): "settings",
}

#: Each role's default permissions, written down here (R10.3): a role that gains one by mistake fails.
ROLE_DEFAULTS = {
    OP: {"lane_view", "inspect", "inspection_abort", "card_form", "card_view", "card_copy"}
    | {"certificate_issue", "eis_queue_view"},
    TECH: {"lane_view", "device_frames", "device_command"},
    ADMIN: set(rights.NAMES) - {"inspect", "inspection_abort", "card_form", "device_command"},
}


def test_every_route_needs_the_permission_its_row_says_and_roles_give_what_they_said() -> None:
    """R10.3: one table of permissions per route; the roles' defaults as written down."""
    assert {(r.method, r.path): r.permission for r in ROUTES} == EXPECTED
    for role, expected in ROLE_DEFAULTS.items():
        assert set(rights.by_role(role)) == expected, role


def test_a_persons_rights_are_the_roles_plus_grants_minus_withdrawals() -> None:
    """R10.4: grants and withdrawals per person over the role's default; an unknown name gives nothing."""
    own = rights.changed(OP, {}, "journal_read", "grant")
    own = rights.changed(OP, own, "card_copy", "withdraw")
    assert own == {"card_copy": False, "journal_read": True}
    got = rights.effective(OP, own | {"no_such_thing": True})
    assert "journal_read" in got and "card_copy" not in got and "no_such_thing" not in got
    # a grant the role gives or a withdrawal of what it does not give is no right of the person's
    assert rights.changed(OP, own, "inspect", "grant") == own
    assert rights.changed(OP, own, "backup", "withdraw") == own
    assert rights.changed(OP, own, "card_copy", "default") == {"journal_read": True}


async def _user(admin: LaneClient, name: str, role: str) -> LaneClient:
    await admin.call("POST", "/v1/users", {"username": name, "role": role, "password": PASSWORDS[role]})
    c = LaneClient(admin.socket_path)
    await c.login(name, PASSWORDS[role])
    await c.call("POST", "/v1/password", {"old": PASSWORDS[role], "new": PASSWORDS[role] + "-own"})
    return c


async def _refused(c: LaneClient, method: str, path: str, body: dict[str, object] | None = None) -> str:
    with pytest.raises(ApiError) as err:
        await c.call(method, path, body or {})
    assert err.value.status == 403 and err.value.code == "forbidden", (path, err.value.code)
    return str(err.value.params["permission"])


async def test_a_withdrawn_and_a_granted_permission_hold_from_the_next_call(rig: Rig) -> None:
    """R10.4, R10.5, R10.6: an operator without ``inspect`` and a technician with ``journal_read``,
    set while their sessions are open: the next call obeys, nothing else changes; each change and
    each refusal is journalled; no one changes their own rights."""
    admin = await rig.client(ADMIN)
    op, tech = await rig.client(OP), await rig.client(TECH)
    vehicle = {"plate": "123ABC02", "category": "M1", "fuel": "petrol", "axles": 2}

    await admin.call("POST", "/v1/users/operator/rights", {"permission": "inspect", "state": "withdraw"})
    assert await _refused(op, "POST", "/v1/inspections", vehicle) == "inspect"
    assert (await op.call("GET", "/v1/state"))["inspection"] is None  # the rest of the role stays
    await admin.call("POST", "/v1/users/technician/rights", {"permission": "journal_read", "state": "grant"})
    assert isinstance(await tech.call("GET", "/v1/journal?limit=5"), list)
    assert await _refused(tech, "POST", "/v1/journal/export", {}) == "journal_export"  # only that one

    users = {u["username"]: u for u in await admin.call("GET", "/v1/users")}
    assert users["operator"]["rights"] == {"inspect": False}
    assert "inspect" not in users["operator"]["permissions"]
    assert users["technician"]["rights"] == {"journal_read": True}

    await admin.call("POST", "/v1/users/operator/rights", {"permission": "inspect", "state": "default"})
    started = await op.call("POST", "/v1/inspections", vehicle)
    assert started["number"] >= 1

    with pytest.raises(ApiError) as err:  # no one changes their own rights
        await admin.call("POST", "/v1/users/admin/rights", {"permission": "backup", "state": "withdraw"})
    assert err.value.code == "rights_own"
    with pytest.raises(ApiError) as err:
        await admin.call("POST", "/v1/users/operator/rights", {"permission": "fly", "state": "grant"})
    assert err.value.code == "permission_unknown"
    assert await _refused(tech, "POST", "/v1/users/operator/rights", {"permission": "x", "state": "grant"})

    changes = await admin.call("GET", "/v1/journal?action=user_rights_changed&limit=10")
    said = [(e["details"]["username"], e["details"]["permission"], e["details"]["state"]) for e in changes]
    assert sorted(said) == sorted(
        [
            ("operator", "inspect", "withdraw"),
            ("technician", "journal_read", "grant"),
            ("operator", "inspect", "default"),
        ]
    )
    denied = await admin.call("GET", "/v1/journal?action=access_denied&limit=20")
    assert {(e["actor"], e["details"].get("permission")) for e in denied} >= {
        ("operator", "inspect"),
        ("technician", "journal_export"),
    }


async def test_another_operators_card_and_a_copy_need_their_own_permissions(rig: Rig) -> None:
    """R10.4: an operator reads and prints the cards they formed; another's card needs
    ``card_view_others``, and any issue after the first needs ``card_copy``."""
    admin = await rig.client(ADMIN)
    op = await rig.client(OP)
    card = await run_to_card(op, {"plate": "123ABC02", "category": "M1", "fuel": "petrol", "axles": 2})
    cid = card["card_id"]
    other = await _user(admin, "op2", OP)

    assert await _refused(other, "GET", f"/v1/cards/{cid}") == "card_view_others"
    pdf = await op.download(f"/v1/cards/{cid}/pdf")  # the first issue: theirs
    assert pdf.startswith(b"%PDF")
    await admin.call("POST", "/v1/users/operator/rights", {"permission": "card_copy", "state": "withdraw"})
    with pytest.raises(ApiError) as err:
        await op.download(f"/v1/cards/{cid}/pdf")
    assert err.value.status == 403 and err.value.params["permission"] == "card_copy"

    await admin.call("POST", "/v1/users/op2/rights", {"permission": "card_view_others", "state": "grant"})
    assert (await other.call("GET", f"/v1/cards/{cid}"))["card_id"] == cid
    assert (await other.download(f"/v1/cards/{cid}/pdf")).startswith(b"%PDF")  # a copy: op2 has card_copy


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app.cli", *args], capture_output=True, text=True, timeout=60
    )


async def test_rights_from_the_command_line_and_a_row_changed_behind_the_software(rig: Rig) -> None:
    """R10.4 and the ledger: ``otolane user rights`` grants and lists; rights written into the
    database behind the software are not the journal's — the person's next login is refused."""
    cfg = str(rig.home / "config.toml")
    r = await asyncio.to_thread(_cli, "user", "rights", "technician", "--grant", "backup", "--config", cfg)
    assert r.returncode == 0, r.stderr
    line = next(x for x in r.stdout.splitlines() if " backup " in x)
    assert line.split()[:3] == ["yes", "backup", "granted"], r.stdout
    tech = await rig.client(TECH)
    assert isinstance(await tech.call("GET", "/v1/backup"), dict)

    r = await asyncio.to_thread(_cli, "user", "rights", "technician", "--grant", "nothing", "--config", cfg)
    assert r.returncode != 0 and "invalid choice" in r.stderr

    with sqlite3.connect(rig.home / "otolane.db") as con:  # an insider gives themselves the users' screen
        con.execute("""UPDATE users SET rights = '{"users_manage": true}' WHERE username = 'operator'""")
    with pytest.raises(ApiError) as err:
        await rig.client(OP)
    assert err.value.code == "account_record_mismatch"


@pytest.mark.parametrize("lang", ["kk", "ru"])
async def test_the_rights_screen_withdraws_and_gives_back_at_80x24(rig: Rig, lang: str) -> None:
    """R10.4 on the administrator's screen: F2 → Users → G → the person's rights; Enter withdraws
    what the role gives, Enter again gives it back; the daemon's table says so; in Kazakh and Russian."""
    from tests.e2e.test_admin_screens import _open_users
    from tests.e2e.test_tui_pilot import SIZE
    from tui.app import make_app
    from tui.screens.rights import RightsScreen

    app = make_app(rig.sock, lang)
    admin = await rig.client(ADMIN)
    async with app.run_test(size=SIZE) as pilot:
        await _open_users(pilot, app)
        names = [u["username"] for u in app.screen.users]
        for _ in range(names.index("operator")):
            await pilot.press("down")
        await pilot.press("g")
        await pilot.pause(0.5)
        screen = app.screen
        assert isinstance(screen, RightsScreen)
        assert app.t("permission.card_copy") != "permission.card_copy"
        for _ in range([p["name"] for p in screen.permissions].index("card_copy")):
            await pilot.press("down")
        for expected in ({"card_copy": False}, {}):
            await pilot.press("enter")
            await pilot.pause(0.5)
            users = {u["username"]: u for u in await admin.call("GET", "/v1/users")}
            assert users["operator"]["rights"] == expected
            assert app.t("permission.card_copy") in str(screen.query_one("#r-msg").render())


def test_personal_data_is_masked_enough_to_tell_apart() -> None:
    """R11, R7: an IIN keeps its first four and last two digits, a VIN its make, model and year, a
    name its surname and initials."""
    from app.personal import mask_iin, mask_name, mask_vin, masked

    assert mask_iin("900101300123") == "9001••••••23"
    assert mask_vin("XTA210990Y1234567") == "XTA210990Y1••••••"
    assert mask_name("Жақсыбеков Ерлан Серікұлы") == "Жақсыбеков Е. С."
    card = {"inspector": {"username": "op", "iin": "900101300123"}, "vehicle": {"vin": "", "plate": "1"}}
    shown, hidden = masked(card)
    assert hidden == ["inspector.iin"] and shown["vehicle"] == card["vehicle"]
    assert card["inspector"]["iin"] == "900101300123"  # the stored card is never changed


async def test_a_card_is_read_masked_and_in_full_only_with_its_permission_journalled(rig: Rig) -> None:
    """R11: personal data on a card read by the API is masked; ``?full=1`` needs
    ``personal_data_view`` (administrators by default) and is journalled ``personal_data_shown``."""
    op = await rig.client(OP)
    vehicle = {
        "plate": "123ABC02",
        "category": "M1",
        "fuel": "petrol",
        "axles": 2,
        "vin": "XTA210990Y1234567",
    }
    cid = (await run_to_card(op, vehicle))["card_id"]
    read = await op.call("GET", f"/v1/cards/{cid}")
    assert read["vehicle"]["vin"] == "XTA210990Y1••••••" and read["masked"] == ["vehicle.vin"]
    assert await _refused(op, "GET", f"/v1/cards/{cid}?full=1") == "personal_data_view"
    admin = await rig.client(ADMIN)
    full = await admin.call("GET", f"/v1/cards/{cid}?full=1")
    assert full["vehicle"]["vin"] == "XTA210990Y1234567" and full["masked"] == []
    shown = await admin.call("GET", "/v1/journal?action=personal_data_shown&limit=5")
    assert [(e["actor"], e["details"]["card_id"], e["details"]["fields"]) for e in shown] == [
        ("admin", cid, ["vehicle.vin"])
    ]
