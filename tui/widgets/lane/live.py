"""The lane screen's live panel: the stand of the running step — bars of the brake forces with the
imbalance the daemon derived and whether the photo was taken (R3.9), or a trend of each value for
the other stands. It computes no imbalance of its own."""

from __future__ import annotations

import datetime as dt
from typing import Any

from textual.widgets import Static

from tui.screens.base import AppMixin
from tui.widgets.lane.stands import LIVE
from tui.widgets.sparkline import sparkline

BAR = 24
#: the bars' full scale at least (kN): idle rollers do not fill them
BAR_MIN_FULL_KN = 5.0


def bar(value: float, full: float) -> str:
    n = 0 if full <= 0 else max(0, min(BAR, round(BAR * value / full)))
    return "█" * n + "░" * (BAR - n)


class LivePanel(AppMixin, Static):
    def show(self, st: dict[str, Any]) -> None:
        insp = st.get("inspection") or {}
        running = next((s for s in insp.get("steps", []) if s["status"] == "running"), None)
        kinds = running.get("devices", []) if running else []
        devices = st.get("devices", [])
        other = next((d for d in devices if d["kind"] in kinds and d["kind"] != "brake"), None)
        if other is not None:
            self.update(self._trends(other))
            return
        brake = next((d for d in devices if d["kind"] == "brake"), None)
        self.update("" if brake is None else self._brakes(brake, running))

    def _brakes(self, brake: dict[str, Any], running: dict[str, Any] | None) -> str:
        t = self.app_.t
        live = brake.get("live", {})
        left = live.get("brake.force.left", {}).get("value", 0.0)
        right = live.get("brake.force.right", {}).get("value", 0.0)
        full = max(BAR_MIN_FULL_KN, left, right)
        imb = brake.get("imbalance", 0.0)  # derived by the daemon (app/domain/norms.py)
        kn = self.app_.unit("kN")
        photo = ""
        if running and running.get("photo"):  # R3.9: this axle's brake test takes the photo
            at = running.get("photo_at")
            photo = "   " + (
                t("lane.photo_taken", time=dt.datetime.fromtimestamp(at).strftime("%H:%M:%S"))
                if at
                else t("lane.photo_waiting")
            )
        return (
            f"{t('dev.left'):<6}{bar(left, full)} {left:5.2f} {kn}   "
            f"{t('dev.imbalance')} {imb:.1f} %\n"
            f"{t('dev.right'):<6}{bar(right, full)} {right:5.2f} {kn}{photo}"
        )

    def _trends(self, d: dict[str, Any]) -> str:
        live = d.get("live", {})
        out = []
        for label, ch in LIVE.get(d["kind"], ())[:2]:
            if ch not in live:
                continue
            v = live[ch]
            name = label or self.app_.t(f"dev.{d['kind']}")
            out.append(
                f"{name:<6}[cyan]{sparkline(self.app_.trends.of(d['id'], ch), BAR):<{BAR}}[/cyan] "
                f"{v['value']:7.2f} {self.app_.unit(v['unit'])}"
            )
        return "\n".join(out)
