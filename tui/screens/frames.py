"""One device for the technician (fit for an SSH session): identity, counters, the raw frames.
Readings are shown, never editable; the only command is the profile's zeroing."""

from __future__ import annotations

import datetime as dt
from typing import Any

from rich.markup import escape
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Static

from app.api.client import ApiError
from tui.screens.base import AppMixin


class FramesScreen(AppMixin, Screen[None]):
    BINDINGS = [
        Binding("f11", "cameras", show=False),
        Binding("escape", "back", show=False),
        Binding("f6", "back", show=False),
        Binding("right", "device(1)", show=False),
        Binding("left", "device(-1)", show=False),
        *(Binding(str(n), f"service({n})", show=False) for n in range(1, 10)),
        Binding("a", "adopt", show=False),
    ]

    def __init__(self, device_id: str) -> None:
        super().__init__()
        self.device_id = device_id
        self.service: list[str] = []

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
        keys = [("←→", "keys.device"), ("Esc", "keys.back"), ("F10", "keys.lang")]
        if self.app_.client.role == "admin":
            keys = [("A", "keys.adopt"), ("F11", "keys.cameras"), *keys]
        bar = self.keybar(keys)
        if self.app_.client.role == "technician" and self.service:
            service = [(str(n), f"command.{c}") for n, c in enumerate(self.service, 1)]
            bar = self.keybar(service) + " " + bar
        self.query_one("#keys", Static).update(bar)

    def action_cameras(self) -> None:
        from tui.screens.cameras import CamerasScreen

        self.app_.push_screen(CamerasScreen())

    def action_device(self, step: int) -> None:
        ids = [d["id"] for d in self.app_.state.get("devices", [])]
        if self.device_id in ids:
            self.device_id = ids[(ids.index(self.device_id) + step) % len(ids)]
            self.run_worker(self.load(), exclusive=True, group="frames")

    async def load(self) -> None:
        t = self.app_.t
        try:
            data = await self.app_.client.call("GET", f"/v1/devices/{self.device_id}/frames")
        except ApiError as exc:
            if self.is_attached:
                self.query_one("#msg", Static).update(f"[red]✗ {self.app_.error_text(exc)}[/red]")
            return
        if not self.is_attached:  # the screen was left while the frames were asked for (issue #23)
            return
        d = data["device"]
        if d.get("service_commands", []) != self.service:
            self.service = d.get("service_commands", [])
            self.refresh_texts()
        head = (
            f"[b]{t('dev.' + d['kind'])}[/b] · {escape(d['model'])}"
            f" · {t('frames.serial')} {escape(d['serial'])} · {t('frames.firmware')} {escape(d['firmware'])}"
            f" · {t('dev.' + d['status'])}\n"
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
            mark = "[green]✓[/green]" if f["ok"] else "[red]✗[/red]"  # a mark, in no language
            lines.append(f"{when} {f['hex'][:38]:<38} {mark} {escape(self.said(f)[:24])}")
        self.query_one("#f-frames", Static).update("\n".join(lines))

    def said(self, frame: dict[str, Any]) -> str:
        """What the parser read, its names in the user's language; a refusal's reason as the driver
        gave it (a technician's detail, logged in English too)."""
        values = frame.get("values") or []
        if not frame["ok"] or not values:
            return str(frame["note"])
        t_or = self.app_.t_or
        # a reply that carries no value is said by its kind (an acknowledgement, a test's end …)
        return " ".join(
            f"{t_or(f'frame.{k}', k)} {t_or(f'frame_kind.{v}', v) if k == 'reply' else v}" for k, v in values
        )

    async def action_service(self, n: int) -> None:
        if self.app_.client.role != "technician" or not 0 < n <= len(self.service):
            return
        command = self.service[n - 1]
        try:
            await self.app_.client.call("POST", f"/v1/devices/{self.device_id}/command", {"command": command})
            said = self.app_.t_or(f"command.{command}", command)
            self.query_one("#msg", Static).update(self.app_.t("frames.sent", command=said))
        except ApiError as exc:
            self.query_one("#msg", Static).update(f"[red]✗ {self.app_.error_text(exc)}[/red]")

    def action_adopt(self) -> None:
        from tui.screens.replace_device import ReplaceDeviceScreen

        if self.app_.client.role != "admin":
            return
        device = next((d for d in self.app_.state.get("devices", []) if d["id"] == self.device_id), None)
        if device is not None:
            self.app_.push_screen(ReplaceDeviceScreen(device), self._adopted)

    def _adopted(self, result: dict | None) -> None:
        if result is not None:
            self.query_one("#msg", Static).update(self.app_.t("replace.done", serial=result["serial"]))

    def action_back(self) -> None:
        self.app_.pop_screen()
