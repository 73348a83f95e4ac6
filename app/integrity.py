"""The integrity check (R3.13, R3.10): ``otolane integrity check``.

In order, each problem named with its table and row:

1. the database engine's own check;
2. every chained table present, and each chain walked: links and row hashes (``app/storage/chain.py``);
3. the chains held against every signed checkpoint in the checkpoint file, and the file itself
   (signatures, links): a cut tail, an emptied or dropped table, a row changed and the rest re-hashed
   are each found and named (``app/storage/anchor.py``);
4. every card's own anchor (the signed heads it was formed on) against the chains;
5. the state tables against the chained journal (``app/ledger.py``): inspections (start time, the
   facts R12 and the card rest on, status, done steps), accounts (role, lock, password), the outbox
   (a row per card, its status as the journal says, its idempotency key).
6. every photo's encrypted file against the hashes chained when it was taken (R3.10).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import AsyncIterator, Iterable
from typing import Any

from app import ledger
from app.config import Config
from app.errors import OtolaneError
from app.lane.photos import Photos, Place
from app.storage import chain
from app.storage.anchor import read_checkpoints, verify_signed_heads
from app.storage.db import engine_integrity
from app.storage.models import CHAINED_MODELS, Card, Inspection, JournalEntry, Outbox, User
from app.storage.store import Store


class Report:
    def __init__(self) -> None:
        self.lines: list[str] = []
        self.problems: list[dict[str, Any]] = []

    def ok(self, text: str) -> None:
        self.lines.append(text)

    def bad(self, where: str, problem: str) -> None:
        self.problems.append({"where": where, "problem": problem})
        self.lines.append(f"{where}: {problem}")


async def _walk(
    report: Report, wanted: dict[str, set[int]]
) -> tuple[dict[str, int], dict[str, dict[int, str]]]:
    """Each chain walked; its last seq, and the hashes of the rows the checkpoints and cards name."""
    last: dict[str, int] = {}
    seen: dict[str, dict[int, str]] = {}
    for model in CHAINED_MODELS:
        table = model._meta.db_table
        try:
            n, brk, hashes = await chain.walk(model, keep=wanted.get(table, set()))
        except OtolaneError as exc:
            report.bad(f"chain {table}", exc.message)
            last[table], seen[table] = 0, {}
            continue
        last[table], seen[table] = n, hashes
        if brk is None:
            report.ok(f"chain {table}: {n} rows, intact")
        else:
            report.bad(f"chain {table}", f"BROKEN at {brk}")
    return last, seen


def _against(
    report: Report,
    what: str,
    heads: dict[str, tuple[int, str]],
    last: dict[str, int],
    seen: dict[str, dict[int, str]],
) -> None:
    for table, (seq, digest) in sorted(heads.items()):
        if seq == 0 or table not in last:
            continue
        if last[table] < seq:
            report.bad(
                f"chain {table}",
                f"{what} saw {seq} rows; the table ends at row {last[table]} "
                + ("(the table was emptied)" if last[table] == 0 else "(rows cut off its end)"),
            )
        elif seen.get(table, {}).get(seq) != digest:
            report.bad(f"chain {table}", f"row {seq} is not the row {what} saw (changed, the rest re-hashed)")


async def check(cfg: Config, store: Store) -> dict[str, Any]:
    report = Report()
    engine = await engine_integrity()
    if engine == "ok":
        report.ok("database engine check: ok")
    else:
        report.bad("database engine", engine)

    # The checkpoints and the cards' anchors name rows that must still be there, as they were.
    anchor_path = cfg.path(cfg.storage["anchor_file"])
    checkpoints, file_problems = [], []
    if anchor_path.exists():
        checkpoints, file_problems = read_checkpoints(anchor_path, store.key.public)
    for p in file_problems:
        report.bad("checkpoint file", p)
    anchors: list[tuple[str, dict[str, tuple[int, str]]]] = []
    try:
        async for c in _cards():
            card = store.keyring.open_json(c.sealed, f"cards:{c.card_id}")
            anchor = card.get("anchor")
            if not isinstance(anchor, dict):
                report.bad(f"card {c.card_id}", "carries no anchor")
                continue
            if not verify_signed_heads(store.key.public, anchor) or anchor.get("subject") != c.card_id:
                report.bad(f"card {c.card_id}", "its anchor's signature does not verify")
            anchors.append(
                (
                    f"card {c.card_id}'s anchor",
                    {t: (int(h[0]), str(h[1])) for t, h in anchor["heads"].items()},
                )
            )
    except Exception as exc:  # an unreadable cards table is named by the walk below
        if not isinstance(exc, OtolaneError):
            report.bad("cards", f"cannot be read ({type(exc).__name__})")
        else:
            report.bad("cards", exc.message)
    wanted: dict[str, set[int]] = defaultdict(set)
    for cp in checkpoints:
        for table, (seq, _) in cp.heads.items():
            wanted[table].add(seq)
    for _, heads in anchors:
        for table, (seq, _) in heads.items():
            wanted[table].add(seq)

    last, seen = await _walk(report, wanted)
    total = sum(last.values())
    if not checkpoints and total and not file_problems:
        report.bad("checkpoint file", f"{anchor_path} is missing or empty, but the chains hold {total} rows")
    elif checkpoints:
        report.ok(
            f"checkpoints: {len(checkpoints)} in {anchor_path.name}, the last of {_when(checkpoints[-1].ts)}"
        )
    for cp in checkpoints:
        _against(report, f"the signed checkpoint {cp.n} ({_when(cp.ts)})", cp.heads, last, seen)
    for what, heads in anchors:
        _against(report, what, heads, last, seen)

    try:
        await _state(report, store)
    except Exception as exc:  # a dropped state table: named, the report goes on
        report.bad("state tables", f"cannot be read ({type(exc).__name__}: {str(exc)[:120]})")
    try:
        await _photos(report, cfg, store)
    except Exception as exc:  # a dropped photos table is named by the walk above
        report.bad("photos", f"cannot be read ({type(exc).__name__}: {str(exc)[:120]})")
    ok = not report.problems
    report.lines.append(
        "result: OK" if ok else f"result: INTEGRITY FAILURE — {len(report.problems)} problem(s)"
    )
    try:
        await store.journal.write("integrity", "integrity_checked", ok=ok, problems=report.problems[:50])
    except Exception as exc:  # a dropped or locked journal is already in the report; it is not a crash
        report.lines.insert(-1, f"journal: this check could not be recorded ({type(exc).__name__})")
    breaks = [p for p in report.problems if p["where"].startswith("chain ")]
    return {"ok": ok, "engine": engine, "breaks": breaks, "problems": report.problems, "lines": report.lines}


async def _cards(page: int = 200) -> AsyncIterator[Card]:
    """The cards in the chain's order, a page at a time (each opened once by its reader, none kept)."""
    after = 0
    while True:
        batch = await Card.filter(seq__gt=after).order_by("seq").limit(page)
        if not batch:
            return
        for c in batch:
            yield c
        after = int(batch[-1].seq)


async def _entries(actions: Iterable[str]) -> list[tuple[int, str, dict[str, Any]]]:
    """(seq, action, details) of the journal's entries of ``actions``, by the action index."""
    rows = (
        await JournalEntry.filter(action__in=list(actions))
        .order_by("seq")
        .values_list("seq", "action", "details")
    )
    return [(int(s), str(a), dict(d)) for s, a, d in rows]


async def _state(report: Report, store: Store) -> None:
    """The state tables against the journal (see ``app/ledger.py``); only the entries each check
    rests on are read (the inspections', the accounts', the deliveries')."""
    try:
        entries = await _entries({*ledger.INSPECTION_ACTIONS, *ledger.USER_ACTIONS, *ledger.EIS_ACTIONS})
    except Exception:
        report.bad("journal", "cannot be read: the state tables cannot be checked against it")
        return
    per_insp = ledger.by_inspection((s, a, d) for s, a, d in entries if a in ledger.INSPECTION_ACTIONS)
    carded = set(await Card.all().values_list("inspection_id", flat=True))
    n = 0
    for insp in await Inspection.all().order_by("number"):
        n += 1
        for p in ledger.inspection_problems(
            ledger.inspection_row(insp), per_insp.get(insp.id, []), insp.id in carded
        ):
            report.bad("inspections", p)
    report.ok(f"inspections: {n} held against the journal")
    accounts = ledger.expected_accounts((a, d) for _, a, d in entries if a in ledger.USER_ACTIONS)
    users = await User.all().values("username", "role", "disabled", "pw_hash", "eds_iin")
    for u in users:
        for p in ledger.account_problems(u, accounts.get(u["username"])):
            report.bad("users", p)
    for name in set(accounts) - {u["username"] for u in users}:
        report.bad("users", f"user {name}: the journal added this account, its row is gone")
    report.ok(f"accounts: {len(users)} held against the journal")
    try:
        cards = {
            c.card_id: bool(store.keyring.open_json(c.sealed, f"cards:{c.card_id}").get("training"))
            async for c in _cards()
        }
    except Exception:
        return  # named above
    rows = {
        r["card_id"]: r for r in await Outbox.all().values("card_id", "status", "training", "idempotency_key")
    }
    for p in ledger.outbox_problems(cards, rows, ledger.eis_outcomes((a, d) for _, a, d in entries)):
        report.bad("outbox", p)
    report.ok(f"outbox: {len(rows)} rows held against the cards and the journal")


async def _photos(report: Report, cfg: Config, store: Store) -> None:
    """Every chained photo against its encrypted file (R3.10): missing, changed or unreadable."""
    photos = Photos(cfg.path(cfg.storage["photos_dir"]), store.keyring, store.journal, Place(0.0, 0.0))
    n, problems = await photos.check_files()
    for photo_id, problem in problems:
        report.bad(f"photo {photo_id}", problem)
    report.ok(f"photos: {n} held against their files")


def _when(ts: float) -> str:
    import datetime as dt

    return dt.datetime.fromtimestamp(ts).isoformat(sep=" ", timespec="seconds")
