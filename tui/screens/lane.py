"""The lane during an inspection: header with the EIS queue, the steps and timers, the stands with
live values, the live brake bars, what is holding, and the keys. Redrawn from ``app.state``."""

from __future__ import annotations

import datetime as dt
import textwrap
from typing import Any

from rich.markup import escape
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import Static

from app.api.client import ApiError
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
#: final results shown under a done step, beside the brakes' own line
RESULTS = {
    "sideslip.result": "",
    "suspension.efficiency.left": "L",
    "suspension.efficiency.right": "R",
    "smoke.k_mean": "k̄",
}
STEP_MARK = {"done": "[green]✓[/green]", "running": "[b yellow]▶[/b yellow]", "pending": "·"}
BAR = 24


def mmss(seconds: float) -> str:
    seconds = max(0, int(seconds))
    return f"{seconds // 60:02d}:{seconds % 60:02d}"


def camera_facts(t: Any, c: dict[str, Any]) -> str:
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


def bar(value: float, full: float) -> str:
    n = 0 if full <= 0 else max(0, min(BAR, round(BAR * value / full)))
    return "█" * n + "░" * (BAR - n)


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
    ]

    def __init__(self) -> None:
        super().__init__()
        self._seen = -1
        self._message = ""

    def compose(self) -> ComposeResult:
        yield Static(id="hdr")
        with Horizontal(id="middle"):
            yield Static(id="insp")
            yield Static(id="stands")
        yield Static(id="live")
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
        self._seen = -1
        self.redraw()

    # --- drawing --------------------------------------------------------------
    def redraw(self) -> None:
        app = self.app_
        if app.revision == self._seen:
            return
        self._seen = app.revision
        st = app.state
        self.query_one("#hdr", Static).update(self._header(st))
        self.query_one("#insp", Static).update(self._inspection(st))
        self.query_one("#stands", Static).update(self._stands(st))
        self.query_one("#live", Static).update(self._live(st))
        self.query_one("#msg", Static).update(self._message or self._hint(st))
        role = app.client.role
        keys = [("F10", "keys.lang"), ("^Q", "keys.logout")]
        if role == "operator":
            keys = [
                ("F2", "keys.new"),
                ("F5", "keys.step"),
                ("F8", "keys.card"),
                ("F7", "keys.print"),
                ("F3", "keys.queue"),
                *keys,
            ]
        elif role == "admin":
            keys = [
                ("F9", "keys.journal"),
                ("F3", "keys.queue"),
                ("F6", "keys.frames"),
                ("F7", "keys.print"),
                ("F4", "keys.certificate"),
                *keys,  # F11 (cameras) is on the F6 screen's bar: this one is full at 80 columns
            ]
        elif role == "technician":
            keys = [("F6", "keys.frames"), ("F11", "keys.cameras"), *keys]
        self.query_one("#keys", Static).update(self.keybar(keys))

    def _header(self, st: dict[str, Any]) -> str:
        t = self.app_.t
        lane = st.get("lane", {})
        if not self.app_.online:
            return f"[b]otolane[/b] · [red]{t('header.offline')}[/red]"
        ob = st.get("outbox", {})
        pending = ob.get("pending", 0)
        symbol = "[green]●[/green]" if not pending else "[yellow]◐[/yellow]"
        if ob.get("rejected"):
            symbol = "[red]✗[/red]"
        eis = t(
            "header.eis",
            symbol=symbol,
            pending=pending,
            accepted=ob.get("accepted", 0),
            rejected=t("header.rejected", n=ob["rejected"]) if ob.get("rejected") else "",
        )
        training = f" [reverse]{t('app.training')}[/reverse]" if lane.get("training") else ""
        clock = dt.datetime.now().strftime("%H:%M")
        # What must never go unseen replaces the clock: the database refusing, an integrity alarm.
        storage = st.get("storage") or {}
        if storage and not storage.get("ok", True):
            kept = storage.get("pending_readings", 0) + storage.get("pending_events", 0)
            clock = f"[red]{t('header.storage_failing', s=int(storage.get('failing_s', 0)), kept=kept)}[/red]"
        elif st.get("alarms"):
            clock = f"[red]{t('header.alarm', n=len(st['alarms']))}[/red]"
        elif (st.get("eis_key") or {}).get("expired"):
            clock = f"[red]{t('header.key_expired')}[/red]"
        elif (st.get("eis_key") or {}).get("refused"):  # R5: EIS says the key is unknown or expired
            clock = f"[red]{t('header.key_refused')}[/red]"
        elif (st.get("eis_key") or {}).get("warn"):  # R5: 14, 7 and 1 day before
            days = st["eis_key"].get("days_left", 0)
            clock = f"[{'red' if days <= 1 else 'yellow'}]{t('header.key_warn', days=days)}[/]"
        langs = " ".join(
            f"[b u]{x.upper()}[/b u]" if x == self.app_.ui_lang else x.upper() for x in ("kk", "ru", "en")
        )
        return f"[b]otolane[/b] · {escape(lane.get('name', ''))}{training}  {eis}  {clock}  {langs}"

    def _inspection(self, st: dict[str, Any]) -> str:
        t = self.app_.t
        insp = st.get("inspection")
        if not insp:
            lines = [f"[b]{t('lane.inspection')}[/b]", "", t("lane.none")]
            last = st.get("last_card")
            if last:
                lines += [
                    "",
                    t(
                        "lane.last_card",
                        card=f"№{last.get('number')} {escape(last.get('plate', ''))}",
                        verdict=t(f"verdict.{last['verdict']}"),
                        eis=t(f"eis.{last['eis']}"),
                    ),
                ]
                if last.get("eis_error") and last["eis"] != "accepted":  # D4: told, never waiting on it
                    key = "lane.eis_retrying" if last["eis"] == "pending" else "lane.eis_refused"
                    reason = escape(last["eis_error"][:120])
                    lines.append(f"[yellow]{t(key, attempts=last.get('eis_attempts', 0), reason=reason)}[/]")
                for item in last.get("items", []):
                    lines += self._item_lines(item)
            return "\n".join(lines)
        elapsed = insp["elapsed_s"]  # the daemon publishes the inspection every second
        minimum = insp["minimum_s"]
        timer = t("lane.elapsed", elapsed=mmss(elapsed), minimum=mmss(minimum))
        if elapsed >= minimum:
            timer += " · " + t("lane.min_reached")
        lines = [
            f"[b]{escape(insp['plate'])}[/b] · {insp['category']} · {insp['fuel']} · №{insp['number']}",
            timer,
        ]
        # Results under the last finished step only: the whole list stays on an 80×24 screen;
        # every result is on the card review and in the card itself.
        done = [x["id"] for x in insp["steps"] if x["status"] == "done" and x.get("results")]
        last_done = done[-1] if done else None
        for i, s in enumerate(insp["steps"], 1):
            lines.append(f"{STEP_MARK[s['status']]} {i} {self.app_.step_name(s['id'])}")
            if s["id"] == last_done:
                lines.append("    " + self._results_text(s["results"]))
        return "\n".join(lines)

    def _results_text(self, res: dict[str, float]) -> str:
        if "brake.force.left.max" in res and "brake.force.right.max" in res:
            left, right = res["brake.force.left.max"], res["brake.force.right.max"]
            larger = max(left, right)
            imb = 0.0 if larger <= 0 else 100 * (larger - min(left, right)) / larger
            return self.app_.t("step.results", left=f"{left:.2f}", right=f"{right:.2f}", imb=f"{imb:.1f}")
        return " · ".join(f"{RESULTS[ch]} {v:g}".strip() for ch, v in res.items() if ch in RESULTS)

    def _item_lines(self, item: dict[str, Any]) -> list[str]:
        """One card item: its name, then measured value, norm and verdict (with the deviation)."""
        t = self.app_.t
        params = dict(item.get("params", {}))
        if "side" in params:
            params["side"] = t(f"side.{params['side']}")
        if "glass" in params:
            params["glass"] = t(f"glass.{params['glass']}")
        mark = "[green]●[/green]" if item["passed"] else f"[red]✗ {item['deviation']:+g}[/red]"
        if item["item"].startswith("visual."):
            value = t("item.defect" if item["value"] else "item.no_defect")
        else:
            value = t("item.measured", value=f"{item['value']:g}", unit=item["unit"], norm=item["norm"])
        return [f"{mark} {t('item.' + item['item'], **params)}", f"    {value}"]

    def _stands(self, st: dict[str, Any]) -> str:
        t = self.app_.t
        width = self.query_one("#stands", Static).content_size.width
        lines = [f"[b]{t('lane.stands')}[/b]"]
        for d in st.get("devices", []):
            sym = SYMBOL.get(d["status"], "○")
            name = t(f"dev.{d['kind']}")
            if d["status"] in ("connected", "stale", "stuck") and not d["admitted"]:
                sym = "[red]✗[/red]"
                state = t("dev.not_admitted")
            else:
                state = t(f"dev.{d['status']}")
            live = d.get("live", {})
            shown = [(label, live[ch]) for label, ch in LIVE.get(d["kind"], ()) if ch in live]
            values = " ".join(f"{label} {v['value']:.2f}".strip() for label, v in shown)
            if shown and shown[-1][1]["unit"]:
                values += f" {shown[-1][1]['unit']}"
            if d["status"] != "connected" or not d["admitted"]:
                values = ""
            line = f"{sym} {name:<14} {values or state}"
            if values:  # a trend where the pane has room (wider than 80 columns: a technician's SSH)
                room = width - len(Text.from_markup(line).plain) - 1
                first = next(ch for _, ch in LIVE[d["kind"]] if ch in live)
                trend = self.app_.trends.of(d["id"], first)
                if room >= 6:
                    line += " [cyan]" + sparkline(trend, min(room, 16)) + "[/cyan]"
            lines.append(line)
            lines += _reason_lines(self.app_.reason_text(d.get("why"), d.get("reason", "")), width)
        cameras = st.get("cameras", [])
        if cameras:
            lines.append(f"[b]{t('lane.cameras')}[/b]")
        for c in cameras:  # D2: every camera's state, frames per second, size and the last frame's age
            lines.append(self._camera_line(c, width))
        return "\n".join(lines)

    def _camera_line(self, c: dict[str, Any], width: int) -> str:
        t = self.app_.t
        sym = SYMBOL.get(c["status"], "○")
        kind = {"mjpeg": "MJPG"}.get(c["kind"], c["kind"].upper())
        head = f"{escape(c['id'][:6]):<6} {kind:<4}"
        if c["status"] in ("connected", "stale") and not c["admitted"]:
            said = self.app_.reason_text(c.get("why"), "")
            line = f"[red]✗[/red] {head} [red]{escape(t('dev.not_admitted'))}[/red]"
            return "\n".join([line, *_reason_lines(said, width)])
        if c["status"] in ("connected", "stale"):
            return f"{sym} {head} {camera_facts(t, c)}"
        said = self.app_.reason_text(c.get("reason_why"), c.get("reason", ""))
        state = t(f"dev.{c['status']}")
        return "\n".join([f"{sym} {head} {state}", *_reason_lines(said, width)])

    def _live(self, st: dict[str, Any]) -> str:
        """The stand of the running step: bars for the brakes, a trend of each value for the others."""
        t = self.app_.t
        insp = st.get("inspection") or {}
        running = next((s for s in insp.get("steps", []) if s["status"] == "running"), None)
        kinds = running.get("devices", []) if running else []
        other = next((d for d in st.get("devices", []) if d["kind"] in kinds and d["kind"] != "brake"), None)
        if other is not None:
            return self._trend_lines(other)
        brake = next((d for d in st.get("devices", []) if d["kind"] == "brake"), None)
        if brake is None:
            return ""
        live = brake.get("live", {})
        left = live.get("brake.force.left", {}).get("value", 0.0)
        right = live.get("brake.force.right", {}).get("value", 0.0)
        full = max(5.0, left, right)
        larger = max(left, right)
        imb = 0.0 if larger <= 0.3 else 100 * (larger - min(left, right)) / larger
        photo = ""
        if running and running.get("photo"):  # R3.9: this axle's brake test takes the photo
            at = running.get("photo_at")
            photo = "   " + (
                t("lane.photo_taken", time=dt.datetime.fromtimestamp(at).strftime("%H:%M:%S"))
                if at
                else t("lane.photo_waiting")
            )
        return (
            f"{t('dev.left'):<6}{bar(left, full)} {left:5.2f} kN   "
            f"{t('dev.imbalance')} {imb:.1f} %\n"
            f"{t('dev.right'):<6}{bar(right, full)} {right:5.2f} kN{photo}"
        )

    def _trend_lines(self, d: dict[str, Any]) -> str:
        live = d.get("live", {})
        out = []
        for label, ch in LIVE.get(d["kind"], ())[:2]:
            if ch not in live:
                continue
            v = live[ch]
            name = label or self.app_.t(f"dev.{d['kind']}")
            out.append(
                f"{name:<6}[cyan]{sparkline(self.app_.trends.of(d['id'], ch), BAR):<{BAR}}[/cyan] "
                f"{v['value']:7.2f} {v['unit']}"
            )
        return "\n".join(out)

    def _hint(self, st: dict[str, Any]) -> str:
        insp = st.get("inspection")
        app = self.app_
        if app.client.role != "operator":
            return app.t("lane.readonly")
        if not insp:
            return ""
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
        from tui.screens.new_inspection import NewInspectionScreen

        if self.app_.client.role != "operator":
            return
        self.app_.push_screen(NewInspectionScreen(), self._start_inspection)

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
        if not last or self.app_.client.role not in ("operator", "admin"):
            return
        job = await self._call("POST", f"/v1/cards/{last['card_id']}/print")
        if job is not None:
            key = "print.sent_copy" if job["copy"] else "print.sent"
            self.say(self.app_.t(key, number=last.get("number"), queue=job["queue"], job=job["job"]))

    async def action_certificate(self) -> None:
        """F4 (admin): the international certificate of the last card, printed on the lane's printer."""
        last = self.app_.state.get("last_card")
        if not last or self.app_.client.role != "admin":
            return
        done = await self._call("POST", f"/v1/cards/{last['card_id']}/certificate", {"print": True})
        if done is not None:
            self.say(
                self.app_.t("print.certificate", number=done["number"], queue=done["queue"], job=done["job"])
            )

    async def action_card(self) -> None:
        """F8: the review of the card as it would be formed now; F8 there forms it."""
        from tui.screens.review import ReviewScreen

        insp = self.app_.state.get("inspection")
        if not insp or self.app_.client.role != "operator":
            return
        preview = await self._call("GET", f"/v1/inspections/{insp['id']}/preview")
        if preview is not None:
            self.app_.push_screen(ReviewScreen(insp, preview, self._item_lines), self._card_formed)

    async def _card_formed(self, card: dict[str, Any] | None) -> None:
        insp = self.app_.state.get("inspection")
        if card is None or not insp:
            return
        verdict = self.app_.t(f"verdict.{card['verdict']}")
        self.say(self.app_.t("card.formed", number=insp["number"], verdict=verdict))
        await self.app_.reload_state()

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


def _reason_lines(reason: str, width: int) -> list[str]:
    """Why a stand or camera is not ready, under its line: model and serial are on the technician's
    screen; a problem is here, on two lines at most."""
    return [f"   [yellow]{escape(part)}[/yellow]" for part in textwrap.wrap(reason, max(20, width - 3))[:2]]
