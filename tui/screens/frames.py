"""One device for the technician (fit for an SSH session): identity, counters, the raw frames.
Readings are shown, never editable; the only command is the profile's zeroing."""

from __future__ import annotations

import datetime as dt

from rich.markup import escape
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Static

from app.api.client import ApiError
from tui.screens.base import AppMixin


class FramesScreen(AppMixin, Screen[None]):
    BINDINGS = [
        Binding("escape", "back", show=False),
        Binding("f6", "back", show=False),
        Binding("z", "zero", show=False),
    ]

    def __init__(self, device_id: str) -> None:
        super().__init__()
        self.device_id = device_id

    def compose(self) -> ComposeResult:
        yield Static(id="f-head")
        yield Static(id="f-frames")
        yield Static(id="msg")
        yield Static(id="keys")

    async def on_mount(self) -> None:
        self.refresh_texts()
        self.set_interval(1.0, self.load)
        await self.load()

    def refresh_texts(self) -> None:
        keys = [("Z", "keys.zero"), ("Esc", "keys.back"), ("F10", "keys.lang")]
        if self.app_.client.role != "technician":
            keys = keys[1:]
        self.query_one("#keys", Static).update(self.keybar(keys))

    async def load(self) -> None:
        t = self.app_.t
        try:
            data = await self.app_.client.call("GET", f"/v1/devices/{self.device_id}/frames")
        except ApiError as exc:
            self.query_one("#msg", Static).update(f"[red]✗ {self.app_.error_text(exc)}[/red]")
            return
        d = data["device"]
        head = (
            f"[b]{t('dev.' + d['kind'])}[/b] · {escape(d['model'])} · s/n {escape(d['serial'])}"
            f" · fw {escape(d['firmware'])} · {t('dev.' + d['status'])}\n"
            f"{escape(d['port'])} · "
            + t(
                "frames.counters",
                ok=d["frames_ok"],
                rejected=d["frames_rejected"],
                reconnects=d["reconnects"],
            )
            + f" · {t('frames.never_editable')}"
        )
        self.query_one("#f-head", Static).update(head)
        lines = []
        for f in data["frames"][-14:]:
            when = dt.datetime.fromtimestamp(f["ts"]).strftime("%H:%M:%S.%f")[:-3]
            mark = "[green]ok[/green]" if f["ok"] else "[red]✗[/red]"
            lines.append(f"{when} {f['hex'][:38]:<38} {mark} {escape(f['note'][:24])}")
        self.query_one("#f-frames", Static).update("\n".join(lines))

    async def action_zero(self) -> None:
        if self.app_.client.role != "technician":
            return
        try:
            await self.app_.client.call("POST", f"/v1/devices/{self.device_id}/command", {"command": "zero"})
            self.query_one("#msg", Static).update("ok")
        except ApiError as exc:
            self.query_one("#msg", Static).update(f"[red]✗ {self.app_.error_text(exc)}[/red]")

    def action_back(self) -> None:
        self.app_.pop_screen()
