"""The check's walk of the chains (links and row hashes, ``app/storage/chain.py``), each from its
position. A chain with many rows to walk is walked by a process of its own
(``app/integrity/walker.py``) while this one holds the checkpoints, cards and state tables: on two
cores the check takes the time of its longest part, not of all of them. Should that process fail,
the walk goes on here from the last position it gave."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
from typing import TYPE_CHECKING

from app.errors import OtolaneError
from app.storage import chain
from app.storage.models import CHAINED_MODELS, Chained

if TYPE_CHECKING:
    from app.integrity.check import Checker

log = logging.getLogger("otolane.integrity")
#: chain rows hashed per page
CHAIN_PAGE = 2000
#: a chain with more rows than this to walk is walked apart, on the other core, by this module
APART = 100_000
WALKER = "app.integrity.walker"
WALKER_DSN = "OTOLANE_WALK_DSN"


async def rows_left(model: type[Chained], w: chain.Walked) -> int:
    try:
        return max((await chain.head(model))[0] - w.seq, 0)
    except Exception:  # a dropped table: its walk names it
        return 0


async def split(ck: Checker) -> tuple[list[type[Chained]], list[type[Chained]]]:
    """The chains still to walk: (here, apart)."""
    here, apart = [], []
    for model in CHAINED_MODELS:
        table = model._meta.db_table
        if table in ck.run.ends:
            continue  # walked before this run was interrupted
        big = await rows_left(model, ck.run.walked(table)) >= APART
        (apart if big else here).append(model)
    return here, apart


async def walk_here(ck: Checker, model: type[Chained]) -> None:
    table = model._meta.db_table
    w = ck.run.walked(table)
    try:
        async for n in chain.walk_pages(model, w, CHAIN_PAGE):
            ck.run.keep_walk(w)
            await ck.page(n)
    except OtolaneError as exc:
        ck.report.bad(f"chain {table}", exc.message)
        ck.run.ends[table] = 0
        return
    await _walked(ck, model, w)


async def walk_apart(ck: Checker, model: type[Chained]) -> None:
    table = model._meta.db_table
    w = ck.run.walked(table)
    args = [table, str(w.seq), w.hash, str(CHAIN_PAGE)]
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        WALKER,
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
        # the database this check reads (a restore's scratch copy, too), never on a command line
        env=os.environ | {WALKER_DSN: ck.cfg.dsn},
    )
    assert proc.stdout is not None
    ended = False
    try:
        async for raw in proc.stdout:
            msg = json.loads(raw)
            if "error" in msg:
                ck.report.bad(f"chain {table}", str(msg["error"]))
                ck.run.ends[table] = 0
                return
            w.seq, w.hash = int(msg["seq"]), str(msg["hash"])
            w.brk = chain.Break(table, int(msg["brk"][0]), str(msg["brk"][1])) if msg["brk"] else None
            ck.run.keep_walk(w)
            if msg.get("end"):
                ended = True
                break
            await ck.page(int(msg["rows"]))
    except ValueError:
        log.warning("the walker of %s said something else than a position: walking on here", table)
    finally:
        if proc.returncode is None:
            proc.kill()
        await proc.wait()
    if not ended:
        log.warning(
            "the walker of %s ended at row %d (exit %s): walking on here", table, w.seq, proc.returncode
        )
        await walk_here(ck, model)
        return
    await _walked(ck, model, w)


async def _walked(ck: Checker, model: type[Chained], w: chain.Walked) -> None:
    table = model._meta.db_table
    ck.run.keep_walk(w)
    try:
        last = (await chain.head(model))[0]
    except Exception:  # dropped since: named by the next check
        last = w.seq
    ck.run.ends[table] = min(w.seq, last)  # rows gone since they were walked: the table ends there
    if w.brk is None:
        ck.report.ok(f"chain {table}: {w.seq} rows, intact")
    else:
        ck.report.bad(f"chain {table}", f"BROKEN at {w.brk}")
