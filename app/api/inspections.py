"""Handlers of the operator's inspection: the state, the plate read off the camera, starting an
inspection, its steps and visual checks, the card's review and forming, and aborting. Each calls
one part of the lane (``app/lane/``) and answers with its view; none holds a gate or a rule."""

from __future__ import annotations

from aiohttp import web

from app.api.request import Parts, body, field, number_field, session, user
from app.errors import OtolaneError


async def state(p: Parts, request: web.Request) -> web.Response:
    snap = await p.lane.views.snapshot()
    s = session(request)
    snap["me"] = {"username": s.username, "role": s.role}
    return web.json_response(snap)


async def recognise_plate(p: Parts, request: web.Request) -> web.Response:
    data = await body(request)
    return web.json_response(await p.lane.intake.recognise_plate(field(data, "camera", str, "")))


async def start_inspection(p: Parts, request: web.Request) -> web.Response:
    data = await body(request)
    insp = await p.lane.intake.start(
        user(request),
        field(data, "plate", str),
        field(data, "category", str),
        field(data, "fuel", str, "petrol"),
        field(data, "axles", int, 2),
        field(data, "owner", str, ""),
        year=field(data, "year", int, None),
        vin=field(data, "vin", str, ""),
        make_model=field(data, "make_model", str, ""),
        catalyst=field(data, "catalyst", bool, False),
        turbo=field(data, "turbo", bool, False),
        use=field(data, "use", str, "private"),
        reinspection_of=field(data, "reinspection_of", str, ""),
        plate_confirmed=field(data, "plate_confirmed", bool, False),
        recognition=field(data, "recognition", str, ""),
        headlight_tilt=number_field(data, "headlight_tilt"),
    )
    return web.json_response(p.lane.views.of(insp), status=201)


async def start_step(p: Parts, request: web.Request) -> web.Response:
    iid = request.match_info["iid"]
    await p.lane.steps.start(user(request), iid, request.match_info["step"])
    return web.json_response(p.lane.views.of(p.lane.steps.require(iid)))


async def visual(p: Parts, request: web.Request) -> web.Response:
    data = await body(request)
    defects = field(data, "defects", list, [])
    if len(defects) > 64 or not all(isinstance(d, str) and len(d) <= 64 for d in defects):
        raise OtolaneError("field_type", "'defects' is a list of check ids", field="defects")
    iid = request.match_info["iid"]
    await p.lane.steps.record_visual(user(request), iid, defects)
    return web.json_response(p.lane.views.of(p.lane.steps.require(iid)))


async def preview_card(p: Parts, request: web.Request) -> web.Response:
    return web.json_response(await p.lane.forming.preview(user(request), request.match_info["iid"]))


async def form_card(p: Parts, request: web.Request) -> web.Response:
    s = session(request)
    return web.json_response(
        await p.lane.forming.form(s.username, request.match_info["iid"], s.signer), status=201
    )


async def abort(p: Parts, request: web.Request) -> web.Response:
    """Abandon the open inspection; a reason is needed, the journal keeps it (issue #23 (6))."""
    data = await body(request)
    reason = field(data, "reason", str, "")[:200].strip()
    if not reason:
        raise OtolaneError("abort_reason_missing", "an inspection is abandoned with a reason", field="reason")
    await p.lane.intake.abort(user(request), request.match_info["iid"], reason)
    return web.json_response({"ok": True})
