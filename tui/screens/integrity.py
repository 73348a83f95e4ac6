"""The integrity check for the administrator (R3.13, issue #20): the last good check and the last
result, a check under way with its progress (rows, rows per second, time left), and the keys to
start a full check or one of what is new, to stop it and to resume it. The daemon runs the check as
a process of its own; this screen asks it once a second while open."""

from __future__ import annotations

import datetime as dt
from typing import Any

from rich.markup import escape
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import ProgressBar, Static

from tui.screens.base import PolledStatus


def _when(ts: float | None) -> str:
    return dt.datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M") if ts else "—"


def _n(value: object) -> str:
    """A count as people read it in kk and ru (and here in en too): groups of three, a space apart."""
    return f"{int(value or 0):,}".replace(",", "\u202f")  # type: ignore[call-overload]


def _left(seconds: int | None) -> str:
    if seconds is None:
        return "—"
    h, rest = divmod(int(seconds), 3600)
    return f"{h}:{rest // 60:02d}:{rest % 60:02d}" if h else f"{rest // 60}:{rest % 60:02d}"


class IntegrityScreen(PolledStatus, Screen[None]):
    STATUS, MESSAGE = "/v1/integrity", "#i-message"
    BINDINGS = [
        Binding("escape", "back", show=False),
        Binding("f", "start('full')", show=False),
        Binding("n", "start('new')", show=False),
        Binding("r", "resume", show=False),
        Binding("s", "stop", show=False),
    ]

    def compose(self) -> ComposeResult:
        yield Static(id="i-title")
        yield Static(id="i-good")
        yield Static(id="i-last")
        bar = ProgressBar(id="i-bar", show_eta=False, show_percentage=True)
        bar.display = False  # only for a check under way: not a bar bouncing before the first answer
        yield bar
        yield Static(id="i-progress")
        yield Static(id="i-problems")
        yield Static(id="i-message")
        yield Static(id="keys")

    def refresh_texts(self) -> None:
        """Every word in the language chosen now (F10 asks every screen of the stack)."""
        t = self.app_.t
        self.query_one("#i-title", Static).update(f"[b]{t('integrity.title')}[/b]")
        keys = [("F", "keys.check_full"), ("N", "keys.check_new"), ("R", "keys.resume"), ("S", "keys.stop")]
        self.query_one("#keys", Static).update(self.keybar([*keys, ("Esc", "keys.back")]))
        self.show()

    def show(self) -> None:
        if not self.is_mounted:
            return  # an answer for a screen already closed
        t, st = self.app_.t, self.status
        good = st.get("last_good")
        self.query_one("#i-good", Static).update(
            t("integrity.last_good", when=_when(good)) if good else t("integrity.never")
        )
        self.query_one("#i-last", Static).update(self._last_text(st.get("last"), st))
        bar = self.query_one("#i-bar", ProgressBar)
        fig = st.get("progress")
        bar.display = bool(st.get("running") and fig)  # a bar only for a check under way
        if st.get("running") and fig:
            bar.update(total=max(int(fig.get("total") or 0), 1), progress=int(fig.get("done") or 0))
            self.query_one("#i-progress", Static).update(
                t(
                    "integrity.running",
                    part=t(f"integrity.part_{fig.get('phase', 'start')}"),
                    mode=t(f"integrity.mode_{fig.get('mode', 'full')}"),
                    done=_n(fig.get("done")),
                    total=_n(fig.get("total")),
                    rate=_n(fig.get("rows_per_s")),
                    left=_left(fig.get("eta_s")),
                )
            )
        else:
            self.query_one("#i-progress", Static).update(
                t("integrity.resumable") if st.get("resumable") else ""
            )

    def _last_text(self, last: dict[str, Any] | None, st: dict[str, Any]) -> str:
        t = self.app_.t
        problems = self.query_one("#i-problems", Static)
        problems.update("")
        note = f"\n[yellow]{t('integrity.position_unused')}[/yellow]" if st.get("position_unused") else ""
        if not last:
            return t("integrity.no_result") + note
        mode = t(f"integrity.mode_{last.get('mode', 'full')}")
        when = _when(last.get("finished"))
        if last.get("error") is not None:
            return f"[red]✗ {t('integrity.failed', when=when)}[/red]" + note
        rows = _n(last.get("rows"))
        if last.get("interrupted"):
            return f"[yellow]⏸ {t('integrity.stopped', mode=mode, when=when, rows=rows)}[/yellow]"
        if last.get("ok"):
            return f"[green]✓ {t('integrity.ok', mode=mode, when=when, rows=rows)}[/green]" + note
        # the problems name tables and rows as the check's report does: evidence, word for word
        problems.update("\n".join(escape(f"{p['where']}: {p['problem']}") for p in last.get("shown", [])))
        return f"[red]✗ {t('integrity.bad', mode=mode, when=when, n=last.get('problems', 0))}[/red]" + note

    async def _call(self, path: str, data: dict[str, Any] | None = None) -> None:
        if await self.ask("POST", path, data or {}):
            self.say("")

    async def action_start(self, mode: str) -> None:
        await self._call("/v1/integrity/check", {"mode": mode})

    async def action_resume(self) -> None:
        await self._call("/v1/integrity/check", {"mode": "full", "resume": True})

    async def action_stop(self) -> None:
        self.say(self.app_.t("integrity.stopping"))
        await self._call("/v1/integrity/stop")
