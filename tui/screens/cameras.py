"""The lane's cameras (R3.7, R3.16, D2): each camera's state, the identity it reports beside the one
registered, frames per second, size, the age of its last frame. The administrator registers the
camera now on the line — its identity is read from the hardware and shown for confirmation (A, then
A again); the daemon journals it. Other roles see the list; the daemon refuses them the act."""

from __future__ import annotations

from typing import Any

from rich.markup import escape
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Static

from app.api.client import ApiError
from tui.screens.base import AppMixin
from tui.widgets.halfblock import halfblock
from tui.widgets.lane.stands import camera_facts


class CamerasScreen(AppMixin, Screen[None]):
    BINDINGS = [
        Binding("escape", "back", show=False),
        Binding("f11", "back", show=False),
        Binding("a", "register", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[dict[str, Any]] = []
        self._confirm = ""  # the camera whose registration waits for the second A

    def compose(self) -> ComposeResult:
        yield Static(id="c-title")
        yield DataTable(id="c-table", zebra_stripes=True, cursor_type="row")
        yield Static(id="c-detail")
        yield Static(id="c-pic")
        yield Static(id="c-msg")
        yield Static(id="keys")

    async def on_mount(self) -> None:
        t = self.app_.t
        self.query_one("#c-title", Static).update(f"[b]{t('cameras.title')}[/b]")
        keys = [("Esc", "keys.back")]
        if self.app_.client.role == "admin":
            keys.append(("A", "keys.register"))
        self.query_one("#keys", Static).update(self.keybar([*keys, ("F10", "keys.lang")]))
        table = self.query_one(DataTable)
        table.add_columns(*(t(f"cameras.{c}") for c in ("id", "kind", "state", "serial_col")))
        await self.load()
        self.set_interval(2.0, self.load)
        table.focus()

    async def _picture(self) -> None:
        """A live look at the highlighted camera in half blocks (where the terminal has room)."""
        c = self._selected()
        pic = self.query_one("#c-pic", Static)
        rows = self.size.height - 4 - len(self.rows) - 6  # what the table, detail and bars leave
        if c is None or rows < 4 or not c["admitted"]:
            pic.update("")
            return
        h = min(24, rows * 2)
        w = min(self.size.width - 2, h * 16 // 9)  # two pixels a cell, one over the other: square
        try:
            got = await self.app_.client.call("GET", f"/v1/cameras/{c['id']}/preview?w={w}&h={h}")
        except ApiError:
            pic.update("")
            return
        pic.update(halfblock(got["width"], got["height"], got["rgb"]))

    async def load(self) -> None:
        t = self.app_.t
        try:
            self.rows = (await self.app_.client.call("GET", "/v1/cameras"))["cameras"]
        except ApiError as exc:
            self.say(self.app_.error_text(exc), error=True)
            return
        table = self.query_one(DataTable)
        row = table.cursor_row
        table.clear()
        for c in self.rows:
            ident = c.get("identity") or {}
            if c["status"] in ("connected", "stale") and not c["admitted"]:
                state = "✗ " + t("dev.not_admitted")
            else:
                state = ("● " if c["status"] == "connected" else "○ ") + t(f"dev.{c['status']}")
            # the two serials whole, one under the other, are in the detail below: here whether they match
            reported, registered = ident.get("serial"), c["registered"]["serial"]
            match = t("cameras.same") if reported == registered else t("cameras.other")
            match = match if reported else "—"
            table.add_row(c["id"], c["kind"].upper(), state, match)
        if self.rows:
            table.move_cursor(row=min(row, len(self.rows) - 1))
        self.show_detail()
        self.run_worker(self._picture(), group="picture", exclusive=True)

    def on_data_table_row_highlighted(self, _: DataTable.RowHighlighted) -> None:
        self._confirm = ""
        self.show_detail()

    def _selected(self) -> dict[str, Any] | None:
        table = self.query_one(DataTable)
        return self.rows[table.cursor_row] if self.rows and table.cursor_row < len(self.rows) else None

    def show_detail(self) -> None:
        t = self.app_.t
        c = self._selected()
        if c is None:
            self.query_one("#c-detail", Static).update(t("cameras.none"))
            return
        ident = c.get("identity") or {}
        lines = [
            t(
                "cameras.url",
                url=escape(c["url"]),
                roles=", ".join(self.app_.t_or(f"camera_role.{r}", r) for r in c["roles"]),
            ),
            t(
                "cameras.identity",
                make=escape(ident.get("make", "—")),
                model=escape(ident.get("model", "—")),
                serial=escape(ident.get("serial", "—")),
                firmware=escape(ident.get("firmware", "—")),
            ),
        ]
        lines.append(t("cameras.registered_line", serial=escape(c["registered"]["serial"] or "—")))
        if c["status"] in ("connected", "stale"):
            lines.append(camera_facts(t, c))
        elif c.get("reason"):
            lines.append(
                f"[yellow]{escape(self.app_.reason_text(c.get('reason_why'), c['reason']))}[/yellow]"
            )
        if not c["admitted"] and c.get("why", {}).get("code"):
            lines.append(f"[red]{escape(self.app_.reason_text(c['why'], ''))}[/red]")
        self.query_one("#c-detail", Static).update("\n".join(lines))

    def say(self, text: str, error: bool = False) -> None:
        self.query_one("#c-msg", Static).update(f"[red]✗ {escape(text)}[/red]" if error else escape(text))

    async def action_register(self) -> None:
        """A once shows what will be registered; A again registers it (a journalled admin act)."""
        c = self._selected()
        if c is None:
            return
        ident = c.get("identity") or {}
        if self._confirm != c["id"]:
            self._confirm = c["id"]
            self.say(
                self.app_.t(
                    "cameras.confirm",
                    camera=c["id"],
                    make=ident.get("make", "—"),
                    model=ident.get("model", "—"),
                    serial=ident.get("serial", "—"),
                )
            )
            return
        self._confirm = ""
        try:
            got = await self.app_.client.call("POST", f"/v1/cameras/{c['id']}/register")
        except ApiError as exc:
            self.say(self.app_.error_text(exc), error=True)
            return
        self.say(self.app_.t("cameras.registered", camera=got["id"], serial=got["registered"]["serial"]))
        await self.load()

    def action_back(self) -> None:
        self.app_.pop_screen()
