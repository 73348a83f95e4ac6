"""The lane screen's stands panel: every stand with its state or live values (a trend where the pane
has room), its reason under it when it is not ready, then every camera with its rate, size and the
age of its last frame (D2). Whether a stand is admitted is the
daemon's word, never the screen's."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from typing import Any

from rich.markup import escape
from rich.text import Text
from textual.widgets import Static

from tui.screens.base import AppMixin
from tui.widgets.sparkline import sparkline

SYMBOL = {
    "connected": "[green]●[/green]",
    "stale": "[yellow]◐[/yellow]",
    "faulted": "[red]✗[/red]",
    "stuck": "[red]≡[/red]",
    "connecting": "[yellow]○[/yellow]",
}
#: what each kind of stand shows on its line: (label, channel); labels are symbols, not words
LIVE = {
    "brake": (("L", "brake.force.left"), ("R", "brake.force.right")),
    "gas": (("CO", "gas.co"), ("λ", "gas.lambda")),
    "smoke": (("k", "smoke.k"), ("N", "smoke.opacity")),
    "sideslip": (("", "sideslip.value"),),
    "suspension": (("L", "suspension.curve.left"), ("R", "suspension.curve.right")),
    "sound": (("", "sound.level"),),
    "steering": (("", "steering.play"),),
    "tread": (("FL", "tread.front_left"), ("FR", "tread.front_right")),
    "glass": (("", "glass.windscreen"),),
}


def camera_facts(t: Callable[..., str], c: dict[str, Any]) -> str:
    """A connected camera's rate, size and the age of its newest frame (D2). An idle IP camera
    decodes key frames only, so its rate is the stream's own where the stream says it."""
    fps = c.get("stream_fps") or c["fps"]
    return str(
        t(
            "lane.camera_facts",
            fps=f"{fps:.0f}",
            w=c["width"],
            h=c["height"],
            age=f"{c.get('age_s') or 0:.1f}",
        )
    )


def reason_lines(reason: str, width: int) -> list[str]:
    """Why a stand or camera is not ready, under its line: model and serial are on the technician's
    screen; a problem is here, on two lines at most."""
    return [f"   [yellow]{escape(part)}[/yellow]" for part in textwrap.wrap(reason, max(20, width - 3))[:2]]


class StandsPanel(AppMixin, Static):
    def show(self, st: dict[str, Any]) -> None:
        t = self.app_.t
        width = self.content_size.width
        lines = [f"[b]{t('lane.stands')}[/b]"]
        for d in st.get("devices", []):
            lines.append(self._stand_line(d, width))
            lines += reason_lines(self.app_.reason_text(d.get("why"), d.get("reason", "")), width)
        cameras = st.get("cameras", [])
        if cameras:
            lines.append(f"[b]{t('lane.cameras')}[/b]")
        for c in cameras:  # D2: every camera's state, frames per second, size and the last frame's age
            lines.append(self._camera_line(c, width))
        self.update("\n".join(lines))

    def _short(self, label: str) -> str:
        """A side's one or two letters in the user's language (L → Л, С); a symbol (CO, λ) as it is."""
        return self.app_.t_or(f"side_short.{label}", label) if label else ""

    def _stand_line(self, d: dict[str, Any], width: int) -> str:
        t = self.app_.t
        sym = SYMBOL.get(d["status"], "○")
        name = t(f"dev.{d['kind']}")
        if d["status"] in ("connected", "stale", "stuck") and not d["admitted"]:
            sym = "[red]✗[/red]"
            state = t("dev.not_admitted")
        else:
            state = t(f"dev.{d['status']}")
        live = d.get("live", {})
        shown = [(label, live[ch]) for label, ch in LIVE.get(d["kind"], ()) if ch in live]
        values = " ".join(f"{self._short(label)} {v['value']:.2f}".strip() for label, v in shown)
        if shown and shown[-1][1]["unit"]:
            values += f" {self.app_.unit(shown[-1][1]['unit'])}"
        if d["status"] != "connected" or not d["admitted"]:
            values = ""
        line = f"{sym} {name:<14} {values or state}"
        if values:  # a trend where the pane has room (wider than 80 columns: a technician's SSH)
            room = width - len(Text.from_markup(line).plain) - 1
            first = next(ch for _, ch in LIVE[d["kind"]] if ch in live)
            if room >= 6:
                line += " [cyan]" + sparkline(self.app_.trends.of(d["id"], first), min(room, 16)) + "[/cyan]"
        return line

    def _camera_line(self, c: dict[str, Any], width: int) -> str:
        t = self.app_.t
        sym = SYMBOL.get(c["status"], "○")
        kind = {"mjpeg": "MJPG"}.get(c["kind"], c["kind"].upper())
        head = f"{escape(c['id'][:6]):<6} {kind:<4}"
        if c["status"] in ("connected", "stale") and not c["admitted"]:
            said = self.app_.reason_text(c.get("why"), "")
            line = f"[red]✗[/red] {head} [red]{escape(t('dev.not_admitted'))}[/red]"
            return "\n".join([line, *reason_lines(said, width)])
        if c["status"] in ("connected", "stale"):
            return f"{sym} {head} {camera_facts(t, c)}"
        said = self.app_.reason_text(c.get("reason_why"), c.get("reason", ""))
        state = t(f"dev.{c['status']}")
        return "\n".join([f"{sym} {head} {state}", *reason_lines(said, width)])
