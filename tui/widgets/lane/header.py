"""The lane screen's header: lane name, training mark, the EIS queue, and in place of the clock
whatever must never go unseen (the database refusing, an integrity alarm, the EIS key). It asks
the daemon nothing."""

from __future__ import annotations

from typing import Any

from rich.markup import escape
from textual.widgets import Static

from tui import wallclock
from tui.screens.base import AppMixin


class LaneHeader(AppMixin, Static):
    def show(self, st: dict[str, Any]) -> None:
        self.update(self.text(st))

    def text(self, st: dict[str, Any]) -> str:
        t = self.app_.t
        lane = st.get("lane", {})
        if not self.app_.online:
            return f"[b]otolane[/b] · [red]{t('header.offline')}[/red]"
        ob = st.get("outbox", {})
        pending = ob.get("pending", 0)
        symbol = "[green]●[/green]" if not pending else "[yellow]◐[/yellow]"
        if ob.get("rejected"):
            symbol = "[red]✗[/red]"
        eis = t(
            "header.eis",
            symbol=symbol,
            pending=pending,
            accepted=ob.get("accepted", 0),
            rejected=t("header.rejected", n=ob["rejected"]) if ob.get("rejected") else "",
        )
        training = ""
        if lane.get("training"):
            # a faster clock is said beside the mark: "20 min" of a step then pass in 2 on ×10
            speed = float(lane.get("clock_speed") or 1.0)
            fast = f" ×{speed:g}" if speed != 1.0 else ""
            training = f" [reverse]{t('app.training')}{fast}[/reverse]"
        langs = " ".join(
            f"[b u]{x.upper()}[/b u]" if x == self.app_.ui_lang else x.upper() for x in ("kk", "ru", "en")
        )
        return f"[b]otolane[/b] · {escape(lane.get('name', ''))}{training}  {eis}  {self._alert(st)}  {langs}"

    def _alert(self, st: dict[str, Any]) -> str:
        """The clock, or what must never go unseen in its place."""
        t = self.app_.t
        storage = st.get("storage") or {}
        key = st.get("eis_key") or {}
        if storage and not storage.get("ok", True):
            kept = storage.get("pending_readings", 0) + storage.get("pending_events", 0)
            return f"[red]{t('header.storage_failing', s=int(storage.get('failing_s', 0)), kept=kept)}[/red]"
        if st.get("alarms"):
            return f"[red]{t('header.alarm', n=len(st['alarms']))}[/red]"
        if key.get("expired"):
            return f"[red]{t('header.key_expired')}[/red]"
        if key.get("refused"):  # R5: EIS says the key is unknown or expired
            return f"[red]{t('header.key_refused')}[/red]"
        if key.get("warn"):  # R5: 14, 7 and 1 day before
            days = key.get("days_left", 0)
            return f"[{'red' if days <= 1 else 'yellow'}]{t('header.key_warn', days=days)}[/]"
        return wallclock.now().strftime("%H:%M")
