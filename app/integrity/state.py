"""The check's parts on the state tables and the photo files: the state tables against the chained
journal (``app/ledger.py``) — inspections (start time, the facts R12 and the card rest on, status,
done steps), accounts (role, lock, password), the outbox (a row per card, no row without one) — and
every photo's encrypted file against the hashes chained when it was taken (R3.10). A page of rows at
a time, with only the journal entries that page rests on (by the indexes of migrations 8 and 9)."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from app import ledger
from app.lane.photos import Photos, Place
from app.storage.models import Card, Inspection, Outbox, Photo, User

if TYPE_CHECKING:
    from app.integrity.check import Checker

PAGE = 200
#: photo files are read whole and hashed: fewer a page
PHOTO_PAGE = 50


async def outbox(ck: Checker) -> None:
    """Every outbox row names a card of the cards chain (a row added behind the software would send
    a card that was never formed)."""

    async def fetch(after: int, limit: int) -> list[dict[str, Any]]:
        q = Outbox.filter(id__gt=after, id__lte=limit).order_by("id").limit(PAGE)
        return await q.values("id", "card_id")

    async def check(rows: list[dict[str, Any]]) -> None:
        ids = [r["card_id"] for r in rows]
        known = set(await Card.filter(card_id__in=ids).values_list("card_id", flat=True))
        for cid in ids:
            if cid not in known:
                ck.report.bad("outbox", f"outbox row for card {cid}: no such card in the cards chain")

    if await ck.each_page("outbox", fetch, lambda r: r["id"], check):
        ck.report.ok(f"outbox: {ck.run.counts.get('outbox', 0)} rows held against the cards and the journal")


async def inspections(ck: Checker) -> None:
    async def fetch(after: int, limit: int) -> list[Inspection]:
        return await Inspection.filter(number__gt=after, number__lte=limit).order_by("number").limit(PAGE)

    async def check(page: list[Inspection]) -> None:
        ids = [i.id for i in page]
        entries = await ck.store.journal.naming("inspection_id", ledger.INSPECTION_ACTIONS, ids)
        per_insp = ledger.by_inspection(entries)
        carded = set(await Card.filter(inspection_id__in=ids).values_list("inspection_id", flat=True))
        for insp in page:
            row = ledger.inspection_row(insp)
            for p in ledger.inspection_problems(row, per_insp.get(insp.id, []), insp.id in carded):
                ck.report.bad("inspections", p)

    if await ck.each_page("inspections", fetch, lambda i: i.number, check):
        ck.report.ok(f"inspections: {ck.run.counts.get('inspections', 0)} held against the journal")


async def accounts(ck: Checker) -> None:
    """Every account (a handful) against every account event of the journal."""
    try:
        entries = await ck.store.journal.events(*ledger.USER_ACTIONS)
        expected = ledger.expected_accounts((e.action, e.details) for e in entries)
        users = await User.all().values("username", "role", "disabled", "pw_hash", "eds_iin")
    except Exception as exc:  # a dropped table: named, the check goes on
        ck.report.bad("users", f"cannot be read ({type(exc).__name__}: {str(exc)[:120]})")
        return
    for u in users:
        for p in ledger.account_problems(u, expected.get(u["username"])):
            ck.report.bad("users", p)
    for name in set(expected) - {u["username"] for u in users}:
        ck.report.bad("users", f"user {name}: the journal added this account, its row is gone")
    ck.report.ok(f"accounts: {len(users)} held against the journal")


async def photos(ck: Checker) -> None:
    """Every chained photo against its encrypted file (R3.10): missing or changed."""
    cfg = ck.cfg
    store = Photos(cfg.path(cfg.storage["photos_dir"]), ck.store.keyring, ck.store.journal, Place(0.0, 0.0))

    async def fetch(after: int, limit: int) -> list[tuple[int, str, str]]:
        q = Photo.filter(seq__gt=after, seq__lte=limit).order_by("seq").limit(PHOTO_PAGE)
        return list(await q.values_list("seq", "photo_id", "file_sha256"))

    async def check(rows: list[tuple[int, str, str]]) -> None:
        found = await asyncio.to_thread(store.check_files, [(str(i), str(h)) for _, i, h in rows])
        for photo_id, problem in found:
            ck.report.bad(f"photo {photo_id}", problem)

    if await ck.each_page("photos", fetch, lambda r: r[0], check):
        ck.report.ok(f"photos: {ck.run.counts.get('photos', 0)} held against their files")
