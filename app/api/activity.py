"""Handlers of the users' activity (R11, R10.6): the activity per person and day with its entries,
and its export. They read the journal (``Journal.activity``) and fold it (``app/activity.py``); the
export is journalled like every other."""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import hashlib
import io
import time
from typing import Any

from aiohttp import web

from app import activity
from app.api.request import Parts, body, field, query_int, query_text, user
from app.domain.periodicity import KZ_TIME
from app.errors import OtolaneError
from app.storage.crypto import write_secret_file

#: the most days one view or export spans, and the most entries a view lists
MAX_DAYS = 92
MAX_ENTRIES = 500


def _day(day: str) -> tuple[float, float]:
    """A day of the query or body as [start, end), or ``activity_day_bad``."""
    try:
        return activity.day_bounds(day)
    except ValueError:
        raise OtolaneError(
            "activity_day_bad", f"expected a day such as 2026-01-31, found {day[:20]!r}", found=day[:20]
        ) from None


def _entry(e: Any) -> dict[str, Any]:
    d = e.details if isinstance(e.details, dict) else {}
    return {
        "seq": e.seq,
        "ts": e.ts,
        "day": activity.day_of(e.ts),
        "user": str(d.get("user") or e.actor) if e.action == "dlp_alert" else e.actor,
        "action": e.action,
        "kind": activity.kind_of(e.action, d),
        "where": d.get("where") if isinstance(d.get("where"), dict) else {},
        "about": {k: d[k] for k in ("card_id", "number", "rule", "permission", "file", "reason") if k in d},
    }


async def read(p: Parts, request: web.Request) -> web.Response:
    """``?day=YYYY-MM-DD`` (today by default) and ``days`` back from it (1–92), ``user`` one person:
    the counts per person and day, and the newest entries."""
    days = int(query_int(request, "days", 1, 1, MAX_DAYS) or 1)
    last = query_text(request, "day", 10, "'day' is a date such as 2026-01-31") or activity.day_of(
        time.time()
    )
    start, end = _day(last)
    start -= (days - 1) * 86400.0
    who = query_text(request, "user", 64, "'user' is at most 64 characters")
    rows = await p.journal.activity(start, end, who)
    summary = activity.per_day((e.ts, e.actor, e.action, e.details) for e in rows)
    entries = [_entry(e) for e in reversed(rows[-MAX_ENTRIES:])]
    return web.json_response({"from": start, "to": end, "days": summary, "entries": entries})


async def export(p: Parts, request: web.Request) -> web.Response:
    """The activity of ``from``–``to`` (days, both included) as a CSV file (0600) in the exports
    folder, one row per entry; journalled ``activity_exported`` with its SHA-256."""
    data = await body(request)
    first, last = field(data, "from", str, max_len=10), field(data, "to", str, max_len=10)
    start, _ = _day(first)
    _, end = _day(last)
    if not start < end <= start + MAX_DAYS * 86400.0:
        raise OtolaneError(
            "activity_period_bad", f"from {first} to {last}: at most {MAX_DAYS} days, in order", days=MAX_DAYS
        )
    rows = await p.journal.activity(start, end, None)
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(["seq", "time", "user", "action", "kind", "where", "about"])
    for e in rows:
        r = _entry(e)
        stamp = dt.datetime.fromtimestamp(r["ts"], KZ_TIME).isoformat(timespec="seconds")
        about = " ".join(f"{k}={v}" for k, v in r["about"].items())
        place = activity.described(r["where"] or None)
        w.writerow([r["seq"], stamp, r["user"], r["action"], r["kind"], place, about])
    text = out.getvalue()
    folder = p.lane.cfg.path(p.lane.cfg.eis["exports_dir"])
    path = folder / f"activity-{first}-{last}-{int(time.time())}.csv"
    folder.mkdir(parents=True, exist_ok=True)
    await asyncio.to_thread(write_secret_file, path, text)
    digest = hashlib.sha256(text.encode()).hexdigest()
    await p.journal.write(
        user(request),
        "activity_exported",
        file=path.name,
        entries=len(rows),
        start=first,
        end=last,
        sha256=digest,
    )
    return web.json_response({"file": str(path), "entries": len(rows), "sha256": digest}, status=201)
