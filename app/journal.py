"""The audit journal (R3.15, R10.6, R11): one append-only, hash-chained table of who did what.

Details never carry secrets or personal data: a password, a key, an owner's name are not written.
The journal is also the chained record of the facts the lane's gates, roles and deliveries rest on
(when an inspection started, a user's role, a card's delivery, the lane clock): the integrity check
holds the state tables against it (``app/integrity.py``).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from typing import Any

from tortoise import connections

from app.activity import ACTIONS as ACTIVITY_ACTIONS
from app.activity import WHERE
from app.storage.chain import ChainWriter
from app.storage.db import dialect, write_tx
from app.storage.models import JournalEntry

SECRET_WORDS = ("password", "secret", "token", "key_material")
#: The largest page of the journal one request may read.
MAX_PAGE = 1000


#: The entries of one action that name one card, and how many cards an action names (each once), by
#: the index on (action, the details' card id) of migration 8 — never a scan of the whole journal.
OF_CARD_SQL = {
    "sqlite": "SELECT seq FROM journal WHERE action = ? AND json_extract(details, '$.card_id') = ? "
    "ORDER BY seq",
    "postgres": "SELECT seq FROM journal WHERE action = $1 AND (details->>'card_id') = $2 ORDER BY seq",
}
CARDS_NAMED_SQL = {
    "sqlite": "SELECT COUNT(DISTINCT json_extract(details, '$.card_id')) FROM journal WHERE action = ?",
    "postgres": "SELECT COUNT(DISTINCT (details->>'card_id')) FROM journal WHERE action = $1",
}


#: the details' keys that name what an entry is about, each by an index on (action, key): migrations 8, 9
NAMED_BY = {"card_id", "inspection_id"}


def naming_sql(key: str, n_actions: int, n_ids: int) -> str:
    """The entries of some actions that name some cards or inspections (placeholders only)."""
    if dialect() == "sqlite":
        expr, marks = f"json_extract(details, '$.{key}')", ["?"] * (n_actions + n_ids)
    else:
        expr, marks = f"(details->>'{key}')", [f"${k + 1}" for k in range(n_actions + n_ids)]
    return (
        f"SELECT seq, action, details FROM journal WHERE action IN ({', '.join(marks[:n_actions])}) "  # noqa: S608
        f"AND {expr} IN ({', '.join(marks[n_actions:])})"
    )


def _clean(details: dict[str, Any]) -> dict[str, Any]:
    return {k: ("***" if any(w in k for w in SECRET_WORDS) else v) for k, v in details.items()}


class Journal:
    def __init__(self) -> None:
        self.writer = ChainWriter(JournalEntry)
        #: told of every row written (it may still be in an open transaction): the DLP watch
        self.watchers: list[Callable[[dict[str, Any]], None]] = []

    @staticmethod
    def entry(actor: str, action: str, details: dict[str, Any], ts: float | None = None) -> dict[str, Any]:
        """The chained columns of one journal row (its seq and hashes are added when appended); an
        entry written while a request is served says where it came from (``app/activity.py``)."""
        here = WHERE.get()
        if here and "where" not in details:
            details = {**details, "where": here}
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
        else:
            async with write_tx() as tx:
                await self.writer.append([row], tx)
        for watcher in self.watchers:
            watcher(row)

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
    async def of_card(action: str, card_id: str) -> list[JournalEntry]:
        """The entries of ``action`` that name the card ``card_id``, oldest first."""
        _, rows = await connections.get("default").execute_query(OF_CARD_SQL[dialect()], [action, card_id])
        seqs = [next(iter(dict(r).values())) for r in rows]
        return await JournalEntry.filter(seq__in=seqs).order_by("seq") if seqs else []

    @staticmethod
    async def naming(
        key: str, actions: Iterable[str], ids: Iterable[str]
    ) -> list[tuple[int, str, dict[str, Any]]]:
        """(seq, action, details) of the entries of ``actions`` whose ``details[key]`` is one of
        ``ids`` — cards or inspections — oldest first, by the index on (action, key)."""
        if key not in NAMED_BY:
            raise ValueError(key)
        acts, wanted = list(actions), list(ids)
        if not acts or not wanted:
            return []
        sql = naming_sql(key, len(acts), len(wanted))
        _, rows = await connections.get("default").execute_query(sql, [*acts, *wanted])
        out = []
        for r in rows:
            seq, action, details = tuple(r)
            out.append(
                (int(seq), str(action), json.loads(details) if isinstance(details, str) else dict(details))
            )
        return sorted(out, key=lambda e: e[0])

    @staticmethod
    async def cards_named(action: str) -> int:
        """How many cards the entries of ``action`` name, each once."""
        _, rows = await connections.get("default").execute_query(CARDS_NAMED_SQL[dialect()], [action])
        return int(next(iter(dict(rows[0]).values())))

    @staticmethod
    async def events(*actions: str, after: int = 0) -> list[JournalEntry]:
        """Every entry of these actions after ``after``, oldest first: the chained record the lane
        rebuilds a fact from (the clock, a stand's registration, an account's role)."""
        return await JournalEntry.filter(action__in=actions, seq__gt=after).order_by("seq")

    @staticmethod
    async def activity(start: float, end: float, actor: str | None) -> list[JournalEntry]:
        """The users' activity of ``[start, end)`` (``app/activity.py: ACTIONS``), oldest first, by
        the journal's time index (migration 15); one person's (and the alerts about them) when named."""
        q = JournalEntry.filter(ts__gte=start, ts__lt=end, action__in=ACTIVITY_ACTIONS)
        rows = await q.order_by("seq")
        if actor:
            rows = [r for r in rows if r.actor == actor or (r.details or {}).get("user") == actor]
        return rows

    @staticmethod
    async def last(*actions: str) -> JournalEntry | None:
        return await JournalEntry.filter(action__in=actions).order_by("-seq").first()
