"""``python -m app.integrity.walker TABLE SEQ HASH PAGE`` (the database's DSN in the environment,
``OTOLANE_WALK_DSN``): one chain walked from a position in
a process of its own, so the integrity check's other parts run on the other core meanwhile. One
JSON line a page on stdout — ``{seq, hash, rows, brk}`` — and ``{end: true, …}`` at the end, or
``{error}`` for a table that cannot be read. The check that started it keeps the position from each
line (it resumes from there); when the check is gone, the next line fails and the walker ends."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from typing import Any

from app.errors import OtolaneError
from app.storage import chain
from app.storage.db import close_db, open_db
from app.storage.models import CHAINED_MODELS


def say(msg: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(msg) + "\n")
    sys.stdout.flush()


def _brk(w: chain.Walked) -> list[Any] | None:
    return [w.brk.seq, w.brk.problem] if w.brk else None


async def walk(dsn: str, table: str, seq: int, digest: str, page: int) -> int:
    model = {m._meta.db_table: m for m in CHAINED_MODELS}[table]
    await open_db(dsn)
    try:
        w = chain.Walked(table, seq, digest)
        async for n in chain.walk_pages(model, w, page):
            say({"seq": w.seq, "hash": w.hash, "rows": n, "brk": _brk(w)})
        say({"end": True, "seq": w.seq, "hash": w.hash, "brk": _brk(w)})
        return 0
    except OtolaneError as exc:
        say({"error": exc.message})
        return 1
    finally:
        await close_db()


def main(argv: list[str]) -> int:
    table, seq, digest, page = argv
    try:
        return asyncio.run(walk(os.environ["OTOLANE_WALK_DSN"], table, int(seq), digest, int(page)))
    except BrokenPipeError:  # the check that started it is gone
        return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
