"""The administrator's accounts screen (R3.17, R10.3–R10.5, D5): every user with role, state and
password expiry, most urgent first; A adds one, P sets a temporary password (changed at the next
log-in), L locks or unlocks, R changes the role, K binds the employee's NCA key by IIN, G opens the
person's own rights (``rights.py``; a role marked * has some). Each change is the daemon's to check
and journal; its refusal is said here in the admin's language."""

from __future__ import annotations

from typing import Any

from rich.markup import escape
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen, Screen
from textual.widgets import DataTable, Input, Select, Static

from app.api.client import ApiError
from tui.screens.base import ENTER_MOVES_ON, AppMixin, FormFields, RowsScreen

ROLES = ("operator", "technician", "admin")


class UsersScreen(RowsScreen, Screen[None]):
    #: personal data on it: left with no key pressed, it locks (R11, ``app.lock_if_idle``)
    PERSONAL = True
    PREFIX = "u"

    BINDINGS = [
        Binding("escape", "back", show=False),
        Binding("a", "form('add')", show=False),
        Binding("p", "form('password')", show=False),
        Binding("r", "form('role')", show=False),
        Binding("k", "form('iin')", show=False),
        Binding("l", "lock", show=False),
        Binding("g", "rights", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.users: list[dict[str, Any]] = []

    def refresh_texts(self) -> None:
        t = self.app_.t
        self.query_one("#u-title", Static).update(f"[b]{t('users.title')}[/b]")
        keys = [("A", "users.add"), ("P", "users.password"), ("L", "users.lock"), ("R", "users.role")]
        keys += [("K", "users.iin"), ("G", "users.rights"), ("Esc", "keys.back")]
        self.query_one("#keys", Static).update(self.keybar(keys))
        if self.users:
            self._fill()

    async def load(self) -> None:
        try:
            self.users = list(await self.app_.client.call("GET", "/v1/users"))
        except ApiError as exc:
            self.say(self.app_.error_text(exc), error=True)
            return
        self._fill()

    def _fill(self) -> None:
        t = self.app_.t
        table = self.query_one(DataTable)
        row = table.cursor_row
        table.clear(columns=True)
        table.add_columns(*(t(f"users.col_{c}") for c in ("name", "full_name", "role", "state", "password")))
        for u in self.users:
            state = "locked" if u["disabled"] else "locked_out" if u["locked"] else "active"
            left = int(u["password_days_left"])
            password = t("users.must_change") if left < 0 else t("users.days_left", days=left)
            table.add_row(
                u["username"],
                u.get("full_name") or "—",
                t(f"role.{u['role']}") + (" *" if u.get("rights") else ""),
                t(f"users.{state}"),
                password,
            )
        table.move_cursor(row=min(row, max(0, len(self.users) - 1)))
        table.focus()

    def selected(self) -> dict[str, Any] | None:
        row = self.query_one(DataTable).cursor_row
        return self.users[row] if 0 <= row < len(self.users) else None

    def action_form(self, kind: str) -> None:
        who = self.selected()
        if kind != "add" and who is None:
            return
        self.app_.push_screen(UserFormScreen(kind, who), self._done)

    def action_rights(self) -> None:
        """G: the person's own rights beside the role's (R10.4, R10.5)."""
        from tui.screens.rights import RightsScreen

        who = self.selected()
        if who is not None:
            self.app_.push_screen(RightsScreen(who), lambda _: self.run_worker(self.load()))

    async def _done(self, said: str | None) -> None:
        if said:
            self.say(said)
            await self.load()

    async def action_lock(self) -> None:
        """L: lock (ends the user's sessions at once) or unlock (also clears a lock-out)."""
        who = self.selected()
        if who is None:
            return
        unlock = who["disabled"] or who["locked"]
        try:
            await self.app_.client.call(
                "POST", f"/v1/users/{who['username']}/{'unlock' if unlock else 'lock'}"
            )
        except ApiError as exc:
            self.say(self.app_.error_text(exc), error=True)
            return
        self.say(self.app_.t("users.unlocked" if unlock else "users.locked_now", name=who["username"]))
        await self.load()

    def action_back(self) -> None:
        self.app_.pop_screen()


class UserFormScreen(FormFields, AppMixin, ModalScreen[str | None]):
    """One change to one account: add, a temporary password, the role, or the NCA key's IIN."""

    BINDINGS = [Binding("escape", "cancel", show=False), ENTER_MOVES_ON]

    def __init__(self, kind: str, who: dict[str, Any] | None) -> None:
        super().__init__()
        self.kind = kind
        self.who = who or {}

    def compose(self) -> ComposeResult:
        t, name = self.app_.t, escape(str(self.who.get("username", "")))
        with Vertical(id="new-box"):
            yield Static(f"[b]{t(f'users.form_{self.kind}', name=name)}[/b]")
            yield Static(id="f-msg")  # under the title: a refusal is seen at 80×24 in every language
            if self.kind == "add":
                yield Input(id="f-name", placeholder=t("users.col_name"), max_length=32)
                yield Input(id="f-full", placeholder=t("users.col_full_name"), max_length=100)
            if self.kind in ("add", "role"):
                options = [(t(f"role.{r}"), r) for r in ROLES]
                yield Select(options, id="f-role", value=self.who.get("role", "operator"), allow_blank=False)
            if self.kind in ("add", "password"):
                yield Input(id="f-pw", placeholder=t("users.temporary"), password=True, max_length=256)
                yield Input(id="f-pw2", placeholder=t("users.repeat"), password=True, max_length=256)
                yield Static(t("users.temporary_hint"))
            if self.kind == "iin":
                yield Input(id="f-iin", placeholder=t("users.iin_placeholder"), max_length=12)
            yield Static(t("users.form_keys"))

    def on_mount(self) -> None:
        first = self.query("Input")
        self.set_focus(first.first() if first else self.query_one(Select))  # at once (keys typed ahead)

    def _value(self, sel: str) -> str:
        return self.query_one(sel, Input).value.strip() if self.query(sel) else ""

    @on(Input.Submitted)  # the last field's Enter (FormFields moves the others' on)
    async def send(self) -> None:
        t = self.app_.t
        name = self._value("#f-name") if self.kind == "add" else str(self.who.get("username", ""))
        if self.kind in ("add", "password"):
            pw = self.query_one("#f-pw", Input).value
            if pw != self.query_one("#f-pw2", Input).value:
                self._error(t("users.mismatch"))
                return
        role = str(self.query_one("#f-role", Select).value) if self.query("#f-role") else ""
        if self.kind == "add":
            path, body = "/v1/users", {"username": name, "role": role, "password": pw}
            body["full_name"] = self._value("#f-full")
        elif self.kind == "password":
            path, body = f"/v1/users/{name}/password", {"password": pw}
        elif self.kind == "role":
            path, body = f"/v1/users/{name}/role", {"role": role}
        else:
            path, body = f"/v1/users/{name}/eds", {"iin": self._value("#f-iin")}
        try:
            await self.app_.client.call("POST", path, body)
        except ApiError as exc:
            self._error(self.app_.error_text(exc))
            return
        self.dismiss(t(f"users.done_{self.kind}", name=name, role=t(f"role.{role}") if role else ""))

    def _error(self, text: str) -> None:
        self.query_one("#f-msg", Static).update(f"[red]✗ {escape(text)}[/red]")

    def action_cancel(self) -> None:
        self.dismiss(None)
