"""Keys as a terminal hands them over: in a burst (a fast typist, an SSH link that delivers at
once), not one at a time as Pilot presses them — driven by Pilot against a real daemon at 80×24."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.e2e.test_tui_pilot import SIZE
from tests.rig import Rig, wait_for
from tui.app import OtolaneApp, make_app
from tui.screens.lane import LaneScreen


def burst(app: OtolaneApp, typed: str, *, before: str = "") -> None:
    """Keys as a terminal hands over a burst (a fast typist, an SSH link that delivers at once): all
    queued before the app has handled the first — Pilot's press waits after each key. ``\r`` is
    Enter; ``before``: a named key first (``f2``)."""
    from textual import events
    from textual.keys import _character_to_key

    keys = [(before, None)] if before else []
    for ch in typed:
        keys.append(("enter" if ch == "\r" else ch if ch.isalnum() else _character_to_key(ch), ch))
    for key, ch in keys:
        event = events.Key(key, ch)
        event.set_sender(app)
        app.post_message(event)  # as the terminal driver does, with no pause between


async def test_a_log_in_and_a_new_password_typed_in_one_burst_are_taken_whole(rig: Rig) -> None:
    """R3.1 (log-in), seen in a real terminal: a name, Enter and the password sent at once all went
    into the name field (Widget.focus() waits behind the keys already queued), and so did the
    fields of a temporary password's change; Enter now moves on to the next field at once."""
    from tui.screens.password import PasswordScreen

    admin = await rig.client("admin")
    await admin.call(
        "POST", "/v1/users", {"username": "dana", "role": "operator", "password": "Temp-Pass-4711"}
    )
    app = make_app(rig.sock, "en")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        burst(app, "dana\rTemp-Pass-4711\r")

        async def changing() -> bool:
            await pilot.pause(0.05)
            return isinstance(app.screen, PasswordScreen)

        await wait_for(changing, "the temporary password's change asked")
        burst(app, "Temp-Pass-4711\rHer-Own-Pass-31\rHer-Own-Pass-31\r")

        async def lane() -> bool:
            await pilot.pause(0.05)
            return isinstance(app.screen, LaneScreen)

        await wait_for(lane, "the lane screen after the change")
    assert (await (await rig.client()).login("dana", "Her-Own-Pass-31"))["must_change"] is False


async def test_f2_and_the_plate_typed_at_once_open_the_inspection_for_that_plate(rig: Rig) -> None:
    """R3.2, seen in a real terminal: F2, the plate and Enter typed at once lost the plate and its
    Enter — Textual runs the lane screen's F2 only once the key has come back up to the app, the keys
    after it had gone to the lane screen, and the form focuses its field only once mounted. The app
    now holds them until the form has its field (tui/typeahead.py)."""
    from tests.e2e.test_tui_pilot import login, until_shown

    app = make_app(rig.sock, "en")
    async with app.run_test(size=SIZE) as pilot:
        await login(pilot, app, "operator")
        burst(app, "777ABC01\r", before="f2")

        async def back() -> bool:  # the form came up, took the plate and its Enter, and closed
            await pilot.pause(0.05)
            return isinstance(app.screen, LaneScreen)

        await wait_for(back, "the lane screen after the form")
        await until_shown(pilot, app, "#insp", "777ABC01 · M1 · petrol")


async def test_a_morning_typed_in_one_burst_logs_in_opens_the_car_and_runs_its_first_step(rig: Rig) -> None:
    """R3.1, R3.2: name, password, F2, the plate, Enter and F5 typed at once, the daemon slow to answer.
    The password's Enter was not held (the log-in form's priority Enter, which leaves the last field's
    Enter to the field, hid the field's own binding), so F2 came up to the app before the form's
    Submitted and switched the log-in screen to the key mode."""
    from tests.e2e.test_tui_pilot import PASSWORDS, text

    app = make_app(rig.sock, "en")
    client = app.client
    for name in ("login", "call"):  # a loaded kiosk: each answer takes 0.3 s, the keys come before
        answer = getattr(client, name)

        async def slow(*args: Any, _answer: Any = answer, **kwargs: Any) -> Any:
            await asyncio.sleep(0.3)
            return await _answer(*args, **kwargs)

        setattr(client, name, slow)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        burst(app, f"operator\r{PASSWORDS['operator']}\r")
        burst(app, "777ABC01\r", before="f2")
        burst(app, "", before="f5")

        async def running() -> bool:
            await pilot.pause(0.05)
            if not isinstance(app.screen, LaneScreen):
                return False
            shown = text(app, "#insp")
            return "777ABC01" in shown and "▶ 2" in shown or "✓ 2" in shown

        await wait_for(running, "the inspection of 777ABC01 with its second step started")
