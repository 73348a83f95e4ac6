"""The audit journal (R3.15, R10.6, R11): one append-only, hash-chained table of who did what.

Details never carry secrets or personal data: a password, a key, an owner's name are not written.
"""

from __future__ import annotations

import time
from typing import Any

from tortoise.transactions import in_transaction

from app.storage.chain import ChainWriter
from app.storage.models import JournalEntry

SECRET_WORDS = ("password", "secret", "token", "key_material")


def _clean(details: dict[str, Any]) -> dict[str, Any]:
    return {k: ("***" if any(w in k for w in SECRET_WORDS) else v) for k, v in details.items()}


class Journal:
    def __init__(self) -> None:
        self.writer = ChainWriter(JournalEntry)

    async def write(self, actor: str, action: str, conn: Any = None, **details: Any) -> None:
        row = {"ts": time.time(), "actor": actor, "action": action, "details": _clean(details)}
        if conn is not None:
            await self.writer.append([row], conn)
            return
        async with in_transaction() as tx:
            await self.writer.append([row], tx)

    async def read(
        self, limit: int = 100, before: int | None = None, action: str | None = None
    ) -> list[dict[str, Any]]:
        q = JournalEntry.all()
        if before:
            q = q.filter(seq__lt=before)
        if action:
            q = q.filter(action=action)
        rows = await q.order_by("-seq").limit(limit)
        return [
            {"seq": r.seq, "ts": r.ts, "actor": r.actor, "action": r.action, "details": r.details}
            for r in rows
        ]
