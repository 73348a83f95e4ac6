"""Review before the card (SCREENS.md "Operator — review before the card"): every item
judged so far with value, norm and verdict, the verdict the card would carry, and what still holds
it — in the operator's language. F8 forms the card (it cannot be undone), Esc goes back."""

from __future__ import annotations

from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from app.api.client import PERSON_WAIT_S, ApiError
from tui.screens.base import AppMixin


class ReviewScreen(AppMixin, ModalScreen[dict[str, Any] | None]):
    #: personal data on it: left with no key pressed, it locks (R11, ``app.lock_if_idle``)
    PERSONAL = True
    BINDINGS = [Binding("escape", "cancel", show=False), Binding("f8", "form", show=False)]

    def __init__(self, inspection: dict[str, Any], preview: dict[str, Any], item_lines: Any) -> None:
        super().__init__()
        self.inspection = inspection
        self.preview = preview
        self.item_lines = item_lines  # the lane screen's way of saying an item (one place)

    def compose(self) -> ComposeResult:
        t = self.app_.t
        p, insp = self.preview, self.inspection
        head = t("review.title", number=insp["number"], plate=insp["plate"])
        if p["verdict"]:
            head += "\n" + t("review.verdict", verdict=t(f"verdict.{p['verdict']}"))
        with Vertical(id="review-box"):
            yield Static(f"[b]{head}[/b]", id="review-head")
            lines: list[str] = []
            for item in p["items"]:
                lines += self.item_lines(item)
            if not lines:
                lines = [t("review.nothing")]
            with VerticalScroll(id="review-list"):
                yield Static("\n".join(lines), id="review-items")
            yield Static(self._holds_text(p["holds"]), id="review-holds")
            with Horizontal():
                yield Button(t("review.form"), id="review-form", variant="primary", disabled=bool(p["holds"]))
                yield Button(t("keys.back"), id="review-back")
            yield Static(id="review-msg")

    def on_mount(self) -> None:
        self.set_interval(1.0, self._tick)  # what holds the card, as it is now: time runs out

    def _holds_text(self, holds: list[dict[str, Any]]) -> str:
        """What holds the card, each once; of the minimum times only the one that ends last (the
        step's and the inspection's are not two waits, the card waits for the later)."""
        timed = [h for h in holds if "left_s" in h.get("params", {})]
        if len(timed) > 1:
            last = max(timed, key=lambda h: float(h["params"]["left_s"]))
            holds = [h for h in holds if h not in timed or h is last]
        said = " ".join(self.app_.hold_text(h) for h in holds)
        return f"[yellow]{said}[/yellow]" if said else self.app_.t("review.ready")

    def _tick(self) -> None:
        """What holds the card as the daemon says it each second with the open inspection (the
        lane's state): no request of its own."""
        insp = self.app_.state.get("inspection") or {}
        if insp.get("id") != self.inspection["id"] or "card_holds" not in insp:
            return
        holds = insp["card_holds"]
        self.query_one("#review-holds", Static).update(self._holds_text(holds))
        self.query_one("#review-form", Button).disabled = bool(holds)

    @on(Button.Pressed, "#review-form")
    async def action_form(self) -> None:
        try:
            # a key on a token signs the card in NCALayer's own dialog: the person may take a while
            path = f"/v1/inspections/{self.inspection['id']}/card"
            card = await self.app_.client.call("POST", path, timeout_s=PERSON_WAIT_S)
        except ApiError as exc:
            self.query_one("#review-msg", Static).update(f"[red]✗ {self.app_.error_text(exc)}[/red]")
            return
        self.dismiss(card)

    @on(Button.Pressed, "#review-back")
    def action_cancel(self) -> None:
        self.dismiss(None)
