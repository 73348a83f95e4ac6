"""The local API of ``laned``: aiohttp on a Unix socket (0660), JSON over HTTP, one WebSocket stream.

:data:`ROUTES` is the whole API as data: method, path, the roles allowed, the handler. The
middleware checks the session and the role on every call before any handler runs (R10.3–R10.5);
a route with no roles is open (version, login). Every error leaves as JSON with a catalog code,
never as a traceback. See ``docs/api.md``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import WSMsgType, web

from app.auth import Accounts, Session
from app.errors import Forbidden, OtolaneError
from app.journal import Journal
from app.lane.service import LaneService

log = logging.getLogger("otolane.api")
API_VERSION = 1
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

OPERATOR, TECH, ADMIN = "operator", "technician", "admin"
SESSION = web.RequestKey("session", Session)
ALL = (OPERATOR, TECH, ADMIN)


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    roles: tuple[str, ...]
    handler: str
    action: str  # said in the refusal: "the role 'x' may not <action>"


ROUTES: tuple[Route, ...] = (
    Route("GET", "/v1/version", (), "version", "read the version"),
    Route("POST", "/v1/login", (), "login", "log in"),
    Route("POST", "/v1/logout", ALL, "logout", "log out"),
    Route("POST", "/v1/password", ALL, "password", "change the password"),
    Route("GET", "/v1/state", ALL, "state", "see the lane"),
    Route("GET", "/v1/stream", ALL, "stream", "watch the lane"),
    Route("POST", "/v1/inspections", (OPERATOR,), "start_inspection", "start an inspection"),
    Route(
        "POST",
        "/v1/inspections/{iid}/steps/{step}",
        (OPERATOR,),
        "start_step",
        "run an inspection step",
    ),
    Route("POST", "/v1/inspections/{iid}/card", (OPERATOR,), "form_card", "form a card"),
    Route("POST", "/v1/inspections/{iid}/abort", (OPERATOR,), "abort", "abort an inspection"),
    Route("GET", "/v1/devices/{dev}/frames", (TECH, ADMIN), "frames", "read raw frames"),
    Route("POST", "/v1/devices/{dev}/command", (TECH,), "device_command", "command a device"),
    Route("POST", "/v1/devices/{dev}/replace", (ADMIN,), "replace_device", "replace a device"),
    Route("GET", "/v1/journal", (ADMIN,), "read_journal", "read the journal"),
    Route("GET", "/v1/users", (ADMIN,), "users", "list users"),
    Route("POST", "/v1/users", (ADMIN,), "add_user", "add a user"),
    Route("POST", "/v1/users/{name}/lock", (ADMIN,), "lock_user", "lock a user"),
    Route("POST", "/v1/users/{name}/unlock", (ADMIN,), "unlock_user", "unlock a user"),
)


class Api:
    def __init__(self, lane: LaneService, accounts: Accounts, journal: Journal) -> None:
        self.lane = lane
        self.accounts = accounts
        self.journal = journal
        self.websockets: set[web.WebSocketResponse] = set()

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._errors, self._auth], client_max_size=64 * 1024)
        for r in ROUTES:
            app.router.add_route(r.method, r.path, getattr(self, r.handler), name=r.handler)
        app.on_shutdown.append(self._close_websockets)
        return app

    # --- middleware -------------------------------------------------------------
    @web.middleware
    async def _errors(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            return await handler(request)
        except OtolaneError as exc:
            return web.json_response({"error": exc.as_dict()}, status=exc.status)
        except web.HTTPException as exc:
            code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status, "http_error")
            body = {"error": {"code": code, "message": exc.reason, "params": {}}}
            return web.json_response(body, status=exc.status)
        except (asyncio.CancelledError, ConnectionResetError):
            raise
        except Exception:
            log.exception("internal error on %s %s", request.method, request.path)
            body = {"error": {"code": "internal", "message": "internal error", "params": {}}}
            return web.json_response(body, status=500)

    @web.middleware
    async def _auth(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        route = self._route(request)
        if route is None or not route.roles:
            return await handler(request)
        token = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        session = self.accounts.session(token) if token else None
        if session is None:
            raise OtolaneError("session_required", "log in first", status=401)
        if session.role not in route.roles:
            await self.journal.write(session.username, "access_denied", path=request.path)
            raise Forbidden(session.role, route.action)
        if session.must_change and route.handler not in ("password", "logout", "version"):
            raise OtolaneError("password_expired", "the password has expired: change it", status=403)
        request[SESSION] = session
        return await handler(request)

    def _route(self, request: web.Request) -> Route | None:
        name = request.match_info.route.name
        return next((r for r in ROUTES if r.handler == name), None)

    # --- helpers ---------------------------------------------------------------
    @staticmethod
    async def _body(request: web.Request) -> dict[str, Any]:
        try:
            data = await request.json()
        except (ValueError, UnicodeDecodeError):
            raise OtolaneError("body_not_json", "the request body is not JSON") from None
        if not isinstance(data, dict):
            raise OtolaneError("body_not_object", "the request body must be an object")
        return data

    @staticmethod
    def _field(data: dict[str, Any], name: str, typ: type, default: Any = ...) -> Any:
        if name not in data:
            if default is ...:
                raise OtolaneError("field_missing", f"'{name}' is missing", field=name)
            return default
        value = data[name]
        if not isinstance(value, typ) or (typ is int and isinstance(value, bool)):
            raise OtolaneError("field_type", f"'{name}' has the wrong type", field=name)
        return value

    @staticmethod
    def _session(request: web.Request) -> Session:
        return request[SESSION]

    # --- handlers ----------------------------------------------------------------
    async def version(self, request: web.Request) -> web.Response:
        from app import __version__

        return web.json_response({"api": API_VERSION, "version": __version__})

    async def login(self, request: web.Request) -> web.Response:
        data = await self._body(request)
        s = await self.accounts.login(
            self._field(data, "username", str)[:64], self._field(data, "password", str)
        )
        return web.json_response(
            {"token": s.token, "username": s.username, "role": s.role, "must_change": s.must_change}
        )

    async def logout(self, request: web.Request) -> web.Response:
        await self.accounts.logout(self._session(request).token)
        return web.json_response({"ok": True})

    async def password(self, request: web.Request) -> web.Response:
        s = self._session(request)
        data = await self._body(request)
        await self.accounts.change_password(
            s.username, self._field(data, "old", str), self._field(data, "new", str), s.username
        )
        return web.json_response({"ok": True})

    async def state(self, request: web.Request) -> web.Response:
        snap = await self.lane.snapshot()
        s = self._session(request)
        snap["me"] = {"username": s.username, "role": s.role}
        return web.json_response(snap)

    async def stream(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(heartbeat=15)
        await ws.prepare(request)
        self.websockets.add(ws)
        sub = self.lane.subscribe()
        try:
            await ws.send_json({"type": "hello", "api": API_VERSION})
            sender = asyncio.create_task(self._pump(ws, sub.queue))
            async for msg in ws:  # the client says nothing; we only notice it leaving
                if msg.type in (WSMsgType.ERROR, WSMsgType.CLOSE):
                    break
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await sender
        finally:
            self.lane.unsubscribe(sub)
            self.websockets.discard(ws)
        return ws

    @staticmethod
    async def _pump(ws: web.WebSocketResponse, queue: asyncio.Queue[dict[str, Any]]) -> None:
        while not ws.closed:
            event = await queue.get()
            batch = [event]
            while not queue.empty() and len(batch) < 200:
                batch.append(queue.get_nowait())
            await ws.send_str(json.dumps(batch, ensure_ascii=False))

    async def _close_websockets(self, app: web.Application) -> None:
        for ws in list(self.websockets):
            await ws.close()

    async def start_inspection(self, request: web.Request) -> web.Response:
        data = await self._body(request)
        result = await self.lane.start_inspection(
            self._session(request).username,
            self._field(data, "plate", str),
            self._field(data, "category", str),
            self._field(data, "fuel", str, "petrol"),
            self._field(data, "axles", int, 2),
            self._field(data, "owner", str, ""),
        )
        return web.json_response(result, status=201)

    async def start_step(self, request: web.Request) -> web.Response:
        result = await self.lane.start_step(
            self._session(request).username, request.match_info["iid"], request.match_info["step"]
        )
        return web.json_response(result)

    async def form_card(self, request: web.Request) -> web.Response:
        result = await self.lane.form_card(self._session(request).username, request.match_info["iid"])
        return web.json_response(result, status=201)

    async def abort(self, request: web.Request) -> web.Response:
        data = await self._body(request)
        await self.lane.abort(
            self._session(request).username,
            request.match_info["iid"],
            self._field(data, "reason", str, "")[:200],
        )
        return web.json_response({"ok": True})

    def _slot(self, request: web.Request) -> Any:
        slot = self.lane.slots.get(request.match_info["dev"])
        if slot is None:
            raise OtolaneError("device_unknown", "no such device", status=404)
        return slot

    async def frames(self, request: web.Request) -> web.Response:
        slot = self._slot(request)
        recent = [
            {"ts": f.ts, "hex": f.raw.hex(" "), "ok": f.ok, "note": f.note}
            for f in list(slot.driver.log.recent)[-100:]
        ]
        return web.json_response({"device": slot.as_dict(), "frames": recent})

    async def device_command(self, request: web.Request) -> web.Response:
        slot = self._slot(request)
        data = await self._body(request)
        name = self._field(data, "command", str)
        # Only the profile's service commands (zero, reset, self-test): they change no reading.
        if name not in slot.as_dict()["service_commands"]:
            raise OtolaneError("command_not_allowed", "that command is not allowed", command=name)
        if self.lane._running_step(slot.cfg.kind):
            raise OtolaneError("device_busy", "a step is running on this device", status=409)
        await slot.driver.command(name)
        await self.journal.write(
            self._session(request).username, "device_command", device=slot.cfg.id, command=name
        )
        return web.json_response({"ok": True})

    async def replace_device(self, request: web.Request) -> web.Response:
        data = await self._body(request)
        result = await self.lane.replace_device(
            self._session(request).username,
            request.match_info["dev"],
            self._field(data, "certificate", str),
            self._field(data, "verified_until", str),
        )
        return web.json_response(result)

    async def read_journal(self, request: web.Request) -> web.Response:
        try:
            limit = min(int(request.query.get("limit", "100")), 1000)
            before = int(request.query["before"]) if "before" in request.query else None
        except ValueError:
            raise OtolaneError("query_bad", "limit and before are whole numbers") from None
        rows = await self.journal.read(limit, before, request.query.get("action") or None)
        return web.json_response(rows)

    async def users(self, request: web.Request) -> web.Response:
        return web.json_response(await self.accounts.list())

    async def add_user(self, request: web.Request) -> web.Response:
        data = await self._body(request)
        await self.accounts.add(
            self._field(data, "username", str),
            self._field(data, "role", str),
            self._field(data, "password", str),
            self._field(data, "full_name", str, ""),
            by=self._session(request).username,
        )
        return web.json_response({"ok": True}, status=201)

    async def lock_user(self, request: web.Request) -> web.Response:
        await self.accounts.set_disabled(request.match_info["name"], True, self._session(request).username)
        return web.json_response({"ok": True})

    async def unlock_user(self, request: web.Request) -> web.Response:
        await self.accounts.set_disabled(request.match_info["name"], False, self._session(request).username)
        return web.json_response({"ok": True})


async def serve_unix(app: web.Application, path: Path) -> web.AppRunner:
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    path.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
    old = os.umask(0o117)  # the socket is born 0660
    try:
        site = web.UnixSite(runner, str(path))
        await site.start()
    finally:
        os.umask(old)
    os.chmod(path, 0o660)
    return runner
