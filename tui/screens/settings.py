"""The lane's settings for the administrator (D5, issue #23 (7)): the printer, the EIS address and
route, how often EIS is asked, the password and log-in rules, the lane's position — each with its
value, and whether it is the file's or was changed here. Enter changes the selected one; the daemon
checks the value, journals the change (``setting_changed``) and applies it at once, or at the lane's
next start (the EIS address and route), which the row says. The stands and cameras are registered
on their own screens (F6, F11): their identity is read from the hardware, never typed."""

from __future__ import annotations

from typing import Any

from rich.markup import escape
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen, Screen
from textual.widgets import DataTable, Input, Static

from app.api.client import ApiError
from tui.screens.base import AppMixin, RowsScreen


def shown(value: Any, t: Any) -> str:
    """A setting's value as the admin reads it: empty as a dash, numbers without a needless '.0'."""
    if value is None or value == "":
        return t("settings.empty")
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def takes(r: dict[str, Any], t: Any) -> str:
    """What a setting takes, and when a change of it applies."""
    if r["kind"] in ("int", "number"):
        what = t(f"settings.takes_{r['kind']}", low=shown(r["low"], t), high=shown(r["high"], t))
    elif r["kind"] == "choice":
        what = t("settings.takes_choice", choices=", ".join(c.upper() for c in r["choices"]))
    else:
        what = t(f"settings.takes_{r['key'].replace('.', '_')}")
    return what + " " + t("settings.applies_now" if r["live"] else "settings.applies_next_start")


class SettingsScreen(RowsScreen, Screen[None]):
    PREFIX, DETAIL = "s", True

    BINDINGS = [
        Binding("escape", "back", show=False),
        Binding("e", "edit", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[dict[str, Any]] = []

    def refresh_texts(self) -> None:
        t = self.app_.t
        self.query_one("#s-title", Static).update(f"[b]{t('settings.title')}[/b]")
        self.query_one("#keys", Static).update(
            self.keybar([("Enter", "settings.change"), ("Esc", "keys.back"), ("F10", "keys.lang")])
        )
        if self.rows:
            self._fill()

    async def load(self) -> None:
        try:
            self.rows = list((await self.app_.client.call("GET", "/v1/settings"))["settings"])
        except ApiError as exc:
            self.say(self.app_.error_text(exc), error=True)
            return
        self._fill()

    def _fill(self) -> None:
        t = self.app_.t
        table = self.query_one(DataTable)
        at = table.cursor_row
        table.clear(columns=True)
        table.add_columns(t("settings.col_name"), t("settings.col_value"), " ")
        for r in self.rows:
            value = shown(r["value"], t)
            mark = "⟳" if r["has_pending"] else "✎" if r["changed"] else ""
            table.add_row(t(f"setting.{r['key']}"), escape(value.upper() if r["choices"] else value), mark)
        if self.rows:
            table.move_cursor(row=min(max(at, 0), len(self.rows) - 1))
            self._detail(table.cursor_row)

    @on(DataTable.RowHighlighted)
    def highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._detail(event.cursor_row)

    def _detail(self, row: int) -> None:
        """Under the table, for the row under the cursor: where its value comes from, what it takes
        and when a change applies (the table's third column only marks it: ✎ changed, ⟳ waiting)."""
        if not 0 <= row < len(self.rows):
            return
        t, r = self.app_.t, self.rows[row]
        if r["has_pending"]:
            state = "⟳ " + t("settings.pending", value=shown(r["pending"], t))
        elif r["changed"]:
            state = "✎ " + t("settings.changed", value=shown(r["file"], t))
        else:
            state = t("settings.as_file")
        self.query_one("#s-detail", Static).update(escape(f"{state}. {takes(r, t)}"))

    @on(DataTable.RowSelected)
    def selected(self) -> None:
        self.action_edit()

    def action_edit(self) -> None:
        table = self.query_one(DataTable)
        if not self.rows or not 0 <= table.cursor_row < len(self.rows):
            return
        self.app_.push_screen(EditSettingScreen(self.rows[table.cursor_row]), self._changed)

    async def _changed(self, row: dict[str, Any] | None) -> None:
        if not row:
            return
        t = self.app_.t
        name = t(f"setting.{row['key']}")
        if row["live"]:
            self.say(t("settings.done_now", name=name, value=shown(row["value"], t)))
        else:
            self.say(t("settings.done_next_start", name=name, value=shown(row["pending"], t)))
        await self.load()

    def action_back(self) -> None:
        self.app_.pop_screen()


class EditSettingScreen(AppMixin, ModalScreen[dict[str, Any] | None]):
    """One setting: its name, what it takes, the value typed; a refusal is said above the field,
    where the eye is."""

    BINDINGS = [Binding("escape", "cancel", show=False)]

    def __init__(self, row: dict[str, Any]) -> None:
        super().__init__()
        self.row = row

    def compose(self) -> ComposeResult:
        t = self.app_.t
        r = self.row
        current = r["pending"] if r["has_pending"] else r["value"]
        name = t(f"setting.{r['key']}")
        with Vertical(id="new-box"):
            yield Static(f"[b]{escape(name)}[/b]")
            yield Static(escape(takes(r, t)), id="s-takes")
            yield Static(id="s-err")
            typed = "" if current in (None, "") else shown(current, t)
            yield Input(id="s-value", value=typed, max_length=300)
            yield Static(t("settings.form_keys"))

    def on_mount(self) -> None:
        self.set_focus(self.query_one("#s-value", Input))  # at once: keys typed ahead wait for it

    @on(Input.Submitted, "#s-value")
    async def send(self) -> None:
        body = {"key": self.row["key"], "value": self.query_one("#s-value", Input).value}
        try:
            row = await self.app_.client.call("POST", "/v1/settings", body)
        except ApiError as exc:
            self.query_one("#s-err", Static).update(f"[red]✗ {escape(self.app_.error_text(exc))}[/red]")
            return
        self.dismiss(row)

    def action_cancel(self) -> None:
        self.dismiss(None)
