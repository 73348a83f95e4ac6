"""F2 for the administrator: everything an administrator does day to day, one key each (D5, issue
#23 (7)) — the accounts, the EIS identification key, the journal, the integrity check, the stands and
cameras, the international certificate, the lane's settings, the backups — whose alarm (none made,
the last failed, or too old) is said here, where the administrator looks first, as are today's
leak-prevention alerts —, the users' activity. Each change goes
through the daemon, which checks the role and journals it; the command line stays for scripts."""

from __future__ import annotations

import datetime as dt
from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import Static

from app.api.client import ApiError
from tui.screens.base import AppMixin

#: the menu, in key order: (catalog key of the line, the screen's action)
ITEMS = (
    ("admin.users", "users"),
    ("admin.eis_key", "eis_key"),
    ("admin.journal", "journal"),
    ("admin.integrity", "integrity"),
    ("admin.devices", "devices"),
    ("admin.certificate", "certificate"),
    ("admin.settings", "settings"),
    ("admin.backups", "backups"),
    ("admin.activity", "activity"),
)


class AdminScreen(AppMixin, Screen[None]):
    BINDINGS = [
        Binding("escape", "back", show=False),
        Binding("f2", "back", show=False),
        *(Binding(str(i), f"open({i})", show=False) for i in range(1, len(ITEMS) + 1)),
    ]

    def compose(self) -> ComposeResult:
        with Vertical(id="admin-box"):
            yield Static(id="admin-title")
            yield Static(id="admin-items")
            yield Static(id="admin-msg")
            yield Static(id="admin-program")
        yield Static(id="keys")

    def on_mount(self) -> None:
        self.alarm: dict[str, Any] = {}
        self.program: dict[str, Any] = {}
        self.refresh_texts()
        self.call_after_refresh(self.load_alarm)

    def on_screen_resume(self) -> None:
        """Back from a screen (a backup made there): the alarm as it is now."""
        self.call_after_refresh(self.load_alarm)

    async def load_alarm(self) -> None:
        """R3.11: a failed or missed backup is an alarm on the administrator's screen."""
        try:
            st = await self.app_.client.call("GET", "/v1/backup")
        except ApiError:
            return  # the menu works without it; the backups screen says why
        self.alarm = {"code": st.get("alarm"), "hours": st.get("alarm_after_hours", 0)}
        try:  # R11: the leak-prevention alerts of today, where the administrator looks first
            today = await self.app_.client.call("GET", "/v1/activity")
            self.alerts = sum(int(r["counts"].get("alert", 0)) for r in today.get("days", []))
        except ApiError:
            self.alerts = 0
        try:  # R3.14, R10.8: the release in use and the last update's outcome
            self.program = await self.app_.client.call("GET", "/v1/release")
        except ApiError:
            self.program = {}
        self.refresh_texts()

    def refresh_texts(self) -> None:
        t = self.app_.t
        self.query_one("#admin-title", Static).update(f"[b]{t('admin.title')}[/b]")
        lines = [f"[b reverse] {i} [/b reverse] {t(label)}" for i, (label, _) in enumerate(ITEMS, 1)]
        self.query_one("#admin-items", Static).update("\n".join(lines))
        code = getattr(self, "alarm", {}).get("code")
        alarm = t(f"backup.alarm_{code}", hours=self.alarm.get("hours", 0)) if code else ""
        alarms = [alarm] if code else []
        if getattr(self, "alerts", 0):
            alarms.append(
                t("admin.alerts", count=self.alerts, key=ITEMS.index(("admin.activity", "activity")) + 1)
            )
        self.query_one("#admin-msg", Static).update("\n".join(f"[b red]⚠ {a}[/b red]" for a in alarms))
        self.query_one("#admin-program", Static).update(self.program_text())
        self.query_one("#keys", Static).update(self.keybar([("Esc", "keys.back"), ("F10", "keys.lang")]))

    def program_text(self) -> str:
        t, pr = self.app_.t, getattr(self, "program", {})
        if not pr:
            return ""
        rel = pr.get("release", "")
        line = t("admin.program_dev") if rel == "development" else t("admin.program", release=rel)
        last = pr.get("last") or {}
        if last.get("action") in ("applied", "failed", "refused", "rolled_back"):
            when = dt.datetime.fromtimestamp(float(last.get("at") or 0)).strftime("%d.%m %H:%M")
            said = t(f"admin.update_{last['action']}", old=last.get("old"), new=last.get("new"), when=when)
            bad = last["action"] in ("failed", "refused")
            line += f"; {'[b yellow]' if bad else ''}{said}{'[/b yellow]' if bad else ''}"
        return f"[dim]{line}[/dim]"

    async def action_open(self, n: int) -> None:
        action = ITEMS[n - 1][1]
        if action == "users":
            from tui.screens.users import UsersScreen

            self.app_.push_screen(UsersScreen())
        elif action == "eis_key":
            from tui.screens.eis_key import EisKeyScreen

            self.app_.push_screen(EisKeyScreen())
        elif action == "journal":
            from tui.screens.journal import JournalScreen

            self.app_.push_screen(JournalScreen())
        elif action == "integrity":
            from tui.screens.integrity import IntegrityScreen

            self.app_.push_screen(IntegrityScreen())
        elif action == "backups":
            from tui.screens.backups import BackupsScreen

            self.app_.push_screen(BackupsScreen())
        elif action == "activity":
            from tui.screens.activity import ActivityScreen

            self.app_.push_screen(ActivityScreen())
        elif action == "settings":
            from tui.screens.settings import SettingsScreen

            self.app_.push_screen(SettingsScreen())
        elif action == "devices":  # the stands' frames; A there registers one, F11 the cameras
            from tui.screens.frames import FramesScreen

            devices = self.app_.state.get("devices", [])
            if devices:
                self.app_.push_screen(FramesScreen(devices[0]["id"]))
        else:  # the certificate of the last card: said on the lane screen, where the card is
            self.app_.pop_screen()
            lane = self.app_.screen
            if hasattr(lane, "action_certificate"):
                await lane.action_certificate()

    def action_back(self) -> None:
        self.app_.pop_screen()
