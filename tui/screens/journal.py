"""The audit journal, newest first (R3.15); E: every exchange with EIS (G2); X: export a period,
signed (R3.19). For the administrator."""

from __future__ import annotations

import datetime as dt
import json

from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Static

from app.api.client import ApiError
from tui.screens.base import AppMixin
from tui.screens.export import ExportScreen

#: details whose value is one of the lane's words (said from ``detail_value``), not a name
WORD_VALUES = frozenset(
    {"role", "old_role", "method", "mode", "kind", "reason", "outcome", "status", "verdict", "applies"}
)


def _plain(value: object) -> str:
    """A detail's value without JSON's quotes and braces (a list as its items, yes/no as marks)."""
    if isinstance(value, bool):
        return "✓" if value else "✗"
    if isinstance(value, list | tuple):
        return ",".join(_plain(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def clipped(text: str, width: int) -> str:
    """At most ``width`` characters, cut between words with "…" (never half a name)."""
    if len(text) <= width:
        return text
    cut = text[: width - 1]
    space = cut.rfind(" ")
    return (cut[:space] if space > width // 2 else cut).rstrip(" ;") + "…"


#: the EIS view's filters, on keys 0…5: (the label's catalog key, the kinds asked); 0 folds the polls
FILTERS: tuple[tuple[str, str], ...] = (
    ("exchange.filter.all", ""),
    ("exchange.filter.cards", "card"),
    ("exchange.filter.events", "events"),
    ("exchange.filter.photos", "photo"),
    ("exchange.filter.checkpoints", "checkpoint"),
    ("exchange.filter.polls", "requests"),
)


class JournalScreen(AppMixin, Screen[None]):
    #: personal data on it: left with no key pressed, it locks (R11, ``app.lock_if_idle``)
    PERSONAL = True
    BINDINGS = [
        Binding("escape", "back", show=False),
        Binding("f9", "back", show=False),
        Binding("e", "toggle", show=False),
        Binding("x", "export", show=False),
        Binding("i", "integrity", show=False),
        *(Binding(str(i), f"only({i})", show=False) for i in range(len(FILTERS))),
    ]
    view = "journal"  # or "eis"
    only = 0  # the EIS view's filter: an index of FILTERS

    def compose(self) -> ComposeResult:
        yield Static(id="j-title")
        yield DataTable(id="j-table", zebra_stripes=True, cursor_type="row")
        yield Static(id="keys")

    async def on_mount(self) -> None:
        self.refresh_texts()
        await self.load()

    def refresh_texts(self) -> None:
        t = self.app_.t
        title = f"[b]{t('journal.eis_title') if self.view == 'eis' else t('journal.title')}[/b]"
        if self.view == "eis":  # which messages are shown, and the keys for the others
            title += "  " + " ".join(
                f"[b reverse]{i} {t(label)}[/b reverse]" if i == self.only else f"[b]{i}[/b] {t(label)}"
                for i, (label, _) in enumerate(FILTERS)
            )
        self.query_one("#j-title", Static).update(title)
        other = "keys.journal" if self.view == "eis" else "keys.eis_exchanges"
        self.query_one("#keys", Static).update(
            self.keybar(
                [
                    ("Esc", "keys.back"),
                    ("E", other),
                    ("X", "keys.export"),
                    ("I", "keys.integrity"),
                    ("F10", "keys.lang"),
                ]
            )
        )

    async def action_only(self, index: int) -> None:
        if self.view != "eis" or index == self.only:
            return
        self.only = index
        self.refresh_texts()
        await self.load()

    async def action_toggle(self) -> None:
        self.view = "journal" if self.view == "eis" else "eis"
        self.refresh_texts()
        await self.load()

    async def load(self) -> None:
        t = self.app_.t
        table = self.query_one(DataTable)
        table.clear(columns=True)
        eis = self.view == "eis"
        if eis:
            names = ("time", "kind", "card", "attempt", "status", "outcome", "ms", "error")
        else:
            names = ("time", "actor", "action", "details")
        table.add_columns(*(t(f"journal.{n}") for n in names))
        kinds = FILTERS[self.only][1]
        query = f"kind={kinds}" if kinds else "fold=1"
        try:
            rows = await self.app_.client.call(
                "GET", f"/v1/eis/exchanges?limit=300&{query}" if eis else "/v1/journal?limit=300"
            )
        except ApiError as exc:
            self.query_one("#j-title", Static).update(f"[red]✗ {self.app_.error_text(exc)}[/red]")
            return
        lines: list[tuple[str, str, str, str]] = []
        for r in rows:
            when = dt.datetime.fromtimestamp(r["ts"]).strftime("%d.%m %H:%M:%S")
            if eis:
                status = str(r["http_status"] or "—")
                kind = t(f"exchange.kind.{r['kind']}")
                if r.get("count", 1) > 1:  # polls alike, folded: how many, from when to when
                    since = dt.datetime.fromtimestamp(r["first_ts"]).strftime("%H:%M:%S")
                    when = f"{since}–{when[-8:]}"
                    kind = f"{kind} ×{r['count']}"
                number = r.get("card_number")
                cells = (
                    kind,
                    f"№{number}" if number is not None else "—",
                    str(r["attempt"]),
                    status,
                    t(f"exchange.outcome.{r['outcome']}"),
                    f"{r['duration_ms']:.0f}",
                    r["error"][:60],
                )
                table.add_row(when, *cells)
            else:
                details = "; ".join(self.detail(k, v) for k, v in r["details"].items())
                action = self.app_.t_or(f"action.{r['action']}", r["action"])  # one not listed: as it is
                lines.append((when, self.app_.who(r["actor"]), action, details))
        if lines:
            # the details take what the screen has left, cut between words: never half a name
            used = sum(max(len(line[i]) for line in lines) + 2 for i in range(3))
            room = max(24, self.app_.size.width - used - 3)
            for when, actor, action, details in lines:
                table.add_row(when, actor, action, clipped(details, room))
        table.focus()

    def detail(self, key: str, value: object) -> str:
        """One detail in the admin's words: its name from the catalog, a value that is one of the
        lane's own words (a role, a mode, a method …) too; names, numbers and paths as they are."""
        t_or = self.app_.t_or
        shown = _plain(value)
        if key in WORD_VALUES and isinstance(value, str):
            shown = t_or(f"detail_value.{value}", value)
        elif key == "where" and isinstance(value, dict):  # R11: where the act came from, in words
            shown = self.app_.where_text(value)
        elif key == "rule" and isinstance(value, str):  # a leak-prevention rule, in words
            shown = t_or(f"activity.rule_{value}", value)
        elif key == "act" and isinstance(value, str):  # what fired it: an action, in words
            shown = t_or(f"action.{value}", value)
        elif key == "setting" and isinstance(value, str):
            shown = t_or(f"setting.{value}", value)
        return f"{t_or(f'detail.{key}', key)}={shown}"

    def action_integrity(self) -> None:
        from tui.screens.integrity import IntegrityScreen

        self.app_.push_screen(IntegrityScreen())

    def action_export(self) -> None:
        self.app_.push_screen(ExportScreen())

    def action_back(self) -> None:
        self.app_.pop_screen()
