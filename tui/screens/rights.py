"""One person's rights (R10.4, R10.5): every permission with what the role gives and what this
person has; Enter turns the one under the cursor on or off for this person (a grant beyond the role
or a withdrawal of the role's), D sets it back to the role's. The daemon checks, refuses (no one
changes their own rights) and journals each change; this screen holds no rule."""

from __future__ import annotations

from typing import Any

from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Static

from app.api.client import ApiError
from tui.screens.base import RowsScreen


class RightsScreen(RowsScreen, Screen[None]):
    #: personal data on it: left with no key pressed, it locks (R11, ``app.lock_if_idle``)
    PERSONAL = True
    PREFIX = "r"
    DETAIL = True

    BINDINGS = [
        Binding("escape", "back", show=False),
        Binding("enter", "toggle", show=False, priority=True),
        Binding("d", "set('default')", show=False),
    ]

    def __init__(self, who: dict[str, Any]) -> None:
        super().__init__()
        self.who = who
        self.permissions: list[dict[str, Any]] = []

    def refresh_texts(self) -> None:
        t = self.app_.t
        title = t("rights.title", name=self.who["username"], role=t(f"role.{self.who['role']}"))
        self.query_one("#r-title", Static).update(f"[b]{title}[/b]")
        keys = [("Enter", "rights.toggle"), ("D", "rights.default"), ("Esc", "keys.back")]
        self.query_one("#keys", Static).update(self.keybar(keys))
        if self.permissions:
            self._fill()

    async def load(self) -> None:
        try:
            self.permissions = list((await self.app_.client.call("GET", "/v1/permissions"))["permissions"])
            users = await self.app_.client.call("GET", "/v1/users")
        except ApiError as exc:
            self.say(self.app_.error_text(exc), error=True)
            return
        self.who = next((u for u in users if u["username"] == self.who["username"]), self.who)
        self._fill()

    def _state(self, perm: dict[str, Any]) -> tuple[bool, bool, str]:
        """(the role gives it, the person has it, how: role / granted / withdrawn / no)."""
        in_role = self.who["role"] in perm["roles"]
        own = (self.who.get("rights") or {}).get(perm["name"])
        has = perm["name"] in self.who.get("permissions", [])
        how = "granted" if own is True else "withdrawn" if own is False else "role" if in_role else "no"
        return in_role, has, how

    def _fill(self) -> None:
        t = self.app_.t
        table = self.query_one(DataTable)
        row = table.cursor_row
        table.clear(columns=True)
        table.add_columns(*(t(f"rights.col_{c}") for c in ("permission", "role", "person")))
        for perm in self.permissions:
            in_role, has, how = self._state(perm)
            mark = "✓" if has else "✗"
            table.add_row(
                t(f"permission.{perm['name']}"),
                "✓" if in_role else "—",
                f"{mark} {t(f'rights.{how}')}",
            )
        table.move_cursor(row=min(row, max(0, len(self.permissions) - 1)))
        table.focus()
        self._detail()

    def _detail(self) -> None:
        perm = self.selected()
        text = self.app_.t(f"rights.kind_{perm['kind']}") if perm else ""
        self.query_one("#r-detail", Static).update(text)

    def on_data_table_row_highlighted(self, _: DataTable.RowHighlighted) -> None:
        if self.permissions:
            self._detail()

    def selected(self) -> dict[str, Any] | None:
        row = self.query_one(DataTable).cursor_row
        return self.permissions[row] if 0 <= row < len(self.permissions) else None

    async def action_toggle(self) -> None:
        """On for this person if off, off if on: a grant or a withdrawal, or back to the role's."""
        perm = self.selected()
        if perm is None:
            return
        in_role, has, how = self._state(perm)
        if how in ("granted", "withdrawn"):
            state = "default"
        else:
            state = "withdraw" if has and in_role else "grant"
        await self.action_set(state)

    async def action_set(self, state: str) -> None:
        perm = self.selected()
        if perm is None:
            return
        t = self.app_.t
        try:
            await self.app_.client.call(
                "POST",
                f"/v1/users/{self.who['username']}/rights",
                {"permission": perm["name"], "state": state},
            )
        except ApiError as exc:
            self.say(self.app_.error_text(exc), error=True)
            return
        await self.load()
        label = t(f"permission.{perm['name']}")
        self.say(t(f"rights.done_{state}", name=self.who["username"], permission=label))

    def action_back(self) -> None:
        self.app_.pop_screen()
