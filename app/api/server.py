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
from app.eds.login import EdsLogin
from app.eis import history
from app.errors import Forbidden, OtolaneError
from app.journal import MAX_PAGE, Journal
from app.lane.service import LaneService
from app.storage.db import StorageFailed, is_storage_error

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
    Route("GET", "/v1/eds/keys", (), "eds_keys", "list the key files"),
    Route("POST", "/v1/login/eds", (), "login_eds", "log in with an NCA key"),
    Route("POST", "/v1/login/ncalayer", (), "login_ncalayer", "log in with a key in NCALayer"),
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
    Route("POST", "/v1/inspections/{iid}/visual", (OPERATOR,), "visual", "mark the visual checks"),
    Route("GET", "/v1/inspections/{iid}/preview", (OPERATOR,), "preview_card", "review a card"),
    Route("POST", "/v1/inspections/{iid}/card", (OPERATOR,), "form_card", "form a card"),
    Route("POST", "/v1/inspections/{iid}/abort", (OPERATOR,), "abort", "abort an inspection"),
    Route("GET", "/v1/cards/{cid}", (OPERATOR, ADMIN), "card", "read a card"),
    Route("GET", "/v1/cards/{cid}/pdf", (OPERATOR, ADMIN), "card_pdf", "download a card"),
    Route("POST", "/v1/cards/{cid}/print", (OPERATOR, ADMIN), "print_card", "print a card"),
    Route("GET", "/v1/print-jobs/{job}", (OPERATOR, ADMIN), "print_status", "see a print job"),
    Route("POST", "/v1/cards/{cid}/certificate", (OPERATOR, ADMIN), "certificate", "issue a certificate"),
    Route("GET", "/v1/devices/{dev}/frames", (TECH, ADMIN), "frames", "read raw frames"),
    Route("POST", "/v1/devices/{dev}/command", (TECH,), "device_command", "command a device"),
    Route("POST", "/v1/devices/{dev}/replace", (ADMIN,), "replace_device", "replace a device"),
    Route("GET", "/v1/cameras", ALL, "cameras", "see the cameras"),
    Route("POST", "/v1/cameras/{cam}/register", (ADMIN,), "register_camera", "register a camera"),
    Route("GET", "/v1/cameras/{cam}/preview", ALL, "camera_preview", "see a camera"),
    Route("POST", "/v1/anpr", (OPERATOR,), "recognise_plate", "recognise a plate"),
    Route("GET", "/v1/journal", (ADMIN,), "read_journal", "read the journal"),
    Route("GET", "/v1/eis/exchanges", (ADMIN,), "eis_exchanges", "read the EIS exchanges"),
    Route("POST", "/v1/journal/export", (ADMIN,), "export_journal", "export the journal"),
    Route("GET", "/v1/eis/outbox", (OPERATOR, ADMIN), "eis_outbox", "see the EIS queue"),
    Route("GET", "/v1/users", (ADMIN,), "users", "list users"),
    Route("POST", "/v1/users", (ADMIN,), "add_user", "add a user"),
    Route("POST", "/v1/users/{name}/lock", (ADMIN,), "lock_user", "lock a user"),
    Route("POST", "/v1/users/{name}/unlock", (ADMIN,), "unlock_user", "unlock a user"),
    Route("POST", "/v1/users/{name}/role", (ADMIN,), "set_role", "change a user's role"),
    Route("POST", "/v1/users/{name}/eds", (ADMIN,), "bind_eds", "bind a user's NCA key"),
)
#: Longest text field the API takes (a longer one is refused, never cut silently), and the deepest
#: JSON body (deeper is refused before it can exhaust the parser).
MAX_FIELD = 500
MAX_DEPTH = 32
#: How long a closing stream may take before its connection is cut (a client that never reads).
WS_CLOSE_S = 1.0


class Api:
    def __init__(self, lane: LaneService, accounts: Accounts, journal: Journal, eds: EdsLogin) -> None:
        self.lane = lane
        self.accounts = accounts
        self.journal = journal
        self.eds = eds
        #: open streams: the socket, its session's token, its request (to cut a client that never reads)
        self.websockets: dict[web.WebSocketResponse, tuple[str, web.Request]] = {}

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
            # The code only: a refused body may hold a password, it never reaches the log.
            log.info("%s %.80s refused: %s", request.method, request.path, exc.code)
            return web.json_response({"error": exc.as_dict()}, status=exc.status)
        except web.HTTPException as exc:
            code = {404: "not_found", 405: "method_not_allowed", 413: "body_too_large"}.get(
                exc.status, "http_error"
            )
            body = {"error": {"code": code, "message": exc.reason, "params": {}}}
            return web.json_response(body, status=exc.status)
        except (asyncio.CancelledError, ConnectionResetError):
            raise
        except Exception as exc:
            if is_storage_error(exc):  # locked, full, gone: the user may try again; not a bug
                log.error("%s %s: the database refused: %s", request.method, request.path, exc)
                failed = StorageFailed.wrap(exc)
                return web.json_response({"error": failed.as_dict()}, status=failed.status)
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
        if session is None or not await self.accounts.still_valid(session):
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
        raw = await request.read()
        if _depth(raw) > MAX_DEPTH:
            raise OtolaneError("body_too_deep", f"the request body nests deeper than {MAX_DEPTH} levels")
        try:
            data = json.loads(raw)
        except (ValueError, UnicodeDecodeError, RecursionError):
            raise OtolaneError("body_not_json", "the request body is not JSON") from None
        if not isinstance(data, dict):
            raise OtolaneError("body_not_object", "the request body must be an object")
        return data

    @staticmethod
    def _field(
        data: dict[str, Any], name: str, typ: type, default: Any = ..., max_len: int = MAX_FIELD
    ) -> Any:
        if name not in data:
            if default is ...:
                raise OtolaneError("field_missing", f"'{name}' is missing", field=name)
            return default
        value = data[name]
        if not isinstance(value, typ) or (typ is int and isinstance(value, bool)):
            raise OtolaneError("field_type", f"'{name}' has the wrong type", field=name)
        if isinstance(value, str) and len(value) > max_len:
            raise OtolaneError(
                "field_too_long", f"'{name}' is longer than {max_len}", field=name, max=max_len
            )
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
        s = await self.accounts.login(self._field(data, "username", str), self._field(data, "password", str))
        return web.json_response(
            {"token": s.token, "username": s.username, "role": s.role, "must_change": s.must_change}
        )

    async def eds_keys(self, request: web.Request) -> web.Response:
        keys = await asyncio.to_thread(self.eds.key_files) if self.eds.enabled else []
        ncalayer = self.eds.enabled and bool(self.eds.cfg.eds["ncalayer_url"])
        return web.json_response({"enabled": self.eds.enabled, "keys": keys, "ncalayer": ncalayer})

    async def login_eds(self, request: web.Request) -> web.Response:
        data = await self._body(request)
        s, signer = await self.eds.login(self._field(data, "path", str), self._field(data, "password", str))
        return web.json_response(
            {
                "token": s.token,
                "username": s.username,
                "role": s.role,
                "must_change": False,
                "key": _key_facts(signer.info),
            }
        )

    async def login_ncalayer(self, request: web.Request) -> web.Response:
        data = await self._body(request)
        s, info = await self.eds.login_ncalayer(self._field(data, "storage", str, "PKCS12", max_len=40))
        return web.json_response(
            {
                "token": s.token,
                "username": s.username,
                "role": s.role,
                "must_change": False,
                "key": _key_facts(info),
            }
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
        ws = web.WebSocketResponse(heartbeat=15, timeout=WS_CLOSE_S)
        await ws.prepare(request)
        self.websockets[ws] = (self._session(request).token, request)
        sub = self.lane.subscribe()
        sender: asyncio.Task[None] | None = None
        try:
            await ws.send_json({"type": "hello", "api": API_VERSION})
            sender = asyncio.create_task(self._pump(ws, sub.queue))
            async for msg in ws:  # the client says nothing; we only notice it leaving
                if msg.type in (WSMsgType.ERROR, WSMsgType.CLOSE):
                    break
        finally:
            if sender is not None:
                sender.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await sender
            self.lane.unsubscribe(sub)
            self.websockets.pop(ws, None)
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
        await asyncio.gather(*(self._cut(ws) for ws in list(self.websockets)))

    async def _cut(self, ws: web.WebSocketResponse) -> None:
        """Close a stream; a client that never reads (its buffers full) is cut off after WS_CLOSE_S,
        so neither a shutdown nor an ended session waits on it (issue #7)."""
        entry = self.websockets.get(ws)
        try:
            async with asyncio.timeout(WS_CLOSE_S):
                await ws.close(code=4401 if entry and entry[0] not in self.accounts.sessions else 1001)
        except (TimeoutError, Exception):
            if entry is not None and entry[1].transport is not None:
                entry[1].transport.abort()

    async def guard_sessions(self) -> None:
        """Once a second: every session still allowed by its account (a lock, a role change, a
        password set from the command line end it); streams of ended sessions are closed."""
        while True:
            await asyncio.sleep(1.0)
            try:
                await self.accounts.sweep()
                for ws, (token, _) in list(self.websockets.items()):
                    if token not in self.accounts.sessions:
                        await self._cut(ws)
            except Exception:
                log.exception("session guard")

    async def start_inspection(self, request: web.Request) -> web.Response:
        data = await self._body(request)
        result = await self.lane.start_inspection(
            self._session(request).username,
            self._field(data, "plate", str),
            self._field(data, "category", str),
            self._field(data, "fuel", str, "petrol"),
            self._field(data, "axles", int, 2),
            self._field(data, "owner", str, ""),
            year=self._field(data, "year", int, None),
            vin=self._field(data, "vin", str, ""),
            make_model=self._field(data, "make_model", str, ""),
            catalyst=self._field(data, "catalyst", bool, False),
            turbo=self._field(data, "turbo", bool, False),
            use=self._field(data, "use", str, "private"),
            reinspection_of=self._field(data, "reinspection_of", str, ""),
            plate_confirmed=self._field(data, "plate_confirmed", bool, False),
            recognition=self._field(data, "recognition", str, ""),
        )
        return web.json_response(result, status=201)

    async def start_step(self, request: web.Request) -> web.Response:
        result = await self.lane.start_step(
            self._session(request).username, request.match_info["iid"], request.match_info["step"]
        )
        return web.json_response(result)

    async def visual(self, request: web.Request) -> web.Response:
        data = await self._body(request)
        defects = self._field(data, "defects", list, [])
        if len(defects) > 64 or not all(isinstance(d, str) and len(d) <= 64 for d in defects):
            raise OtolaneError("field_type", "'defects' is a list of check ids", field="defects")
        result = await self.lane.record_visual(
            self._session(request).username, request.match_info["iid"], defects
        )
        return web.json_response(result)

    async def preview_card(self, request: web.Request) -> web.Response:
        return web.json_response(
            await self.lane.preview_card(self._session(request).username, request.match_info["iid"])
        )

    async def form_card(self, request: web.Request) -> web.Response:
        s = self._session(request)
        result = await self.lane.form_card(s.username, request.match_info["iid"], s.signer)
        return web.json_response(result, status=201)

    async def card(self, request: web.Request) -> web.Response:
        return web.json_response(await self.lane.card(request.match_info["cid"]))

    async def card_pdf(self, request: web.Request) -> web.Response:
        pdf, copy = await self.lane.card_pdf(self._session(request).username, request.match_info["cid"])
        return web.Response(
            body=pdf, content_type="application/pdf", headers={"X-Otolane-Copy": "1" if copy else "0"}
        )

    async def print_card(self, request: web.Request) -> web.Response:
        result = await self.lane.print_card(self._session(request).username, request.match_info["cid"])
        return web.json_response(result, status=201)

    async def certificate(self, request: web.Request) -> web.Response:
        """The PDF; with ``{"print": true}`` it goes to the lane's printer and the answer is JSON."""
        data = await self._body(request) if request.can_read_body else {}
        to_printer = bool(self._field(data, "print", bool, False))
        user, cid = self._session(request).username, request.match_info["cid"]
        pdf, number, copy, job = await self.lane.certificate(user, cid, to_printer)
        if job is not None:
            answer = {"number": number, "copy": copy, "job": job.job, "queue": job.queue}
            return web.json_response(answer, status=201)
        headers = {"X-Otolane-Certificate": number, "X-Otolane-Copy": "1" if copy else "0"}
        return web.Response(body=pdf, content_type="application/pdf", headers=headers, status=201)

    async def print_status(self, request: web.Request) -> web.Response:
        return web.json_response(await self.lane.print_status(request.match_info["job"]))

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

    async def cameras(self, request: web.Request) -> web.Response:
        return web.json_response({"cameras": self.lane.cameras.as_list()})

    async def register_camera(self, request: web.Request) -> web.Response:
        result = await self.lane.cameras.register(self._session(request).username, request.match_info["cam"])
        return web.json_response(result)

    async def camera_preview(self, request: web.Request) -> web.Response:
        width = _query_int(request, "w", 48, 8, 160)
        height = _query_int(request, "h", 24, 4, 96)
        result = await self.lane.cameras.thumbnail(request.match_info["cam"], width, height)
        return web.json_response(result)

    async def recognise_plate(self, request: web.Request) -> web.Response:
        data = await self._body(request)
        result = await self.lane.recognise_plate(self._field(data, "camera", str, ""))
        return web.json_response(result)

    async def read_journal(self, request: web.Request) -> web.Response:
        limit = _query_int(request, "limit", 100, 1, MAX_PAGE)
        before = _query_int(request, "before", None, 1, 2**63 - 1)
        action = request.query.get("action") or None
        if action is not None and len(action) > 40:
            raise OtolaneError(
                "query_bad", "'action' is at most 40 characters", field="action", low=1, high=40
            )
        rows = await self.journal.read(limit, before, action)
        return web.json_response(rows)

    async def export_journal(self, request: web.Request) -> web.Response:
        """R3.19: the signed journal of a period, written as a 0600 file in ``eis.exports_dir``."""
        data = await self._body(request)
        start = history.parse_time(self._field(data, "from", str), "from")
        end = history.parse_time(self._field(data, "to", str), "to")
        cfg = self.lane.cfg
        folder = cfg.path(cfg.eis["exports_dir"])
        made = await history.export_to(folder, self.lane.store.key, cfg.lane["name"], start, end)
        await self.journal.write(
            self._session(request).username,
            "journal_exported",
            file=Path(made["file"]).name,
            entries=made["entries"],
            start=made["from"],
            end=made["to"],
        )
        return web.json_response(made)

    async def eis_outbox(self, request: web.Request) -> web.Response:
        return web.json_response(await self.lane.outbox.queue(_query_int(request, "limit", 50, 1, MAX_PAGE)))

    async def eis_exchanges(self, request: web.Request) -> web.Response:
        limit = _query_int(request, "limit", 100, 1, MAX_PAGE)
        card = request.query.get("card") or None
        if card is not None and len(card) > 36:
            raise OtolaneError("query_bad", "'card' is a card id", field="card", low=1, high=36)
        return web.json_response(await self.lane.outbox.exchanges(card, limit))

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

    async def bind_eds(self, request: web.Request) -> web.Response:
        data = await self._body(request)
        await self.eds.bind(
            request.match_info["name"],
            self._field(data, "iin", str, max_len=12),
            self._session(request).username,
        )
        return web.json_response({"ok": True})

    async def set_role(self, request: web.Request) -> web.Response:
        data = await self._body(request)
        await self.accounts.set_role(
            request.match_info["name"],
            self._field(data, "role", str, max_len=16),
            self._session(request).username,
        )
        return web.json_response({"ok": True})


def _key_facts(info: Any) -> dict[str, Any]:
    """What a login answer says of the key: whose it is, never the key."""
    keep = ("common_name", "iin", "bin", "organisation", "not_after", "algorithm")
    return {k: v for k, v in info.as_dict().items() if k in keep}


def _depth(raw: bytes) -> int:
    """How deep a JSON text nests, counted without parsing it (brackets outside strings)."""
    depth = deepest = 0
    in_string = escaped = False
    for b in raw:
        if in_string:
            if escaped:
                escaped = False
            elif b == 0x5C:  # backslash
                escaped = True
            elif b == 0x22:
                in_string = False
        elif b == 0x22:
            in_string = True
        elif b in (0x5B, 0x7B):
            depth += 1
            deepest = max(deepest, depth)
        elif b in (0x5D, 0x7D):
            depth -= 1
    return deepest


def _query_int(request: web.Request, name: str, default: int | None, low: int, high: int) -> int | None:
    if name not in request.query:
        return default
    try:
        value = int(request.query[name])
    except ValueError:
        raise OtolaneError(
            "query_bad", f"'{name}' is a whole number from {low} to {high}", field=name, low=low, high=high
        ) from None
    if not low <= value <= high:
        raise OtolaneError(
            "query_bad", f"'{name}' is a whole number from {low} to {high}", field=name, low=low, high=high
        )
    return value


async def serve_unix(app: web.Application, path: Path) -> web.AppRunner:
    # A stop waits at most this long for requests in flight (streams are cut by _close_websockets).
    runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=2.0)
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
