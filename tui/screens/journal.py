"""The audit journal, newest first (R3.15), for the administrator."""

from __future__ import annotations

import datetime as dt
import json

from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Static

from app.api.client import ApiError
from tui.screens.base import AppMixin


class JournalScreen(AppMixin, Screen[None]):
    BINDINGS = [Binding("escape", "back", show=False), Binding("f9", "back", show=False)]

    def compose(self) -> ComposeResult:
        yield Static(id="j-title")
        yield DataTable(id="j-table", zebra_stripes=True, cursor_type="row")
        yield Static(id="keys")

    async def on_mount(self) -> None:
        self.refresh_texts()
        await self.load()

    def refresh_texts(self) -> None:
        t = self.app_.t
        self.query_one("#j-title", Static).update(f"[b]{t('journal.title')}[/b]")
        self.query_one("#keys", Static).update(self.keybar([("Esc", "keys.back"), ("F10", "keys.lang")]))

    async def load(self) -> None:
        t = self.app_.t
        table = self.query_one(DataTable)
        table.clear(columns=True)
        table.add_columns(t("journal.time"), t("journal.actor"), t("journal.action"), t("journal.details"))
        try:
            rows = await self.app_.client.call("GET", "/v1/journal?limit=300")
        except ApiError as exc:
            self.query_one("#j-title", Static).update(f"[red]✗ {self.app_.error_text(exc)}[/red]")
            return
        for r in rows:
            when = dt.datetime.fromtimestamp(r["ts"]).strftime("%m-%d %H:%M:%S")
            details = json.dumps(r["details"], ensure_ascii=False)[:80]
            table.add_row(when, r["actor"], r["action"], details)
        table.focus()

    def action_back(self) -> None:
        self.app_.pop_screen()
