"""How the lane screen is started: as its own program (``python -m tui``), so nothing on the daemon
side ever imports screen code. Used by ``otolane tui`` and the demo; it never imports the screen."""

from __future__ import annotations

import sys


def tui_command(socket: str, lang: str) -> list[str]:
    """The argv of the lane screen on the daemon's ``socket``, in ``lang``."""
    return [sys.executable, "-m", "tui", "--socket", socket, "--lang", lang]
