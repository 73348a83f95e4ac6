"""The integrity check as a long job (issue #20 item 3, R3.13): it streams a page at a time, keeps
its position as it goes — an interrupted check resumes and finds what a whole one finds, walking no
row twice — checks only what is new since the last good check when asked (still catching a row
changed and the rest re-hashed behind it), tells its progress, and keeps a bounded report. On
SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from tortoise import connections

from app import config as config_mod
from app.auth import Accounts, Policy
from app.demo_config import write_config
from app.eis.client import Delivery
from app.eis.exchanges import ExchangeLog
from app.integrity import check, position, walk
from app.integrity.position import Run
from app.integrity.report import Report
from app.storage.chain import STORED, row_hash
from app.storage.models import Reading
from app.storage.store import Store, close_store, open_store
from tests.rig import append_readings


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def lane(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Store]:
    cfg_file = write_config(tmp_path, 1.0, 9)
    if request.param == "postgres":
        dsn = request.getfixturevalue("pg_dsn")
        cfg_file.write_text(cfg_file.read_text().replace('dsn = "sqlite://otolane.db"', f'dsn = "{dsn}"'))
    monkeypatch.setattr(walk, "CHAIN_PAGE", 5)  # many pages from a few rows
    store = await open_store(config_mod.load(cfg_file))
    try:
        await Accounts(Policy(), store.journal).add("aigerim", "operator", "Steppe-Wind-77")
        await append_readings(40, lambda k: store.keyring.seal_json({"value": k}, f"r{k}"))
        await store.checkpoint("test")
        yield store
    finally:
        await close_store()


def _stop_after(pages: int) -> Any:
    calls = []

    def stop() -> bool:
        calls.append(1)
        return len(calls) > pages

    return stop


async def _rehash(seq: int) -> None:
    """An insider's careful edit: row ``seq`` changed, every later link recomputed."""
    await connections.get("default").execute_script(f"UPDATE readings SET ts = ts + 1 WHERE seq = {seq}")
    prev = str((await Reading.filter(seq=seq - 1).values_list("hash", flat=True))[0])
    for r in await Reading.filter(seq__gte=seq).order_by("seq").values(*STORED["readings"]):
        r["prev_hash"] = prev
        prev = row_hash("readings", r)
        await Reading.filter(seq=r["seq"]).update(hash=prev)


@pytest.mark.parametrize("apart", [False, True], ids=["walked-here", "walked-apart"])
async def test_an_interrupted_check_resumes_where_it_stopped_and_finds_what_a_whole_one_finds(
    lane: Store, apart: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Stopped part-way, the check saves its position (a page's end) and says how to go on; resumed,
    it walks the rest — no row twice — and finds the changed reading a whole check finds."""
    if apart:  # the readings walked by a process of its own, page by page (app/integrity/walker.py)
        monkeypatch.setattr(walk, "APART", 10)
    await connections.get("default").execute_script("UPDATE readings SET ts = ts + 1 WHERE seq = 33")
    whole = await check(lane.cfg, lane)
    assert not whole["ok"] and any("readings: row 33" in p["problem"] for p in whole["breaks"]), whole

    first = await check(lane.cfg, lane, stop=_stop_after(3))
    assert first["interrupted"] and not first["ok"]
    assert "--resume" in first["lines"][-1], first["lines"]
    saved, unused = position.load(position.state_file(lane.anchors.path), lane.key)
    assert unused is None and saved.run is not None and saved.run.done == first["rows"] > 0
    walked = saved.run.at.chains.get("readings", [0])[0]
    assert walked % 5 == 0 and walked <= 40, walked  # a page's end: it goes on from there

    rest = await check(lane.cfg, lane, resume=True)
    assert not rest["interrupted"]
    assert rest["problems"] == whole["problems"]
    # every row once: the whole check's rows and the journal entry that check wrote
    assert rest["rows"] == whole["rows"] + 1, "a row walked twice, or one left out"


async def test_a_check_of_what_is_new_walks_only_the_new_rows(lane: Store) -> None:
    assert (await check(lane.cfg, lane))["ok"]
    await append_readings(7, lambda k: lane.keyring.seal_json({"value": k}, f"n{k}"))
    await lane.checkpoint("more")
    seen: list[dict[str, Any]] = []
    report = await check(lane.cfg, lane, "new", progress=seen.append)
    assert report["ok"], report["problems"]
    assert report["mode"] == "new"
    walked = report["rows"]
    assert 7 <= walked < 47, walked  # the new readings and journal rows, not the 40 old readings
    assert seen and seen[-1]["done"] == seen[-1]["total"] and seen[-1]["percent"] == 100.0


async def test_a_check_of_what_is_new_still_finds_an_old_row_changed_and_rehashed(lane: Store) -> None:
    assert (await check(lane.cfg, lane))["ok"]
    await _rehash(4)
    problems = [f"{p['where']}: {p['problem']}" for p in (await check(lane.cfg, lane, "new"))["problems"]]
    assert any("row 40 is not the row the last good check saw" in p for p in problems), problems


async def test_a_plain_edit_of_an_old_row_is_left_to_the_full_check(lane: Store) -> None:
    """What a check of what is new cannot see (a row changed in place, not re-hashed, behind the last
    good position) the full check finds: the reason a full check is still run on demand."""
    assert (await check(lane.cfg, lane))["ok"]
    await connections.get("default").execute_script("UPDATE readings SET ts = ts + 1 WHERE seq = 4")
    assert (await check(lane.cfg, lane, "new"))["ok"]
    full = await check(lane.cfg, lane)
    assert any("readings: row 4: content changed" in p["problem"] for p in full["breaks"]), full


async def test_a_position_file_changed_by_hand_is_named_and_not_used(lane: Store) -> None:
    assert (await check(lane.cfg, lane))["ok"]
    path = position.state_file(lane.anchors.path)
    data = json.loads(path.read_text())
    data["body"]["good"]["chains"]["readings"][0] = 1000  # "checked up to row 1000"
    path.write_text(json.dumps(data))
    report = await check(lane.cfg, lane, "new")
    assert report["mode"] == "full"
    assert any(p["where"] == "position file" and "signature" in p["problem"] for p in report["problems"])
    assert oct(path.stat().st_mode & 0o777) == "0o600"


def test_the_report_keeps_its_first_problems_and_counts_the_rest(monkeypatch: pytest.MonkeyPatch) -> None:
    from app.integrity import report as report_mod

    monkeypatch.setattr(report_mod, "MAX_KEPT", 2)
    run = Run("full", 0.0, position.Position())
    r = Report(run)
    for k in range(5):
        r.bad("chain readings", f"problem {k}")
    assert [p["problem"] for p in run.problems] == ["problem 0", "problem 1"]
    assert run.more == 3 and r.count == 5


async def test_a_walker_that_fails_leaves_the_walk_to_the_check_itself(
    lane: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The process that walks a long chain apart cannot start or dies: the check walks the chain
    itself from the last position it had, and finds what it would have found."""
    monkeypatch.setattr(walk, "APART", 10)
    monkeypatch.setattr(walk, "WALKER", "app.integrity.no_such_walker")
    await connections.get("default").execute_script("UPDATE readings SET ts = ts + 1 WHERE seq = 21")
    report = await check(lane.cfg, lane)
    assert [b["problem"] for b in report["breaks"]] == [
        "BROKEN at readings: row 21: content changed after it was written"
    ], report["breaks"]


async def _good_then_new(lane: Store) -> list[str]:
    report = await check(lane.cfg, lane, "new")
    assert report["mode"] == "new"
    return [f"{p['where']}: {p['problem']}" for p in report["problems"]]


async def test_a_check_of_what_is_new_names_rows_cut_behind_its_start(lane: Store) -> None:
    assert (await check(lane.cfg, lane))["ok"]
    await connections.get("default").execute_script("DELETE FROM readings WHERE seq > 30")
    problems = await _good_then_new(lane)
    assert (
        "chain readings: the last good check saw 40 rows; the table ends at row 30 (rows cut off its end)"
        in problems
    ), problems


async def test_a_check_of_what_is_new_names_a_checkpoint_file_removed_or_cut(lane: Store) -> None:
    assert (await check(lane.cfg, lane))["ok"]
    path = lane.anchors.path
    lines = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(b"".join(lines[:-1]))  # its last line cut off
    problems = await _good_then_new(lane)
    assert any("is shorter than at the last good check: lines removed" in p for p in problems), problems
    assert (await check(lane.cfg, lane))["ok"] is False  # the full check names the cut line too
    path.write_bytes(b"".join(lines))
    assert (await check(lane.cfg, lane))["ok"]
    path.unlink()
    problems = await _good_then_new(lane)
    assert any(f"is missing; the last good check read {len(lines)} lines of it" in p for p in problems), (
        problems
    )


async def test_a_table_dropped_behind_a_good_check_does_not_hide_the_others(lane: Store) -> None:
    """Each chain's boundary is held on its own: a dropped table is named by its walk, and a chain
    changed and re-hashed beside it is still found."""
    assert (await check(lane.cfg, lane))["ok"]
    await _rehash(4)
    await connections.get("default").execute_script("DROP TABLE journal")  # held before readings
    problems = await _good_then_new(lane)
    assert any(p.startswith("chain journal: the table journal cannot be read") for p in problems), problems
    assert any("row 40 is not the row the last good check saw" in p for p in problems), problems


async def _cards(lane: Store, n: int, first: int) -> list[str]:
    """``n`` cards as the lane forms them: sealed, chained, with their outbox row and a signed anchor."""
    from app.storage.anchor import sign_heads
    from tests.rig import store_card

    made = []
    for k in range(first, first + n):
        cid = f"c{k:04d}"
        anchor = sign_heads(lane.key, await lane.heads(), cid)
        made.append(await store_card(lane.keyring, {"card_id": cid, "training": False, "anchor": anchor}))
    return made


async def test_cards_are_held_a_page_at_a_time_and_a_new_check_holds_only_the_new_ones(
    lane: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each card's anchor and delivery, a card a page (chains.PAGE = 1): the full check holds all of
    them; one stopped among them resumes at the next card; a check of what is new holds the new card
    and the cards still on their way to EIS, not the delivered ones."""
    from app.integrity import chains as chains_mod

    monkeypatch.setattr(chains_mod, "PAGE", 1)
    await _cards(lane, 3, 0)
    await lane.checkpoint("cards")
    whole = await check(lane.cfg, lane)
    assert whole["ok"], whole["problems"]
    assert "cards: 3 anchors and deliveries held against the chains and the journal" in whole["lines"]

    await connections.get("default").execute_script(
        "UPDATE outbox SET status = 'accepted' WHERE card_id = 'c0001'"
    )
    report = await check(lane.cfg, lane, stop=_stop_after(12))  # stopped among the cards
    assert report["interrupted"] or not report["ok"]
    rest = await check(lane.cfg, lane, resume=True) if report["interrupted"] else report
    assert [p["problem"] for p in rest["problems"]] == [
        "card c0001: outbox status is 'accepted', the journal says 'pending'"
    ], rest["problems"]

    await connections.get("default").execute_script(
        "UPDATE outbox SET status = 'pending' WHERE card_id = 'c0001'"
    )
    await connections.get("default").execute_script(
        "UPDATE outbox SET status = 'accepted' WHERE card_id = 'c0000'"
    )
    await lane.journal.write("eis", "eis_accepted", card_id="c0000")
    taken = await check(lane.cfg, lane)
    # issue #21 item 3: the journal's word alone is not enough, the exchange that carried it must be there
    assert [p["problem"] for p in taken["problems"]] == [
        "the journal says EIS accepted it, but no exchange carried it (exchange rows taken out)"
    ], taken["problems"]
    result = Delivery("accepted", "R-1", route="rest", http_status=201, request_digest="ab" * 32)
    await ExchangeLog(lane.keyring).trace("card", "c0000", result, 1, "c0000")
    assert (await check(lane.cfg, lane))["ok"]
    await _cards(lane, 1, 3)
    await lane.checkpoint("one more")
    new = await check(lane.cfg, lane, "new")
    assert new["ok"], new["problems"]
    # c0000 was delivered before the last good check: not held again; c0001, c0002 still pending are
    assert "cards: 3 anchors and deliveries held against the chains and the journal" in new["lines"], new[
        "lines"
    ]


async def test_an_inspection_open_at_the_last_good_check_is_held_again_by_the_next_new_one(
    lane: Store,
) -> None:
    """An open inspection's row still changes (steps, status): a check of what is new starts before
    the first inspection that was open at the last good check, so a change behind the software after
    it is found."""
    from app.storage.models import Inspection

    facts = {"number": 1, "started": 1000.0, "category": "M1", "fuel": "petrol", "axles": 2}
    facts |= {"training": False, "operator": "aigerim"}
    await lane.journal.write("aigerim", "inspection_started", inspection_id="i-1", **facts)
    await Inspection.create(id="i-1", sealed=lane.keyring.seal_json({}, "inspections:i-1"), **facts)
    assert (await check(lane.cfg, lane))["ok"]
    await connections.get("default").execute_script(
        "UPDATE inspections SET status = 'carded' WHERE id = 'i-1'"
    )
    problems = await _good_then_new(lane)
    assert "inspections: inspection 1: status is 'carded', the journal says 'open'" in problems, problems
