"""The outbox held against the cards chain and the journal at start (D4): a card with no outbox row
gets one, a row whose status or key the journal and the card do not back goes back to pending. EIS
accepts an idempotency key once, so sending again is safe; not sending would lose a card.

Bounded by what is open, not by history: settled rows are counted against the journal, and only the
pending and missing cards are opened; a count that differs (a row changed behind the software) falls
back to holding every row, as the integrity check does. It never sends anything.
"""

from __future__ import annotations

import logging
import time

from tortoise.expressions import Subquery

from app import ledger
from app.journal import Journal
from app.storage.crypto import Keyring
from app.storage.db import write_tx
from app.storage.models import Card, Outbox

log = logging.getLogger("otolane.outbox")


async def card_marks(keyring: Keyring) -> dict[str, bool]:
    """card id → its training mark, for every card of the chain (the full check)."""
    return _marks(keyring, await Card.all().order_by("seq"))


async def reconcile(keyring: Keyring, journal: Journal) -> list[str]:
    """The outbox against the cards chain and the journal, at start. A card with no outbox row
    gets one; a row whose status or key the journal and the card do not back goes back to pending.
    EIS accepts an idempotency key once, so sending again is safe; not sending would lose a card.
    Returns what was found, for the integrity alarm.

    The work is bounded by what is open, not by history: the rows that are missing (one indexed
    anti-join) and the pending ones are held against their cards; the settled rows are counted
    against the cards the journal says were settled so, status by status. Only when a count
    differs (a row changed or deleted behind the software) is every row held against the chain and
    the journal, as the integrity check does."""
    # the ids alone, from the two tables' card id indexes: the cards' rows (and their sealed bodies)
    # are read only for the cards that have no row — none, on a lane nobody tampered with
    ids = await Card.filter(card_id__not_in=Subquery(Outbox.all().values("card_id"))).values_list(
        "card_id", flat=True
    )
    missing = await Card.filter(card_id__in=list(ids)).order_by("seq") if ids else []
    if await _counts_agree(len(missing)):
        pending = await Card.filter(card_id__in=Subquery(Outbox.filter(status="pending").values("card_id")))
        return await _reconcile(journal, _marks(keyring, [*pending, *missing]), settled_said={})
    return await _reconcile(journal, await card_marks(keyring), settled_said=None)


async def _counts_agree(missing: int) -> bool:
    """Every settled status has as many rows as the journal has cards settled so, and every row
    has its card (``missing``: the cards with no row)."""
    for action, status in ledger.EIS_ACTIONS.items():
        if await Outbox.filter(status=status).count() != await Journal.cards_named(action):
            log.warning("outbox: %s rows differ from the journal; checking every row", status)
            return False
    if await Outbox.all().count() != await Card.all().count() - missing:
        log.warning("outbox: a row names no card; checking every row")
        return False
    return True


def _marks(keyring: Keyring, cards: list[Card]) -> dict[str, bool]:
    """card id → its training mark, as the sealed card says."""
    return {c.card_id: bool(keyring.open_json(c.sealed, f"cards:{c.card_id}").get("training")) for c in cards}


async def _reconcile(
    journal: Journal, cards: dict[str, bool], settled_said: dict[str, str] | None
) -> list[str]:
    """``cards``: the cards to hold their rows against (id → training); ``settled_said``: what the
    journal says of them, or None to read it (every card: the full check)."""
    if settled_said is None:
        rows = {r.card_id: r for r in await Outbox.all()}
        entries = await Journal.events(*ledger.EIS_ACTIONS)
        said = ledger.eis_outcomes((e.action, e.details) for e in entries)
    else:
        rows = {r.card_id: r for r in await Outbox.filter(card_id__in=list(cards))}
        said = settled_said
    plain = {
        cid: {"status": r.status, "training": r.training, "idempotency_key": r.idempotency_key}
        for cid, r in rows.items()
    }
    problems = ledger.outbox_problems(cards, plain, said)
    for card_id, training in cards.items():
        row = rows.get(card_id)
        if row is None:
            async with write_tx() as tx:
                await Outbox.create(
                    card_id=card_id,
                    idempotency_key=card_id,
                    training=training,
                    updated=time.time(),
                    using_db=tx,
                )
                await journal.write("laned", "outbox_restored", tx, card_id=card_id)
            continue
        if (row.status, row.idempotency_key, row.training) != (
            said.get(card_id, "pending"),
            card_id,
            training,
        ):
            row.status, row.idempotency_key, row.training, row.next_attempt = (
                "pending",
                card_id,
                training,
                0.0,
            )
            async with write_tx() as tx:
                await row.save(using_db=tx)
                await journal.write("laned", "outbox_requeued", tx, card_id=card_id)
    return problems
