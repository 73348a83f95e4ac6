"""Hash chains over append-only tables (R3.10).

Each row carries ``hash = SHA-256(prev_hash ‖ canonical(content))`` where content is every stored
column but the hash itself. Changing, removing or inserting any row breaks the chain from there on;
:func:`verify` walks a chain and names the first break.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from typing import Any

from tortoise.models import Model

GENESIS = "0" * 64
CHAINED: dict[str, tuple[str, ...]] = {
    "readings": (
        "seq",
        "inspection_id",
        "step",
        "device_id",
        "device_serial",
        "channel",
        "ts",
        "sealed",
        "prev_hash",
    ),
    "journal": ("seq", "ts", "actor", "action", "details", "prev_hash"),
    "cards": ("seq", "card_id", "inspection_id", "verdict", "created", "sealed", "prev_hash"),
}


def _plain(v: Any) -> Any:
    if isinstance(v, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(v)).decode()
    if isinstance(v, float):
        return repr(v)
    return v


def row_hash(table: str, row: dict[str, Any]) -> str:
    content = {k: _plain(row[k]) for k in CHAINED[table]}
    canon = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256((row["prev_hash"] + canon).encode()).hexdigest()


class ChainWriter:
    """Appends rows to one chained table; one writer per table in the daemon, behind a lock."""

    def __init__(self, model: type[Model]) -> None:
        self.model = model
        self.table: str = model._meta.db_table
        self._lock = asyncio.Lock()

    async def _tail(self, conn: Any) -> tuple[int, str]:
        last = await self.model.all().using_db(conn).order_by("-seq").first()
        if last is None:
            return 0, GENESIS
        return int(last.seq), str(last.hash)  # type: ignore[attr-defined]

    async def append(self, rows: Iterable[dict[str, Any]], conn: Any) -> list[Model]:
        """Insert rows in order within the caller's transaction ``conn``."""
        async with self._lock:
            seq, prev = await self._tail(conn)
            objs = []
            for data in rows:
                seq += 1
                row = dict(data, seq=seq, prev_hash=prev)
                row["hash"] = prev = row_hash(self.table, row)
                objs.append(self.model(**row))
            if objs:
                await self.model.bulk_create(objs, using_db=conn)
            return objs


@dataclass(frozen=True)
class Break:
    table: str
    seq: int
    problem: str

    def __str__(self) -> str:
        return f"{self.table}: row {self.seq}: {self.problem}"


async def _rows(model: type[Model], page: int = 1000) -> AsyncIterator[dict[str, Any]]:
    after = 0
    cols = (*CHAINED[model._meta.db_table], "hash")
    while True:
        batch = await model.filter(seq__gt=after).order_by("seq").limit(page).values(*cols)
        if not batch:
            return
        for r in batch:
            yield r
        after = batch[-1]["seq"]


async def verify(model: type[Model]) -> tuple[int, Break | None]:
    """Walk a chain; return the number of rows checked and the first break, if any."""
    table = model._meta.db_table
    prev, expected_seq, n = GENESIS, 1, 0
    async for r in _rows(model):
        n += 1
        if r["seq"] != expected_seq:
            return n, Break(table, expected_seq, f"row missing (next row is {r['seq']})")
        if r["prev_hash"] != prev:
            return n, Break(table, r["seq"], "link to the previous row broken")
        if row_hash(table, r) != r["hash"]:
            return n, Break(table, r["seq"], "content changed after it was written")
        prev, expected_seq = r["hash"], expected_seq + 1
    return n, None
