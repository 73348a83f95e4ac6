"""What a check says as it goes: its lines and problems (kept up to a bound, counted beyond it), and
its progress (rows done of the rows to check, rows per second, time left)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from app.integrity.position import Run

#: problems kept word for word; more are counted (a lane where everything is wrong says so in its
#: first thousand lines, and the check's memory stays flat)
MAX_KEPT = 1000


class Interrupted(Exception):
    """Asked to stop between two pages: the position is saved, ``--resume`` continues."""


class Report:
    def __init__(self, run: Run) -> None:
        self.run = run

    def ok(self, text: str) -> None:
        self.run.lines.append(text)

    def bad(self, where: str, problem: str) -> None:
        if len(self.run.problems) >= MAX_KEPT:
            self.run.more += 1
            return
        self.run.problems.append({"where": where, "problem": problem})
        self.run.lines.append(f"{where}: {problem}")

    @property
    def count(self) -> int:
        return len(self.run.problems) + self.run.more


class Progress:
    """Rows done against rows to do; told to ``emit`` at most every ``every`` seconds."""

    def __init__(self, run: Run, emit: Callable[[dict[str, Any]], None] | None, every: float = 0.5) -> None:
        self.run = run
        self.emit = emit
        self.every = every
        self.t0 = time.monotonic()
        self.done0 = run.done
        self.last = 0.0

    def figures(self) -> dict[str, Any]:
        run = self.run
        elapsed = max(time.monotonic() - self.t0, 1e-6)
        rate = (run.done - self.done0) / elapsed
        left = max(run.total - run.done, 0)
        return {
            "phase": run.phase,
            "done": run.done,
            "total": max(run.total, run.done),
            "percent": round(100 * run.done / run.total, 1) if run.total else 100.0,
            "rows_per_s": round(rate),
            "eta_s": round(left / rate) if rate > 0 else None,
            "mode": run.mode,
        }

    def step(self, rows: int, force: bool = False) -> None:
        self.run.done += rows
        now = time.monotonic()
        if self.emit is not None and (force or now - self.last >= self.every):
            self.last = now
            self.emit(self.figures())
