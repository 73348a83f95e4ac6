"""A new car: plate typed by hand for now (recognition arrives with the cameras), category, fuel,
axles. Returns the request body, or None when cancelled."""

from __future__ import annotations

from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Select, Static

from tui.screens.base import AppMixin

CATEGORIES = ("M1", "M2", "M3", "N1", "N2", "N3", "O1", "O2", "O3", "O4", "L1", "L3", "L5", "L7")
FUELS = ("petrol", "diesel", "gas", "electric")


class NewInspectionScreen(AppMixin, ModalScreen[dict[str, Any] | None]):
    BINDINGS = [Binding("escape", "cancel", show=False)]

    def compose(self) -> ComposeResult:
        t = self.app_.t
        with Vertical(id="new-box"):
            yield Static(f"[b]{t('new.title')}[/b]")
            yield Input(id="plate", placeholder=t("new.plate"), max_length=12)
            yield Select([(c, c) for c in CATEGORIES], value="M1", id="category", allow_blank=False)
            yield Select([(f, f) for f in FUELS], value="petrol", id="fuel", allow_blank=False)
            yield Input(id="axles", value="2", placeholder=t("new.axles"), type="integer")
            with Horizontal():
                yield Button(t("new.start"), id="new-start", variant="primary")
                yield Button(t("new.cancel"), id="new-cancel")
            yield Static(id="new-msg")

    def on_mount(self) -> None:
        self.query_one("#plate", Input).focus()

    @on(Input.Submitted)
    @on(Button.Pressed, "#new-start")
    def start(self) -> None:
        plate = self.query_one("#plate", Input).value.strip().upper()
        axles = self.query_one("#axles", Input).value
        if not plate:
            self.query_one("#new-msg", Static).update(f"[red]✗ {self.app_.t('error.plate_bad')}[/red]")
            self.query_one("#plate", Input).focus()
            return
        if not axles.isdigit() or not 1 <= int(axles) <= 6:
            self.query_one("#new-msg", Static).update(f"[red]✗ {self.app_.t('error.axles_bad')}[/red]")
            return
        self.dismiss(
            {
                "plate": plate,
                "category": str(self.query_one("#category", Select).value),
                "fuel": str(self.query_one("#fuel", Select).value),
                "axles": int(axles),
            }
        )

    @on(Button.Pressed, "#new-cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)
