"""Database integrity check (R3.13): the engine's own check, then every hash chain (R3.10)."""

from __future__ import annotations

from typing import Any

from app.config import Config
from app.journal import Journal
from app.storage import chain
from app.storage.db import engine_integrity
from app.storage.models import Card, JournalEntry, Reading


async def check(cfg: Config, journal: Journal | None = None) -> dict[str, Any]:
    lines: list[str] = []
    engine = await engine_integrity()
    ok = engine == "ok"
    lines.append(f"database engine check: {engine}")
    breaks: list[dict[str, Any]] = []
    for model in (Reading, JournalEntry, Card):
        n, brk = await chain.verify(model)
        if brk is None:
            lines.append(f"chain {model._meta.db_table}: {n} rows, intact")
        else:
            ok = False
            breaks.append({"table": brk.table, "seq": brk.seq, "problem": brk.problem})
            lines.append(f"chain {model._meta.db_table}: BROKEN at {brk}")
    lines.append("result: OK" if ok else "result: INTEGRITY FAILURE — see above")
    if journal is not None:
        await journal.write("integrity", "integrity_checked", ok=ok, breaks=breaks)
    return {"ok": ok, "engine": engine, "breaks": breaks, "lines": lines}
