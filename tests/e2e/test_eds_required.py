"""Issue #22 item 4 (R3.1): where the centre signs in with NCA keys only (``[eds] login = "eds"``), a
password session may at most view — it never starts an inspection, forms, signs or sends a card,
prints, or manages the lane; each refusal is journalled. A key session runs the inspection to a
card EIS takes signed by the employee. Through the real daemon, its API and the TUI."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.api.client import ApiError
from tests.rig import (
    IIN_OP,
    KEY_PASSWORD,
    PASSWORDS,
    Rig,
    run_to_card,
    signer_at_eis,
    start_key_rig,
    wait_for,
)

VEHICLE = {"plate": "123ABC02", "category": "M1", "fuel": "petrol", "axles": 2}


@pytest.fixture
async def lane(tmp_path: Path) -> Rig:
    rig = await start_key_rig(tmp_path / "home", login="eds")
    yield rig
    await rig.close()


async def _refused(call: object) -> str:
    try:
        await call  # type: ignore[misc]
    except ApiError as exc:
        return exc.code
    return "allowed"


async def test_a_password_session_only_views_where_keys_are_required(lane: Rig) -> None:
    op = await lane.client("operator")
    assert op.view_only
    state = await op.call("GET", "/v1/state")
    assert state["inspection"] is None
    assert await _refused(op.call("POST", "/v1/inspections", {"vehicle": VEHICLE})) == "key_session_required"
    assert await _refused(op.call("POST", "/v1/anpr", {})) == "key_session_required"
    admin = await lane.client("admin")
    assert admin.view_only
    refused = await _refused(admin.call("POST", "/v1/users/operator/eds", {"iin": IIN_OP}))
    assert refused == "key_session_required"
    assert isinstance(await admin.call("GET", "/v1/journal?limit=5"), list)  # viewing stays
    # the employee with their key does the inspection, and EIS takes the card signed by them
    key = await lane.client()
    await key.login_eds(str(lane.home / "usb" / "operator.p12"), KEY_PASSWORD)
    assert not key.view_only
    card = await run_to_card(key, VEHICLE)
    # issue #22 item 3: the card names the employee and the certificate their signature is checked by
    stored = await key.call("GET", f"/v1/cards/{card['card_id']}")
    who = stored["inspector"]
    assert who["username"] == "operator" and who["full_name"] == "Test operator"
    assert who["certificate"]["iin"] == IIN_OP and who["certificate"]["serial"]
    # the password session still cannot print it, nor issue a certificate of it
    refused = await _refused(op.call("POST", f"/v1/cards/{card['card_id']}/print", {}))
    assert refused == "key_session_required"

    async def accepted() -> bool:
        return (await key.call("GET", "/v1/state"))["outbox"]["accepted"] == 1

    await wait_for(accepted, "EIS accepting the card")
    assert signer_at_eis(lane, card["card_id"]) == (f"IIN{IIN_OP}",)
    denied = await admin.call("GET", "/v1/journal?action=access_denied")
    reasons = {(e["actor"], e["details"].get("path"), e["details"].get("reason")) for e in denied}
    assert ("operator", "/v1/inspections", "key_required") in reasons
    assert ("admin", "/v1/users/operator/eds", "key_required") in reasons


async def test_the_lane_screen_says_view_only_and_f2_says_why(lane: Rig) -> None:
    from tests.e2e.test_tui_pilot import SIZE, text
    from tui.app import make_app
    from tui.screens.lane import LaneScreen

    app = make_app(lane.sock, "ru")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await app.client.login("operator", PASSWORDS["operator"])
        await app.after_login(False)

        async def in_lane() -> bool:
            await pilot.pause(0.05)
            return isinstance(app.screen, LaneScreen)

        await wait_for(in_lane, "the lane screen")
        await pilot.pause(0.2)
        assert "Только просмотр" in text(app, "#msg")
        assert "F2" not in text(app, "#keys") and "F8" not in text(app, "#keys")
        await pilot.press("f2")
        await pilot.pause(0.2)
        assert isinstance(app.screen, LaneScreen)
        assert "вход по ключу НУЦ" in text(app, "#msg")
