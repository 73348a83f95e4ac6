"""The lane's log history for a period (R3.19): the journal entries, signed, in a documented format.

The EIS operator asks for it through the contract (``requests`` → ``history``); the administrator
exports it from the journal screen or with ``otolane journal export``. The export is checkable by
anyone without the database: every entry carries its chain hash (``app/storage/chain.py``:
SHA-256 of the previous hash and the canonical entry), the entries of the period are consecutive,
and the whole document is signed by the lane's Ed25519 key (the key that signs the checkpoints and
the card anchors). :func:`verify` is that check; docs/eis-contract.md writes it down.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import json
import time
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from app.eis.contract import HISTORY_FORMAT, problems
from app.errors import OtolaneError
from app.storage.anchor import LaneKey, canonical, verify_signature
from app.storage.chain import GENESIS, prev_hashes, row_hash
from app.storage.crypto import write_secret_file
from app.storage.models import JournalEntry

#: an export larger than this is refused: ask for a shorter period
MAX_ENTRIES = 500_000


def iso(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).isoformat(timespec="seconds")


def parse_time(text: str, field: str) -> float:
    """An ISO date or date-time (a bare date is midnight UTC) as seconds; a clear error otherwise."""
    try:
        when = dt.datetime.fromisoformat(text)
    except (TypeError, ValueError):
        raise OtolaneError(
            "export_period_bad", f"{field}: expected a date such as 2026-01-31, found {text!r}", field=field
        ) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return when.timestamp()


async def export(
    key: LaneKey, lane: str, start: float, end: float, request: str | None = None
) -> dict[str, Any]:
    """The signed journal of ``[start, end)``."""
    if not start < end:
        raise OtolaneError("export_period_bad", "the period must end after it starts", field="to")
    q = JournalEntry.filter(ts__gte=start, ts__lt=end)
    if await q.count() > MAX_ENTRIES:
        raise OtolaneError(
            "export_too_large",
            f"more than {MAX_ENTRIES} entries: ask for a shorter period",
            limit=MAX_ENTRIES,
        )
    rows = await q.order_by("seq")
    head = await JournalEntry.all().order_by("-seq").first()
    # each entry's prev_hash is the hash of the entry before it (the first's: read)
    before = await prev_hashes(JournalEntry, [rows[0].seq]) if rows else {}
    links = [before.get(rows[0].seq, "") if rows else "", *(r.hash for r in rows)]
    doc: dict[str, Any] = {
        "format": HISTORY_FORMAT,
        "lane": lane,
        "from": iso(start),
        "to": iso(end),
        "generated": iso(time.time()),
        "request": request,
        "entries": [
            {
                "seq": r.seq,
                "ts": r.ts,
                "time": iso(r.ts),
                "actor": r.actor,
                "action": r.action,
                "details": r.details,
                "prev_hash": links[i],
                "hash": r.hash,
            }
            for i, r in enumerate(rows)
        ],
        "chain": {"head_seq": head.seq if head else 0, "head_hash": head.hash if head else GENESIS},
        "public_key": key.public_pem(),
    }
    return doc | {"signature": key.sign(canonical(doc))}


def verify(doc: Any, public: Ed25519PublicKey | None = None) -> list[str]:
    """What is wrong with an export; empty when its schema, its chain and its signature hold.
    ``public``: the lane's key as the checker knows it (else the key the export names)."""
    found = problems("history", doc)
    if found:
        return found
    try:
        key = public or load_pem_public_key(doc["public_key"].encode())
    except ValueError:
        return ["public_key: not a PEM public key"]
    if not isinstance(key, Ed25519PublicKey):
        return ["public_key: not an Ed25519 key"]
    body = {k: v for k, v in doc.items() if k != "signature"}
    if not verify_signature(key, doc["signature"], canonical(body)):
        found.append("signature: does not match the export or the key")
    prev: dict[str, Any] | None = None
    for i, e in enumerate(doc["entries"]):
        if prev is not None and (e["seq"] != prev["seq"] + 1 or e["prev_hash"] != prev["hash"]):
            found.append(f"entries[{i}]: not the entry after seq {prev['seq']} (one is missing)")
        if row_hash("journal", e) != e["hash"]:
            found.append(f"entries[{i}]: its hash does not match its content (seq {e['seq']})")
        prev = e
    return found


def fingerprint(public: Any) -> str:
    """A public key's short name: SHA-256 of its raw bytes, as people compare keys by eye."""
    from cryptography.hazmat.primitives import serialization

    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return "SHA256:" + hashlib.sha256(raw).hexdigest()[:32]


def key_fingerprint(doc: Any) -> str:
    """The fingerprint of the key an export carries, or "" when it carries none that reads."""
    try:
        return fingerprint(load_pem_public_key(str(doc["public_key"]).encode()))
    except (KeyError, TypeError, ValueError):
        return ""


def save(doc: dict[str, Any], folder: Path) -> Path:
    """The export as a 0600 file in ``folder``, named by the lane, the period and its time."""
    stamp = doc["generated"].replace(":", "").replace("-", "")[:15]
    name = f"journal-{doc['from'][:10]}-{doc['to'][:10]}-{stamp}.json"
    path = folder / name
    write_secret_file(path, json.dumps(doc, ensure_ascii=False, indent=1) + "\n")
    return path


async def export_to(folder: Path, key: LaneKey, lane: str, start: float, end: float) -> dict[str, Any]:
    """The signed journal of ``[start, end)`` written in ``folder`` (0600); what was written."""
    doc = await export(key, lane, start, end)
    path = await asyncio.to_thread(save, doc, folder)
    return {"file": str(path), "entries": len(doc["entries"]), "from": doc["from"], "to": doc["to"]}
