"""Login: user name and password. (An NCA key file arrives with signature login, R3.1.)"""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.containers import Center, Vertical
from textual.screen import Screen
from textual.widgets import Button, Input, Static

from app.api.client import ApiError
from tui.screens.base import AppMixin


class LoginScreen(AppMixin, Screen[None]):
    def compose(self) -> ComposeResult:
        with Center(), Vertical(id="login-box"):
            yield Static(id="login-title")
            yield Input(id="username")
            yield Input(id="password", password=True)
            yield Button(id="login-submit", variant="primary")
            yield Static(id="login-msg")
            yield Static(id="login-hint")

    def on_mount(self) -> None:
        self.refresh_texts()
        self.query_one("#username", Input).focus()

    def refresh_texts(self) -> None:
        t = self.app_.t
        self.query_one("#login-title", Static).update(f"[b]otolane[/b] · {t('login.title')}")
        self.query_one("#username", Input).placeholder = t("login.username")
        self.query_one("#password", Input).placeholder = t("login.password")
        self.query_one("#login-submit", Button).label = t("login.submit")
        self.query_one("#login-hint", Static).update(t("login.hint"))

    @on(Input.Submitted, "#username")
    def next_field(self) -> None:
        self.query_one("#password", Input).focus()

    @on(Input.Submitted, "#password")
    @on(Button.Pressed, "#login-submit")
    async def submit(self) -> None:
        msg = self.query_one("#login-msg", Static)
        user = self.query_one("#username", Input).value.strip()
        password = self.query_one("#password", Input).value
        if not user or not password:
            self.query_one("#username" if not user else "#password", Input).focus()
            return
        msg.update(self.app_.t("login.working"))
        try:
            data = await self.app_.client.login(user, password)
        except ApiError as exc:
            msg.update(f"[red]✗ {self.app_.error_text(exc)}[/red]")
            self.query_one("#password", Input).value = ""
            self.query_one("#password", Input).focus()
            return
        msg.update("")
        await self.app_.after_login(bool(data.get("must_change")))
