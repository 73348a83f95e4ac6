"""Keys as a terminal hands them over: in a burst (a fast typist, an SSH link that delivers at
once), not one at a time as Pilot presses them — driven by Pilot against a real daemon at 80×24."""

from __future__ import annotations

from tests.e2e.test_tui_pilot import SIZE
from tests.rig import Rig, wait_for
from tui.app import OtolaneApp, make_app
from tui.screens.lane import LaneScreen


def burst(app: OtolaneApp, typed: str) -> None:
    """Keys as a terminal hands over a burst (a fast typist, an SSH link that delivers at once): all
    queued before the app has handled the first — Pilot's press waits after each key. ``\r`` is
    Enter."""
    from textual import events
    from textual.keys import _character_to_key

    for ch in typed:
        key = "enter" if ch == "\r" else ch if ch.isalnum() else _character_to_key(ch)
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
