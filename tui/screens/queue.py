"""Each card's state with EIS, newest first (D4): the operator sees what left and what waits, and why,
without waiting on the network. Refreshed every two seconds while open."""

from __future__ import annotations

from rich.markup import escape
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Static

from app.api.client import ApiError
from tui.screens.base import AppMixin

#: the states with their symbols: symbols carry the meaning, colours only help
SYMBOLS = {"accepted": "✓", "pending": "…", "rejected": "✗", "refused": "⊘"}


class QueueScreen(AppMixin, Screen[None]):
    #: personal data on it: left with no key pressed, it locks (R11, ``app.lock_if_idle``)
    PERSONAL = True
    BINDINGS = [Binding("escape", "back", show=False), Binding("f3", "back", show=False)]

    def compose(self) -> ComposeResult:
        yield Static(id="q-title")
        yield DataTable(id="q-table", zebra_stripes=True, cursor_type="row")
        yield Static(id="q-reason")
        yield Static(id="keys")

    async def on_mount(self) -> None:
        t = self.app_.t
        self.query_one("#q-title", Static).update(f"[b]{t('queue.title')}[/b]")
        self.query_one("#keys", Static).update(self.keybar([("Esc", "keys.back"), ("F10", "keys.lang")]))
        table = self.query_one(DataTable)
        columns = ("number", "plate", "verdict", "eis", "attempts", "note")
        table.add_columns(*(t(f"queue.{c}") for c in columns))
        await self.load()
        self.set_interval(2.0, self.load)
        table.focus()

    async def load(self) -> None:
        t = self.app_.t
        try:
            self.rows = await self.app_.client.call("GET", "/v1/eis/outbox?limit=100")
        except ApiError as exc:
            self.query_one("#q-reason", Static).update(f"[red]✗ {self.app_.error_text(exc)}[/red]")
            return
        table = self.query_one(DataTable)
        row = table.cursor_row
        table.clear()
        for r in self.rows:
            state = f"{SYMBOLS.get(r['status'], '?')} {t('eis.' + r['status'])}"
            note = r["receipt"] if r["status"] == "accepted" else r["error"]
            table.add_row(
                f"№{r['number']}" if r["number"] else "—",
                r["plate"],
                t(f"verdict.{r['verdict']}") if r["verdict"] else "",
                state,
                str(r["attempts"]),
                note[:40],
            )
        if self.rows:
            table.move_cursor(row=min(row, len(self.rows) - 1))
        self.show_reason()

    def on_data_table_row_highlighted(self, _: DataTable.RowHighlighted) -> None:
        self.show_reason()

    def show_reason(self) -> None:
        """The highlighted card's whole reason or receipt, under the table (it may be long)."""
        table = self.query_one(DataTable)
        rows = getattr(self, "rows", [])
        if not rows or table.cursor_row >= len(rows):
            self.query_one("#q-reason", Static).update(self.app_.t("queue.empty") if not rows else "")
            return
        r = rows[table.cursor_row]
        text = r["receipt"] if r["status"] == "accepted" else r["error"]
        self.query_one("#q-reason", Static).update(escape(text) if text else "")

    def action_back(self) -> None:
        self.app_.pop_screen()
