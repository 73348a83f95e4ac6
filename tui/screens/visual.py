"""The visual checklist: every check of the vehicle's category, from the norms
catalogue; the operator ticks what is defective and sends it. The daemon journals it and the card
judges each check. Space ticks, Tab moves, Enter or F9 sends, Esc goes back without sending."""

from __future__ import annotations

from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Static

from app.api.client import ApiError
from tui.screens.base import AppMixin


class VisualScreen(AppMixin, ModalScreen[dict[str, Any] | None]):
    BINDINGS = [Binding("escape", "cancel", show=False), Binding("f9", "send", show=False)]

    def __init__(self, inspection_id: str, checks: list[str], defects: list[str]) -> None:
        super().__init__()
        self.inspection_id = inspection_id
        self.checks = checks
        self.defects = set(defects)

    def compose(self) -> ComposeResult:
        t = self.app_.t
        with Vertical(id="visual-box"):
            yield Static(f"[b]{t('visual.title')}[/b]\n{t('visual.hint')}")
            with VerticalScroll(id="visual-list"):
                for check in self.checks:
                    # worded as the defect a tick says was found (issue #23 item 3: "mark the defects"
                    # over "lights work" said the opposite); the card names the check itself
                    label = t(f"visual.defect.{check.removeprefix('visual.')}")
                    yield Checkbox(label, check in self.defects, id=check.replace(".", "-"))
            with Horizontal():
                yield Button(t("visual.send"), id="visual-send", variant="primary")
                yield Button(t("new.cancel"), id="visual-cancel")
            yield Static(id="visual-msg")

    def on_mount(self) -> None:
        if self.checks:
            self.set_focus(self.query_one(f"#{self.checks[0].replace('.', '-')}", Checkbox))

    def marked(self) -> list[str]:
        return [c for c in self.checks if self.query_one(f"#{c.replace('.', '-')}", Checkbox).value]

    @on(Button.Pressed, "#visual-send")
    async def action_send(self) -> None:
        try:
            result = await self.app_.client.call(
                "POST", f"/v1/inspections/{self.inspection_id}/visual", {"defects": self.marked()}
            )
        except ApiError as exc:
            self.query_one("#visual-msg", Static).update(f"[red]✗ {self.app_.error_text(exc)}[/red]")
            return
        self.dismiss(result)

    @on(Button.Pressed, "#visual-cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)
