"""Handlers of the accounts: version, logins (password, NCA key file, NCALayer), logout, password,
and the administrator's user acts. Each calls :class:`~app.auth.Accounts` or
:class:`~app.eds.login.EdsLogin`; the roles are checked before (``server.py: ROUTES``). They never
hold a rule of their own nor say a password or a key back."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from app.api.request import Parts, body, field, session, user
from app.errors import OtolaneError

API_VERSION = 1


async def version(p: Parts, request: web.Request) -> web.Response:
    from app import __version__
    from app.release.manifest import Installed

    folder = Installed.running().folder
    release = folder.name if folder else "development"
    return web.json_response({"api": API_VERSION, "version": __version__, "release": release})


async def login(p: Parts, request: web.Request) -> web.Response:
    data = await body(request)
    s = await p.accounts.login(field(data, "username", str), field(data, "password", str))
    # R3.1: where the centre signs in with NCA keys only, a password session only views
    view_only = p.eds.cfg.eds["login"] == "eds"
    return web.json_response(
        {
            "token": s.token,
            "username": s.username,
            "role": s.role,
            "must_change": s.must_change,
            "view_only": view_only,
            "lock_after_s": lock_after_s(p),
        }
    )


def lock_after_s(p: Parts) -> int:
    """R11: how long a screen with personal data may stay with no key pressed before it locks."""
    return int(p.lane.cfg.dlp["screen_lock_minutes"]) * 60


async def eds_keys(p: Parts, request: web.Request) -> web.Response:
    keys = await asyncio.to_thread(p.eds.key_files) if p.eds.enabled else []
    ncalayer = p.eds.enabled and bool(p.eds.cfg.eds["ncalayer_url"])
    return web.json_response({"enabled": p.eds.enabled, "keys": keys, "ncalayer": ncalayer})


def _key_login(p: Parts, s: Any, info: Any) -> web.Response:
    return web.json_response(
        {
            "token": s.token,
            "username": s.username,
            "role": s.role,
            "must_change": False,
            "key": key_facts(info),
            "lock_after_s": lock_after_s(p),
        }
    )


async def login_eds(p: Parts, request: web.Request) -> web.Response:
    data = await body(request)
    s, signer = await p.eds.login(field(data, "path", str), field(data, "password", str))
    return _key_login(p, s, signer.info)


async def login_ncalayer(p: Parts, request: web.Request) -> web.Response:
    data = await body(request)
    s, info = await p.eds.login_ncalayer(field(data, "storage", str, "PKCS12", max_len=40))
    return _key_login(p, s, info)


async def logout(p: Parts, request: web.Request) -> web.Response:
    """``{reason: "idle", screen}``: the screen locked itself, left with no key pressed (R11)."""
    data = await body(request) if request.can_read_body else {}
    idle = field(data, "reason", str, "", max_len=10) == "idle"
    screen = "".join(c for c in field(data, "screen", str, "", max_len=40) if c.isascii() and c.isalnum())
    await p.accounts.logout(session(request).token, **({"reason": "idle", "screen": screen} if idle else {}))
    return web.json_response({"ok": True})


async def password(p: Parts, request: web.Request) -> web.Response:
    s = session(request)
    data = await body(request)
    await p.accounts.change_password(s.username, field(data, "old", str), field(data, "new", str), s.username)
    return web.json_response({"ok": True})


async def users(p: Parts, request: web.Request) -> web.Response:
    return web.json_response(await p.accounts.list())


async def add_user(p: Parts, request: web.Request) -> web.Response:
    data = await body(request)
    await p.accounts.add(
        field(data, "username", str),
        field(data, "role", str),
        field(data, "password", str),
        field(data, "full_name", str, ""),
        by=user(request),
        temporary=True,  # the administrator knows it: the user changes it at the first log-in
    )
    return web.json_response({"ok": True}, status=201)


async def reset_password(p: Parts, request: web.Request) -> web.Response:
    """The administrator sets a temporary password: the user changes it at the next log-in; the
    user's sessions end (a password set elsewhere ends them)."""
    data = await body(request)
    name, pw = request.match_info["name"], field(data, "password", str)
    await p.accounts.change_password(name, None, pw, user(request), temporary=True)
    await p.accounts.sweep()
    return web.json_response({"ok": True})


async def eis_key(p: Parts, request: web.Request) -> web.Response:
    """R4, R5: the administrator installs the EIS identification key (never shown again, never
    journalled — its fingerprint is); the daemon takes it at its next message."""
    import time

    from app.eis import idkey

    data = await body(request)
    value = field(data, "key", str, max_len=idkey.MAX_KEY)
    days = field(data, "valid_days", int, idkey.DEFAULT_VALID_DAYS)
    path = p.lane.cfg.path(p.lane.cfg.eis["identification_key_file"])
    key = idkey.install(path, p.lane.store.keyring, value, days, time.time())
    await p.journal.write(
        user(request), "eis_key_installed", fingerprint=key.fingerprint, valid_until=key.valid_until
    )
    return web.json_response(key.state(time.time()), status=201)


def _not_oneself(request: web.Request) -> None:
    """An administrator cannot lock or demote their own account: the lane would be left with no one
    to unlock it (another administrator, or the command line as root, may)."""
    from app.credentials import normalise_username

    if normalise_username(request.match_info["name"]) == normalise_username(user(request)):
        raise OtolaneError(
            "user_self", "an administrator cannot lock or demote their own account", status=409
        )


async def lock_user(p: Parts, request: web.Request) -> web.Response:
    _not_oneself(request)
    await p.accounts.set_disabled(request.match_info["name"], True, user(request))
    return web.json_response({"ok": True})


async def unlock_user(p: Parts, request: web.Request) -> web.Response:
    await p.accounts.set_disabled(request.match_info["name"], False, user(request))
    return web.json_response({"ok": True})


async def bind_eds(p: Parts, request: web.Request) -> web.Response:
    data = await body(request)
    await p.eds.bind(request.match_info["name"], field(data, "iin", str, max_len=12), user(request))
    return web.json_response({"ok": True})


async def set_role(p: Parts, request: web.Request) -> web.Response:
    _not_oneself(request)
    data = await body(request)
    await p.accounts.set_role(request.match_info["name"], field(data, "role", str, max_len=16), user(request))
    return web.json_response({"ok": True})


async def set_right(p: Parts, request: web.Request) -> web.Response:
    """R10.4, R10.5: one permission of one person granted, withdrawn or set back to the role's."""
    data = await body(request)
    new = await p.accounts.set_right(
        request.match_info["name"],
        field(data, "permission", str, max_len=40),
        field(data, "state", str, max_len=10),
        user(request),
    )
    return web.json_response({"rights": new})


async def permissions(p: Parts, request: web.Request) -> web.Response:
    """The permissions in the table's order, with the roles that have each by default."""
    from app.rights import PERMISSIONS

    rows = [{"name": x.name, "roles": list(x.roles), "kind": x.kind} for x in PERMISSIONS]
    return web.json_response({"permissions": rows})


def key_facts(info: Any) -> dict[str, Any]:
    """What a login answer says of the key: whose it is, never the key."""
    keep = ("common_name", "iin", "bin", "organisation", "not_after", "algorithm")
    return {k: v for k, v in info.as_dict().items() if k in keep}


async def settings(p: Parts, request: web.Request) -> web.Response:
    return web.json_response({"settings": p.lane.settings.listing()})


async def change_setting(p: Parts, request: web.Request) -> web.Response:
    """D5, issue #23 (7): the administrator changes one of the lane's settings; the daemon checks
    it, journals it (``setting_changed``) and applies it — a password rule at once to the accounts."""
    from app.auth import Policy

    data = await body(request)
    key, value = field(data, "key", str, max_len=60), field(data, "value", str)
    row = await p.lane.settings.change(user(request), key, value)
    if key.startswith("security."):
        p.accounts.policy = Policy.from_config(p.lane.cfg.security)
    return web.json_response(row)
