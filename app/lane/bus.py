"""The lane's live stream inside ``laned``: subscribers, publishing, and the stream's events.

Owns the subscribers of ``/v1/stream`` and the shape of every event it carries — one constructor per
event of the table in ``docs/api.md``. A slow subscriber (a screen on a bad SSH link) loses its
oldest events; publishing never waits and never fails. It never decides what to publish or when:
the parts that own the state call it.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

#: events one subscriber may have queued before the oldest are dropped
MAX_QUEUE = 2000
Event = dict[str, Any]


class Subscriber:
    def __init__(self) -> None:
        self.queue: asyncio.Queue[Event] = asyncio.Queue(MAX_QUEUE)
        self.dropped = 0

    def put(self, event: Event) -> None:
        # A slow client (a bad SSH link) loses old live values, never blocks the lane.
        if self.queue.full():
            with contextlib.suppress(asyncio.QueueEmpty):
                self.queue.get_nowait()
                self.dropped += 1
        self.queue.put_nowait(event)


class Bus:
    def __init__(self) -> None:
        self._subscribers: set[Subscriber] = set()

    def subscribe(self) -> Subscriber:
        sub = Subscriber()
        self._subscribers.add(sub)
        return sub

    def unsubscribe(self, sub: Subscriber) -> None:
        self._subscribers.discard(sub)

    def publish(self, event: Event) -> None:
        for sub in list(self._subscribers):
            sub.put(event)

    @property
    def open_streams(self) -> int:
        return len(self._subscribers)

    def streams(self) -> dict[str, int]:
        """Open streams and the live values slow ones lost (a frozen SSH screen)."""
        return {"open": len(self._subscribers), "dropped": sum(s.dropped for s in self._subscribers)}


# --- the events (docs/api.md, "Stream events") ---------------------------------------------------
def hello(api: int) -> Event:
    return {"type": "hello", "api": api}


def reading(
    device: str, channel: str, value: float, unit: str, ts: float, final: bool, **derived: float
) -> Event:
    """A live value; ``derived``: what the lane computes from it and the stand's other values
    (the brake imbalance), so no screen computes a rule."""
    return {
        "type": "reading",
        "device": device,
        "channel": channel,
        "value": value,
        "unit": unit,
        "ts": ts,
        "final": final,
        **derived,
    }


def device(view: dict[str, Any]) -> Event:
    return {"type": "device", "device": view}


def camera(view: dict[str, Any]) -> Event:
    return {"type": "camera", "camera": view}


def arrival(seen: dict[str, Any] | None) -> Event:
    """The car the plate camera sees now, as read when it arrived (None: the lane is empty)."""
    return {"type": "arrival", "arrival": seen}


def inspection(view: dict[str, Any] | None) -> Event:
    return {"type": "inspection", "inspection": view}


def outbox(counts: dict[str, int]) -> Event:
    return {"type": "outbox", "outbox": counts}


def storage(status: dict[str, Any], alarms: list[str]) -> Event:
    return {"type": "storage", "storage": status, "alarms": list(alarms)}
