"""Handlers of the lane's equipment: a stand's raw frames, its service commands and replacement;
the cameras, their registration and preview. Each calls :class:`~app.lane.stands.Stands` or
:class:`~app.lane.cameras.Cameras`. They never command a stand
themselves (a step's own commands are the lane's)."""

from __future__ import annotations

from aiohttp import web

from app.api.request import Parts, body, field, query_int, user
from app.errors import OtolaneError


async def frames(p: Parts, request: web.Request) -> web.Response:
    return web.json_response(p.lane.stands.frames(request.match_info["dev"]))


async def device_command(p: Parts, request: web.Request) -> web.Response:
    device = p.lane.stands.get(request.match_info["dev"]).cfg.id  # an unknown stand before a bad body
    data = await body(request)
    await p.lane.stands.service_command(user(request), device, field(data, "command", str))
    return web.json_response({"ok": True})


async def replace_device(p: Parts, request: web.Request) -> web.Response:
    data = await body(request)
    result = await p.lane.stands.replace(
        user(request),
        request.match_info["dev"],
        field(data, "certificate", str),
        field(data, "verified_until", str),
    )
    return web.json_response(result)


async def cameras(p: Parts, request: web.Request) -> web.Response:
    return web.json_response({"cameras": p.lane.cameras.as_list(), "watch": p.lane.arrivals.status()})


async def register_camera(p: Parts, request: web.Request) -> web.Response:
    return web.json_response(await p.lane.cameras.register(user(request), request.match_info["cam"]))


async def camera_roi(p: Parts, request: web.Request) -> web.Response:
    data = await body(request)
    if "roi" not in data:
        raise OtolaneError("field_missing", "'roi' is required (null for the whole frame)", field="roi")
    cam = request.match_info["cam"]
    return web.json_response(await p.lane.cameras.set_roi(user(request), cam, data["roi"]))


async def camera_preview(p: Parts, request: web.Request) -> web.Response:
    width = query_int(request, "w", 48, 8, 160)
    height = query_int(request, "h", 24, 4, 96)
    return web.json_response(await p.lane.cameras.thumbnail(request.match_info["cam"], width, height))
