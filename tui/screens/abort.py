"""F12: the operator abandons the open inspection, with a reason (issue #23 (6)).

The reasons an operator meets are one key each (1…4); 5 lets them type another. The daemon journals
the reason (``inspection_aborted``) and no card is formed; what the stands measured stays in the
journal. A known reason goes as its code (``vehicle_left`` …), so an auditor reads it in their own
language; a typed one goes as typed."""

from __future__ import annotations

from typing import Any

from rich.markup import escape
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from app.api.client import ApiError
from tui.screens.base import AppMixin

#: the reasons offered, in their key order; each is said from ``abort.reason.<code>``
REASONS = ("vehicle_left", "owner_refused", "data_wrong", "stand_failed")
OTHER = len(REASONS) + 1


class AbortScreen(AppMixin, ModalScreen[bool]):
    AUTO_FOCUS = ""  # none (None means the app's): the digits choose, the hidden field must not take them
    BINDINGS = [
        Binding("escape", "cancel", show=False),
        *(Binding(str(i), f"pick({i})", show=False) for i in range(1, OTHER + 1)),
    ]

    def __init__(self, inspection: dict[str, Any]) -> None:
        super().__init__()
        self.inspection = inspection

    def compose(self) -> ComposeResult:
        t, insp = self.app_.t, self.inspection
        with Vertical(id="new-box"):
            yield Static(
                "[b]"
                + t("abort.title", number=insp.get("number", ""), plate=escape(str(insp.get("plate", ""))))
                + "[/b]"
            )
            yield Static(t("abort.explain"))
            lines = [
                f"[b reverse] {i} [/b reverse] {t(f'abort.reason.{code}')}"
                for i, code in enumerate(REASONS, 1)
            ]
            lines.append(f"[b reverse] {OTHER} [/b reverse] {t('abort.other')}")
            yield Static("\n".join(lines), id="abort-reasons")
            other = Input(id="abort-other", placeholder=t("abort.other_placeholder"), max_length=200)
            other.display = False  # shown by 5
            yield other
            yield Static(t("abort.keys"), id="abort-keys")
            yield Static(id="abort-msg")

    async def action_pick(self, n: int) -> None:
        if self.query_one("#abort-other", Input).has_focus:
            return  # a digit typed into the reason is text, not a choice
        if n == OTHER:
            field = self.query_one("#abort-other", Input)
            field.display = True
            field.focus()
            return
        await self._abort(REASONS[n - 1])

    @on(Input.Submitted, "#abort-other")
    async def other_typed(self) -> None:
        text = self.query_one("#abort-other", Input).value.strip()
        if not text:
            self.query_one("#abort-msg", Static).update(f"[red]✗ {self.app_.t('abort.other_empty')}[/red]")
            return
        await self._abort(text)

    async def _abort(self, reason: str) -> None:
        try:
            await self.app_.client.call(
                "POST", f"/v1/inspections/{self.inspection['id']}/abort", {"reason": reason}
            )
        except ApiError as exc:
            self.query_one("#abort-msg", Static).update(f"[red]✗ {self.app_.error_text(exc)}[/red]")
            return
        self.dismiss(True)

    def action_cancel(self) -> None:
        self.dismiss(False)
