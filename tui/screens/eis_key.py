"""The EIS identification key for the administrator (R4, R5, D5): whether it is valid, until when,
whether EIS still takes it — never the key itself; I installs the new one the EIS operator issued
(typed, not shown; sealed by the daemon, journalled by its fingerprint, used at the next message)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from rich.markup import escape
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen, Screen
from textual.widgets import Input, Static

from app.api.client import ApiError
from tui.screens.base import ENTER_MOVES_ON, AppMixin, FormFields


class EisKeyScreen(AppMixin, Screen[None]):
    BINDINGS = [Binding("escape", "back", show=False), Binding("i", "install", show=False)]

    def compose(self) -> ComposeResult:
        with Vertical(id="admin-box"):
            yield Static(id="k-title")
            yield Static(id="k-state")
            yield Static(id="k-msg")
        yield Static(id="keys")

    def on_mount(self) -> None:
        self.refresh_texts()
        self.set_interval(1.0, self.refresh_texts)  # the state comes with the lane's snapshot

    def refresh_texts(self) -> None:
        t = self.app_.t
        self.query_one("#k-title", Static).update(f"[b]{t('eis_key.title')}[/b]")
        self.query_one("#k-state", Static).update(self.state_text(self.app_.state.get("eis_key") or {}))
        self.query_one("#keys", Static).update(self.keybar([("I", "eis_key.install"), ("Esc", "keys.back")]))

    def state_text(self, key: dict[str, Any]) -> str:
        t = self.app_.t
        if not key.get("fingerprint"):
            return f"[red]{t('eis_key.none')}[/red]"
        until = dt.datetime.fromtimestamp(float(key["valid_until"])).strftime("%Y-%m-%d %H:%M")
        lines = [
            t("eis_key.fingerprint", fingerprint=escape(str(key["fingerprint"]))),
            t("eis_key.until", until=until),
        ]
        if key.get("expired"):
            lines.append(f"[red]{t('eis_key.expired')}[/red]")
        elif key.get("refused"):
            lines.append(f"[red]{t('eis_key.refused')}[/red]")
        else:
            colour = "yellow" if key.get("warn") else "green"
            lines.append(f"[{colour}]{t('eis_key.days_left', days=key.get('days_left', 0))}[/{colour}]")
        return "\n".join(lines)

    def action_install(self) -> None:
        self.app_.push_screen(InstallKeyScreen(), self._installed)

    async def _installed(self, state: dict[str, Any] | None) -> None:
        if state:
            self.query_one("#k-msg", Static).update(
                self.app_.t("eis_key.installed", fingerprint=escape(str(state.get("fingerprint", ""))))
            )
            await self.app_.reload_state()
            self.refresh_texts()

    def action_back(self) -> None:
        self.app_.pop_screen()


class InstallKeyScreen(FormFields, AppMixin, ModalScreen[dict[str, Any] | None]):
    BINDINGS = [Binding("escape", "cancel", show=False), ENTER_MOVES_ON]

    def compose(self) -> ComposeResult:
        t = self.app_.t
        with Vertical(id="new-box"):
            yield Static(f"[b]{t('eis_key.install_title')}[/b]")
            yield Static(id="k-err")
            yield Input(id="k-value", placeholder=t("eis_key.value"), password=True, max_length=4096)
            yield Static(t("eis_key.valid_days"))
            yield Input(id="k-days", placeholder=t("eis_key.valid_days"), value="60", max_length=3)
            yield Static(t("users.form_keys"))

    def on_mount(self) -> None:
        self.set_focus(self.query_one("#k-value", Input))  # at once: keys typed ahead wait for it

    @on(Input.Submitted, "#k-days")
    async def send(self) -> None:
        days_text = self.query_one("#k-days", Input).value.strip()
        if not days_text.isdigit():
            self.query_one("#k-err", Static).update(f"[red]✗ {self.app_.t('error.eis_key_days_bad')}[/red]")
            return
        body = {"key": self.query_one("#k-value", Input).value.strip(), "valid_days": int(days_text)}
        try:
            state = await self.app_.client.call("POST", "/v1/eis/key", body)
        except ApiError as exc:
            self.query_one("#k-err", Static).update(f"[red]✗ {escape(self.app_.error_text(exc))}[/red]")
            return
        self.dismiss(state)

    def action_cancel(self) -> None:
        self.dismiss(None)
