"""The lane during an inspection: header with the EIS queue, the steps and timers, the stands with
live values, the live brake bars (the panels of ``tui/widgets/lane/``), what is holding, and the
keys. Redrawn from ``app.state`` at most five times a second, whatever the event rate."""

from __future__ import annotations

from typing import Any

from rich.markup import escape
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import Static

from app.api.client import ApiError
from tui.screens.base import AppMixin
from tui.screens.new_inspection import NewInspectionScreen, by_confidence, percent
from tui.widgets.lane.header import LaneHeader
from tui.widgets.lane.inspection import InspectionPanel, item_lines
from tui.widgets.lane.live import LivePanel
from tui.widgets.lane.stands import StandsPanel


class LaneScreen(AppMixin, Screen[None]):
    BINDINGS = [
        Binding("f2", "new_car", show=False),
        Binding("f5", "next_step", show=False),
        Binding("f8", "card", show=False),
        Binding("f9", "journal", show=False),
        Binding("f6", "frames", show=False),
        Binding("f7", "print_card", show=False),
        Binding("f4", "certificate", show=False),
        Binding("f3", "queue", show=False),
        Binding("f11", "cameras", show=False),
        Binding("f12", "abort", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self._seen = -1
        self._message = ""
        self._said_on: tuple[Any, ...] = ()

    def compose(self) -> ComposeResult:
        yield LaneHeader(id="hdr")
        with Horizontal(id="middle"):
            yield InspectionPanel(id="insp")
            yield StandsPanel(id="stands")
        yield LivePanel(id="live")
        yield Static(id="msg")
        yield Static(id="keys")

    def on_mount(self) -> None:
        self.set_interval(0.2, self.redraw)
        self.redraw()

    def refresh_texts(self) -> None:
        self._seen = -1
        self.redraw()

    def say(self, text: str, error: bool = False) -> None:
        self._message = f"[red]✗ {escape(text)}[/red]" if error else escape(text)
        self._said_on = _steps_now(self.app_.state)
        self._seen = -1
        self.redraw()

    # --- drawing --------------------------------------------------------------
    def redraw(self) -> None:
        app = self.app_
        if app.revision == self._seen:
            return
        self._seen = app.revision
        st = app.state
        if self._message and _steps_now(st) != self._said_on:
            # said of steps as they were ("step 5 is still running"): the lane moved on, so has it
            self._message = ""
        for panel in (LaneHeader, InspectionPanel, StandsPanel, LivePanel):
            self.query_one(panel).show(st)
        self.query_one("#msg", Static).update(self._message or self._hint(st))
        role = app.client.role
        keys = [("F10", "keys.lang"), ("^Q", "keys.logout")]
        if role == "operator" and app.client.view_only:  # R3.1: a password session where keys are required
            keys = [("F3", "keys.queue"), *keys]
        elif role == "operator" and st.get("inspection"):  # F2 would be refused: F12 abandons it
            keys = [
                ("F5", "keys.step"),
                ("F8", "keys.card"),
                ("F12", "keys.abort"),
                ("F3", "keys.queue"),
                *keys,
            ]
        elif role == "operator":
            keys = [("F2", "keys.new"), ("F7", "keys.print"), ("F3", "keys.queue"), *keys]
        elif role == "admin":
            keys = [
                ("F2", "keys.admin"),  # the settings: users, EIS key, … and the certificate (F4)
                ("F9", "keys.journal"),
                ("F3", "keys.queue"),
                ("F6", "keys.frames"),
                ("F7", "keys.print"),
                *keys,  # F11 (cameras) is on the F6 screen's bar: this one is full at 80 columns
            ]
        elif role == "technician":
            keys = [("F6", "keys.frames"), ("F11", "keys.cameras"), *keys]
        self.query_one("#keys", Static).update(self.keybar(keys))

    def _hint(self, st: dict[str, Any]) -> str:
        insp = st.get("inspection")
        app = self.app_
        if app.client.view_only:
            return f"[yellow]{app.t('lane.view_only')}[/yellow]"
        if app.client.role != "operator":
            return app.t("lane.readonly")
        if not insp:
            return self._arrival(st)
        running = next((s for s in insp["steps"] if s["status"] == "running"), None)
        if running:
            holds = running["holds"]
            return f"{app.step_name(running['id'])}: " + " ".join(app.hold_text(h) for h in holds)
        nxt = next((s for s in insp["steps"] if s["status"] == "pending"), None)
        if nxt:
            if nxt.get("notice"):
                return (
                    "[yellow]"
                    + app.hold_text({"code": nxt["notice"], "params": {"step": nxt["id"]}})
                    + "[/yellow]"
                )
            if nxt["holds"]:
                return "[yellow]" + " ".join(app.hold_text(h) for h in nxt["holds"]) + "[/yellow]"
            return app.t("lane.step_hint")
        if insp["card_holds"]:
            return "[yellow]" + " ".join(app.hold_text(h) for h in insp["card_holds"]) + "[/yellow]"
        return f"[green]{app.t('lane.card_ready')}[/green]"

    def _arrival(self, st: dict[str, Any]) -> str:
        """The car at the stand as the plate camera read it when it arrived (R3.2): F2 starts from it."""
        seen = st.get("arrival")
        if not seen:
            return ""
        pct = percent(seen["confidence"])
        return by_confidence(self.app_.t("lane.arrived", plate=seen["plate"], confidence=pct), pct)

    # --- actions -------------------------------------------------------------------
    async def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        try:
            result = await self.app_.client.call(method, path, body)
        except ApiError as exc:
            self.say(self.app_.error_text(exc), error=True)
            return None
        self._message = ""
        return result

    async def action_new_car(self) -> None:
        if self.app_.client.role == "admin":  # the administrator's F2: the settings (D5)
            from tui.screens.admin import AdminScreen

            self.app_.push_screen(AdminScreen())
            return
        if self.app_.client.role != "operator":
            return
        if self.app_.client.view_only:  # R3.1: said here, not after a whole form was typed
            self.say(self.app_.t("error.key_session_required"), error=True)
            return
        open_ = self.app_.state.get("inspection")
        if open_:  # said before a whole form is typed, with the way out (issue #23 (6))
            self.say(self.app_.t("lane.still_open", number=open_.get("number", "")), error=True)
            return
        self.app_.push_screen(NewInspectionScreen(), self._start_inspection)

    async def action_abort(self) -> None:
        """F12: abandon the open inspection, with a reason the daemon journals."""
        from tui.screens.abort import AbortScreen

        insp = self.app_.state.get("inspection")
        if self.app_.client.role != "operator" or self.app_.client.view_only:
            return
        if not insp:
            self.say(self.app_.t("abort.none"))
            return
        number = insp.get("number", "")

        async def done(aborted: bool | None) -> None:
            if aborted:  # the lane as it is now first: the message is said of it
                await self.app_.reload_state()
                self.say(self.app_.t("abort.done", number=number))

        self.app_.push_screen(AbortScreen(insp), done)

    async def _start_inspection(self, started: dict[str, Any] | None) -> None:
        """The new-car screen started it (or was cancelled): show the lane as it is now."""
        if started is not None:
            self._message = ""
            await self.app_.reload_state()

    async def action_next_step(self) -> None:
        insp = self.app_.state.get("inspection")
        if not insp or self.app_.client.role != "operator":
            return
        nxt = next((s for s in insp["steps"] if s["status"] == "pending"), None)
        if nxt is None:
            return
        if nxt.get("mode") == "checklist":  # the visual checks: marked on their own screen
            from tui.screens.visual import VisualScreen

            screen = VisualScreen(insp["id"], nxt.get("checks", []), nxt.get("defects", []))
            self.app_.push_screen(screen, self._visual_sent)
            return
        await self._call("POST", f"/v1/inspections/{insp['id']}/steps/{nxt['id']}")

    async def _visual_sent(self, result: dict[str, Any] | None) -> None:
        if result is not None:
            await self.app_.reload_state()

    async def action_print_card(self) -> None:
        """The last card to the lane's printer (a reprint says COPY on paper); CUPS's answer shown."""
        last = self.app_.state.get("last_card")
        if self.app_.client.role not in ("operator", "admin"):
            return
        if not last:
            self.say(self.app_.t("print.no_card"))
            return
        job = await self._call("POST", f"/v1/cards/{last['card_id']}/print")
        if job is not None:
            key = "print.sent_copy" if job["copy"] else "print.sent"
            said = self.app_.t(key, number=last.get("number"), queue=job["queue"], job=job["job"])
            self.say(said + self._printer_at(job))

    def _printer_at(self, job: dict[str, Any]) -> str:
        """Where the paper comes out, when the queue's CUPS location says (the demo: its folder)."""
        where = job.get("location") or ""
        return " " + self.app_.t("print.where", location=where) if where else ""

    async def action_certificate(self) -> None:
        """F4 (admin): the international certificate of the last card, printed on the lane's printer."""
        last = self.app_.state.get("last_card")
        if self.app_.client.role != "admin":
            return
        if not last:
            self.say(self.app_.t("print.no_certificate"))
            return
        done = await self._call("POST", f"/v1/cards/{last['card_id']}/certificate", {"print": True})
        if done is not None:
            number, queue, job = done["number"], done["queue"], done["job"]
            said = self.app_.t("print.certificate", number=number, queue=queue, job=job)
            self.say(said + self._printer_at(done))

    async def action_card(self) -> None:
        """F8: the review of the card as it would be formed now; F8 there forms it."""
        from tui.screens.review import ReviewScreen

        insp = self.app_.state.get("inspection")
        if not insp or self.app_.client.role != "operator":
            return
        preview = await self._call("GET", f"/v1/inspections/{insp['id']}/preview")
        if preview is not None:
            self.app_.push_screen(
                ReviewScreen(insp, preview, lambda item: item_lines(self.app_.t, item, self.app_.unit)),
                self._card_formed,
            )

    async def _card_formed(self, card: dict[str, Any] | None) -> None:
        insp = self.app_.state.get("inspection")
        if card is None or not insp:
            return
        verdict = self.app_.t(f"verdict.{card['verdict']}")
        await self.app_.reload_state()  # the lane as it is now first: the message is said of it
        self.say(self.app_.t("card.formed", number=insp["number"], verdict=verdict))

    def action_queue(self) -> None:
        from tui.screens.queue import QueueScreen

        if self.app_.client.role in ("operator", "admin"):
            self.app_.push_screen(QueueScreen())

    def action_cameras(self) -> None:
        from tui.screens.cameras import CamerasScreen

        self.app_.push_screen(CamerasScreen())

    def action_journal(self) -> None:
        from tui.screens.journal import JournalScreen

        if self.app_.client.role == "admin":
            self.app_.push_screen(JournalScreen())

    def action_frames(self) -> None:
        from tui.screens.frames import FramesScreen

        if self.app_.client.role in ("technician", "admin"):
            devices = self.app_.state.get("devices", [])
            if devices:
                self.app_.push_screen(FramesScreen(devices[0]["id"]))


def _steps_now(st: dict[str, Any]) -> tuple[Any, ...]:
    """What a message on the lane screen is said of: the open inspection and its steps' states (a
    step that starts or ends, a card formed, an inspection opened or closed changes it)."""
    insp = st.get("inspection") or {}
    steps = tuple((s.get("id"), s.get("status")) for s in insp.get("steps", []))
    return (insp.get("id"), steps, (st.get("last_card") or {}).get("card_id"))
