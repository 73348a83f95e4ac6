"""Handlers of the lane's records: the journal (read, signed export, R3.19), the EIS queue and the
EIS exchanges (G2). Each calls :class:`~app.journal.Journal`, ``app/eis/history.py`` or the outbox; none
writes a journal entry but the export's own."""

from __future__ import annotations

import asyncio
from pathlib import Path

from aiohttp import web

from app.api.request import Parts, body, field, query_int, query_text, user
from app.eis import history
from app.errors import OtolaneError
from app.journal import MAX_PAGE


async def read_journal(p: Parts, request: web.Request) -> web.Response:
    limit = query_int(request, "limit", 100, 1, MAX_PAGE)
    before = query_int(request, "before", None, 1, 2**63 - 1)
    action = query_text(request, "action", 40, "'action' is at most 40 characters")
    return web.json_response(await p.journal.read(limit, before, action))


async def export_journal(p: Parts, request: web.Request) -> web.Response:
    """R3.19: the signed journal of a period, written as a 0600 file in ``eis.exports_dir``."""
    data = await body(request)
    start = history.parse_time(field(data, "from", str), "from")
    end = history.parse_time(field(data, "to", str), "to")
    cfg = p.lane.cfg
    folder = cfg.path(cfg.eis["exports_dir"])
    made = await history.export_to(folder, p.lane.store.key, cfg.lane["name"], start, end)
    await p.journal.write(
        user(request),
        "journal_exported",
        file=Path(made["file"]).name,
        entries=made["entries"],
        start=made["from"],
        end=made["to"],
    )
    return web.json_response(made)


async def eis_outbox(p: Parts, request: web.Request) -> web.Response:
    return web.json_response(await p.lane.outbox.queue(query_int(request, "limit", 50, 1, MAX_PAGE)))


#: the kinds of message exchanged with EIS (``eis_exchanges.kind``)
EXCHANGE_KINDS = ("card", "events", "photo", "requests", "history", "checkpoint")


async def eis_exchanges(p: Parts, request: web.Request) -> web.Response:
    """G2: the exchanges, newest first; ``kind=card,events`` only those, ``fold=1`` polls folded."""
    limit = query_int(request, "limit", 100, 1, MAX_PAGE)
    card = query_text(request, "card", 36, "'card' is a card id")
    asked = query_text(request, "kind", 80, "'kind' is a list of message kinds")
    kinds = tuple(asked.split(",")) if asked else ()
    unknown = [k for k in kinds if k not in EXCHANGE_KINDS]
    if unknown:
        raise OtolaneError("query_bad", f"'kind' names {', '.join(EXCHANGE_KINDS)}", field="kind")
    fold = query_int(request, "fold", 0, 0, 1) == 1
    return web.json_response(await p.lane.outbox.exchanges.listing(card, limit, kinds, fold))


async def integrity_status(p: Parts, request: web.Request) -> web.Response:
    """The integrity check: running (its progress), the last one's result, the last good one's time."""
    return web.json_response(p.lane.integrity.status())


async def integrity_start(p: Parts, request: web.Request) -> web.Response:
    """R3.13: start the check — ``mode`` full or new (since the last good check), or ``resume``."""
    data = await body(request)
    mode = field(data, "mode", str, "full")
    resume = field(data, "resume", bool, False)
    by = user(request)
    status = await p.lane.integrity.start(mode, resume, by)
    return web.json_response(status, status=202)


async def integrity_stop(p: Parts, request: web.Request) -> web.Response:
    return web.json_response(await p.lane.integrity.stop())


async def backup_status(p: Parts, request: web.Request) -> web.Response:
    """R3.11: the last good backup, the last failure, the alarm, the recent backups; one under way."""
    return web.json_response(await p.lane.backup.status())


async def release_status(p: Parts, request: web.Request) -> web.Response:
    """R3.14, R10.8: the program's release and the last update (its outcome), as the updater left them."""
    from app.release.layout import status

    return web.json_response(await asyncio.to_thread(status, p.lane.cfg))


async def backup_start(p: Parts, request: web.Request) -> web.Response:
    """R3.11: a backup now (the daemon goes on; the backup journals itself)."""
    return web.json_response(await p.lane.backup.start(user(request)), status=202)
