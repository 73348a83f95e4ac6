"""G2: the journal of exchanges with EIS — every request and its answer, one row each, in a hash
chain of its own (``eis_exchanges``, migration 14). Rows are appended in the transaction that stores
what the answer changed (a card accepted, the event feed moved), so the integrity check can hold
those facts against them (``app/integrity/feed.py``): a row taken out breaks the chain, a feed
moved past events no exchange carried is named.
"""

from __future__ import annotations

import re
import time
from typing import TYPE_CHECKING, Any

from app.storage.chain import ChainWriter
from app.storage.crypto import Keyring
from app.storage.db import write_tx
from app.storage.models import Card, EisExchange

if TYPE_CHECKING:
    from app.eis.client import Delivery

#: an events message's idempotency key: its first and last journal entry, and the last one's hash
EVENTS_KEY = re.compile(r"events-(\d+)-(\d+)-[0-9a-f]+")


def events_key(first: int, last: int, last_hash: str) -> str:
    return f"events-{first}-{last}-{last_hash[:16]}"


def events_range(key: str) -> tuple[int, int] | None:
    """The journal entries an events message carried, from its key; None for another key."""
    m = EVENTS_KEY.fullmatch(key)
    return (int(m[1]), int(m[2])) if m else None


class ExchangeLog:
    """Appends exchanges to their chain (one writer in the daemon) and reads them back."""

    def __init__(self, keyring: Keyring) -> None:
        self.keyring = keyring
        self._writer = ChainWriter(EisExchange)

    def row(self, kind: str, card_id: str, key: str, attempt: int, result: Delivery) -> dict[str, Any]:
        """One attempt's trace: the answer's text sealed (R7), the rest plain for the admin."""
        sealed = None
        if result.response:
            sealed = self.keyring.seal(result.response.encode(), f"eis-exchange:{key}:{attempt}")
        return {
            "ts": time.time(),
            "route": result.route,
            "kind": kind,
            "card_id": card_id,
            "idempotency_key": key,
            "attempt": attempt,
            "request_digest": result.request_digest,
            "http_status": result.http_status,
            "outcome": result.outcome,
            "duration_ms": result.duration_ms,
            "error": result.detail[:300] if result.outcome != "accepted" else "",
            "sealed_response": sealed,
        }

    async def append(self, row: dict[str, Any], tx: Any) -> None:
        """Within the caller's write transaction (``write_tx``): with what the answer changed."""
        await self._writer.append([row], tx)

    async def trace(self, kind: str, card_id: str, result: Delivery, attempt: int, key: str = "") -> None:
        """An exchange that changes nothing else, in a write of its own."""
        async with write_tx() as tx:
            await self.append(self.row(kind, card_id, key, attempt, result), tx)

    @staticmethod
    async def accepted_photos(card_id: str) -> set[str]:
        """The photos of a card EIS holds (their ids are their messages' keys)."""
        q = EisExchange.filter(kind="photo", card_id=card_id, outcome="accepted")
        return set(await q.values_list("idempotency_key", flat=True))

    async def listing(
        self, card_id: str | None, limit: int, kinds: tuple[str, ...] = (), fold: bool = False
    ) -> list[dict[str, Any]]:
        """The trace, newest first (the answers' text stays sealed), each card named by its number.
        ``kinds``: only these messages; ``fold``: a run of polls alike (kind ``requests``, same
        outcome and status) is one row with its ``count`` and its oldest time ``first_ts`` — an idle
        lane polls EIS every few seconds, and the events of a step must not drown in them."""
        q = EisExchange.filter(card_id=card_id) if card_id else EisExchange.all()
        if kinds:
            q = q.filter(kind__in=kinds)
        fields = ("seq", "ts", "route", "kind", "card_id", "attempt", "request_digest", "http_status")
        fields += ("outcome", "duration_ms", "error")
        if fold:
            rows = await _folded(q, fields, limit)
        else:
            rows = [
                {**r, "count": 1, "first_ts": r["ts"]}
                for r in await q.order_by("-seq").limit(limit).values(*fields)
            ]
        numbers = await self._numbers({r["card_id"] for r in rows if r["card_id"]})
        for r in rows:
            r["card_number"] = numbers.get(r["card_id"])
        return rows

    async def _numbers(self, card_ids: set[str]) -> dict[str, Any]:
        """Each card's number as printed on it (sealed with the card: opened here, for the page)."""
        cards = await Card.filter(card_id__in=sorted(card_ids)).values("card_id", "sealed")
        return {
            c["card_id"]: self.keyring.open_json(c["sealed"], f"cards:{c['card_id']}").get("number")
            for c in cards
        }


#: polls are folded reading this many rows at a time, and at most this many rows back
FOLD_PAGE = 1000
FOLD_SCAN = 50_000


async def _folded(q: Any, fields: tuple[str, ...], limit: int) -> list[dict[str, Any]]:
    """Newest first, runs of polls alike folded, read a page at a time until ``limit`` rows are
    whole (the next row read is not part of the last) or ``FOLD_SCAN`` rows were read."""
    out: list[dict[str, Any]] = []
    scanned, before = 0, None
    while len(out) <= limit and scanned < FOLD_SCAN:
        page = (
            await (q.filter(seq__lt=before) if before is not None else q)
            .order_by("-seq")
            .limit(FOLD_PAGE)
            .values(*fields)
        )
        for r in page:
            last = out[-1] if out else None
            if last is not None and r["kind"] == "requests" and _alike(last, r):
                last["count"] += 1
                last["first_ts"] = r["ts"]
            else:
                out.append({**r, "count": 1, "first_ts": r["ts"]})
        scanned += len(page)
        if len(page) < FOLD_PAGE:
            break
        before = page[-1]["seq"]
    return out[:limit]


def _alike(folded: dict[str, Any], row: dict[str, Any]) -> bool:
    return folded["kind"] == "requests" and all(
        folded[k] == row[k] for k in ("outcome", "http_status", "route", "error")
    )
