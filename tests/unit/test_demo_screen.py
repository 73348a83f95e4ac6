"""Issue #23 item 1: a crash of the lane screen in the demo does not take the lane down with it — the
screen is opened again while the daemon, stands and EIS run on; a screen that fails again and again
as it opens is given up (the demo then stops the lane)."""

from __future__ import annotations

import sys
from pathlib import Path

from app import demo


def _screen(tmp_path: Path, exits: list[int]) -> list[str]:
    """A stand-in screen: each run exits with the next of ``exits``, counting its runs in a file."""
    count = tmp_path / "runs"
    code = (
        "import pathlib, sys; p = pathlib.Path(sys.argv[1]);"
        " n = int(p.read_text() or 0) if p.exists() else 0;"
        f" p.write_text(str(n + 1)); sys.exit({exits!r}[min(n, {len(exits) - 1})])"
    )
    return [sys.executable, "-c", code, str(count)]


def test_a_screen_that_crashes_is_opened_again_until_the_user_leaves(tmp_path: Path) -> None:
    demo.run_screen(_screen(tmp_path, [1, 1, 0]))
    assert (tmp_path / "runs").read_text() == "3"


def test_a_screen_that_fails_as_it_opens_is_given_up(tmp_path: Path) -> None:
    demo.run_screen(_screen(tmp_path, [1]))
    assert (tmp_path / "runs").read_text() == str(demo.SCREEN_RETRIES)
