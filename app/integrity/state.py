"""The check's parts on the state tables and the photo files: the state tables against the chained
journal (``app/ledger.py``) — inspections (start time, the facts R12 and the card rest on, status,
done steps), accounts (role, lock, password), the outbox (a row per card, no row without one) — and
every photo's encrypted file against the hashes chained when it was taken (R3.10). A page of rows at
a time, with only the journal entries that page rests on (by the indexes of migrations 8 and 9)."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from app import ledger
from app.integrity.report import Interrupted
from app.lane.photos import Photos, Place
from app.storage.models import Card, Inspection, Outbox, Photo, User

if TYPE_CHECKING:
    from app.integrity.check import Checker

PAGE = 200
#: photo files are read whole and hashed: fewer a page
PHOTO_PAGE = 50


def _unreadable(ck: Checker, where: str, exc: Exception) -> None:
    if isinstance(exc, Interrupted):
        raise exc
    ck.report.bad(where, f"cannot be read ({type(exc).__name__}: {str(exc)[:120]})")


async def outbox(ck: Checker) -> None:
    """Every outbox row names a card of the cards chain (a row added behind the software would send
    a card that was never formed)."""
    run, at = ck.run, ck.at
    limit = run.limits.get("outbox", 0)
    try:
        while at.outbox < limit:
            rows = (
                await Outbox.filter(id__gt=at.outbox, id__lte=limit)
                .order_by("id")
                .limit(PAGE)
                .values("id", "card_id")
            )
            if not rows:
                break
            ids = [r["card_id"] for r in rows]
            known = set(await Card.filter(card_id__in=ids).values_list("card_id", flat=True))
            for cid in ids:
                if cid not in known:
                    ck.report.bad("outbox", f"outbox row for card {cid}: no such card in the cards chain")
            at.outbox = int(rows[-1]["id"])
            run.count("outbox", len(rows))
            await ck.page(len(rows))
    except Exception as exc:
        _unreadable(ck, "outbox", exc)
        return
    ck.report.ok(f"outbox: {run.counts.get('outbox', 0)} rows held against the cards and the journal")


async def inspections(ck: Checker) -> None:
    run, at = ck.run, ck.at
    limit = run.limits.get("inspections", 0)
    try:
        while at.inspections < limit:
            page = (
                await Inspection.filter(number__gt=at.inspections, number__lte=limit)
                .order_by("number")
                .limit(PAGE)
            )
            if not page:
                break
            ids = [i.id for i in page]
            entries = await ck.store.journal.naming("inspection_id", ledger.INSPECTION_ACTIONS, ids)
            per_insp = ledger.by_inspection(entries)
            carded = set(await Card.filter(inspection_id__in=ids).values_list("inspection_id", flat=True))
            for insp in page:
                for p in ledger.inspection_problems(
                    ledger.inspection_row(insp), per_insp.get(insp.id, []), insp.id in carded
                ):
                    ck.report.bad("inspections", p)
            at.inspections = int(page[-1].number)
            run.count("inspections", len(page))
            await ck.page(len(page))
    except Exception as exc:
        _unreadable(ck, "inspections", exc)
        return
    ck.report.ok(f"inspections: {run.counts.get('inspections', 0)} held against the journal")


async def accounts(ck: Checker) -> None:
    """Every account (a handful) against every account event of the journal."""
    try:
        entries = await ck.store.journal.events(*ledger.USER_ACTIONS)
        expected = ledger.expected_accounts((e.action, e.details) for e in entries)
        users = await User.all().values("username", "role", "disabled", "pw_hash", "eds_iin")
    except Exception as exc:
        _unreadable(ck, "users", exc)
        return
    for u in users:
        for p in ledger.account_problems(u, expected.get(u["username"])):
            ck.report.bad("users", p)
    for name in set(expected) - {u["username"] for u in users}:
        ck.report.bad("users", f"user {name}: the journal added this account, its row is gone")
    ck.report.ok(f"accounts: {len(users)} held against the journal")


async def photos(ck: Checker) -> None:
    """Every chained photo against its encrypted file (R3.10): missing, changed or unreadable."""
    run, at = ck.run, ck.at
    store = Photos(
        ck.cfg.path(ck.cfg.storage["photos_dir"]), ck.store.keyring, ck.store.journal, Place(0.0, 0.0)
    )
    limit = run.limits.get("photos", 0)
    try:
        while at.photos < limit:
            rows = (
                await Photo.filter(seq__gt=at.photos, seq__lte=limit)
                .order_by("seq")
                .limit(PHOTO_PAGE)
                .values_list("seq", "photo_id", "file_sha256")
            )
            if not rows:
                break
            found = await asyncio.to_thread(store.check_files, [(str(i), str(h)) for _, i, h in rows])
            for photo_id, problem in found:
                ck.report.bad(f"photo {photo_id}", problem)
            at.photos = int(rows[-1][0])
            run.count("photos", len(rows))
            await ck.page(len(rows))
    except Exception as exc:
        _unreadable(ck, "photos", exc)
        return
    ck.report.ok(f"photos: {run.counts.get('photos', 0)} held against their files")
