"""An otolane command the daemon runs as a process of its own (the integrity check, a backup the
administrator asks for): at a lower priority, so the lane's work keeps its cores; in a session of
its own, so a signal to the daemon's group does not cut it; its argument list fixed words and the
configuration's path, never input."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from pathlib import Path
from typing import Any

NICE = 10


async def spawn(config: Path, *args: str) -> asyncio.subprocess.Process:
    """``otolane ARGS --config CONFIG``, its output on pipes."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "app.cli",
        *args,
        "--config",
        str(config),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        start_new_session=True,
    )
    with contextlib.suppress(OSError):  # a lower priority is a courtesy, not a condition
        os.setpriority(os.PRIO_PROCESS, proc.pid, NICE)
    return proc


async def end(proc: asyncio.subprocess.Process | None, follower: asyncio.Task[Any] | None) -> None:
    """Ask it to end (it saves what it must) and wait up to 30 s for its follower to see it end."""
    if proc is None or follower is None or follower.done() or proc.returncode is not None:
        return
    proc.terminate()
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(asyncio.shield(follower), 30)
