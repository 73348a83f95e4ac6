"""The administrator adopts the stand now on the line: its model and serial come from the hardware
and are shown for confirmation; the administrator types its verification certificate and expiry."""

from __future__ import annotations

from typing import Any

from rich.markup import escape
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Static

from app.api.client import ApiError
from tui.screens.base import AppMixin


class ReplaceDeviceScreen(AppMixin, ModalScreen[dict[str, Any] | None]):
    BINDINGS = [Binding("escape", "cancel", show=False)]

    def __init__(self, device: dict[str, Any]) -> None:
        super().__init__()
        self.device = device

    def compose(self) -> ComposeResult:
        t, d = self.app_.t, self.device
        with Vertical(id="new-box"):
            yield Static(f"[b]{t('replace.title')}[/b]")
            yield Static(
                t(
                    "replace.identity",
                    model=escape(d["model"]),
                    serial=escape(d["serial"]),
                    fw=escape(d["firmware"]),
                )
            )
            yield Input(id="certificate", placeholder=t("replace.certificate"), max_length=64)
            yield Input(id="until", placeholder=t("replace.until"), max_length=10)
            with Horizontal():
                yield Button(t("replace.confirm"), id="replace-ok", variant="warning")
                yield Button(t("new.cancel"), id="replace-cancel")
            yield Static(id="replace-msg")

    def on_mount(self) -> None:
        self.set_focus(self.query_one("#certificate", Input))  # at once: keys typed ahead wait for it

    @on(Input.Submitted)
    @on(Button.Pressed, "#replace-ok")
    async def confirm(self) -> None:
        body = {
            "certificate": self.query_one("#certificate", Input).value,
            "verified_until": self.query_one("#until", Input).value.strip(),
        }
        try:
            result = await self.app_.client.call("POST", f"/v1/devices/{self.device['id']}/replace", body)
        except ApiError as exc:
            self.query_one("#replace-msg", Static).update(f"[red]✗ {self.app_.error_text(exc)}[/red]")
            return
        self.dismiss(result)

    @on(Button.Pressed, "#replace-cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)
