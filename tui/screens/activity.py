"""The users' activity (R11, R10.6; Order 532 p. 10(6), 10(11)): per person and day, what they did
to data — log-ins and failed ones, inspections, cards formed, read, issued and copied, exports,
refusals — and the leak-prevention alerts about them; under the table, the places they worked from
and the selected person's alerts. ←/→ a day back or on, W a week or one day, U only the selected
person or everyone, X exports the period shown (the daemon checks the permission and journals it)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from rich.markup import escape
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Static

from app.api.client import ApiError
from tui.screens.base import RowsScreen
from tui.wallclock import LANE_TIME, lane_today

#: the table's count columns: (catalog key, the kinds it adds up)
COLUMNS = (
    ("alerts", ("alert",)),  # first: at 80 columns the last ones scroll off
    ("login", ("login",)),
    ("failed", ("login_failed",)),
    ("inspections", ("inspection",)),
    ("cards", ("formed",)),
    ("read", ("viewed",)),
    ("issued", ("issued", "copied")),
    ("copies", ("copied",)),
    ("exports", ("exported",)),
    ("denied", ("denied",)),
)


class ActivityScreen(RowsScreen, Screen[None]):
    #: personal data on it: left with no key pressed, it locks (R11, ``app.lock_if_idle``)
    PERSONAL = True
    PREFIX = "a"
    DETAIL = True

    BINDINGS = [
        Binding("escape", "back", show=False),
        Binding("left", "day(-1)", show=False),
        Binding("right", "day(1)", show=False),
        Binding("w", "week", show=False),
        Binding("u", "person", show=False),
        Binding("x", "export", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.day = lane_today()
        self.days = 1
        self.user = ""
        self.data: dict[str, Any] = {}

    def refresh_texts(self) -> None:
        t = self.app_.t
        first = self.day - dt.timedelta(days=self.days - 1)
        period = self.day.isoformat() if self.days == 1 else f"{first.isoformat()} — {self.day.isoformat()}"
        who = t("activity.everyone") if not self.user else self.user
        self.query_one("#a-title", Static).update(f"[b]{t('activity.title')}[/b]  {period} · {escape(who)}")
        keys = [("←→", "activity.day"), ("W", "activity.week"), ("U", "activity.person")]
        keys += [("X", "activity.export"), ("Esc", "keys.back")]
        self.query_one("#keys", Static).update(self.keybar(keys))
        if self.data:
            self._fill()

    async def load(self) -> None:
        query = f"/v1/activity?day={self.day.isoformat()}&days={self.days}"
        if self.user:
            query += f"&user={self.user}"
        try:
            self.data = await self.app_.client.call("GET", query)
        except ApiError as exc:
            self.say(self.app_.error_text(exc), error=True)
            return
        self.refresh_texts()

    def _fill(self) -> None:
        t = self.app_.t
        table = self.query_one(DataTable)
        row = table.cursor_row
        table.clear(columns=True)
        table.add_columns(
            t("activity.col_user"), t("activity.col_day"), *(t(f"activity.col_{c}") for c, _ in COLUMNS)
        )
        rows = self.data.get("days", [])
        for r in rows:
            counts = r["counts"]
            figures = [str(sum(counts.get(k, 0) for k in kinds) or "·") for _, kinds in COLUMNS]
            if counts.get("alert"):
                figures[0] = f"[b red]{figures[0]}[/b red]"
            table.add_row(escape(self.app_.who(r["user"])), r["day"][5:], *figures)
        if not rows:
            self.say(t("activity.none"))
        table.move_cursor(row=min(row, max(0, len(rows) - 1)))
        table.focus()
        self._detail()

    def selected(self) -> dict[str, Any] | None:
        rows = self.data.get("days", [])
        row = self.query_one(DataTable).cursor_row
        return rows[row] if 0 <= row < len(rows) else None

    def on_data_table_row_highlighted(self, _: DataTable.RowHighlighted) -> None:
        if self.data:
            self._detail()

    def _detail(self) -> None:
        """Where the selected person worked from that day, and their alerts (newest first)."""
        t, r = self.app_.t, self.selected()
        if r is None:
            self.query_one("#a-detail", Static).update("")
            return
        places = ", ".join(self.app_.where_text(w) for w in r["where"]) or "—"
        lines = [t("activity.where", places=escape(places))]
        for e in self.data.get("entries", []):
            if e["kind"] == "alert" and e["user"] == r["user"] and e["day"] == r["day"]:
                when = dt.datetime.fromtimestamp(float(e["ts"]), LANE_TIME).strftime("%H:%M")
                lines.append(f"[red]⚠ {when} {t('activity.rule_' + e['about'].get('rule', ''))}[/red]")
                if len(lines) >= 4:
                    break
        self.query_one("#a-detail", Static).update("\n".join(lines))

    async def action_day(self, step: int) -> None:
        self.day = min(lane_today(), self.day + dt.timedelta(days=step))
        await self.load()

    async def action_week(self) -> None:
        self.days = 7 if self.days == 1 else 1
        await self.load()

    async def action_person(self) -> None:
        r = self.selected()
        self.user = "" if self.user or r is None else r["user"]
        await self.load()

    async def action_export(self) -> None:
        """X: the period shown as a CSV file in the lane's exports folder (journalled)."""
        first = self.day - dt.timedelta(days=self.days - 1)
        body = {"from": first.isoformat(), "to": self.day.isoformat()}
        try:
            made = await self.app_.client.call("POST", "/v1/activity/export", body)
        except ApiError as exc:
            self.say(self.app_.error_text(exc), error=True)
            return
        self.say(self.app_.t("activity.exported", file=made["file"], entries=made["entries"]))

    def action_back(self) -> None:
        self.app_.pop_screen()
