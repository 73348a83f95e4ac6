"""Issue #23, "not done until": every screen has a snapshot test (pytest-textual-snapshot) at 80×24
in Kazakh, Russian and English — each screen as a role reaches it (``tests.replay.WALKS``), told what
a real lane told it when it was recorded (``tests/data/screens``, ``python -m tests.replay``), the
wall clock held at 3 December 2026, 10:00, and the trends drawn from a fixed wave, so the same
screen draws the same picture on every machine. A change of layout, a word or a colour fails here
with the picture's difference in ``snapshot_report.html``; a change meant is accepted with
``./lane test tests/e2e/test_screen_snapshots.py --snapshot-update`` after looking at the new
pictures (``rsvg-convert`` makes a PNG of each)."""

from __future__ import annotations

import datetime as dt
import math
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Input

from tests.e2e.test_tui_pilot import SIZE
from tests.replay import DATA, WALKS, Replay, reach
from tui import wallclock
from tui.app import OtolaneApp, make_app

#: each screen once: the start of every walk, and every key but Esc (which goes back to one seen)
STEPS = [
    (walk, n)
    for walk, (_, keys) in WALKS.items()
    for n in range(len(keys) + 1)
    if n == 0 or keys[n - 1] != "escape"
]


def _id(step: tuple[str, int]) -> str:
    walk, n = step
    return f"{walk}-{n:02d}-{WALKS[walk][1][n - 1] if n else 'start'}"


@pytest.fixture
def still(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The clock, the trends and the inputs' cursors held still (a cursor drawn solid: its blink
    would be on or off by the machine's speed); times said in UTC. A screen's refresh while one
    watches it (each second or two) is held too: a screen is drawn from what it asked when it
    opened — whether a busy machine let a second pass before the picture was taken (the review's
    countdown, the next of a device's frames) is not the screen's layout."""
    refresh = Screen.set_interval

    def held(self: Screen[Any], interval: float, *args: Any, **kwargs: Any) -> Timer:
        if interval >= 1.0:
            kwargs["pause"] = True
        return refresh(self, interval, *args, **kwargs)

    monkeypatch.setattr(Screen, "set_interval", held)
    monkeypatch.setattr(wallclock, "now", lambda: dt.datetime(2026, 12, 3, 10, 0))
    monkeypatch.setattr(Input, "_toggle_cursor", lambda self: setattr(self, "_cursor_visible", True))
    monkeypatch.setattr(OtolaneApp, "sample_trends", lambda self: None)
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def _scaled(live: dict[str, Any], by: float) -> dict[str, float]:
    return {c: v * by for c, v in live.items() if isinstance(v, int | float)}


def _fixed_trends(app: OtolaneApp) -> None:
    """24 samples of a fixed wave around each stand's live value, as the screen samples them."""
    devices = app.state.get("devices", [])
    for i in range(24):
        wave = 1 + 0.05 * math.sin(i / 2)
        app.trends.sample([{**d, "live": _scaled(d.get("live", {}), wave)} for d in devices])


@pytest.mark.parametrize("lang", ["kk", "ru", "en"])
@pytest.mark.parametrize("step", STEPS, ids=[_id(s) for s in STEPS])
@pytest.mark.usefixtures("still")
def test_the_screen_draws_as_reviewed(
    snap_compare: Callable[..., bool], tmp_path: Path, lang: str, step: tuple[str, int]
) -> None:
    walk, n = step
    sock = tmp_path / "laned.sock"
    with Replay(DATA / f"{walk}.json", sock) as replay:
        app = make_app(str(sock), lang)

        async def run_before(pilot: Any) -> None:
            await reach(app, pilot, walk, [], pause=0.2)
            await replay.quiet(pilot)
            _fixed_trends(app)
            for key in WALKS[walk][1][:n]:
                await pilot.press(key)
                await replay.quiet(pilot)

        assert snap_compare(app, run_before=run_before, terminal_size=SIZE), os.environ.get("TZ")
    assert not replay.missing, f"not in the record (python -m tests.replay records again): {replay.missing}"
