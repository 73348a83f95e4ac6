"""The look-ups a screen or the daemon makes find their rows by an index, not by reading history
(issue #20 item 4): the query plan of each hot query, on SQLite and PostgreSQL, names its index.
PostgreSQL's planner reads a small table whole, so sequential scans are switched off for the check:
the question is whether an index serves the query, not which is cheaper on ten rows."""

from __future__ import annotations

from typing import Any

from tortoise import connections
from tortoise.transactions import in_transaction

from app.journal import CARDS_NAMED_SQL, OF_CARD_SQL, Journal, naming_sql
from app.storage.models import Card, Inspection, JournalEntry


async def _plan(db: str, sql: str, params: list[Any]) -> str:
    conn = connections.get("default")
    if db == "sqlite":
        _, rows = await conn.execute_query(f"EXPLAIN QUERY PLAN {sql}", params)
        return " | ".join(str(dict(r)["detail"]) for r in rows)
    async with in_transaction() as tx:  # the setting and the plan on one connection of the pool
        await tx.execute_script("SET LOCAL enable_seqscan = off")
        _, rows = await tx.execute_query(f"EXPLAIN {sql}", params)
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


async def test_the_integrity_check_reads_a_pages_entries_by_the_journals_indexes(db: str) -> None:
    """The integrity check reads, for a page of inspections or cards, only their journal entries
    (issue #20 item 3): by the index on the inspection (migration 9) and on the card (migration 8),
    never by reading the journal."""
    journal = Journal()
    for i in range(30):
        await journal.write("operator", "inspection_started", inspection_id=f"i{i}", number=i)
        await journal.write("operator", "eis_accepted", card_id=f"c{i}")
    for key, index, actions, ids in (
        ("inspection_id", "journal_inspection", ["inspection_started", "step_finished"], ["i3", "i4"]),
        ("card_id", "journal_card", ["eis_accepted", "eis_rejected"], ["c3", "c4"]),
    ):
        sql = naming_sql(key, len(actions), len(ids)) if db == "sqlite" else naming_sql(key, 2, 2)
        plan = await _plan(db, sql, [*actions, *ids])
        assert index in plan and "SCAN journal" not in plan, plan
        found = await Journal.naming(key, actions, ids)
        assert [d[key] for _, _, d in found] == ids, found


async def test_the_open_inspection_is_found_by_an_index(db: str) -> None:
    """At every start (Intake.resume) and at the end of an integrity check: the open inspection —
    read by scanning every inspection, a cold start at 40 000 inspections took 1.4 s more."""
    sql = Inspection.filter(status="open").order_by("number").limit(1).sql(params_inline=True)
    plan = await _plan(db, sql, [])
    assert "inspections_status" in plan, plan


async def test_an_inspections_readings_are_found_by_the_prefix_index(db: str) -> None:
    """Forming a card and the EIS feed's step batches read one inspection's readings: by the index of
    the id's first 8 characters (migration 13), never by reading every reading; ids that share the
    prefix are told apart by the whole id."""
    from app.storage.chain import ChainWriter
    from app.storage.db import write_tx
    from app.storage.models import READINGS_INDEX, Reading

    ids = ["abcdef01-0000-4000-8000-000000000001", "abcdef01-0000-4000-8000-000000000002", "12345678-x"]
    rows = [
        {"inspection_id": i, "step": s, "device_id": "d", "device_serial": "1", "channel": "c", "ts": 1.0}
        | {"sealed": b"x"}
        for i in ids
        for s in ("a", "b")
    ]
    async with write_tx() as tx:
        await ChainWriter(Reading).append(rows, tx)
    plan = await _plan(db, Reading.by_prefix(ids[0], "a").sql(params_inline=True), [])
    assert READINGS_INDEX in plan and "SCAN readings" not in plan, plan
    assert [(r.inspection_id, r.step) for r in await Reading.of(ids[1])] == [(ids[1], "a"), (ids[1], "b")]
    assert [r.seq for r in await Reading.of(ids[0], "b")] == [2]
