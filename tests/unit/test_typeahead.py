"""The type-ahead hold (tui/typeahead.py) on a bare Textual app: keys after a bound key wait for its
binding, keys after a new screen wait for its field, and nothing is held for longer than
HOLD_AT_MOST_S however the key is handled (a widget that stops it on its way up)."""

from __future__ import annotations

import time

from textual import events
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Input, Static

from tui.typeahead import HOLD_AT_MOST_S, TypeAhead


class Swallower(Static, can_focus=True):
    """A widget that stops F4 on its way up: the screen's F4 binding never runs."""

    def on_key(self, event: events.Key) -> None:
        if event.key == "f4":
            event.stop()
            event.prevent_default()


class Form(Screen[None]):
    def compose(self) -> ComposeResult:
        yield Input(id="plate")

    def on_mount(self) -> None:
        self.set_focus(self.query_one("#plate", Input))


class Home(Screen[None]):
    BINDINGS = [Binding("f2", "form"), Binding("f4", "nothing")]

    def compose(self) -> ComposeResult:
        yield Swallower("home", id="home")
        yield Input(id="note")

    def on_mount(self) -> None:
        self.set_focus(self.query_one("#home", Swallower))

    def action_form(self) -> None:
        self.app.push_screen(Form())

    def action_nothing(self) -> None:
        pass


class Lane(TypeAhead, App[None]):
    def on_mount(self) -> None:
        self.push_screen(Home())


def burst(app: App[None], *keys: str) -> None:
    for key in keys:
        event = events.Key(key, key if len(key) == 1 else None)
        event.set_sender(app)
        app.post_message(event)


async def test_keys_typed_after_f2_reach_the_field_of_the_screen_it_puts_up() -> None:
    app = Lane()
    async with app.run_test() as pilot:
        await pilot.pause()
        burst(app, "f2", *"777ABC01")
        for _ in range(40):
            await pilot.pause(0.05)
            if isinstance(app.screen, Form) and app.screen.query_one("#plate", Input).value:
                break
        assert app.screen.query_one("#plate", Input).value == "777ABC01"


async def test_a_bound_key_that_never_comes_back_up_holds_the_keys_no_longer_than_the_limit() -> None:
    app = Lane()
    async with app.run_test() as pilot:
        await pilot.pause()
        t0 = time.monotonic()
        burst(app, "f4", "tab", *"abc")  # F4 is bound, but the focused widget stops it
        note = app.screen.query_one("#note", Input)
        while note.value != "abc" and time.monotonic() - t0 < 3 * HOLD_AT_MOST_S:
            await pilot.pause(0.05)
        assert note.value == "abc"  # the keys came, in order, after the hold gave up
        assert time.monotonic() - t0 >= HOLD_AT_MOST_S * 0.9  # they were held: F4 was bound
