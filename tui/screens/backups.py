"""The lane's backups for the administrator (R3.11, R3.12, issue #24): the alarm first (none made,
the last failed, or the last good one too old), the last good backup and the last failure with its
reason, the recent backups, and B to make one now with its progress. A restore is done with the
daemon stopped, from the command line: the screen says the command. Asked once a second while open."""

from __future__ import annotations

import datetime as dt

from rich.markup import escape
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import ProgressBar, Static

from tui.screens.base import PolledStatus


def _when(ts: float | None) -> str:
    return dt.datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M") if ts else "—"


def _size(n: object) -> str:
    mb = int(n or 0) / 1e6  # type: ignore[call-overload]
    return f"{mb:.1f} MB" if mb < 1000 else f"{mb / 1000:.1f} GB"


class BackupsScreen(PolledStatus, Screen[None]):
    STATUS, MESSAGE = "/v1/backup", "#b-message"
    BINDINGS = [
        Binding("escape", "back", show=False),
        Binding("b", "start", show=False),
    ]

    def compose(self) -> ComposeResult:
        yield Static(id="b-title")
        yield Static(id="b-alarm")
        yield Static(id="b-last")
        bar = ProgressBar(id="b-bar", show_eta=False, show_percentage=True)
        bar.display = False  # only for a backup under way
        yield bar
        yield Static(id="b-list")
        yield Static(id="b-restore")
        yield Static(id="b-message")
        yield Static(id="keys")

    def refresh_texts(self) -> None:
        t = self.app_.t
        self.query_one("#b-title", Static).update(f"[b]{t('backup.title')}[/b]")
        self.query_one("#b-restore", Static).update(f"[dim]{t('backup.restore_hint')}[/dim]")
        self.query_one("#keys", Static).update(self.keybar([("B", "keys.backup_now"), ("Esc", "keys.back")]))
        self.show()

    def show(self) -> None:
        if not self.is_mounted or not self.status:
            return  # an answer for a screen already closed, or none yet
        t, st = self.app_.t, self.status
        code = st.get("alarm")
        alarm = t(f"backup.alarm_{code}", hours=st.get("alarm_after_hours", 0)) if code else ""
        self.query_one("#b-alarm", Static).update(f"[b red]⚠ {alarm}[/b red]" if code else "")
        last = [t("backup.where", where=escape(str(st.get("repository") or "—")))]
        if st.get("last_ok"):
            last.append(f"[green]✓ {t('backup.last_ok', when=_when(st['last_ok']))}[/green]")
        failed = st.get("last_failed")
        if failed and (not st.get("last_ok") or failed["ts"] > st["last_ok"]):
            last.append(f"[red]✗ {t('backup.last_failed', when=_when(failed['ts']))}[/red]")
            last.append(f"  {escape(failed.get('reason', ''))}")
        self.query_one("#b-last", Static).update("\n".join(last))
        bar = self.query_one("#b-bar", ProgressBar)
        fig = st.get("progress")
        bar.display = bool(st.get("running") and fig)
        rows = []
        if st.get("running") and fig:
            bar.update(total=100, progress=float(fig.get("percent") or 0.0))
            rows.append(t("backup.running", part=t(f"backup.part_{fig.get('phase', 'start')}")))
        rows += [
            t(
                "backup.row" if b.get("last_number") else "backup.row_none",
                when=_when(b["ts"]),
                id=escape(str(b["snapshot"])),
                size=_size(b.get("bytes")),
                number=b.get("last_number") or 0,
            )
            for b in st.get("backups", [])
        ]
        self.query_one("#b-list", Static).update("\n".join(rows) or t("backup.none"))

    async def action_start(self) -> None:
        if await self.ask("POST", "/v1/backup", {}):
            self.say("")
