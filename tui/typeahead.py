"""Keys typed ahead of the screen they are meant for.

A fast operator, or an SSH link that delivers keys in a burst, types F2 and the plate before the
new-car form is up. Textual hands a key to whatever has the focus when the key arrives, and runs a
screen's (non-priority) binding only once the key has bubbled up to the app — by then the keys
after it have gone to the old screen, and the new screen focuses its first field only once it is
mounted: the plate and its Enter were lost. So the app holds the keys that come after a bound key
until the app has run its binding and, when that put up a screen, until the screen is mounted (its
first field focused: screens set it at once, ``Screen.set_focus``), then hands them over in the
order typed. A key a field keeps (a letter in an input) holds nothing. A form's Enter needs no more:
it is held until the field's binding has posted Submitted, and the keys after it, coming back up
through the form's screen, wait there behind the form's handler (a log-in on its way to the daemon)
— by the time they reach the app, the next screen is up.
"""

from __future__ import annotations

from typing import Any

from textual import events
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Input

#: keys are never held longer than this: a screen that never draws does not swallow the keyboard
HOLD_AT_MOST_S = 2.0


class TypeAhead:
    """The app's part (a mixin before ``App``): holds keys while what they are meant for comes up."""

    _held_keys: list[events.Key] | None = None
    _held_for: object = None  # the bound key being handled, or the screen coming up
    _hold_timer: Timer | None = None  # one for all holds, started again by each

    async def on_event(self, event: events.Event) -> None:
        if not isinstance(event, events.Key) or event.is_forwarded:
            await super().on_event(event)  # type: ignore[misc]
            return
        if self._held_keys is not None:
            self._held_keys.append(event)
            return
        acts = self._acts_when_bubbled(event)
        await super().on_event(event)  # type: ignore[misc]  # a priority binding has run by now
        if acts and event.is_forwarded and self._held_keys is None:
            self._hold(event)  # until its binding has run (_dispatch_message)

    def _acts_when_bubbled(self, event: events.Key) -> bool:
        """The key has a binding — one the app runs once the key has bubbled up to it, when no priority
        binding took it first (a form's Enter on its last field lets the field submit) — and no field
        keeps it."""
        screen: Screen[Any] = self.screen  # type: ignore[attr-defined]
        if event.key not in screen.active_bindings:
            return False
        return not (event.is_printable and isinstance(screen.focused, Input))

    async def _dispatch_message(self, message: Any) -> None:
        back_up = message is self._held_for  # held for before this dispatch: the key bubbling back
        await super()._dispatch_message(message)  # type: ignore[misc]
        if back_up and message is self._held_for:  # its binding ran and put up nothing
            await self._release(message, anyway=True)

    def push_screen(self, screen: Any, *args: Any, **kwargs: Any) -> Any:
        pushed = super().push_screen(screen, *args, **kwargs)  # type: ignore[misc]
        self._hold(self.screen)  # type: ignore[attr-defined]
        return pushed

    def switch_screen(self, screen: Any) -> Any:
        switched = super().switch_screen(screen)  # type: ignore[misc]
        self._hold(self.screen)  # type: ignore[attr-defined]
        return switched

    def _hold(self, token: object) -> None:
        self._held_for = token
        if self._held_keys is None:
            self._held_keys = []
        if isinstance(token, Screen):
            self.call_after_refresh(self._release, token)  # type: ignore[attr-defined]
        if self._hold_timer is None:
            self._hold_timer = self.set_timer(HOLD_AT_MOST_S, self._held_too_long)  # type: ignore[attr-defined]
        else:
            self._hold_timer.reset()

    async def _held_too_long(self) -> None:
        self._hold_timer = None
        if self._held_for is not None:
            await self._release(self._held_for, anyway=True)

    async def _release(self, token: object, anyway: bool = False) -> None:
        if token is not self._held_for or self._held_keys is None:
            return  # something else came up since: the keys wait for that
        if isinstance(token, Screen) and not token.is_mounted and not anyway:
            self.call_after_refresh(self._release, token)  # type: ignore[attr-defined]
            return
        held, self._held_keys, self._held_for = self._held_keys, None, None
        for event in held:  # a key that brings up another screen holds the rest for it (on_event)
            await self.on_event(event)
