"""Issue #23 (6): no dead ends on the lane screen. With an inspection open, F2 says so at once (and
how to get out) instead of refusing a whole typed form; F12 abandons the inspection with a reason the
daemon journals — one key for a common reason, or typed words."""

from __future__ import annotations

import pytest

from app.storage.models import JournalEntry
from tests.e2e.test_tui_pilot import SIZE, login, text, until_shown
from tests.rig import Rig, wait_for
from tui.app import make_app
from tui.screens.abort import AbortScreen
from tui.screens.lane import LaneScreen

CAR = {"plate": "555KZZ01", "category": "M1", "axles": 2}


@pytest.mark.parametrize(
    ("lang", "keys", "reason", "words"),
    [
        ("kk", ["1"], "vehicle_left", ("Тоқтату", "әлі ашық", "Көлік желіден кетті", "журналға жазылды")),
        (
            "ru",
            ["5", *"ДТП у въезда", "enter"],
            "ДТП у въезда",
            ("Прервать", "ещё открыт", "Другая", "прерван"),
        ),
        ("en", ["3"], "data_wrong", ("Abort", "still open", "entered wrongly", "abandoned")),
    ],
)
async def test_f2_says_an_inspection_is_open_and_f12_abandons_it_with_a_reason(
    rig: Rig, lang: str, keys: list[str], reason: str, words: tuple[str, str, str, str]
) -> None:
    abort_key, still_open, offered, done = words
    op = await rig.client("operator")
    insp = await op.call("POST", "/v1/inspections", CAR)
    app = make_app(rig.sock, lang)
    async with app.run_test(size=SIZE) as pilot:
        await login(pilot, app, "operator")
        await until_shown(pilot, app, "#keys", f"F12 {abort_key}")
        bar = text(app, "#keys")
        assert "F2" not in bar and len(bar) <= SIZE[0], bar  # the key that would be refused is not offered
        await pilot.press("f2")
        await until_shown(pilot, app, "#msg", still_open)
        assert isinstance(app.screen, LaneScreen) and "F12" in text(app, "#msg")
        await pilot.press("f12")
        await pilot.pause(0.2)
        assert isinstance(app.screen, AbortScreen)
        assert offered in text(app, "#abort-reasons")
        await pilot.press("escape")  # back: nothing abandoned
        await pilot.pause(0.2)
        assert isinstance(app.screen, LaneScreen)
        assert (await op.call("GET", "/v1/state"))["inspection"]["id"] == insp["id"]
        await pilot.press("f12")
        await pilot.pause(0.2)
        await pilot.press(*keys)
        await until_shown(pilot, app, "#msg", done)
        assert isinstance(app.screen, LaneScreen)

        async def closed() -> bool:
            return (await op.call("GET", "/v1/state"))["inspection"] is None

        await wait_for(closed, "the inspection closed")
        await until_shown(pilot, app, "#keys", "F2")
    entry = await JournalEntry.filter(action="inspection_aborted").order_by("-seq").first()
    assert (
        entry is not None
        and entry.details["reason"] == reason
        and entry.details["inspection_id"] == insp["id"]
    )


async def test_an_empty_typed_reason_is_refused_on_the_screen(rig: Rig) -> None:
    op = await rig.client("operator")
    await op.call("POST", "/v1/inspections", CAR)
    app = make_app(rig.sock, "ru")
    async with app.run_test(size=SIZE) as pilot:
        await login(pilot, app, "operator")
        await until_shown(pilot, app, "#keys", "F12")
        await pilot.press("f12")
        await pilot.pause(0.2)
        await pilot.press("5", "enter")
        await until_shown(pilot, app, "#abort-msg", "Введите причину")
        assert isinstance(app.screen, AbortScreen)
    assert (await op.call("GET", "/v1/state"))["inspection"] is not None


async def test_a_message_said_of_the_steps_goes_when_the_lane_moves_on(rig: Rig) -> None:
    """Issue #23 (5): "step still running" and the like do not stay after the lane changed."""
    op = await rig.client("operator")
    insp = await op.call("POST", "/v1/inspections", CAR)
    app = make_app(rig.sock, "ru")
    async with app.run_test(size=SIZE) as pilot:
        await login(pilot, app, "operator")
        await until_shown(pilot, app, "#keys", "F12")
        await pilot.press("f2")
        await until_shown(pilot, app, "#msg", "ещё открыт")
        await op.call("POST", f"/v1/inspections/{insp['id']}/abort", {"reason": "vehicle_left"})

        async def gone() -> bool:
            await pilot.pause(0.1)
            return "ещё открыт" not in text(app, "#msg")

        await wait_for(gone, "the message to go with the inspection it spoke of")
