"""The new-car form at 80×24 in each language, driven by Pilot against a real daemon: what an empty
field asks for is drawn whole (R3.2, issue #23) — the kk tilt field showed "Фара көлбеуі," without
its unit."""

from __future__ import annotations

import pytest
from textual.widgets import Input

from tests.e2e.test_tui_pilot import SIZE, drawn, new_car_form
from tests.rig import Rig
from tui.app import make_app


@pytest.mark.parametrize("lang", ["kk", "ru", "en"])
async def test_every_empty_fields_placeholder_is_drawn_whole(rig: Rig, lang: str) -> None:
    app = make_app(rig.sock, lang)
    async with app.run_test(size=SIZE) as pilot:
        await new_car_form(pilot, app)
        box = app.screen.query_one("#new-box")
        for field in app.screen.query(Input):
            if field.value:
                continue
            box.scroll_to_widget(field, animate=False)
            await pilot.pause(0.1)
            assert field.placeholder in drawn(app), (lang, field.id, field.placeholder)
