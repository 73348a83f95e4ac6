"""Change an expired password (R3.17) before anything else."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.containers import Center, Vertical
from textual.screen import Screen
from textual.widgets import Button, Input, Static

from app.api.client import ApiError
from tui.screens.base import ENTER_MOVES_ON, AppMixin, FormFields


class PasswordScreen(FormFields, AppMixin, Screen[None]):
    # old → new → repeat, whose Enter changes it (Enter in the first field sent it half filled)
    BINDINGS = [ENTER_MOVES_ON]

    def compose(self) -> ComposeResult:
        with Center(), Vertical(id="login-box"):
            yield Static(id="pw-title")
            yield Input(id="pw-old", password=True)
            yield Input(id="pw-new", password=True)
            yield Input(id="pw-repeat", password=True)
            yield Button(id="pw-submit", variant="primary")
            yield Static(id="pw-msg")

    def on_mount(self) -> None:
        self.refresh_texts()
        self.set_focus(self.query_one("#pw-old", Input))  # at once: keys typed ahead wait for it

    def refresh_texts(self) -> None:
        t = self.app_.t
        self.query_one("#pw-title", Static).update(t("password.title"))
        self.query_one("#pw-old", Input).placeholder = t("password.old")
        self.query_one("#pw-new", Input).placeholder = t("password.new")
        self.query_one("#pw-repeat", Input).placeholder = t("password.repeat")
        self.query_one("#pw-submit", Button).label = t("password.submit")

    @on(Input.Submitted)
    @on(Button.Pressed, "#pw-submit")
    async def submit(self) -> None:
        msg = self.query_one("#pw-msg", Static)
        old = self.query_one("#pw-old", Input).value
        new = self.query_one("#pw-new", Input).value
        if new != self.query_one("#pw-repeat", Input).value:
            msg.update(f"[red]✗ {self.app_.t('password.mismatch')}[/red]")
            return
        try:
            await self.app_.client.call("POST", "/v1/password", {"old": old, "new": new})
        except ApiError as exc:
            msg.update(f"[red]✗ {self.app_.error_text(exc)}[/red]")
            return
        self.app_.notify(self.app_.t("password.changed"))
        await self.app_.after_login(False)
