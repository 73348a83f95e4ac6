"""The check's part on what the lane says EIS has (R3.5, G2): the event feed's position and every
accepted card, held against the chained exchange journal (``eis_exchanges``) and the chained
journal. The feed's position is a plain row (``eis_feed``) a writer of the database can move: every
journal entry that names an inspection, up to that position, must lie in an events message EIS
accepted (its idempotency key names the entries it carried, ``app/eis/exchanges.py``) or be the one
event EIS rejected and the journal says so; a card the journal calls accepted must have the
exchange that carried it. The exchange rows themselves are a chain: one taken out breaks it.
"""

from __future__ import annotations

import bisect
import json
from typing import TYPE_CHECKING, Any

from tortoise import connections

from app.eis import events
from app.eis.exchanges import events_range
from app.storage.chain import head
from app.storage.models import EisExchange, JournalEntry

if TYPE_CHECKING:
    from app.integrity.check import Checker

#: journal entries read per page
PAGE = 20_000
#: missing events named one by one, then counted
SHOWN = 5

#: the journal's entries that name an inspection (what the feed sends), after a seq up to another:
#: the inspection's id read by the engine (a row of another shape names none)
_NAMED_SQL = {
    "sqlite": (
        "SELECT seq, CASE WHEN json_valid(details) THEN json_extract(details, '$.inspection_id') END AS i"
        " FROM journal WHERE seq > ? AND seq <= ? ORDER BY seq LIMIT ?"
    ),
    "postgres": (
        "SELECT seq, CASE WHEN jsonb_typeof(details) = 'object' THEN details->'inspection_id' END AS i"
        " FROM journal WHERE seq > $1 AND seq <= $2 ORDER BY seq LIMIT $3"
    ),
}


async def carried() -> list[tuple[int, int]]:
    """The journal's ranges EIS has: each events message it accepted, and each single event it
    rejected (the feed passes it, the journal says so), merged and in order."""
    rows = await EisExchange.filter(kind="events", outcome__in=["accepted", "rejected"]).values_list(
        "idempotency_key", "outcome"
    )
    spans = []
    for key, outcome in rows:
        span = events_range(str(key))
        if span and (outcome == "accepted" or span[0] == span[1]):
            spans.append(span)
    merged: list[tuple[int, int]] = []
    for first, last in sorted(spans):
        if merged and first <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(merged[-1][1], last))
        else:
            merged.append((first, last))
    return merged


def _named(value: Any, as_json: bool) -> bool:
    """As the feed decides (``app/eis/events.py``): an inspection id that is not empty.
    ``as_json``: the engine gives the value as its JSON text (PostgreSQL)."""
    if as_json and isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return bool(value)
    return bool(value)


async def feed(ck: Checker) -> None:
    """The feed's position against the journal and the exchanges; only the entries after the last
    good check's position are read (``at.feed``)."""
    try:
        pos, spans = await events.position(), await carried()
        top = ck.run.limits.get("feed", pos)
        journal_top = (await head(JournalEntry))[0]
    except Exception as exc:  # a dropped table: named, the check goes on
        ck.report.bad("eis feed", f"cannot be read ({type(exc).__name__}: {str(exc)[:120]})")
        return
    found = 0
    if pos > journal_top:
        found += 1
        ck.report.bad(
            "eis feed",
            f"stands at journal entry {pos}, past the journal's last entry {journal_top} "
            "(moved behind the software)",
        )
    missing: list[int] = []
    firsts = [s[0] for s in spans]
    conn = connections.get("default")
    sql = _NAMED_SQL[conn.capabilities.dialect]
    as_json = conn.capabilities.dialect != "sqlite"
    after = ck.at.feed
    while after < top:
        _, rows = await conn.execute_query(sql, [after, top, PAGE])
        if not rows:
            break
        for seq, value in rows:
            if _named(value, as_json):
                i = bisect.bisect_right(firsts, seq) - 1
                if i < 0 or seq > spans[i][1]:
                    missing.append(int(seq))
        ck.at.feed = after = int(rows[-1][0])
        ck.run.count("feed", len(rows))
        await ck.page(len(rows))
    ck.at.feed = max(ck.at.feed, top)
    if missing:
        more = f" … ({len(missing)} in all)" if len(missing) > SHOWN else ""
        shown = ", ".join(map(str, missing[:SHOWN])) + more
        ck.report.bad(
            "eis feed",
            f"stands at journal entry {pos}, but no exchange shows EIS took the events of entries {shown}: "
            "the feed was moved, or exchange rows taken out, behind the software",
        )
    elif not found:
        ck.report.ok(f"eis feed: at journal entry {pos}, every event before it in an exchange EIS accepted")


async def cards_accepted(ck: Checker, outcomes: dict[str, str]) -> None:
    """The cards of a page the journal calls accepted by EIS, each with its accepted exchange."""
    accepted = [cid for cid, outcome in outcomes.items() if outcome == "accepted"]
    if not accepted:
        return
    q = EisExchange.filter(kind="card", outcome="accepted", card_id__in=accepted)
    carried_cards = set(await q.values_list("card_id", flat=True))
    for cid in accepted:
        if cid not in carried_cards:
            ck.report.bad(
                f"card {cid}",
                "the journal says EIS accepted it, but no exchange carried it (exchange rows taken out)",
            )
