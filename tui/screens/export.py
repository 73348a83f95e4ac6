"""Export the journal of a period (R3.19): the daemon writes a signed file the admin hands over."""

from __future__ import annotations

import datetime as dt

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Static

from app.api.client import ApiError
from tui import wallclock
from tui.screens.base import AppMixin

#: the period offered first: the last 30 days, up to and including today
DEFAULT_DAYS = 30


class ExportScreen(AppMixin, ModalScreen[None]):
    BINDINGS = [Binding("escape", "close", show=False)]

    def compose(self) -> ComposeResult:
        today = wallclock.now().date()
        with Vertical(id="export-box"):
            yield Static(id="ex-title")
            yield Input(str(today - dt.timedelta(days=DEFAULT_DAYS)), id="ex-from")
            yield Input(str(today + dt.timedelta(days=1)), id="ex-to")
            yield Button(id="ex-submit", variant="primary")
            yield Static(id="ex-msg")

    def on_mount(self) -> None:
        t = self.app_.t
        self.query_one("#ex-title", Static).update(f"[b]{t('export.title')}[/b]\n{t('export.hint')}")
        self.query_one("#ex-from", Input).tooltip = t("export.from")
        self.query_one("#ex-to", Input).tooltip = t("export.to")
        self.query_one("#ex-submit", Button).label = t("export.submit")
        self.query_one("#ex-from", Input).focus()

    @on(Input.Submitted)
    @on(Button.Pressed, "#ex-submit")
    async def submit(self) -> None:
        msg = self.query_one("#ex-msg", Static)
        period = {k: self.query_one(f"#ex-{k}", Input).value for k in ("from", "to")}
        msg.update(self.app_.t("export.working"))
        try:
            got = await self.app_.client.call("POST", "/v1/journal/export", period)
        except ApiError as exc:
            msg.update(f"[red]✗ {self.app_.error_text(exc)}[/red]")
            return
        msg.update(f"[green]✓ {self.app_.t('export.done', entries=got['entries'], file=got['file'])}[/green]")

    def action_close(self) -> None:
        self.dismiss(None)
