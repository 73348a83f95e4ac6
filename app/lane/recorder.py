"""Readings of running steps, and the daemon's own journal entries, committed in small batches.

Nothing leaves the buffer before the transaction that stores it has committed: a write
that fails — the database locked longer than its busy timeout, the disk full — keeps every row and
is tried again. :meth:`Recorder.flush` raises :class:`StorageFailed` so a caller that must not go on
(a step reported done, a card) does not; :attr:`Recorder.failing_for` tells how long storing has
failed, so the lane can send a step back instead of holding it for ever.

A reading is sealed (AES-256-GCM, bound to its inspection, channel and time) and appended to the
``readings`` chain; journal entries queued here keep the time they happened at.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

from app.journal import Journal
from app.storage.chain import ChainWriter
from app.storage.crypto import Keyring
from app.storage.db import StorageFailed, write_tx
from app.storage.models import Reading

__all__ = ["Recorder", "StorageFailed", "reading_aad"]
log = logging.getLogger("otolane.recorder")
#: How often the background loop commits what arrived (seconds), and the longest back-off.
FLUSH_EVERY_S = 0.1
BACKOFF_MAX_S = 2.0
#: Journal entries kept while the database refuses them; past this the oldest are dropped (logged).
MAX_EVENTS = 100_000


def reading_aad(inspection_id: str, channel: str, ts: float) -> str:
    """The row binding of a sealed reading: moved to another row, it does not open."""
    return f"readings:{inspection_id}:{channel}:{ts!r}"


class Recorder:
    def __init__(self, keyring: Keyring, journal: Journal) -> None:
        self.keyring = keyring
        self.journal = journal
        self.writer = ChainWriter(Reading)
        self.rows: list[dict[str, Any]] = []
        self.events: list[dict[str, Any]] = []
        self.wake = asyncio.Event()
        self.failing_since: float | None = None
        self.last_error = ""
        self.stored = 0
        self._lock = asyncio.Lock()

    # --- what arrives ------------------------------------------------------------
    def add_reading(self, row: dict[str, Any], payload: dict[str, Any], urgent: bool = False) -> None:
        """``row``: the chained columns of the reading; ``payload``: what is sealed (value, unit …)."""
        self.rows.append({"row": row, "payload": payload})
        if urgent:
            self.wake.set()

    def add_event(self, actor: str, action: str, **details: Any) -> None:
        """A journal entry written in the background, with the time it happened; never lost to a
        database that refuses it for a while."""
        if len(self.events) >= MAX_EVENTS:
            dropped = self.events.pop(0)
            log.error("journal queue full: dropped %s", dropped["action"])
        self.events.append(self.journal.entry(actor, action, details))
        self.wake.set()

    def pending(self) -> int:
        """Readings received and not yet committed."""
        return len(self.rows)

    @property
    def failing_for(self) -> float:
        return 0.0 if self.failing_since is None else time.monotonic() - self.failing_since

    def status(self) -> dict[str, Any]:
        return {
            "ok": self.failing_since is None,
            "error": self.last_error if self.failing_since is not None else "",
            "failing_s": round(self.failing_for, 1),
            "pending_readings": self.pending(),
            "pending_events": len(self.events),
        }

    # --- committing ------------------------------------------------------------
    async def flush(self) -> None:
        async with self._lock:
            rows, events = list(self.rows), list(self.events)
            if not rows and not events:
                return
            sealed = [
                r["row"]
                | {
                    "sealed": self.keyring.seal_json(
                        r["payload"],
                        reading_aad(r["row"]["inspection_id"], r["row"]["channel"], r["row"]["ts"]),
                    )
                }
                for r in rows
            ]
            try:
                async with write_tx() as tx:
                    if sealed:
                        await self.writer.append(sealed, tx)
                    if events:
                        await self.journal.writer.append(events, tx)
            except Exception as exc:
                if self.failing_since is None:
                    self.failing_since = time.monotonic()
                    log.error("storing %d reading(s), %d event(s) failed: %s", len(rows), len(events), exc)
                self.last_error = str(exc) or type(exc).__name__
                raise StorageFailed(self.last_error) from exc
            # Only what was committed leaves the buffer; what arrived meanwhile stays.
            del self.rows[: len(rows)]
            del self.events[: len(events)]
            self.stored += len(rows)
            if self.failing_since is not None:
                log.warning("storing works again after %.1f s", self.failing_for)
            self.failing_since = None
            self.last_error = ""

    async def run(self) -> None:
        """Commit what arrived every 0.1 s (or at once for a final value); back off while failing."""
        delay = FLUSH_EVERY_S
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(delay):
                    await self.wake.wait()
            self.wake.clear()
            try:
                await self.flush()
                delay = FLUSH_EVERY_S
            except StorageFailed:
                delay = min(max(delay * 2, 0.2), BACKOFF_MAX_S)
