"""The lane screen: a Textual client of ``laned``. It shows and asks; the daemon decides.

One App-level worker keeps the WebSocket stream open and reconnects with back-off; events update
``app.state`` and bump ``app.revision``; screens redraw from the state on a short timer, so a burst of
readings costs one redraw, and a slow kiosk stays responsive.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Awaitable
from pathlib import Path
from typing import Any

from textual import events
from textual.app import App
from textual.binding import Binding

from app.api.client import ApiError, LaneClient
from tui.events import parse
from tui.i18n import LANGS, translate
from tui.typeahead import TypeAhead
from tui.widgets.sparkline import SAMPLE_S, Trends

#: how often the screen asks itself whether it has been left idle (R11)
LOCK_CHECK_S = 1.0

log = logging.getLogger("otolane.tui")


class OtolaneApp(TypeAhead, App[None]):
    CSS_PATH = "otolane.tcss"
    TITLE = "otolane"
    ENABLE_COMMAND_PALETTE = False
    BINDINGS = [
        Binding("f10", "cycle_lang", show=False, priority=True),
        Binding("ctrl+q", "logout", show=False, priority=True),
        # focus moves before the keys typed after Tab are given to a field (priority): typed fast,
        # or over a slow SSH link that delivers them at once, they went into the field left behind
        Binding("tab", "focus_next", show=False, priority=True),
        Binding("shift+tab", "focus_previous", show=False, priority=True),
    ]

    #: the tests turn this on (tests/conftest.py): an error in a screen fails the test rather than
    #: being shown as a line
    strict = False

    def __init__(self, socket_path: str, lang: str = "ru") -> None:
        super().__init__()
        self.screen_errors: list[str] = []  # what the guard kept the screens alive through
        self.client = LaneClient(socket_path)
        self.ui_lang = lang if lang in LANGS else "ru"
        self.state: dict[str, Any] = {}
        self.online = False
        self.revision = 0
        self.trends = Trends()

    # --- errors: a screen never dies of one (issue #23) ----------------------------
    def screen_failed(self, error: BaseException) -> None:
        """An error in a screen's handler, a timer or a worker: logged with its traceback, said to
        the user as a line in their language; the screen and the lane go on."""
        log.error("error in a screen (the screen goes on)", exc_info=error)
        self.screen_errors.append(f"{type(error).__name__}: {error}"[:200])
        with contextlib.suppress(Exception):
            self.notify(self.t("app.screen_error"), severity="error", timeout=8)

    def _handle_exception(self, error: Exception) -> None:
        if self.strict or self._exit:
            super()._handle_exception(error)
            return
        self.screen_failed(error)

    async def guarded(self, handling: Awaitable[None]) -> None:
        """A message handled, its error kept here (logged, said as a line) rather than handed to
        Textual, which stops the message loop it came from; the tests' strict mode lets it through."""
        try:
            await handling
        except asyncio.CancelledError:
            raise
        except Exception as error:
            if self.strict:
                raise
            self.screen_failed(error)

    async def _dispatch_message(self, message: Any) -> None:
        """The app's own messages (keys and their actions among them) under the same guard."""
        await self.guarded(super()._dispatch_message(message))

    # --- language ------------------------------------------------------------
    def t(self, key: str, /, **params: Any) -> str:
        return translate(self.ui_lang, key, **params)

    def t_or(self, key: str, as_is: str) -> str:
        """The catalog's words for ``key``, or ``as_is`` where the catalogs have none (a device's
        unit, a journal action added later): a gap shows as the thing itself, not as a key."""
        said = translate(self.ui_lang, key)
        return as_is if said == key else said

    def unit(self, unit: str) -> str:
        """A unit as people here write it ("кН", "м/км"); one the catalogs lack, as the device said it."""
        return self.t_or(f"unit.{unit}", unit)

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
        if isinstance(out.get("permission"), str):  # a permission by what it allows, in words
            out["permission"] = self.t_or(f"permission.{out['permission']}", out["permission"])
        if "why" in out:
            out["reason"] = self.reason_text(out.pop("why"), out.get("reason", ""))
        return out

    def who(self, name: str) -> str:
        """Who acted: a user by name; the lane's own parts and the command line in words."""
        if name.startswith("cli:"):
            return self.t("actor.cli", user=name.removeprefix("cli:"))
        return self.t_or(f"actor.{name}", name)

    def where_text(self, where: dict[str, Any] | None) -> str:
        """Where an act came from in words: "консоль tty1", "SSH 10.0.0.5 pts/2" (R11)."""
        if not where:
            return self.t("activity.via_lane")
        via = self.t_or(f"activity.via_{where.get('via', '')}", str(where.get("via", "")))
        return " ".join(x for x in (via, where.get("address", ""), where.get("terminal", "")) if x)

    def duration(self, seconds: float) -> str:
        """A time left as people read it: "17 мин 28 с", "45 с" (not "1048 с")."""
        whole = max(0, round(seconds))
        m, s = divmod(whole, 60)
        return self.t("duration.min_s", m=m, s=s) if m else self.t("duration.s", s=s)

    def hold_text(self, hold: dict[str, Any]) -> str:
        params = self._reasoned(hold.get("params", {}))
        if "left_s" in params:
            params["left"] = self.duration(float(params["left_s"]))
        if "kind" in params:  # a kind of stand, in words (not "gas")
            params["kind"] = self.t(f"dev.{params['kind']}")
        if "device" in params:  # a stand by its kind's name where the lane knows it
            kinds = {d.get("id"): d.get("kind") for d in self.state.get("devices", [])}
            kind = kinds.get(params["device"])
            if kind:
                params["device"] = self.t(f"dev.{kind}")
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
        self.last_input = time.monotonic()
        self.set_interval(LOCK_CHECK_S, self.lock_if_idle)
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

    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, events.Key | events.MouseDown):  # a person at the screen
            self.last_input = time.monotonic()
        await super().on_event(event)

    async def lock_if_idle(self) -> None:
        """R11: a screen with personal data (``PERSONAL``) left with no key pressed for the lane's
        ``screen_lock_minutes`` locks — the session ends (journalled with the screen, an alert) and the
        log-in screen is back."""
        idle = time.monotonic() - self.last_input
        limit = self.client.lock_after_s
        if not (
            self.client.token and limit > 0 and idle >= limit and getattr(self.screen, "PERSONAL", False)
        ):
            return
        await self.log_out("idle", type(self.screen).__name__)
        self.notify(
            self.t("login.locked_idle", minutes=max(1, round(limit / 60))), severity="warning", timeout=30
        )

    async def action_logout(self) -> None:
        if not self.client.token:
            self.exit()
            return
        await self.log_out()

    async def log_out(self, reason: str = "", screen: str = "") -> None:
        """The session ended from this side (Ctrl+Q, or the idle lock with its ``reason``)."""
        self.workers.cancel_group(self, "lane-stream")
        with contextlib.suppress(ApiError):
            await self.client.logout(reason, screen)
        self.back_to_login()

    def back_to_login(self) -> None:
        from tui.screens.login import LoginScreen

        self.state = {}
        while len(self.screen_stack) > 2:
            self.pop_screen()
        self.switch_screen(LoginScreen())

    async def session_ended(self) -> None:
        """The daemon no longer knows this session — it came back after a restart, or the account
        changed: back to the login screen, saying so; never out of the screen (issue #23: a second
        screen quit without a word when its daemon came back)."""
        self.client.token = ""
        self.online = True
        self.back_to_login()
        self.notify(self.t("error.session_required"), severity="warning", timeout=15)

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
                    await self.session_ended()
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


def log_file() -> Path:
    """Where a screen's errors are written (the user's own state folder, 0600): a screen never shows
    a traceback."""
    base = Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state")
    return base / "otolane" / "tui.log"


def run_tui(socket_path: str, lang: str = "ru") -> int:
    """The screen until the user leaves it; its exit status: 0 when they left, else what went wrong
    (whoever started it may open it again: the lane itself runs on)."""
    path = log_file()
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        path.touch(mode=0o600, exist_ok=True)
        handler: logging.Handler = logging.FileHandler(path, encoding="utf-8")
    except OSError:  # a read-only home: nothing is written, nothing shown
        handler = logging.NullHandler()
    logging.basicConfig(level=logging.WARNING, handlers=[handler])
    app = make_app(socket_path, lang)
    app.run()
    return int(app.return_code or 0)
