"""The local API of ``laned``: aiohttp on a Unix socket (0660), JSON over HTTP, one WebSocket stream.

:data:`ROUTES` is the whole API as data: method, path, the one permission it needs
(``app/rights.py``), the handler. The middleware checks the session and the person's permission on
every call before any handler runs (R10.3–R10.5); an open route (version, logins) needs no session.
Every error leaves as JSON with a catalog code,
never as a traceback. The handlers live by topic beside this table (``accounts.py``,
``inspections.py``, ``documents.py``, ``equipment.py``, ``records.py``, ``stream.py``), each
calling the lane's parts by their public methods. See ``docs/api.md``.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web

from app import activity, rights
from app.api import accounts, documents, equipment, inspections, records
from app.api import activity as activity_api
from app.api.accounts import API_VERSION
from app.api.request import MAX_DEPTH, MAX_FIELD, SESSION, Parts
from app.api.stream import STREAMS, WS_CLOSE_S, Streams, stream
from app.auth import Accounts, Policy
from app.eds.login import EdsLogin
from app.errors import Forbidden, OtolaneError
from app.journal import Journal
from app.lane.service import LaneService
from app.storage.db import StorageFailed, is_storage_error

__all__ = ["API_VERSION", "MAX_DEPTH", "MAX_FIELD", "ROUTES", "WS_CLOSE_S", "Api", "serve_unix"]

log = logging.getLogger("otolane.api")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
TopicHandler = Callable[[Parts, web.Request], Awaitable[web.StreamResponse]]

#: a route open without a session (version, logins); one any session may call (log out, password)
OPEN, SESSION_ONLY = "", "session"
#: what a session whose password has expired may still do
WHILE_EXPIRED = ("password", "logout", "version")
#: what a password session may still do where the centre signs in with NCA keys only (R3.1): view
#: (every GET), change its password, log out — never start, sign or send a card, nor manage the lane
VIEW_ONLY_ACTIONS = ("password", "logout")


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    permission: str  # a name of ``app/rights.py``, OPEN or SESSION_ONLY
    handler: TopicHandler
    action: str  # said in the refusal: "you may not <action>"

    @property
    def name(self) -> str:
        return self.handler.__name__

    @property
    def roles(self) -> tuple[str, ...]:
        """The roles that may call it unless a person's own rights say otherwise (R8's baseline)."""
        if self.permission == OPEN:
            return ()
        if self.permission == SESSION_ONLY:
            return rights.ROLES
        return rights.BY_NAME[self.permission].roles


ROUTES: tuple[Route, ...] = (
    Route("GET", "/v1/version", OPEN, accounts.version, "read the version"),
    Route("POST", "/v1/login", OPEN, accounts.login, "log in"),
    Route("GET", "/v1/eds/keys", OPEN, accounts.eds_keys, "list the key files"),
    Route("POST", "/v1/login/eds", OPEN, accounts.login_eds, "log in with an NCA key"),
    Route("POST", "/v1/login/ncalayer", OPEN, accounts.login_ncalayer, "log in with a key in NCALayer"),
    Route("POST", "/v1/logout", SESSION_ONLY, accounts.logout, "log out"),
    Route("POST", "/v1/password", SESSION_ONLY, accounts.password, "change the password"),
    Route("GET", "/v1/state", "lane_view", inspections.state, "see the lane"),
    Route("GET", "/v1/stream", "lane_view", stream, "watch the lane"),
    Route("POST", "/v1/inspections", "inspect", inspections.start_inspection, "start an inspection"),
    Route(
        "POST",
        "/v1/inspections/{iid}/steps/{step}",
        "inspect",
        inspections.start_step,
        "run an inspection step",
    ),
    Route("POST", "/v1/inspections/{iid}/visual", "inspect", inspections.visual, "mark the visual checks"),
    Route("GET", "/v1/inspections/{iid}/preview", "card_form", inspections.preview_card, "review a card"),
    Route("POST", "/v1/inspections/{iid}/card", "card_form", inspections.form_card, "form a card"),
    Route(
        "POST", "/v1/inspections/{iid}/abort", "inspection_abort", inspections.abort, "abort an inspection"
    ),
    Route("GET", "/v1/cards/{cid}", "card_view", documents.card, "read a card"),
    Route("GET", "/v1/cards/{cid}/pdf", "card_view", documents.card_pdf, "download a card"),
    Route(
        "GET",
        "/v1/cards/{cid}/signature",
        "card_view",
        documents.card_signature,
        "read a card's signature",
    ),
    Route("POST", "/v1/cards/{cid}/print", "card_view", documents.print_card, "print a card"),
    Route("GET", "/v1/print-jobs/{job}", "card_view", documents.print_status, "see a print job"),
    Route(
        "POST",
        "/v1/cards/{cid}/certificate",
        "certificate_issue",
        documents.certificate,
        "issue a certificate",
    ),
    Route("GET", "/v1/devices/{dev}/frames", "device_frames", equipment.frames, "read raw frames"),
    Route(
        "POST", "/v1/devices/{dev}/command", "device_command", equipment.device_command, "command a device"
    ),
    Route(
        "POST", "/v1/devices/{dev}/replace", "device_replace", equipment.replace_device, "replace a device"
    ),
    Route("GET", "/v1/cameras", "lane_view", equipment.cameras, "see the cameras"),
    Route(
        "POST",
        "/v1/cameras/{cam}/register",
        "camera_register",
        equipment.register_camera,
        "register a camera",
    ),
    Route(
        "POST",
        "/v1/cameras/{cam}/roi",
        "camera_register",
        equipment.camera_roi,
        "mark where a camera sees the plate",
    ),
    Route("GET", "/v1/cameras/{cam}/preview", "lane_view", equipment.camera_preview, "see a camera"),
    Route("POST", "/v1/anpr", "inspect", inspections.recognise_plate, "recognise a plate"),
    Route("GET", "/v1/journal", "journal_read", records.read_journal, "read the journal"),
    Route("GET", "/v1/eis/exchanges", "journal_read", records.eis_exchanges, "read the EIS exchanges"),
    Route("POST", "/v1/journal/export", "journal_export", records.export_journal, "export the journal"),
    Route("GET", "/v1/activity", "activity_view", activity_api.read, "see the users' activity"),
    Route(
        "POST", "/v1/activity/export", "activity_export", activity_api.export, "export the users' activity"
    ),
    Route("GET", "/v1/integrity", "integrity_check", records.integrity_status, "see the integrity check"),
    Route(
        "POST", "/v1/integrity/check", "integrity_check", records.integrity_start, "run the integrity check"
    ),
    Route(
        "POST", "/v1/integrity/stop", "integrity_check", records.integrity_stop, "stop the integrity check"
    ),
    Route("GET", "/v1/backup", "backup", records.backup_status, "see the backups"),
    Route("POST", "/v1/backup", "backup", records.backup_start, "make a backup"),
    Route(
        "GET", "/v1/release", "release_view", records.release_status, "see the program's release and updates"
    ),
    Route("GET", "/v1/eis/outbox", "eis_queue_view", records.eis_outbox, "see the EIS queue"),
    Route("GET", "/v1/users", "users_manage", accounts.users, "list users"),
    Route("POST", "/v1/users", "users_manage", accounts.add_user, "add a user"),
    Route("POST", "/v1/users/{name}/lock", "users_manage", accounts.lock_user, "lock a user"),
    Route("POST", "/v1/users/{name}/unlock", "users_manage", accounts.unlock_user, "unlock a user"),
    Route("POST", "/v1/users/{name}/role", "users_manage", accounts.set_role, "change a user's role"),
    Route("POST", "/v1/users/{name}/eds", "users_manage", accounts.bind_eds, "bind a user's NCA key"),
    Route(
        "POST",
        "/v1/users/{name}/password",
        "users_manage",
        accounts.reset_password,
        "set a temporary password",
    ),
    Route("POST", "/v1/users/{name}/rights", "users_manage", accounts.set_right, "change a user's rights"),
    Route("GET", "/v1/permissions", "users_manage", accounts.permissions, "list the permissions"),
    Route("POST", "/v1/eis/key", "eis_key", accounts.eis_key, "install the EIS identification key"),
    Route("GET", "/v1/settings", "settings", accounts.settings, "see the lane's settings"),
    Route("POST", "/v1/settings", "settings", accounts.change_setting, "change a lane setting"),
)
_BY_NAME = {r.name: r for r in ROUTES}


class Api:
    def __init__(self, lane: LaneService, accounts: Accounts, journal: Journal, eds: EdsLogin) -> None:
        self.parts = Parts(lane, accounts, journal, eds)
        self.accounts = accounts
        self.journal = journal
        self.streams = Streams(accounts)
        #: each open connection's caller as the kernel says (``app/activity.py``); gone with it
        self.callers: weakref.WeakKeyDictionary[Any, dict[str, str]] = weakref.WeakKeyDictionary()

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._errors, self._auth], client_max_size=64 * 1024)
        app[STREAMS] = self.streams
        for r in ROUTES:
            app.router.add_route(r.method, r.path, functools.partial(r.handler, self.parts), name=r.name)
        app.on_shutdown.append(self.streams.close_all)
        return app

    def view_only(self, session: Any) -> bool:
        """R3.1: where the centre signs in with NCA keys only, a password session only views."""
        return bool(self.parts.eds.cfg.eds["login"] == "eds" and session.method != "eds")

    # --- middleware -------------------------------------------------------------
    @web.middleware
    async def _errors(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        conn = request.transport
        kernel = self.callers.get(conn) if conn is not None else None
        if kernel is None:  # a new connection: ask the kernel once (a screen polls on one connection)
            kernel = activity.kernel_side(conn.get_extra_info("socket") if conn is not None else None)
            if conn is not None:
                self.callers[conn] = kernel
        said = request.headers.get(activity.SSH_HEADER, "")
        token = activity.WHERE.set(activity.where(None, said, kernel))
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
        finally:
            activity.WHERE.reset(token)

    @web.middleware
    async def _auth(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        route = _BY_NAME.get(request.match_info.route.name or "")
        if route is None or route.permission == OPEN:
            return await handler(request)
        token = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        session = self.accounts.session(token) if token else None
        if session is None or not await self.accounts.still_valid(session):
            raise OtolaneError("session_required", "log in first", status=401)
        if route.permission != SESSION_ONLY and not session.may(route.permission):
            await self.journal.write(
                session.username, "access_denied", path=request.path, permission=route.permission
            )
            raise Forbidden(route.permission, route.action)
        if session.must_change and route.name not in WHILE_EXPIRED:
            raise OtolaneError("password_expired", "the password has expired: change it", status=403)
        if self.view_only(session) and route.method != "GET" and route.name not in VIEW_ONLY_ACTIONS:
            await self.journal.write(
                session.username, "access_denied", path=request.path, reason="key_required"
            )
            raise OtolaneError(
                "key_session_required",
                "this centre signs in with NCA keys: a password session may only view",
                status=403,
            )
        request[SESSION] = session
        return await handler(request)

    async def guard_sessions(self) -> None:
        """Once a second: every session still allowed by its account (a lock, a role change, a
        password set from the command line end it); streams of ended sessions are closed."""
        while True:
            await asyncio.sleep(1.0)
            try:
                await self.accounts.sweep()
                await self.streams.cut_ended_sessions()
                await self.take_settings()
            except Exception:
                log.exception("session guard")

    async def take_settings(self) -> None:
        """A setting changed on the command line while the lane runs is taken within a second; a
        password rule reaches the accounts at once (as from the screen)."""
        changed = await self.parts.lane.settings.take_new()
        if any(key.startswith("security.") for key in changed):
            self.accounts.policy = Policy.from_config(self.parts.lane.cfg.security)


async def serve_unix(app: web.Application, path: Path) -> web.AppRunner:
    # A stop waits at most this long for requests in flight (streams are cut by Streams.close_all).
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
