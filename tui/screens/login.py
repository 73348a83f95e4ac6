"""Login: a user name and password, or the employee's NCA key file and its password (R3.1).

F2 switches between the two. In key mode the screen lists the key files the daemon finds in the
lane's key folders (a USB stick, the lane's key folder; F5 looks again) — the daemon reads the file
itself, checks the certificate and names whose key a refusal is about (name, IIN) and why.
"""

from __future__ import annotations

import contextlib
from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Center, Vertical
from textual.css.query import NoMatches
from textual.screen import Screen
from textual.widgets import Button, Input, Select, Static

from app.api.client import ApiError
from tui.screens.base import ENTER_MOVES_ON, AppMixin, FormFields


class LoginScreen(FormFields, AppMixin, Screen[None]):
    BINDINGS = [
        Binding("f2", "toggle_mode", show=False),
        Binding("f3", "token", show=False),
        Binding("f5", "find_keys", show=False),
        ENTER_MOVES_ON,  # from the name to the password, before the keys typed after it arrive
    ]

    def __init__(self) -> None:
        super().__init__()
        self.key_mode = False
        self.keys: list[dict[str, Any]] = []
        self.ncalayer = False  # the lane has NCALayer for keys on tokens (F3)

    def compose(self) -> ComposeResult:
        with Center(), Vertical(id="login-box"):
            yield Static(id="login-title")
            yield Static(id="login-mode")
            yield Input(id="username")
            yield Select[str]([], id="key-file", allow_blank=True, prompt=self.app_.t("login.key_file"))
            yield Input(id="password", password=True)
            yield Button(id="login-submit", variant="primary")
            yield Static(id="login-msg")
            yield Static(id="login-hint")

    def on_mount(self) -> None:
        self.query_one("#key-file", Select).display = False
        self.refresh_texts()
        self.set_focus(self.query_one("#username", Input))  # at once: keys typed ahead wait for it

    def refresh_texts(self) -> None:
        t = self.app_.t
        self.query_one("#login-title", Static).update(f"[b]otolane[/b] · {t('login.title')}")
        mode = t("login.mode_key") if self.key_mode else t("login.mode_password")
        other = t("login.mode_password") if self.key_mode else t("login.mode_key")
        self.query_one("#login-mode", Static).update(f"[b]{mode}[/b]  ·  F2: {other}")
        self.query_one("#username", Input).placeholder = t("login.username")
        # the prompt is drawn by the Select's own child, which may not be mounted yet when the screen
        # is (seen under load after an idle lock): compose gave it its first text; a language change
        # comes when it is there
        with contextlib.suppress(NoMatches):
            self.query_one("#key-file", Select).prompt = t("login.key_file")
        self.query_one("#password", Input).placeholder = t(
            "login.key_password" if self.key_mode else "login.password"
        )
        self.query_one("#login-submit", Button).label = t(
            "login.key_submit" if self.key_mode else "login.submit"
        )
        hint = t("login.key_hint") if self.key_mode else t("login.hint")
        if self.key_mode and self.ncalayer:
            hint += "\n" + t("login.token_hint")
        self.query_one("#login-hint", Static).update(hint)

    async def action_toggle_mode(self) -> None:
        self.key_mode = not self.key_mode
        self.query_one("#username", Input).display = not self.key_mode
        self.query_one("#key-file", Select).display = self.key_mode
        self.query_one("#password", Input).value = ""
        self.query_one("#login-msg", Static).update("")
        self.refresh_texts()
        if self.key_mode:
            await self.action_find_keys()
        else:
            self.query_one("#username", Input).focus()

    async def action_find_keys(self) -> None:
        if not self.key_mode:
            return
        msg = self.query_one("#login-msg", Static)
        try:
            data = await self.app_.client.call("GET", "/v1/eds/keys")
        except ApiError as exc:
            msg.update(f"[red]✗ {self.app_.error_text(exc)}[/red]")
            return
        if not data.get("enabled"):
            msg.update(f"[red]✗ {self.app_.t('error.eds_login_off')}[/red]")
            return
        self.keys = list(data.get("keys", []))
        self.ncalayer = bool(data.get("ncalayer"))
        self.refresh_texts()
        select = self.query_one("#key-file", Select)
        select.set_options([(k["name"], k["path"]) for k in self.keys])
        if self.keys:
            select.value = self.keys[0]["path"]
            msg.update("")
            self.query_one("#password", Input).focus()
        else:
            msg.update(f"[yellow]{self.app_.t('login.no_keys')}[/yellow]")

    async def action_token(self) -> None:
        """A key on a token or ID card: NCALayer shows its own dialog for the key and the PIN."""
        if not self.key_mode or not self.ncalayer:
            return
        msg = self.query_one("#login-msg", Static)
        msg.update(self.app_.t("login.token_working"))
        try:
            data = await self.app_.client.login_ncalayer()
        except ApiError as exc:
            msg.update(f"[red]✗ {self.app_.error_text(exc)}[/red]")
            return
        msg.update("")
        await self.app_.after_login(bool(data.get("must_change")))

    @on(Input.Submitted, "#password")
    @on(Button.Pressed, "#login-submit")
    async def submit(self) -> None:
        msg = self.query_one("#login-msg", Static)
        password = self.query_one("#password", Input).value
        if self.key_mode:
            path = self.query_one("#key-file", Select).value
            if not isinstance(path, str) or not password:
                (
                    self.query_one("#password", Input)
                    if password == ""
                    else self.query_one("#key-file", Select)
                ).focus()
                return
            msg.update(self.app_.t("login.key_working"))
            call = self.app_.client.login_eds(path, password)
        else:
            user = self.query_one("#username", Input).value.strip()
            if not user or not password:
                self.query_one("#username" if not user else "#password", Input).focus()
                return
            msg.update(self.app_.t("login.working"))
            call = self.app_.client.login(user, password)
        try:
            data = await call
        except ApiError as exc:
            msg.update(f"[red]✗ {self.app_.error_text(exc)}[/red]")
            self.query_one("#password", Input).value = ""
            self.query_one("#password", Input).focus()
            return
        msg.update("")
        await self.app_.after_login(bool(data.get("must_change")))
