"""The lane screen: a Textual client of ``laned``. It shows and asks; the daemon decides.

One App-level worker keeps the WebSocket stream open and reconnects with back-off; events update
``app.state`` and bump ``app.revision``; screens redraw from the state on a short timer, so a burst of
readings costs one redraw, and a slow kiosk stays responsive.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from textual.app import App
from textual.binding import Binding

from app.api.client import ApiError, LaneClient
from tui.events import parse
from tui.i18n import LANGS, translate
from tui.widgets.sparkline import SAMPLE_S, Trends

log = logging.getLogger("otolane.tui")


class OtolaneApp(App[None]):
    CSS_PATH = "otolane.tcss"
    TITLE = "otolane"
    ENABLE_COMMAND_PALETTE = False
    BINDINGS = [
        Binding("f10", "cycle_lang", show=False, priority=True),
        Binding("ctrl+q", "logout", show=False, priority=True),
    ]

    def __init__(self, socket_path: str, lang: str = "ru") -> None:
        super().__init__()
        self.client = LaneClient(socket_path)
        self.ui_lang = lang if lang in LANGS else "ru"
        self.state: dict[str, Any] = {}
        self.online = False
        self.revision = 0
        self.trends = Trends()

    # --- language ------------------------------------------------------------
    def t(self, key: str, **params: Any) -> str:
        return translate(self.ui_lang, key, **params)

    def error_text(self, exc: ApiError) -> str:
        key = f"error.{exc.code}"
        text = self.t(key, **self._reasoned(exc.params))
        if text == key:
            text = self.t("error.unknown", code=exc.code)
        holds = exc.params.get("holds") or []
        if holds:
            text += " " + " ".join(self.hold_text(h) for h in holds)
        return text

    def reason_text(self, why: dict[str, Any] | None, fallback: str = "") -> str:
        """A stand's or camera's reason in the user's language, from its code; the daemon's text if
        unknown."""
        if why and why.get("code"):
            key = f"reason.{why['code']}"
            text = self.t(key, **why.get("params", {}))
            if text != key:
                return text
        return fallback

    def _reasoned(self, params: dict[str, Any]) -> dict[str, Any]:
        """Parameters with a device's or camera's ``why`` said as ``reason`` in the user's language."""
        out = dict(params)
        if "why" in out:
            out["reason"] = self.reason_text(out.pop("why"), out.get("reason", ""))
        return out

    def hold_text(self, hold: dict[str, Any]) -> str:
        params = self._reasoned(hold.get("params", {}))
        if "steps" in params:
            params["steps"] = ", ".join(self.step_name(s) for s in params["steps"])
        if "step" in params:
            params["step"] = self.step_name(params["step"])
        return self.t(f"hold.{hold['code']}", **params)

    def step_name(self, step_id: str) -> str:
        for prefix in ("brakes_axle", "suspension_axle"):
            if step_id.startswith(prefix + "_"):
                return self.t(f"step.{prefix}", axle=step_id.rsplit("_", 1)[1])
        return self.t(f"step.{step_id}")

    def action_cycle_lang(self) -> None:
        self.ui_lang = LANGS[(LANGS.index(self.ui_lang) + 1) % len(LANGS)]
        self.revision += 1
        for screen in self.screen_stack:
            refresh = getattr(screen, "refresh_texts", None)
            if refresh:
                refresh()

    # --- session -------------------------------------------------------------
    def sample_trends(self) -> None:
        self.trends.sample(self.state.get("devices", []))
        self.revision += 1

    def on_mount(self) -> None:
        self.set_interval(SAMPLE_S, self.sample_trends)
        from tui.screens.login import LoginScreen

        self.push_screen(LoginScreen())

    async def after_login(self, must_change: bool) -> None:
        from tui.screens.lane import LaneScreen
        from tui.screens.password import PasswordScreen

        if must_change:
            self.push_screen(PasswordScreen())
            return
        await self.reload_state()
        self.run_worker(self.stream_lane(), exclusive=True, group="lane-stream")
        self.switch_screen(LaneScreen())

    async def action_logout(self) -> None:
        from tui.screens.login import LoginScreen

        if not self.client.token:
            self.exit()
            return
        self.workers.cancel_group(self, "lane-stream")
        with contextlib.suppress(ApiError):
            await self.client.logout()
        self.state = {}
        while len(self.screen_stack) > 2:
            self.pop_screen()
        self.switch_screen(LoginScreen())

    # --- the lane stream ---------------------------------------------------------
    async def reload_state(self) -> None:
        self.state = await self.client.call("GET", "/v1/state")
        self.online = True
        self.revision += 1

    async def stream_lane(self) -> None:
        backoff = 0.5
        while self.client.token:
            try:
                await self.reload_state()
                async for event in self.client.stream():
                    backoff = 0.5
                    self.apply(event)
            except ApiError as exc:
                if exc.status == 401 or exc.code == "session_required":
                    self.client.token = ""
                    await self.action_logout()
                    return
            except Exception:  # never let the stream kill the screen
                log.exception("lane stream")
            self.online = False
            self.revision += 1
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 5.0)

    def apply(self, raw: dict[str, Any]) -> None:
        """One stream event, parsed once (``tui/events.py``), applied to ``app.state``."""
        event = parse(raw)
        if event is None:
            return
        if event.apply(self.state):
            self.run_worker(self.reload_state(), group="reload")
        self.revision += 1

    async def on_unmount(self) -> None:
        with contextlib.suppress(Exception):
            await self.client.logout()
        await self.client.close()


def make_app(socket_path: str, lang: str = "ru") -> OtolaneApp:
    """One factory for the console, SSH sessions and the tests."""
    return OtolaneApp(socket_path, lang)


def run_tui(socket_path: str, lang: str = "ru") -> None:
    logging.basicConfig(level=logging.WARNING, handlers=[logging.NullHandler()])
    make_app(socket_path, lang).run()
