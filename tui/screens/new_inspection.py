"""A new car: the vehicle record from the registration certificate — plate (read by the lane's
plate camera when it has one, R3.2: the reading made when the car arrived, else one made now; shown
with its confidence and a picture of the plate; the operator confirms or corrects it, F6 reads it
again), category, fuel, axles, year, VIN, make and
model, use, catalyst, turbocharger — and, for a vehicle that failed and comes back, the number of
its first card (re-inspection).

The screen asks the daemon itself and stays open on a refusal: the operator sees what is wrong and
which field, fixes it and keeps everything else typed. Returns the started inspection, or None.
"""

from __future__ import annotations

import contextlib
from typing import Any

from rich.markup import escape
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.css.query import NoMatches
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Input, Select, Static

from app.api.client import ApiError
from tui.screens.base import AppMixin
from tui.widgets.halfblock import halfblock

CATEGORIES = ("M1", "M2", "M3", "N1", "N2", "N3", "O1", "O2", "O3", "O4", "L1", "L3", "L5", "L7")
FUELS = ("petrol", "diesel", "gas", "electric")
USES = ("private", "commercial", "taxi", "bus_service", "dangerous_goods", "driving_school")
#: The daemon's field name -> the widget that holds it (focused when the daemon refuses it).
FIELDS = {
    "plate": "#plate",
    "axles": "#axles",
    "year": "#year",
    "vin": "#vin",
    "make_model": "#make",
    "reinspection_of": "#reinsp",
    "headlight_tilt": "#tilt",
}


def percent(confidence: float) -> int:
    return round(100 * float(confidence))


def by_confidence(said: str, pct: int) -> str:
    """A plate reading said in green when the lane is sure of it (90 % or more), else in yellow:
    the operator checks it against the car."""
    colour = "green" if pct >= 90 else "yellow"
    return f"[{colour}]{escape(said)}[/{colour}]"


class NewInspectionScreen(AppMixin, ModalScreen[dict[str, Any] | None]):
    BINDINGS = [Binding("escape", "cancel", show=False), Binding("f6", "read_plate", show=False)]
    #: a plate the daemon said is in no known format: Enter again on it confirms it
    _unusual_plate = ""
    #: the lane's reading of the plate this form started from (its id goes with the inspection)
    _recognition: dict[str, Any] | None = None

    def compose(self) -> ComposeResult:
        t = self.app_.t
        with VerticalScroll(id="new-box"):
            yield Static(f"[b]{t('new.title')}[/b]")
            with Horizontal(id="plate-read-row"):
                yield Static(id="plate-pic")
                yield Static(id="plate-read")
            with Horizontal():
                yield Input(id="plate", placeholder=t("new.plate"), max_length=12)
                yield Select([(c, c) for c in CATEGORIES], value="M1", id="category", allow_blank=False)
            with Horizontal():
                yield Select(
                    [(t(f"fuel.{f}"), f) for f in FUELS], value="petrol", id="fuel", allow_blank=False
                )
                yield Input(id="axles", value="2", placeholder=t("new.axles"), type="integer", max_length=1)
                # the dipped beam's tilt marked on the headlamp ("1,0 %"): the aim is judged by it
                yield Input(id="tilt", placeholder=t("new.tilt"), max_length=4)
            with Horizontal():
                yield Input(id="year", placeholder=t("new.year"), type="integer", max_length=4)
                yield Input(id="vin", placeholder=t("new.vin"), max_length=20)
            with Horizontal():
                yield Input(id="make", placeholder=t("new.make_model"), max_length=80)
                yield Input(id="reinsp", placeholder=t("new.reinspection"), type="integer", max_length=9)
            with Horizontal():
                yield Select([(t(f"use.{u}"), u) for u in USES], value="private", id="use", allow_blank=False)
                yield Checkbox(t("new.catalyst"), id="catalyst")
                yield Checkbox(t("new.turbo"), id="turbo")
            with Horizontal():
                yield Button(t("new.start"), id="new-start", variant="primary")
                yield Button(t("new.cancel"), id="new-cancel")
        # outside the scrolling form, at the foot of the screen: an error is seen at 80×24 wherever the
        # form is scrolled (issue #23: it was drawn below the visible area and Enter looked dead)
        yield Static(id="new-msg")

    def on_mount(self) -> None:
        self.set_focus(self.query_one("#plate", Input))  # at once: keys typed ahead wait for it
        cameras = self.app_.state.get("cameras", [])
        seen = self.app_.state.get("arrival")
        if seen:
            # read when the car arrived (R3.2; the daemon offers it only while its reading is kept):
            # no wait, the operator checks it; F6 reads again
            self._show_reading(seen, self.query_one("#plate-read", Static))
        elif any("plate" in c.get("roles", ()) for c in cameras):
            self.action_read_plate()
        else:
            self.query_one("#plate-read-row").display = False

    def action_read_plate(self) -> None:
        self.query_one("#plate-read", Static).update(self.app_.t("new.reading_plate"))
        self.run_worker(self._read_plate(), group="anpr", exclusive=True)

    async def _read_plate(self) -> None:
        """R3.2: the plate off the camera; filled in only where the operator has typed nothing."""
        out = self.query_one("#plate-read", Static)
        try:
            got = await self.app_.client.call("POST", "/v1/anpr", {}, timeout_s=30)
        except ApiError as exc:
            out.update(f"[yellow]{self.app_.error_text(exc)}[/yellow]")
            return
        try:
            self._show_reading(got, out)
        except NoMatches:  # the form was being closed as the answer landed (issue #23): dropped
            return

    def _show_reading(self, got: dict[str, Any], out: Static) -> None:
        self._recognition = got
        pv = got.get("preview") or {}
        self.query_one("#plate-pic", Static).update(
            halfblock(pv.get("width", 0), pv.get("height", 0), pv.get("rgb", ""))
        )
        t = self.app_.t
        if not got.get("plate"):
            out.update(f"[yellow]{t('new.plate_unread', camera=got['camera'])}[/yellow]")
            return
        pct = percent(got["confidence"])
        said = t("new.plate_read", plate=got["plate"], confidence=pct, camera=got["camera"])
        out.update(by_confidence(said, pct))
        box = self.query_one("#plate", Input)
        if not box.value.strip():
            box.value = got["plate"]
            # selected, as a browser's form does: Enter confirms it, a plate typed over it replaces it
            # (the demo test's typing was appended to it — 123ABC02777A — and refused)
            box.select_all()

    def _say(self, text: str, field: str | None = None) -> None:
        self.query_one("#new-msg", Static).update(f"[red]✗ {text}[/red]")
        if field in FIELDS:
            self.query_one(FIELDS[field], Input).focus()

    def body(self) -> dict[str, Any] | None:
        """The request, or None after saying which field is wrong (the daemon checks it again)."""
        plate = self.query_one("#plate", Input).value.strip().upper()
        axles = self.query_one("#axles", Input).value
        year = self.query_one("#year", Input).value.strip()
        if not plate:
            self._say(self.app_.t("error.plate_bad"), "plate")
            return None
        if not axles.isdigit() or not 1 <= int(axles) <= 6:
            self._say(self.app_.t("error.axles_bad"), "axles")
            return None
        body: dict[str, Any] = {
            "plate": plate,
            "category": str(self.query_one("#category", Select).value),
            "fuel": str(self.query_one("#fuel", Select).value),
            "axles": int(axles),
            "vin": self.query_one("#vin", Input).value.strip(),
            "make_model": self.query_one("#make", Input).value.strip(),
            "catalyst": self.query_one("#catalyst", Checkbox).value,
            "turbo": self.query_one("#turbo", Checkbox).value,
            "use": str(self.query_one("#use", Select).value),
        }
        tilt = self.query_one("#tilt", Input).value.strip().replace(",", ".").rstrip("%").strip()
        if tilt:
            try:
                body["headlight_tilt"] = float(tilt)
            except ValueError:
                self._say(self.app_.t("error.headlight_tilt_bad", high=4), "headlight_tilt")
                return None
        first = self.query_one("#reinsp", Input).value.strip()
        if first:
            body["reinspection_of"] = first
        if plate == self._unusual_plate:  # said once, and Enter pressed again on the same plate
            body["plate_confirmed"] = True
        if self._recognition is not None:  # the daemon stores its reading beside the confirmed plate
            body["recognition"] = self._recognition["recognition"]
        if year:
            if not year.isdigit():
                self._say(self.app_.t("error.year_bad", year=year, low=1900, high="…"), "year")
                return None
            body["year"] = int(year)
        return body

    @on(Input.Submitted)
    @on(Button.Pressed, "#new-start")
    async def start(self) -> None:
        body = self.body()
        if body is None:
            return
        try:
            result = await self.app_.client.call("POST", "/v1/inspections", body)
        except ApiError as exc:
            if exc.code == "plate_format_unknown":
                self._unusual_plate = body["plate"]
            self._say(self.app_.error_text(exc), exc.params.get("field"))
            return
        # the lane's state with the inspection in it before the form closes: F5 typed right after the
        # plate's Enter (held meanwhile, tui/typeahead.py) runs its first step
        with contextlib.suppress(ApiError):  # the stream brings it too
            await self.app_.reload_state()
        self.dismiss(result)

    @on(Button.Pressed, "#new-cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)
