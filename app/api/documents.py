"""Handlers of formed cards: read one, its PDF, print it, a print job's status, the international
certificate. Each calls :class:`~app.documents.issue.Issuer`, which journals every issue.
They never render or journal a document themselves."""

from __future__ import annotations

from aiohttp import web

from app.api.request import Parts, body, field, session


async def card(p: Parts, request: web.Request) -> web.Response:
    """``?full=1``: the personal data unmasked (``personal_data_view``; journalled)."""
    full = request.query.get("full") == "1"
    return web.json_response(await p.lane.documents.card(session(request), request.match_info["cid"], full))


async def card_pdf(p: Parts, request: web.Request) -> web.Response:
    pdf, copy = await p.lane.documents.card_pdf(session(request), request.match_info["cid"])
    return web.Response(
        body=pdf, content_type="application/pdf", headers={"X-Otolane-Copy": "1" if copy else "0"}
    )


async def card_signature(p: Parts, request: web.Request) -> web.Response:
    """The employee's signature of the card beside its PDF (``otolane card verify --cms``)."""
    body, media = await p.lane.documents.signature(session(request), request.match_info["cid"])
    suffix = "xml" if media == "application/xml" else "p7s"
    headers = {"Content-Disposition": f'attachment; filename="card-{request.match_info["cid"][:8]}.{suffix}"'}
    return web.Response(body=body, content_type=media, headers=headers)


async def print_card(p: Parts, request: web.Request) -> web.Response:
    return web.json_response(
        await p.lane.documents.print_card(session(request), request.match_info["cid"]), status=201
    )


async def print_status(p: Parts, request: web.Request) -> web.Response:
    return web.json_response(await p.lane.documents.print_status(request.match_info["job"]))


async def certificate(p: Parts, request: web.Request) -> web.Response:
    """The PDF; with ``{"print": true}`` it goes to the lane's printer and the answer is JSON."""
    data = await body(request) if request.can_read_body else {}
    to_printer = bool(field(data, "print", bool, False))
    pdf, number, copy, job = await p.lane.documents.certificate(
        session(request), request.match_info["cid"], to_printer
    )
    if job is not None:
        return web.json_response(
            {"number": number, "copy": copy, "job": job.job, "queue": job.queue, "location": job.location},
            status=201,
        )
    headers = {"X-Otolane-Certificate": number, "X-Otolane-Copy": "1" if copy else "0"}
    return web.Response(body=pdf, content_type="application/pdf", headers=headers, status=201)
