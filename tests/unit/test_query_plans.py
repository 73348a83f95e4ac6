"""The look-ups a screen or the daemon makes find their rows by an index, not by reading history
(issue #20 item 4): the query plan of each hot query, on SQLite and PostgreSQL, names its index.
PostgreSQL's planner reads a small table whole, so sequential scans are switched off for the check:
the question is whether an index serves the query, not which is cheaper on ten rows."""

from __future__ import annotations

from typing import Any

from tortoise import connections

from app.journal import CARDS_NAMED_SQL, OF_CARD_SQL, Journal
from app.storage.models import Card, Inspection, JournalEntry


async def _plan(db: str, sql: str, params: list[Any]) -> str:
    conn = connections.get("default")
    if db == "sqlite":
        _, rows = await conn.execute_query(f"EXPLAIN QUERY PLAN {sql}", params)
        return " | ".join(str(dict(r)["detail"]) for r in rows)
    await conn.execute_script("SET enable_seqscan = off")
    _, rows = await conn.execute_query(f"EXPLAIN {sql}", params)
    return " | ".join(str(next(iter(dict(r).values()))) for r in rows)


async def _some_history() -> None:
    journal = Journal()
    for i in range(30):
        await journal.write("operator", "card_issued", card_id=f"c{i}", copy=False)
        await journal.write("operator", "step_finished", step="brakes_axle_1", run=1)


async def test_a_cards_issues_are_found_by_the_journals_card_index(db: str) -> None:
    """Copy checks (R3.8) and certificate numbers: the journal's entries of one card, and the count of
    cards an action names."""
    await _some_history()
    plan = await _plan(db, OF_CARD_SQL[db], ["card_issued", "c7"])
    # both the action and the card id through the index (an index on the action alone would serve
    # the first and read every entry of the action for the second)
    assert "journal_card (action=? AND <expr>=?)" in plan if db == "sqlite" else "journal_card" in plan, plan
    assert "journal_card" in await _plan(db, CARDS_NAMED_SQL[db], ["card_issued"])
    assert [e.details["card_id"] for e in await Journal.of_card("card_issued", "c7")] == ["c7"]
    assert await Journal.cards_named("card_issued") == 30


async def test_a_card_is_found_by_its_printed_number_through_unique_keys(db: str) -> None:
    """A returning vehicle's card by the number the operator types: the inspection's unique number,
    then the card's unique inspection — no walk through the journal."""
    await _some_history()
    by_number = Inspection.filter(number=7).sql(params_inline=True)
    by_inspection = Card.filter(inspection_id="i7").sql(params_inline=True)
    for sql in (by_number, by_inspection):
        plan = await _plan(db, sql, [])
        assert "index" in plan.lower() and "SCAN inspections" not in plan and "SCAN cards" not in plan, plan


async def test_the_journal_by_action_is_read_by_its_action_index(db: str) -> None:
    """The admin's journal screen filtered by action, newest first."""
    await _some_history()
    sql = JournalEntry.filter(action="card_issued").order_by("-seq").limit(100).sql(params_inline=True)
    plan = await _plan(db, sql, [])
    assert "idx_journal_action" in plan or "journal_card" in plan, plan
