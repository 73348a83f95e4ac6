"""Issue #23 (5): the review before the card shows one countdown — of a step's minimum time and the
inspection's, the one that ends last — and it counts down while the review is open."""

from __future__ import annotations

from pathlib import Path

from tests.e2e.test_tui_pilot import SIZE, login, text
from tests.rig import start_rig, wait_for
from tui.app import make_app
from tui.screens.review import ReviewScreen

TWO = [
    {"code": "step_min_time", "params": {"step": "brakes_axle_1", "left_s": 20}},
    {"code": "min_duration", "params": {"left_s": 1048}},
    {"code": "steps_not_done", "params": {"steps": ["visual"]}},
]


async def test_of_two_minimum_times_the_review_says_the_later_once(tmp_path: Path) -> None:
    rig = await start_rig(tmp_path / "lane", speed=1.0)
    try:
        op = await rig.client("operator")
        insp = await op.call("POST", "/v1/inspections", {"plate": "555KZZ01", "category": "M1", "axles": 2})
        app = make_app(rig.sock, "ru")
        async with app.run_test(size=SIZE) as pilot:
            await login(pilot, app, "operator")
            preview = {"items": [], "verdict": None, "holds": TWO}
            app.push_screen(ReviewScreen(insp, preview, lambda item: []))
            await pilot.pause(0.3)
            said = " ".join(text(app, "#review-holds").split())
            assert said.count("осталось") == 1 and "17 мин 28 с" in said, said
            assert "Не выполнены шаги: Визуальный осмотр" in said  # a hold without a time stays
            # the real preview: the inspection's 20 minutes count down while the review is open
            await pilot.press("escape")
            await pilot.pause(0.2)
            await pilot.press("f8")

            async def counted() -> bool:
                await pilot.pause(0.2)
                return isinstance(app.screen, ReviewScreen) and "осталось" in text(app, "#review-holds")

            await wait_for(counted, "the review with its countdown")
            first = text(app, "#review-holds")

            async def ticked() -> bool:
                await pilot.pause(0.3)
                return text(app, "#review-holds") != first

            await wait_for(ticked, "the countdown to move", timeout=5)
    finally:
        await rig.close()


async def test_the_headlamps_marked_tilt_from_the_form_reaches_the_inspection(tmp_path: Path) -> None:
    """Issue #22 (7): the operator types the tilt marked on the headlamp ("1,2 %"); a wrong one is
    named at the field, in the operator's language."""
    from textual.widgets import Input

    from tests.e2e.test_tui_pilot import new_car_form
    from tui.screens.lane import LaneScreen

    rig = await start_rig(tmp_path / "lane")
    try:
        app = make_app(rig.sock, "ru")
        async with app.run_test(size=SIZE) as pilot:
            form = await new_car_form(pilot, app)
            form.query_one("#plate", Input).value = "555KZZ01"
            form.query_one("#tilt", Input).value = "9"
            await form.start()
            await pilot.pause(0.2)
            assert "Наклон ближнего света по маркировке фары" in text(app, "#new-msg")
            assert form.query_one("#tilt", Input).has_focus
            form.query_one("#tilt", Input).value = "1,2 %"
            await form.start()

            async def started() -> bool:
                await pilot.pause(0.1)
                return isinstance(app.screen, LaneScreen)

            await wait_for(started, "the inspection started")
        admin = await rig.client("admin")
        started_entry = (await admin.call("GET", "/v1/journal?action=inspection_started"))[0]
        assert started_entry["details"]["vehicle"]["headlight_tilt"] == 1.2, started_entry
    finally:
        await rig.close()
