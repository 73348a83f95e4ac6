"""The lane's evidence store, opened as one: database, data key, signing key, checkpoint file.

Both the daemon and the command line open the store through :func:`open_store`, so the same rules
hold for both:

* A missing data key is made only for a database that holds nothing sealed. When sealed data exists
  a new key would leave every stored value unreadable: the store refuses to open and says how to
  restore the key. A key that does not open the stored data is refused too.
* The signing key is made once, journalled (``signing_key_created`` with its fingerprint); once the
  journal knows a signing key, a missing one is refused the same way.
* :meth:`Store.checkpoint` signs the heads of every chain into the checkpoint file
  (``app/storage/anchor.py``); :meth:`Store.tail_problems` holds the chains against the last one.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app import settings
from app.config import Config
from app.errors import OtolaneError
from app.journal import Journal
from app.storage import chain
from app.storage.anchor import AnchorLog, Checkpoint, Heads, LaneKey
from app.storage.crypto import Keyring
from app.storage.db import close_db, open_db
from app.storage.models import CHAINED_MODELS, Card, Inspection, JournalEntry, Reading

log = logging.getLogger(__name__)

RESTORE = (
    "restore the file from its backup (docs/operations.md, 'Keys and their backups'), mode 0600, "
    "then start again"
)


@dataclass
class Store:
    cfg: Config
    keyring: Keyring
    key: LaneKey
    anchors: AnchorLog
    journal: Journal

    async def heads(self, conn: Any = None) -> Heads:
        return {m._meta.db_table: await chain.head(m, conn) for m in CHAINED_MODELS}

    async def checkpoint(self, reason: str) -> Checkpoint | None:
        """Sign the chains' current heads into the checkpoint file (nothing when they did not move)."""
        heads = await self.heads()
        return await asyncio.to_thread(self.anchors.append, heads, reason)

    async def tail_problems(self) -> list[str]:
        """The chains against the last checkpoint, in three look-ups per chain: a cut tail, an
        emptied table or a re-hashed row named. The integrity check does the whole walk."""
        last = self.anchors.last()
        if last is None:
            return []
        problems = []
        for table, (seq, digest) in sorted(last.heads.items()):
            model = next((m for m in CHAINED_MODELS if m._meta.db_table == table), None)
            if model is None or seq == 0:
                continue
            try:
                last_seq, _ = await chain.head(model)
                row = await model.filter(seq=seq).first().values("hash")
            except Exception as exc:
                problems.append(f"{table}: the table cannot be read ({type(exc).__name__}): dropped?")
                continue
            if last_seq < seq:
                problems.append(
                    f"{table}: the signed checkpoint {last.n} saw {seq} rows, the table now ends at row "
                    f"{last_seq} (rows cut off or the table emptied)"
                )
            elif not row or row["hash"] != digest:
                problems.append(
                    f"{table}: row {seq} is not the row the signed checkpoint {last.n} saw (rewritten)"
                )
        return problems


async def _holds_sealed() -> bool:
    """Whether anything sealed is stored: a look at each table's first row (a count would read every
    reading of the lane's history at every start)."""
    return any([await Inspection.exists(), await Reading.exists(), await Card.exists()])


async def _sealed_counts() -> dict[str, int]:
    """What a missing key would leave unreadable, counted for the refusal's message only."""
    return {
        "inspections": await Inspection.all().count(),
        "readings": await Reading.all().count(),
        "cards": await Card.all().count(),
    }


async def _first_sealed() -> tuple[bytes, str] | None:
    """One sealed value and its row binding, to prove the data key opens what is stored."""
    insp = await Inspection.all().order_by("-number").first()
    if insp is not None:
        return bytes(insp.sealed), f"inspections:{insp.id}"
    card = await Card.all().order_by("-seq").first()
    if card is not None:
        return bytes(card.sealed), f"cards:{card.card_id}"
    return None


async def _data_key(cfg: Config, create: bool) -> Keyring:
    path = cfg.path(cfg.storage["key_file"])
    if not path.exists():
        if await _holds_sealed():
            counts = await _sealed_counts()
            held = ", ".join(f"{n} {what}" for what, n in counts.items() if n)
            raise OtolaneError(
                "data_key_missing",
                f"the data key {path} is missing, but the database holds encrypted data ({held}); a new "
                f"key would leave all of it unreadable, so nothing starts: {RESTORE}",
                path=str(path),
            )
        if not create:
            raise OtolaneError(
                "data_key_missing",
                f"the data key {path} is missing: a lane's keys are made by its first start (otolane "
                "daemon) or by adding its first user (otolane user add), not by a command that only reads",
                path=str(path),
            )
        return Keyring.create(path)
    keyring = Keyring.load(path)
    sample = await _first_sealed()
    if sample is not None:
        try:
            keyring.open(*sample)
        except OtolaneError:
            raise OtolaneError(
                "data_key_wrong",
                f"the data key {path} does not open the stored data (it is another lane's key, or an "
                f"old copy from before a rotation): {RESTORE}",
                path=str(path),
            ) from None
    return keyring


async def _signing_key(cfg: Config, journal: Journal, create: bool) -> LaneKey:
    path = cfg.path(cfg.storage["signing_key_file"])
    if path.exists():
        return LaneKey.load(path)
    made = await JournalEntry.filter(action="signing_key_created").order_by("-seq").first()
    if made is not None:
        raise OtolaneError(
            "signing_key_missing",
            f"the lane's signing key {path} is missing, but the journal records it (fingerprint "
            f"{made.details.get('fingerprint')}); without it no checkpoint can be trusted: {RESTORE}",
            path=str(path),
        )
    if not create:
        raise OtolaneError("signing_key_missing", f"the lane's signing key {path} is missing", path=str(path))
    key = LaneKey.create(path)
    await journal.write("laned", "signing_key_created", fingerprint=key.fingerprint, path=str(path))
    return key


async def open_store(cfg: Config, *, create: bool = True) -> Store:
    """Open the database and the keys; ``create`` False refuses to make a missing key."""
    await open_db(cfg.dsn)
    try:
        journal = Journal()
        keyring = await _data_key(cfg, create)
        key = await _signing_key(cfg, journal, create)
        try:
            await settings.fold(cfg, journal)
        except Exception as exc:  # a journal that cannot be read: the check names it, the file's values hold
            log.warning("the administrator's settings could not be read (%s): the file's values hold", exc)
    except BaseException:
        await close_db()
        raise
    return Store(cfg, keyring, key, AnchorLog(cfg.path(cfg.storage["anchor_file"]), key), journal)


async def close_store() -> None:
    await close_db()


def public_key_path(cfg: Config) -> Path:
    path = cfg.path(cfg.storage["signing_key_file"])
    return path.with_suffix(path.suffix + ".pub")
