"""Stand-ins for what is outside the lane's parts, shared by their unit tests and the history bench:
a lane clock that moves when told, and a stand's driver that takes commands. What they say goes
through the lane's own code."""

from __future__ import annotations

from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

from app.domain.clock import LaneClock
from drivers.base import FrameLog


class StoppedClock(LaneClock):
    """Lane time that moves only when the caller sets ``at``."""

    def __init__(self, at: float) -> None:
        super().__init__()
        self.at = at

    def now(self) -> float:
        return self.at


@dataclass
class FakeStand:
    """A stand as the lane sees its driver: a profile's commands, a frame log, the commands it got."""

    id: str = "brake"
    profile: Any = field(
        default_factory=lambda: SimpleNamespace(start="start", result="result", service_commands=("zero",))
    )
    log: FrameLog = field(default_factory=FrameLog)
    sent: list[str] = field(default_factory=list)

    async def command(self, name: str) -> None:
        self.sent.append(name)
