"""The running inspection as EIS sees it (R3.5, R9): every journal entry that names an inspection goes
out as an event (``app/eis/schema/events.schema.json``), in the journal's order, while the
inspection runs, up to ``BATCH`` in one message; a finished step carries its stored readings.

The feed reads the chained journal, so it sends only what was committed, in commit order (per
inspection, too); its place is one row (``eis_feed``) moved in the same transaction as the exchange
that got the events accepted. Each event's id is its entry's chain hash and EIS takes an event once
by it: a crash between "accepted" and "moved" sends the events again (perhaps cut into other
batches), and EIS counts them as duplicates. A batch EIS rejects as invalid is sent again one event
at a time, so only the bad event is journalled, shown to the admin and passed (never retried for
ever); a batch that fails holds the ones after it, so the order is kept.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from app.eis.contract import CONTRACT_VERSION
from app.eis.exchanges import events_key
from app.eis.history import iso
from app.lane.recorder import reading_aad
from app.storage.chain import prev_hashes
from app.storage.crypto import Keyring
from app.storage.models import EisFeed, JournalEntry, Reading

log = logging.getLogger("otolane.events")
FEED = "events"
#: how many events one pass sends at most
BATCH = 50
#: details that are the event's own fields, not repeated in its details
_IDS = ("inspection_id", "inspection")


async def position() -> int:
    """The journal seq of the last event EIS has (or that was given up as rejected)."""
    row = await EisFeed.get_or_none(name=FEED)
    return row.last_seq if row else 0


async def advance(seq: int, tx: Any) -> None:
    row = await EisFeed.get_or_none(name=FEED, using_db=tx)
    if row is None:
        await EisFeed.create(name=FEED, last_seq=seq, updated=time.time(), using_db=tx)
    elif seq > row.last_seq:
        row.last_seq, row.updated = seq, time.time()
        await row.save(update_fields=["last_seq", "updated"], using_db=tx)


async def due(after: int, limit: int = BATCH) -> tuple[list[JournalEntry], int]:
    """The next journal entries after ``after`` that name an inspection (at most ``limit``), and how
    far the feed may stand without sending anything: just before the first of them, or, when there
    is none, the last entry looked at (entries that name no inspection are passed over)."""
    rows = await JournalEntry.filter(seq__gt=after).order_by("seq").limit(limit * 4)
    named = [r for r in rows if isinstance(r.details, dict) and r.details.get("inspection_id")][:limit]
    quiet = named[0].seq - 1 if named else (rows[-1].seq if rows else after)
    return named, max(quiet, after)


async def message(entries: list[JournalEntry], lane: str, training: bool, keyring: Keyring) -> dict[str, Any]:
    """One ``events`` message of these entries."""
    links = await prev_hashes(JournalEntry, [e.seq for e in entries])
    return {
        "contract": CONTRACT_VERSION,
        "lane": lane,
        "training": training,
        "events": [await event(e, keyring, links.get(e.seq, "")) for e in entries],
    }


def batch_key(entries: list[JournalEntry]) -> str:
    """The batch's idempotency key (EIS takes each event once by its own id in any case); it names
    the entries the batch carried, so the integrity check can hold the feed's place against it."""
    return events_key(entries[0].seq, entries[-1].seq, entries[-1].hash)


async def event(entry: JournalEntry, keyring: Keyring, prev_hash: str) -> dict[str, Any]:
    """``prev_hash``: the hash of the journal entry before this one (its chain link)."""
    details = dict(entry.details)
    msg: dict[str, Any] = {
        "event_id": entry.hash,
        "seq": entry.seq,
        "inspection_id": str(details["inspection_id"]),
        "inspection": details.get("inspection") if isinstance(details.get("inspection"), int) else None,
        "action": entry.action,
        "actor": entry.actor,
        "time": iso(entry.ts),
        "details": {k: v for k, v in details.items() if k not in _IDS},
        "prev_hash": prev_hash,
    }
    if entry.action == "step_finished" and details.get("step"):
        msg["readings"] = await readings(
            msg["inspection_id"], str(details["step"]), details.get("run"), keyring
        )
    return msg


async def readings(insp_id: str, step: str, run: Any, keyring: Keyring) -> list[dict[str, Any]]:
    """The step's stored readings of this run, opened: the batch a finished step carries."""
    out = []
    for r in await Reading.of(insp_id, step):
        payload = keyring.open_json(r.sealed, reading_aad(r.inspection_id, r.channel, r.ts))
        if run is not None and payload.get("run") not in (None, run):
            continue
        out.append(
            {
                "step": r.step,
                "channel": r.channel,
                "ts": r.ts,
                "value": payload.get("value"),
                "unit": payload.get("unit", ""),
                "final": bool(payload.get("final")),
                "device_serial": r.device_serial,
            }
        )
    return out
