"""The audit journal (R3.15, R10.6, R11): one append-only, hash-chained table of who did what.

Details never carry secrets or personal data: a password, a key, an owner's name are not written.
The journal is also the chained record of the facts the lane's gates, roles and deliveries rest on
(when an inspection started, a user's role, a card's delivery, the lane clock): the integrity check
holds the state tables against it (``app/integrity.py``).
"""

from __future__ import annotations

import time
from typing import Any

from app.storage.chain import ChainWriter
from app.storage.db import write_tx
from app.storage.models import JournalEntry

SECRET_WORDS = ("password", "secret", "token", "key_material")
#: The largest page of the journal one request may read.
MAX_PAGE = 1000


def _clean(details: dict[str, Any]) -> dict[str, Any]:
    return {k: ("***" if any(w in k for w in SECRET_WORDS) else v) for k, v in details.items()}


class Journal:
    def __init__(self) -> None:
        self.writer = ChainWriter(JournalEntry)

    @staticmethod
    def entry(actor: str, action: str, details: dict[str, Any], ts: float | None = None) -> dict[str, Any]:
        """The chained columns of one journal row (its seq and hashes are added when appended)."""
        return {
            "ts": time.time() if ts is None else ts,
            "actor": actor[:64],
            "action": action,
            "details": _clean(details),
        }

    async def write(self, actor: str, action: str, conn: Any = None, **details: Any) -> None:
        row = self.entry(actor, action, details)
        if conn is not None:
            await self.writer.append([row], conn)
            return
        async with write_tx() as tx:
            await self.writer.append([row], tx)

    async def read(
        self, limit: int = 100, before: int | None = None, action: str | None = None
    ) -> list[dict[str, Any]]:
        q = JournalEntry.all()
        if before is not None:
            q = q.filter(seq__lt=before)
        if action:
            q = q.filter(action=action)
        rows = await q.order_by("-seq").limit(max(1, min(limit, MAX_PAGE)))
        return [
            {"seq": r.seq, "ts": r.ts, "actor": r.actor, "action": r.action, "details": r.details}
            for r in rows
        ]

    @staticmethod
    async def events(*actions: str, after: int = 0) -> list[JournalEntry]:
        """Every entry of these actions after ``after``, oldest first: the chained record the lane
        rebuilds a fact from (the clock, a stand's registration, an account's role)."""
        return await JournalEntry.filter(action__in=actions, seq__gt=after).order_by("seq")

    @staticmethod
    async def last(*actions: str) -> JournalEntry | None:
        return await JournalEntry.filter(action__in=actions).order_by("-seq").first()
