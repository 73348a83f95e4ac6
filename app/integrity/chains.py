"""The check's parts on the chains' anchors (the walk itself: ``walk.py``): the chains held
against every signed checkpoint of the checkpoint file, and the file itself (signatures, links);
every card's own anchor (the signed heads it was formed on) against the chains, and its delivery
(its outbox row, as the journal's EIS entries say). A cut tail, an emptied or dropped table, a row
changed and the rest re-hashed are each found and named. Rows named by a checkpoint or a card are
read by their seq, a page at a time: nothing grows with history but the time."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from app import ledger
from app.integrity import feed
from app.storage import chain
from app.storage.anchor import given_up, iter_checkpoints, restores, verify_signed_heads
from app.storage.models import CHAINED_MODELS, Card, Outbox

if TYPE_CHECKING:
    from app.integrity.check import Checker
    from app.integrity.position import Run

#: cards opened, checkpoints held, per page
PAGE = 200
_MODELS = {m._meta.db_table: m for m in CHAINED_MODELS}
Heads = dict[str, tuple[int, str]]


async def boundaries(run: Run) -> list[tuple[str, str]]:
    """A check of what is new starts where the last good one ended: those rows must still be there
    with the hashes it saw (a row changed and the rest re-hashed changes them)."""
    problems = []
    for table, (seq, digest) in sorted(run.at.chains.items()):
        if seq == 0 or table not in _MODELS:
            continue
        try:
            last = (await chain.head(_MODELS[table]))[0]
            found = await chain.hashes_at(_MODELS[table], [seq])
        except Exception:  # noqa: S112 - a dropped table is named by its walk
            continue
        if last < seq:
            problems.append((f"chain {table}", _cut("the last good check", seq, last)))
        elif found.get(seq) != digest:
            problems.append(
                (
                    f"chain {table}",
                    f"row {seq} is not the row the last good check saw (changed, the rest re-hashed)",
                )
            )
    return problems


def _cut(what: str, seq: int, last: int) -> str:
    return f"{what} saw {seq} rows; the table ends at row {last} " + (
        "(the table was emptied)" if last == 0 else "(rows cut off its end)"
    )


async def chain_tops(ck: Checker) -> dict[str, int]:
    """Each chain's last row, read once a run: a checkpoint or an anchor that names a row past it
    names rows cut off (they were there when it was signed). Not the walk's end: the walk may still
    be under way."""
    if ck.tops is None:
        ck.tops = {}
        for table, model in _MODELS.items():
            try:
                ck.tops[table] = (await chain.head(model))[0]
            except Exception:  # noqa: S112 - a dropped table is named by its walk
                continue
    return ck.tops


async def _hold(ck: Checker, named: list[tuple[str, Heads]], tops: dict[str, int]) -> None:
    """The rows a page of checkpoints or cards name, read by their seq, against what each saw."""
    wanted: dict[str, set[int]] = {}
    for _, heads in named:
        for table, (seq, _) in heads.items():
            if seq > 0 and table in tops and seq <= tops[table]:
                wanted.setdefault(table, set()).add(seq)
    stored: dict[str, dict[int, str]] = {}
    for table, seqs in wanted.items():
        try:
            stored[table] = await chain.hashes_at(_MODELS[table], seqs)
        except Exception:  # a table dropped since its walk: named by the next check
            stored[table] = {}
    for what, heads in named:
        for table, (seq, digest) in sorted(heads.items()):
            if seq == 0 or table not in tops:
                continue
            if tops[table] < seq:
                ck.report.bad(f"chain {table}", _cut(what, seq, tops[table]))
            elif stored[table].get(seq) != digest:
                ck.report.bad(
                    f"chain {table}", f"row {seq} is not the row {what} saw (changed, the rest re-hashed)"
                )


async def checkpoints(ck: Checker) -> None:
    run, at = ck.run, ck.at
    path = ck.cfg.path(ck.cfg.storage["anchor_file"])
    last = await chain_tops(ck)
    chained = sum(last.values())
    if not path.exists():
        if at.file.line:
            ck.report.bad(
                "checkpoint file", f"{path} is missing; the last good check read {at.file.line} lines of it"
            )
        elif chained:
            ck.report.bad(
                "checkpoint file", f"{path} is missing or empty, but the chains hold {chained} rows"
            )
        return
    if path.stat().st_size < at.file.offset:
        ck.report.bad("checkpoint file", f"{path.name} is shorter than at the last good check: lines removed")
        return
    limit = run.limits.setdefault("file", path.stat().st_size)
    page: list[tuple[str, Heads]] = []
    last_ts = 0.0
    damaged = False
    restored = restores(path)
    for cp, problems in iter_checkpoints(path, ck.store.key.public, at.file):
        for p in problems:
            ck.report.bad("checkpoint file", p)
        damaged = damaged or bool(problems)
        if cp is not None:
            run.count("checkpoints", 1)
            last_ts = cp.ts
            caps = given_up(restored, cp.n)  # rows a later restore gave up are not held
            heads = {t: h for t, h in cp.heads.items() if h[0] <= caps.get(t, h[0])}
            page.append((f"the signed checkpoint {cp.n} ({_when(cp.ts)})", heads))
        if len(page) >= PAGE or at.file.offset >= limit:
            await _hold(ck, page, last)
            page = []
            await ck.page(0)
        if at.file.offset >= limit:
            break
    await _hold(ck, page, last)
    n = run.counts.get("checkpoints", 0)
    if n:
        last = f", the last of {_when(last_ts)}" if last_ts else ""
        ck.report.ok(f"checkpoints: {n} in {path.name}{last}")
        for r in restored:
            ck.report.ok(
                f"restore: checkpoint {r.n} ({_when(r.ts)}) went back to backup {r.snapshot[:8]}; the rows "
                "earlier checkpoints name past it were given up by it"
            )
    elif chained and not damaged and at.file.expected == 1:  # not one checkpoint, ever
        ck.report.bad("checkpoint file", f"{path} is missing or empty, but the chains hold {chained} rows")


async def cards(ck: Checker) -> None:
    """Each card opened once: its anchor against the chains, its delivery against its outbox row
    and the journal's EIS entries."""

    async def fetch(after: int, limit: int) -> list[Card]:
        return await Card.filter(seq__gt=after, seq__lte=limit).order_by("seq").limit(PAGE)

    last = await chain_tops(ck)
    if await ck.each_page("cards", fetch, lambda c: c.seq, lambda batch: _cards_page(ck, batch, last)):
        n = ck.run.counts.get("cards", 0)
        ck.report.ok(f"cards: {n} anchors and deliveries held against the chains and the journal")


async def _cards_page(ck: Checker, batch: list[Card], tops: dict[str, int]) -> None:
    named: list[tuple[str, Heads]] = []
    training: dict[str, bool] = {}
    for c in batch:
        try:
            card = ck.store.keyring.open_json(c.sealed, f"cards:{c.card_id}")
        except Exception:
            ck.report.bad(
                f"card {c.card_id}", "does not open with the lane's data key (changed behind the software)"
            )
            continue
        training[c.card_id] = bool(card.get("training"))
        anchor = card.get("anchor")
        if not isinstance(anchor, dict):
            ck.report.bad(f"card {c.card_id}", "carries no anchor")
            continue
        if not verify_signed_heads(ck.store.key.public, anchor) or anchor.get("subject") != c.card_id:
            ck.report.bad(f"card {c.card_id}", "its anchor's signature does not verify")
        named.append(
            (f"card {c.card_id}'s anchor", {t: (int(h[0]), str(h[1])) for t, h in anchor["heads"].items()})
        )
    await _hold(ck, named, tops)
    ids = list(training)
    rows: dict[str, dict[str, Any]] = {
        r["card_id"]: r
        for r in await Outbox.filter(card_id__in=ids).values(
            "card_id", "status", "training", "idempotency_key"
        )
    }
    said = await ck.store.journal.naming("card_id", ledger.EIS_ACTIONS, ids)
    eis = ledger.eis_outcomes((a, d) for _, a, d in said)
    for p in ledger.outbox_problems(training, rows, eis):
        ck.report.bad("outbox", p)
    await feed.cards_accepted(ck, eis)


def _when(ts: float) -> str:
    import datetime as dt

    return dt.datetime.fromtimestamp(ts).isoformat(sep=" ", timespec="seconds")
