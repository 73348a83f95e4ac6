"""The integrity check's runner: a new, resumed or incremental check, part by part, a page at a
time; its position saved as it goes (``position.py``), its progress told as it goes (``report.py``).
The parts themselves: ``chains.py`` (the chains, the checkpoint file, the cards' anchors and their
deliveries) and ``state.py`` (the state tables against the journal, the photo files)."""

from __future__ import annotations

import asyncio
import contextlib
import copy
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from app.config import Config
from app.eis.events import FEED
from app.errors import OtolaneError
from app.integrity import chains, feed, position, state, walk, witness
from app.integrity.position import PHASES, Position, Run, State
from app.integrity.report import Interrupted, Progress, Report
from app.release.manifest import Installed, root_file
from app.storage.chain import head
from app.storage.db import engine_integrity
from app.storage.models import CHAINED_MODELS, Card, EisFeed, Inspection, Outbox, Photo
from app.storage.store import Store

#: how often a check under way saves its position (and so how much a kill -9 costs it)
SAVE_EVERY_S = 1.0


class Checker:
    """One run of the check: its parts share the run's position, its report and its progress."""

    def __init__(
        self,
        cfg: Config,
        store: Store,
        st: State,
        path: Path,
        emit: Callable[[dict[str, Any]], None] | None,
        stop: Callable[[], bool],
    ) -> None:
        assert st.run is not None
        self.cfg, self.store, self.state, self.path = cfg, store, st, path
        self.run: Run = st.run
        self.report = Report(self.run)
        self.progress = Progress(self.run, emit)
        self.stop = stop
        self.saved = time.monotonic()
        #: each chain's last row when the anchors are first held (read once a run: ``chains.tops``)
        self.tops: dict[str, int] | None = None

    @property
    def at(self) -> Position:
        return self.run.at

    def save(self) -> None:
        position.save(self.path, self.store.key, self.state)
        self.saved = time.monotonic()

    async def each_page(
        self,
        part: str,
        fetch: Callable[[int, int], Awaitable[list[Any]]],
        key: Callable[[Any], int],
        check: Callable[[list[Any]], Awaitable[None]],
    ) -> bool:
        """A part's rows after its position, up to where they ended when the run began, a page at a
        time: ``fetch(after, limit)`` reads a page, ``check`` holds it, ``key`` is a row's place.
        False when the part's table cannot be read (named in the report)."""
        limit = self.run.limits.get(part, 0)
        try:
            while getattr(self.at, part) < limit:
                rows = await fetch(getattr(self.at, part), limit)
                if not rows:
                    break
                await check(rows)
                setattr(self.at, part, int(key(rows[-1])))
                self.run.count(part, len(rows))
                await self.page(len(rows))
        except Interrupted:
            raise
        except OtolaneError as exc:
            self.report.bad(part, exc.message)
            return False
        except Exception as exc:  # a dropped table: named, the check goes on
            self.report.bad(part, f"cannot be read ({type(exc).__name__}: {str(exc)[:120]})")
            return False
        return True

    async def page(self, rows: int) -> None:
        """A page is done and its position moved: tell, save now and then, stop if asked."""
        self.progress.step(rows)
        if self.stop():
            self.save()
            raise Interrupted
        if time.monotonic() - self.saved >= SAVE_EVERY_S:
            self.save()


async def _max(q: Any, name: str) -> int:
    try:
        row = await q.order_by(f"-{name}").first().values(name)
    except Exception:  # a dropped table: the parts name it
        return 0
    return int(row[name]) if row else 0


async def _limits(at: Position) -> tuple[dict[str, int], int]:
    """What this run checks — the rows there when it starts (a card formed during the check names
    heads the walk may not have seen; the next check takes it) — and how many rows that is."""
    limits = {
        "cards": await _max(Card.all(), "seq"),
        "outbox": await _max(Outbox.all(), "id"),
        "inspections": await _max(Inspection.all(), "number"),
        "photos": await _max(Photo.all(), "seq"),
        "feed": await _max(EisFeed.filter(name=FEED), "last_seq"),
    }
    total = sum(max(n - getattr(at, part), 0) for part, n in limits.items())
    for model in CHAINED_MODELS:
        try:
            total += max((await head(model))[0] - at.walked(model._meta.db_table).seq, 0)
        except Exception:  # noqa: S112 - a dropped chain: the walk names it
            continue
    return limits, total


async def _new_run(ck_state: State, mode: str, report_first: list[tuple[str, str]]) -> Run:
    if mode == "new" and ck_state.good is None:
        mode = "full"
        report_first.append(("", "no good check yet: a full check"))
    start = copy.deepcopy(ck_state.good) if mode == "new" and ck_state.good else Position()
    run = Run(mode=mode, started=time.time(), at=start)
    limits, run.total = await _limits(start)
    run.limits = limits
    return run


async def _finish(ck: Checker) -> None:
    """A good check's position: where a check of what is new starts — before the first card still
    on its way to EIS and the first inspection still open, whose rows may yet change."""
    at = ck.at
    cards, insp = at.cards, at.inspections
    pending = await Outbox.filter(status__not_in=["accepted", "refused"]).values_list("card_id", flat=True)
    first = await Card.filter(card_id__in=list(pending)).order_by("seq").first() if pending else None
    if first is not None:
        cards = min(cards, int(first.seq) - 1)
    first_open = await Inspection.filter(status="open").order_by("number").first()
    if first_open is not None:
        insp = min(insp, int(first_open.number) - 1)
    ck.state.good = Position(at.chains, at.file, cards, at.outbox, insp, at.photos, at.feed)
    ck.state.good_ts = time.time()


async def check(
    cfg: Config,
    store: Store,
    mode: str = "full",
    resume: bool = False,
    progress: Callable[[dict[str, Any]], None] | None = None,
    stop: Callable[[], bool] = lambda: False,
) -> dict[str, Any]:
    """Check everything (``full``), or what is new since the last good check (``new``); ``resume``
    continues a check that was interrupted. The report: ``ok``, ``interrupted``, ``problems``,
    ``lines`` … and a journal entry ``integrity_checked`` for a finished check."""
    path = position.state_file(cfg.path(cfg.storage["anchor_file"]))
    st, unused = position.load(path, store.key)
    first: list[tuple[str, str]] = []
    if unused:
        first.append(("position file", f"{path.name} {unused}; the check starts from the beginning"))
        mode = "full"
    if resume and st.run is None:
        first.append(("", "no interrupted check to resume: a new one"))
    if not (resume and st.run is not None):
        st.run = await _new_run(st, mode, first)
        if st.run.mode == "new":
            first += await chains.boundaries(st.run)
    ck = Checker(cfg, store, st, path, progress, stop)
    for where, text in first:
        ck.report.bad(where, text) if where else ck.report.ok(text)
    run = ck.run
    here, apart = await walk.split(ck)
    beside = [asyncio.create_task(_beside(ck)), *(asyncio.create_task(walk.walk_apart(ck, m)) for m in apart)]
    try:
        for model in here:
            await walk.walk_here(ck, model)
        for phase in PHASES[PHASES.index(run.phase) if run.phase in PHASES else 0 :]:
            run.phase = phase
            await PARTS[phase](ck)
        for task, part in zip(beside, ["photos"] + ["chains"] * len(apart), strict=True):
            if not task.done():
                run.phase = part  # what the check still waits for
            await task
        run.phase = "done"
    except Interrupted:
        for task in beside:
            task.cancel()
        for task in beside:
            with contextlib.suppress(Interrupted, asyncio.CancelledError):
                await task
        ck.save()
        figures = ck.progress.figures()
        lines = [
            *run.lines,
            f"interrupted at {figures['percent']} % ({run.done} of {run.total} rows, part {run.phase}): "
            "`otolane integrity check --resume` continues it",
        ]
        return _result(run, lines, interrupted=True)
    ck.progress.step(0, force=True)
    ok = not ck.report.count
    if ok:
        await _finish(ck)
    st.run = None
    ck.save()
    lines = [*run.lines]
    if run.more:
        lines.append(f"… and {run.more} more problem(s), not listed")
    lines.append("result: OK" if ok else f"result: INTEGRITY FAILURE — {ck.report.count} problem(s)")
    try:
        await store.journal.write(
            "integrity",
            "integrity_checked",
            ok=ok,
            mode=run.mode,
            rows=run.done,
            problems=run.problems[:50],
        )
    except Exception as exc:  # a dropped or locked journal is already in the report; it is not a crash
        lines.insert(-1, f"journal: this check could not be recorded ({type(exc).__name__})")
    return _result(run, lines, interrupted=False, ok=ok)


def _result(run: Run, lines: list[str], interrupted: bool, ok: bool = False) -> dict[str, Any]:
    return {
        "ok": ok,
        "interrupted": interrupted,
        "mode": run.mode,
        "engine": run.engine,
        "rows": run.done,
        "breaks": [p for p in run.problems if p["where"].startswith("chain ")],
        "problems": run.problems,
        "more": run.more,
        "lines": lines,
    }


async def _engine(ck: Checker) -> None:
    if ck.run.mode != "full":
        ck.report.ok("database engine check: in a full check only")
        return
    try:
        ck.run.engine = await engine_integrity()
    except Exception as exc:  # a file that cannot be opened: named, the check goes on
        ck.run.engine = f"cannot be checked ({type(exc).__name__}: {str(exc)[:120]})"
    if ck.run.engine == "ok":
        ck.report.ok("database engine check: ok")
    else:
        ck.report.bad("database engine", ck.run.engine)


async def _installation(ck: Checker) -> None:
    """The program's own files against its release's signed manifest (R10.7)."""
    inst = Installed.running()
    problems = await asyncio.to_thread(inst.problems, root_file(ck.cfg))
    for p in problems:
        ck.report.bad("installation", p)
    if not problems:
        ck.report.ok(f"installation: {inst.status()}" + (", every file as signed" if inst.folder else ""))


async def _beside(ck: Checker) -> None:
    """The parts that read files rather than rows, on the other core while the chains are walked
    (each once: a resumed run skips what it finished before)."""
    for name, part in (("engine", _engine), ("photos", state.photos), ("installation", _installation)):
        if name not in ck.run.finished:
            await part(ck)
            ck.run.finished.append(name)


PARTS = {
    "checkpoints": chains.checkpoints,
    "cards": chains.cards,
    "outbox": state.outbox,
    "inspections": state.inspections,
    "accounts": state.accounts,
    "feed": feed.feed,
    "witness": witness.witness,
}
